// Package storetest holds the tests every object-store backend (s3, azure,
// gcs) passes beyond the conformance suite of backendtest: the edges of
// ranged reads as HTTP servers answer them, one listing counted once with
// its pages, sources shorter than they claim, and uploads cancelled
// midway.
package storetest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"testing"

	"github.com/cairnbackup/cairn/backend"
	"github.com/cairnbackup/cairn/backend/counted"
	"github.com/cairnbackup/cairn/backend/retry"
)

// Factory returns a fresh, empty backend for one subtest. Uploads of a
// few MiB must go up in several requests (small blocks, parts or chunks),
// so that a cancelled one is cancelled between requests.
type Factory func(t *testing.T) backend.Backend

// Run runs the object-store tests against backends made by newBackend.
func Run(t *testing.T, newBackend Factory) {
	for _, tc := range []struct {
		name string
		fn   func(t *testing.T, be backend.Backend)
	}{
		{"RangeEdges", testRangeEdges},
		{"ListCountedOnce", testListCountedOnce},
		{"ShortSource", testShortSource},
		{"CancelledUpload", testCancelledUpload},
	} {
		t.Run(tc.name, func(t *testing.T) {
			be := newBackend(t)
			t.Cleanup(func() { be.Close() })
			tc.fn(t, be)
		})
	}
}

// testRangeEdges: an open range from the very end is an empty read, as in
// the memory backend, though HTTP servers answer it with 416; a range
// past the end is a short read.
func testRangeEdges(t *testing.T, be backend.Backend) {
	h := backend.Handle{Type: backend.IndexFile, Name: strings.Repeat("ef", 32)}
	if err := be.Save(context.Background(), h, backend.NewByteReader([]byte("0123456789"))); err != nil {
		t.Fatal(err)
	}
	err := be.Load(context.Background(), h, 0, 10, func(rd io.Reader) error {
		b, err := io.ReadAll(rd)
		if len(b) != 0 {
			return fmt.Errorf("read %d bytes at the end", len(b))
		}
		return err
	})
	if err != nil {
		t.Errorf("empty read at the end: %v", err)
	}
	if _, err := backend.LoadRange(context.Background(), be, h, 5, 8); !errors.Is(err, backend.ErrShortRead) {
		t.Errorf("range past the end: %v, want ErrShortRead", err)
	}
	if err := be.Load(context.Background(), h, 0, 11, func(io.Reader) error { return nil }); !errors.Is(err, backend.ErrShortRead) {
		t.Errorf("open range past the end: %v, want ErrShortRead", err)
	}
}

// testListCountedOnce: a listing through retry and counted counts as one
// LIST and reports the store's pages.
func testListCountedOnce(t *testing.T, be backend.Backend) {
	h := backend.Handle{Type: backend.IndexFile, Name: strings.Repeat("ef", 32)}
	if err := be.Save(context.Background(), h, backend.NewByteReader([]byte("x"))); err != nil {
		t.Fatal(err)
	}
	cb := counted.New(be)
	stack := retry.New(cb, retry.Options{})
	before := cb.Stats()
	n := 0
	if err := stack.List(context.Background(), backend.IndexFile, func(backend.FileInfo) error { n++; return nil }); err != nil {
		t.Fatal(err)
	}
	if d := cb.Stats().Sub(before); d.List != 1 || d.ListPages != 1 || n != 1 {
		t.Errorf("one listing of %d object(s) counted as %v, want 1 LIST (1 pages)", n, d)
	}
}

// shortSource claims more bytes than it has.
type shortSource struct{ *backend.ByteReader }

func (s shortSource) Length() int64 { return s.ByteReader.Length() + 50 }

// testShortSource: a source that ends before its stated length fails the
// save, says so, and leaves no object, for small objects and packs alike.
func testShortSource(t *testing.T, be backend.Backend) {
	for _, typ := range []backend.FileType{backend.LockFile, backend.PackFile} {
		h := backend.Handle{Type: typ, Name: strings.Repeat("12", 32)}
		err := be.Save(context.Background(), h, shortSource{backend.NewByteReader(make([]byte, 100))})
		if err == nil || !strings.Contains(err.Error(), "source ended after 100 bytes") {
			t.Errorf("save %s from a short source: %v", typ, err)
		}
		if _, err := be.Stat(context.Background(), h); !errors.Is(err, backend.ErrNotFound) {
			t.Errorf("stat after a short save: %v, want ErrNotFound", err)
		}
	}
}

// cancelAfter cancels its context once n bytes have been read.
type cancelAfter struct {
	*backend.ByteReader
	n, read int
	cancel  context.CancelFunc
}

func (c *cancelAfter) Read(p []byte) (int, error) {
	n, err := c.ByteReader.Read(p)
	if c.read += n; c.read >= c.n {
		c.cancel()
	}
	return n, err
}

// testCancelledUpload: a pack upload cancelled after 2 of its 3 MiB
// returns the context's error and leaves neither an object nor a listed
// name; a whole one then goes up under the same name.
func testCancelledUpload(t *testing.T, be backend.Backend) {
	data := bytes.Repeat([]byte("0123456789abcdef"), (3<<20)/16+5)
	h := backend.Handle{Type: backend.PackFile, Name: strings.Repeat("cd", 32)}
	ctx, cancel := context.WithCancel(context.Background())
	src := &cancelAfter{ByteReader: backend.NewByteReader(data), n: 2 << 20, cancel: cancel}
	if err := be.Save(ctx, h, src); !errors.Is(err, context.Canceled) {
		t.Fatalf("cancelled upload: %v, want context.Canceled", err)
	}
	if _, err := be.Stat(context.Background(), h); !errors.Is(err, backend.ErrNotFound) {
		t.Errorf("stat after a cancelled upload: %v, want ErrNotFound", err)
	}
	err := be.List(context.Background(), backend.PackFile, func(fi backend.FileInfo) error {
		return fmt.Errorf("listed %s after a cancelled upload", fi.Name)
	})
	if err != nil {
		t.Error(err)
	}
	if err := be.Save(context.Background(), h, backend.NewByteReader(data)); err != nil {
		t.Fatalf("save after a cancelled upload: %v", err)
	}
	if got, err := backend.LoadAll(context.Background(), be, h); err != nil || !bytes.Equal(got, data) {
		t.Fatalf("round trip after a cancelled upload: %v (%d bytes)", err, len(got))
	}
}

// SaveRequests saves a pack of size bytes into be, checks that it reads
// back whole, and returns how many requests count (a backend's request
// counter, read before and after) counted for the save.
func SaveRequests(t *testing.T, be backend.Backend, size int, count func() int64) int64 {
	t.Helper()
	data := bytes.Repeat([]byte("0123456789abcdef"), size/16)
	h := backend.Handle{Type: backend.PackFile, Name: strings.Repeat("cd", 32)}
	before := count()
	if err := be.Save(context.Background(), h, backend.NewByteReader(data)); err != nil {
		t.Fatal(err)
	}
	n := count() - before
	got, err := backend.LoadAll(context.Background(), be, h)
	if err != nil || !bytes.Equal(got, data) {
		t.Fatalf("round trip of %d bytes: %v (%d bytes back)", len(data), err, len(got))
	}
	return n
}
