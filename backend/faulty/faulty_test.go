package faulty_test

import (
	"bytes"
	"context"
	"errors"
	"io"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/cairnbackup/cairn/backend"
	"github.com/cairnbackup/cairn/backend/backendtest"
	"github.com/cairnbackup/cairn/backend/faulty"
	"github.com/cairnbackup/cairn/backend/mem"
)

func TestConformanceWithoutFaults(t *testing.T) {
	backendtest.Run(t, func(t *testing.T) backend.Backend { return faulty.New(mem.New()) })
}

var (
	h1   = backend.Handle{Type: backend.SnapshotFile, Name: strings.Repeat("1", 64)}
	h2   = backend.Handle{Type: backend.SnapshotFile, Name: strings.Repeat("2", 64)}
	data = []byte("0123456789abcdef")
	ctx  = context.Background()
)

func save(be backend.Backend, h backend.Handle) error {
	return be.Save(ctx, h, backend.NewByteReader(data))
}

func TestNthAndTimes(t *testing.T) {
	fb := faulty.New(mem.New())
	fb.Inject(faulty.Fault{Op: faulty.OpSave, Nth: 2, Times: 2})
	var got []bool
	for range 5 {
		got = append(got, errors.Is(save(fb, h1), faulty.ErrInjected))
	}
	if want := []bool{false, true, true, false, false}; !equal(got, want) {
		t.Errorf("failures %v, want %v", got, want)
	}
	if n := fb.Calls(faulty.OpSave); n != 5 {
		t.Errorf("%d save calls counted, want 5", n)
	}
	if !backend.IsTransient(faulty.ErrInjected) {
		t.Error("the default injected error is not transient")
	}

	fb.Inject(faulty.Fault{Op: faulty.OpStat, Times: -1, Err: backend.ErrAccessDenied,
		Match: func(h backend.Handle) bool { return h == h2 }})
	for range 3 {
		if _, err := fb.Stat(ctx, h1); err != nil {
			t.Errorf("stat of an unmatched handle: %v", err)
		}
		if _, err := fb.Stat(ctx, h2); !errors.Is(err, backend.ErrAccessDenied) {
			t.Errorf("stat of the matched handle: %v", err)
		}
	}
	fb.Clear()
	if _, err := fb.Stat(ctx, h2); !errors.Is(err, backend.ErrNotFound) {
		t.Errorf("after Clear: %v, want the inner ErrNotFound", err)
	}
}

func equal(a, b []bool) bool {
	return len(a) == len(b) && string(boolBytes(a)) == string(boolBytes(b))
}

func boolBytes(a []bool) []byte {
	b := make([]byte, len(a))
	for i, v := range a {
		if v {
			b[i] = 1
		}
	}
	return b
}

func TestFailVersusFailAfter(t *testing.T) {
	m := mem.New()
	fb := faulty.New(m)
	fb.Inject(faulty.Fault{Op: faulty.OpSave})
	if err := save(fb, h1); !errors.Is(err, faulty.ErrInjected) {
		t.Fatal(err)
	}
	if _, err := m.Stat(ctx, h1); !errors.Is(err, backend.ErrNotFound) {
		t.Errorf("Fail reached the inner backend: %v", err)
	}
	fb.Inject(faulty.Fault{Op: faulty.OpSave, Kind: faulty.FailAfter})
	if err := save(fb, h1); !errors.Is(err, faulty.ErrInjected) {
		t.Fatal(err)
	}
	if _, err := m.Stat(ctx, h1); err != nil {
		t.Errorf("FailAfter did not save: %v", err)
	}
	fb.Inject(faulty.Fault{Op: faulty.OpRemove, Kind: faulty.FailAfter})
	if err := fb.Remove(ctx, h1); !errors.Is(err, faulty.ErrInjected) {
		t.Fatal(err)
	}
	if _, err := m.Stat(ctx, h1); !errors.Is(err, backend.ErrNotFound) {
		t.Errorf("FailAfter did not remove: %v", err)
	}
}

func TestStreams(t *testing.T) {
	m := mem.New()
	fb := faulty.New(m)
	fb.Inject(faulty.Fault{Op: faulty.OpSave, Kind: faulty.FailMidStream, Offset: 5})
	if err := save(fb, h1); !errors.Is(err, faulty.ErrInjected) {
		t.Fatalf("save from a source broken midway: %v", err)
	}
	fb.Inject(faulty.Fault{Op: faulty.OpSave, Kind: faulty.Corrupt, Offset: 3})
	if err := save(fb, h1); err != nil {
		t.Fatal(err)
	}
	stored, _ := backend.LoadAll(ctx, m, h1)
	if want := corrupt(data, 3); !bytes.Equal(stored, want) {
		t.Errorf("stored %q, want %q", stored, want)
	}
	if err := save(m, h1); err != nil {
		t.Fatal(err)
	}

	var got []byte
	fb.Inject(faulty.Fault{Op: faulty.OpLoad, Kind: faulty.FailMidStream, Offset: 7})
	err := fb.Load(ctx, h1, 0, 0, func(rd io.Reader) error {
		var err error
		got, err = io.ReadAll(rd)
		return err
	})
	if !errors.Is(err, faulty.ErrInjected) || !bytes.Equal(got, data[:7]) {
		t.Errorf("load broken at 7: %v, read %q", err, got)
	}
	fb.Inject(faulty.Fault{Op: faulty.OpLoad, Kind: faulty.Corrupt, Offset: 2})
	got, err = backend.LoadRange(ctx, fb, h1, 4, 10)
	if err != nil || !bytes.Equal(got, corrupt(data[10:14], 2)) {
		t.Errorf("corrupted range: %v, %q", err, got)
	}
	if got, _ := backend.LoadAll(ctx, fb, h1); !bytes.Equal(got, data) {
		t.Errorf("a Corrupt fault outlived its one call")
	}
}

