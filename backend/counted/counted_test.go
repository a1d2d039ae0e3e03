package counted_test

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"strings"
	"sync"
	"testing"

	"github.com/cairnbackup/cairn/backend"
	"github.com/cairnbackup/cairn/backend/backendtest"
	"github.com/cairnbackup/cairn/backend/counted"
	"github.com/cairnbackup/cairn/backend/faulty"
	"github.com/cairnbackup/cairn/backend/mem"
	"github.com/cairnbackup/cairn/backend/retry"
)

func TestConformance(t *testing.T) {
	backendtest.Run(t, func(t *testing.T) backend.Backend { return counted.New(mem.New()) })
}

func TestCounts(t *testing.T) {
	ctx := context.Background()
	cb := counted.New(mem.New())
	h := backend.Handle{Type: backend.SnapshotFile, Name: strings.Repeat("a", 64)}
	data := make([]byte, 3<<20)
	if err := cb.Save(ctx, h, backend.NewByteReader(data)); err != nil {
		t.Fatal(err)
	}
	if _, err := backend.LoadRange(ctx, cb, h, 1<<20, 100); err != nil {
		t.Fatal(err)
	}
	cb.Stat(ctx, h)
	cb.Stat(ctx, backend.Handle{Type: backend.LockFile, Name: "missing"}) // failures count too
	cb.List(ctx, backend.SnapshotFile, func(backend.FileInfo) error { return nil })
	cb.Remove(ctx, h)
	want := counted.Stats{Put: 1, Get: 1, Head: 2, List: 1, Delete: 1, BytesUp: 3 << 20, BytesDown: 1 << 20}
	got := cb.Stats()
	if got != want {
		t.Fatalf("stats %+v, want %+v", got, want)
	}
	if got.Requests() != 6 {
		t.Errorf("%d requests, want 6", got.Requests())
	}
	if s := got.String(); s != "1 PUT, 1 GET, 2 HEAD, 1 LIST, 1 DELETE, 3.0 MiB up, 1.0 MiB down" {
		t.Errorf("String() = %q", s)
	}
	js, _ := json.Marshal(got)
	if string(js) != `{"put":1,"get":1,"head":2,"list":1,"delete":1,"bytes_up":3145728,"bytes_down":1048576}` {
		t.Errorf("JSON %s", js)
	}
	if d := cb.Stats().Sub(got); d != (counted.Stats{}) {
		t.Errorf("Sub of equal snapshots: %+v", d)
	}
}

func TestFormatBytes(t *testing.T) {
	for n, want := range map[int64]string{0: "0 B", 1023: "1023 B", 1024: "1.0 KiB", 4404019: "4.2 MiB", 5 << 40: "5.0 TiB"} {
		if got := counted.FormatBytes(n); got != want {
			t.Errorf("FormatBytes(%d) = %q, want %q", n, got, want)
		}
	}
}

type pager struct {
	backend.Backend
}

func (pager) ListPages() int64 { return 42 }

// TestBelowRetry counts every attempt and finds a PageCounter through
// other decorators.
func TestBelowRetry(t *testing.T) {
	ctx := context.Background()
	fb := faulty.New(pager{mem.New()})
	cb := counted.New(fb)
	rb := retry.New(cb, retry.Options{BaseDelay: 1, MaxDelay: 1})
	fb.Inject(faulty.Fault{Op: faulty.OpLoad, Kind: faulty.FailMidStream, Offset: 10})
	h := backend.Handle{Type: backend.IndexFile, Name: strings.Repeat("b", 64)}
	if err := rb.Save(ctx, h, backend.NewByteReader(make([]byte, 100))); err != nil {
		t.Fatal(err)
	}
	if _, err := backend.LoadAll(ctx, rb, h); err != nil {
		t.Fatal(err)
	}
	s := cb.Stats()
	if s.Get != 2 || s.BytesDown != 110 || s.ListPages != 42 {
		t.Errorf("stats %+v, want 2 GET, 110 bytes down, 42 pages", s)
	}
	if !strings.Contains(s.String(), "0 LIST (42 pages)") {
		t.Errorf("String() = %q", s.String())
	}
	if cb.Unwrap() != fb {
		t.Error("Unwrap")
	}
}

func TestConcurrent(t *testing.T) {
	ctx := context.Background()
	cb := counted.New(mem.New())
	h := backend.Handle{Type: backend.KeyFile, Name: "k"}
	cb.Save(ctx, h, backend.NewByteReader([]byte("key")))
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			for range 100 {
				cb.Load(ctx, h, 0, 0, func(rd io.Reader) error { _, err := io.Copy(io.Discard, rd); return err })
			}
		})
	}
	wg.Wait()
	if s := cb.Stats(); s.Get != 800 || s.BytesDown != 2400 {
		t.Errorf("stats %+v, want 800 GET, 2400 bytes down", s)
	}
	if err := cb.Remove(ctx, backend.Handle{Type: backend.KeyFile, Name: "nope"}); !errors.Is(err, backend.ErrNotFound) {
		t.Errorf("remove passes errors through: %v", err)
	}
}
