// Package backendtest is the conformance suite every backend must pass,
// in the spirit of testing/fstest: backendtest.Run(t, newBackend).
package backendtest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"slices"
	"sync"
	"testing"

	"crypto/sha256"
	"encoding/hex"
	"github.com/cairnbackup/cairn/backend"
)

// Factory returns a fresh, empty backend for one subtest.
type Factory func(t *testing.T) backend.Backend

// Run runs every conformance test against backends made by newBackend.
func Run(t *testing.T, newBackend Factory) {
	tests := []struct {
		name string
		fn   func(t *testing.T, be backend.Backend)
	}{
		{"SaveLoad", testSaveLoad},
		{"Ranges", testRanges},
		{"Missing", testMissing},
		{"List", testList},
		{"Remove", testRemove},
		{"Replace", testReplace},
		{"FailedSaveLeavesNothing", testFailedSave},
		{"CancelledSave", testCancelledSave},
		{"CallbackError", testCallbackError},
		{"InvalidHandles", testInvalidHandles},
		{"Concurrent", testConcurrent},
		{"Large", testLarge},
		{"Stage", testStage},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			be := newBackend(t)
			t.Cleanup(func() { be.Close() })
			tc.fn(t, be)
		})
	}
}

func randomBytes(seed uint64, n int) []byte {
	r := rand.New(rand.NewPCG(seed, 0))
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(r.Uint32())
	}
	return b
}

// name returns an object name for data: 64 hex digits, like the real ones.
func name(data []byte) string {
	sum := sha256.Sum256(data)
	return hex.EncodeToString(sum[:])
}

// save stores data under its hash (or as the config) and returns the handle.
func save(t *testing.T, be backend.Backend, typ backend.FileType, data []byte) backend.Handle {
	t.Helper()
	h := backend.Handle{Type: typ}
	if typ != backend.ConfigFile {
		h.Name = name(data)
	}
	if err := be.Save(context.Background(), h, backend.NewByteReader(data)); err != nil {
		t.Fatalf("save %v: %v", h, err)
	}
	return h
}

func load(t *testing.T, be backend.Backend, h backend.Handle, length int, offset int64) []byte {
	t.Helper()
	var got []byte
	err := be.Load(context.Background(), h, length, offset, func(rd io.Reader) error {
		var err error
		got, err = io.ReadAll(rd)
		return err
	})
	if err != nil {
		t.Fatalf("load %v (%d@%d): %v", h, length, offset, err)
	}
	return got
}

func testSaveLoad(t *testing.T, be backend.Backend) {
	for i, typ := range backend.AllTypes {
		for _, size := range []int{0, 1, 4095, 4096, 4097, 65536 + 3} {
			data := randomBytes(uint64(i*1000+size), size)
			h := save(t, be, typ, data)
			if got := load(t, be, h, 0, 0); !bytes.Equal(got, data) {
				t.Fatalf("%v: loaded %d bytes that differ from the %d saved", h, len(got), len(data))
			}
			fi, err := be.Stat(context.Background(), h)
			if err != nil {
				t.Fatalf("stat %v: %v", h, err)
			}
			if fi.Size != int64(size) {
				t.Fatalf("stat %v: size %d, want %d", h, fi.Size, size)
			}
		}
	}
}

func testRanges(t *testing.T, be backend.Backend) {
	data := randomBytes(7, 10000)
	h := save(t, be, backend.PackFile, data)
	cases := []struct {
		length int
		offset int64
	}{{1, 0}, {1, 9999}, {100, 0}, {100, 9900}, {0, 9999}, {0, 5000}, {10000, 0}, {5000, 1234}}
	for _, c := range cases {
		got := load(t, be, h, c.length, c.offset)
		want := data[c.offset:]
		if c.length > 0 {
			want = want[:c.length]
		}
		if !bytes.Equal(got, want) {
			t.Errorf("range %d@%d: got %d bytes, want %d (or content differs)", c.length, c.offset, len(got), len(want))
		}
	}
	for _, c := range []struct {
		length int
		offset int64
	}{{1, 10000}, {2, 9999}, {10001, 0}, {0, 10001}} {
		called := false
		err := be.Load(context.Background(), h, c.length, c.offset, func(rd io.Reader) error {
			called = true
			_, err := io.ReadAll(rd)
			return err
		})
		if err == nil {
			t.Errorf("range %d@%d past the end: no error (callback called: %v)", c.length, c.offset, called)
		}
	}
	b, err := backend.LoadRange(context.Background(), be, h, 10, 9995)
	if !errors.Is(err, backend.ErrShortRead) {
		t.Errorf("LoadRange past the end: got %v (%d bytes), want ErrShortRead", err, len(b))
	}
}