func corrupt(b []byte, at int) []byte {
	c := bytes.Clone(b)
	c[at] ^= 1
	return c
}

func TestListMidStream(t *testing.T) {
	fb := faulty.New(mem.New())
	for _, h := range []backend.Handle{h1, h2} {
		if err := save(fb, h); err != nil {
			t.Fatal(err)
		}
	}
	fb.Inject(faulty.Fault{Op: faulty.OpList, Kind: faulty.FailMidStream, Offset: 1})
	n := 0
	err := fb.List(ctx, backend.SnapshotFile, func(backend.FileInfo) error { n++; return nil })
	if !errors.Is(err, faulty.ErrInjected) || n != 1 {
		t.Errorf("list broken after 1: %v after %d objects", err, n)
	}
}

func TestDelayHonoursCancel(t *testing.T) {
	fb := faulty.New(mem.New())
	fb.Inject(faulty.Fault{Op: faulty.OpStat, Kind: faulty.Delay, Delay: time.Hour})
	c, cancel := context.WithTimeout(ctx, 20*time.Millisecond)
	defer cancel()
	start := time.Now()
	if _, err := fb.Stat(c, h1); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("delayed stat: %v", err)
	}
	if time.Since(start) > 10*time.Second {
		t.Error("the delay ignored the context")
	}
	fb.Inject(faulty.Fault{Op: faulty.OpStat, Kind: faulty.Delay, Delay: time.Millisecond})
	if _, err := fb.Stat(ctx, h1); !errors.Is(err, backend.ErrNotFound) {
		t.Errorf("a delay changed the result: %v", err)
	}
}

func TestConcurrentFaults(t *testing.T) {
	fb := faulty.New(mem.New())
	fb.Inject(faulty.Fault{Op: faulty.OpSave, Nth: 10, Times: 20})
	var (
		wg     sync.WaitGroup
		mu     sync.Mutex
		failed int
	)
	for range 8 {
		wg.Go(func() {
			for range 25 {
				if err := save(fb, h1); err != nil {
					mu.Lock()
					failed++
					mu.Unlock()
				}
			}
		})
	}
	wg.Wait()
	if failed != 20 || fb.Calls(faulty.OpSave) != 200 {
		t.Errorf("%d of %d saves failed, want 20 of 200", failed, fb.Calls(faulty.OpSave))
	}
}

func TestAnyOpCountsEveryCall(t *testing.T) {
	fb := faulty.New(mem.New())
	fb.Inject(faulty.Fault{Op: faulty.OpAny, Nth: 3, Times: -1})
	if err := save(fb, h1); err != nil { // call 1
		t.Fatal(err)
	}
	if _, err := fb.Stat(ctx, h1); err != nil { // call 2
		t.Fatal(err)
	}
	if err := fb.Remove(ctx, h1); !errors.Is(err, faulty.ErrInjected) { // call 3: the "crash"
		t.Fatalf("third call: %v, want the injected error", err)
	}
	if _, err := fb.Unwrap().Stat(ctx, h1); err != nil {
		t.Fatalf("the failed remove reached storage: %v", err)
	}
	if err := fb.List(ctx, backend.SnapshotFile, func(backend.FileInfo) error { return nil }); !errors.Is(err, faulty.ErrInjected) {
		t.Fatalf("a call after the crash: %v", err)
	}
}

// Random mode is reproducible from its seed, and draws every kind.
func TestRandomSeeded(t *testing.T) {
	run := func() (map[faulty.RandomKind]int, []bool) {
		fb := faulty.New(mem.New())
		fb.Randomize(faulty.Random{Seed: 42, Rate: 0.5})
		h := backend.Handle{Type: backend.SnapshotFile, Name: "ab"}
		var outcomes []bool
		for range 200 {
			err := fb.Save(context.Background(), h, backend.NewByteReader(bytes.Repeat([]byte{1}, 100)))
			_, lerr := backend.LoadAll(context.Background(), fb, h)
			fb.List(context.Background(), backend.SnapshotFile, func(backend.FileInfo) error { return nil })
			outcomes = append(outcomes, err == nil, lerr == nil)
		}
		return fb.Injected(), outcomes
	}
	a, oa := run()
	b, ob := run()
	for _, k := range faulty.AllRandomKinds {
		if a[k] == 0 || a[k] != b[k] {
			t.Errorf("%s: %d then %d faults", k, a[k], b[k])
		}
	}
	if !slices.Equal(oa, ob) {
		t.Error("the same seed gave other outcomes")
	}
}