func testMissing(t *testing.T, be backend.Backend) {
	ctx := context.Background()
	for _, typ := range backend.AllTypes {
		h := backend.Handle{Type: typ}
		if typ != backend.ConfigFile {
			h.Name = name([]byte(typ))
		}
		called := false
		err := be.Load(ctx, h, 0, 0, func(io.Reader) error { called = true; return nil })
		if !errors.Is(err, backend.ErrNotFound) || called {
			t.Errorf("load missing %v: err %v (want ErrNotFound), callback called %v", h, err, called)
		}
		if _, err := be.Stat(ctx, h); !errors.Is(err, backend.ErrNotFound) {
			t.Errorf("stat missing %v: %v, want ErrNotFound", h, err)
		}
		if err := be.Remove(ctx, h); !errors.Is(err, backend.ErrNotFound) {
			t.Errorf("remove missing %v: %v, want ErrNotFound", h, err)
		}
	}
}

func listAll(t *testing.T, be backend.Backend, typ backend.FileType) map[string]int64 {
	t.Helper()
	got := map[string]int64{}
	err := be.List(context.Background(), typ, func(fi backend.FileInfo) error {
		if _, dup := got[fi.Name]; dup {
			return fmt.Errorf("%s listed twice", fi.Name)
		}
		got[fi.Name] = fi.Size
		return nil
	})
	if err != nil {
		t.Fatalf("list %s: %v", typ, err)
	}
	return got
}

func testList(t *testing.T, be backend.Backend) {
	for _, typ := range backend.AllTypes {
		if got := listAll(t, be, typ); len(got) != 0 {
			t.Fatalf("empty backend lists %d objects of type %s", len(got), typ)
		}
	}
	want := map[backend.FileType]map[string]int64{}
	for i, typ := range backend.AllTypes {
		want[typ] = map[string]int64{}
		n := 1
		if typ != backend.ConfigFile {
			n = 5 + 30*i // packs spread over many folders
		}
		for j := range n {
			data := randomBytes(uint64(i*10000+j), 10+j)
			h := save(t, be, typ, data)
			want[typ][h.Name] = int64(len(data))
		}
	}
	for _, typ := range backend.AllTypes {
		got := listAll(t, be, typ)
		if len(got) != len(want[typ]) {
			t.Errorf("list %s: %d objects, want %d", typ, len(got), len(want[typ]))
		}
		for name, size := range want[typ] {
			if got[name] != size {
				t.Errorf("list %s: %q has size %d, want %d", typ, name, got[name], size)
			}
		}
	}
	stop := errors.New("stop")
	calls := 0
	err := be.List(context.Background(), backend.PackFile, func(backend.FileInfo) error { calls++; return stop })
	if !errors.Is(err, stop) || calls != 1 {
		t.Errorf("list stopped by callback: err %v after %d calls, want %v after 1", err, calls, stop)
	}
}

func testRemove(t *testing.T, be backend.Backend) {
	ctx := context.Background()
	a := save(t, be, backend.SnapshotFile, []byte("a"))
	b := save(t, be, backend.SnapshotFile, []byte("b"))
	if err := be.Remove(ctx, a); err != nil {
		t.Fatalf("remove: %v", err)
	}
	if _, err := be.Stat(ctx, a); !errors.Is(err, backend.ErrNotFound) {
		t.Errorf("stat after remove: %v", err)
	}
	got := listAll(t, be, backend.SnapshotFile)
	if _, ok := got[a.Name]; ok || len(got) != 1 {
		t.Errorf("list after remove: %v, want only %s", got, b.Name)
	}
}

func testReplace(t *testing.T, be backend.Backend) {
	h := backend.Handle{Type: backend.ConfigFile}
	for _, data := range [][]byte{[]byte("first version"), []byte("second")} {
		if err := be.Save(context.Background(), h, backend.NewByteReader(data)); err != nil {
			t.Fatal(err)
		}
		if got := load(t, be, h, 0, 0); !bytes.Equal(got, data) {
			t.Fatalf("after replace got %q, want %q", got, data)
		}
	}
}

// failingReader yields n bytes and then fails.
type failingReader struct {
	n, pos int
	size   int64
}

func (f *failingReader) Read(p []byte) (int, error) {
	if f.pos >= f.n {
		return 0, errors.New("injected read failure")
	}
	k := min(len(p), f.n-f.pos)
	clear(p[:k])
	f.pos += k
	return k, nil
}
func (f *failingReader) Rewind() error { f.pos = 0; return nil }
func (f *failingReader) Length() int64 { return f.size }

func testFailedSave(t *testing.T, be backend.Backend) {
	h := backend.Handle{Type: backend.PackFile, Name: name([]byte("never"))}
	err := be.Save(context.Background(), h, &failingReader{n: 3000, size: 1 << 20})
	if err == nil {
		t.Fatal("save from a failing reader succeeded")
	}
	assertAbsent(t, be, h)
}

func assertAbsent(t *testing.T, be backend.Backend, h backend.Handle) {
	t.Helper()
	if _, err := be.Stat(context.Background(), h); !errors.Is(err, backend.ErrNotFound) {
		t.Errorf("%v exists after a failed save: %v", h, err)
	}
	if got := listAll(t, be, h.Type); len(got) != 0 {
		t.Errorf("list shows %v after a failed save", got)
	}
}

// cancelReader cancels its context after the first read.
type cancelReader struct {
	*backend.ByteReader
	cancel context.CancelFunc
}

func (c *cancelReader) Read(p []byte) (int, error) {
	n, err := c.ByteReader.Read(p[:min(len(p), 1024)])
	c.cancel()
	return n, err
}

func testCancelledSave(t *testing.T, be backend.Backend) {
	ctx, cancel := context.WithCancel(context.Background())
	data := randomBytes(3, 1<<20)
	h := backend.Handle{Type: backend.PackFile, Name: name(data)}
	if err := be.Save(ctx, h, &cancelReader{backend.NewByteReader(data), cancel}); err == nil {
		t.Fatal("save with a context cancelled midway succeeded")
	}
	assertAbsent(t, be, h)
}

func testCallbackError(t *testing.T, be backend.Backend) {
	h := save(t, be, backend.IndexFile, []byte("segment"))
	boom := errors.New("boom")
	if err := be.Load(context.Background(), h, 0, 0, func(io.Reader) error { return boom }); !errors.Is(err, boom) {
		t.Errorf("load returned %v, want the callback's error", err)
	}
}

func testInvalidHandles(t *testing.T, be backend.Backend) {
	ctx := context.Background()
	for _, h := range []backend.Handle{
		{Type: "bogus", Name: "abc"},
		{Type: backend.SnapshotFile, Name: ""},
		{Type: backend.SnapshotFile, Name: "../config"},
		{Type: backend.SnapshotFile, Name: "a/b"},
		{Type: backend.SnapshotFile, Name: ".tmp-x"},
		{Type: backend.ConfigFile, Name: "x"},
	} {
		if err := be.Save(ctx, h, backend.NewByteReader([]byte("x"))); !errors.Is(err, backend.ErrInvalidHandle) {
			t.Errorf("save %#v: %v, want ErrInvalidHandle", h, err)
		}
	}
}

func testConcurrent(t *testing.T, be backend.Backend) {
	var wg sync.WaitGroup
	errs := make(chan error, 64)
	for g := range 8 {
		wg.Go(func() {
			for i := range 8 {
				data := randomBytes(uint64(g*100+i), 3000+i)
				h := backend.Handle{Type: backend.PackFile, Name: name(data)}
				if err := be.Save(context.Background(), h, backend.NewByteReader(data)); err != nil {
					errs <- err
					return
				}
				got, err := backend.LoadAll(context.Background(), be, h)
				if err != nil || !bytes.Equal(got, data) {
					errs <- fmt.Errorf("read back %v: %v", h, err)
					return
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	if got := listAll(t, be, backend.PackFile); len(got) != 64 {
		t.Errorf("%d packs listed after concurrent saves, want 64", len(got))
	}
}

func testLarge(t *testing.T, be backend.Backend) {
	data := randomBytes(11, 20<<20+17)
	h := save(t, be, backend.PackFile, data)
	got, err := backend.LoadAll(context.Background(), be, h)
	if err != nil || !bytes.Equal(got, data) {
		t.Fatalf("large object round trip: %v", err)
	}
	off := int64(len(data) - 100000)
	tail := load(t, be, h, 100000, off)
	if !slices.Equal(tail, data[off:]) {
		t.Fatal("tail range of a large object differs")
	}
}

// testStage checks backend.Stager where the backend offers it: nothing is
// visible before Commit, Commit makes the object whole under its name,
// Abort and a refused Commit leave nothing.
func testStage(t *testing.T, be backend.Backend) {
	st, ok := be.(backend.Stager)
	var err error
	var s backend.Staged
	if ok {
		s, err = st.Stage(context.Background(), backend.PackFile)
	}
	if !ok || errors.Is(err, errors.ErrUnsupported) {
		t.Logf("%T does not stage objects in place", be)
		return
	}
	if err != nil {
		t.Fatalf("stage: %v", err)
	}
	data := randomBytes(7, 3<<20+17)
	for off := 0; off < len(data); off += 1 << 20 {
		if _, err := s.Write(data[off:min(off+1<<20, len(data))]); err != nil {
			t.Fatalf("write staged: %v", err)
		}
	}
	if got := listAll(t, be, backend.PackFile); len(got) != 0 {
		t.Fatalf("list shows %v before commit", got)
	}
	h := backend.Handle{Type: backend.PackFile, Name: name(data)}
	if err := s.Commit(context.Background(), h.Name); err != nil {
		t.Fatalf("commit: %v", err)
	}
	if got := load(t, be, h, 0, 0); !bytes.Equal(got, data) {
		t.Fatalf("committed object differs: %d bytes, want %d", len(got), len(data))
	}
	if got := listAll(t, be, backend.PackFile); len(got) != 1 || got[h.Name] != int64(len(data)) {
		t.Fatalf("list after commit: %v", got)
	}
	if err := be.Remove(context.Background(), h); err != nil {
		t.Fatal(err)
	}

	// Abort, and a commit under a name that could escape, leave nothing.
	for _, commitName := range []string{"", "../escape"} {
		s, err := st.Stage(context.Background(), backend.PackFile)
		if err != nil {
			t.Fatalf("stage: %v", err)
		}
		if _, err := s.Write(data[:4096]); err != nil {
			t.Fatal(err)
		}
		if commitName == "" {
			s.Abort()
		} else if err := s.Commit(context.Background(), commitName); !errors.Is(err, backend.ErrInvalidHandle) {
			t.Fatalf("commit as %q: %v, want ErrInvalidHandle", commitName, err)
		}
		if got := listAll(t, be, backend.PackFile); len(got) != 0 {
			t.Fatalf("list shows %v after an aborted stage", got)
		}
	}

	// A cancelled context refuses the commit.
	ctx, cancel := context.WithCancel(context.Background())
	s, err = st.Stage(ctx, backend.PackFile)
	if err != nil {
		t.Fatal(err)
	}
	cancel()
	if err := s.Commit(ctx, name(data[:10])); err == nil {
		t.Fatal("commit with a cancelled context succeeded")
	}
	assertAbsent(t, be, backend.Handle{Type: backend.PackFile, Name: name(data[:10])})
}
