package limit_test

import (
	"bytes"
	"context"
	"errors"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/cairnbackup/cairn/backend"
	"github.com/cairnbackup/cairn/backend/backendtest"
	"github.com/cairnbackup/cairn/backend/limit"
	"github.com/cairnbackup/cairn/backend/local"
	"github.com/cairnbackup/cairn/backend/mem"
)

func TestConformance(t *testing.T) {
	backendtest.Run(t, func(t *testing.T) backend.Backend {
		return limit.New(mem.New(), limit.Rates{Upload: 1 << 30, Download: 1 << 30})
	})
}

func TestConformanceLocal(t *testing.T) {
	backendtest.Run(t, func(t *testing.T) backend.Backend {
		be, err := local.Create(t.TempDir())
		if err != nil {
			t.Fatal(err)
		}
		return limit.New(be, limit.Rates{Upload: 1 << 30, Download: 1 << 30})
	})
}

// The rate is a floor on the time a write takes: a token bucket never lets
// more than the burst through ahead of the rate. (Only the lower bound is
// checked: a loaded machine is slower, never faster.)
func TestSaveAndStageAreLimited(t *testing.T) {
	ctx := context.Background()
	const rate = 4 << 20
	data := bytes.Repeat([]byte("x"), 2<<20)
	be, err := local.Create(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	lb := limit.New(be, limit.Rates{Upload: rate})
	start := time.Now()
	if err := lb.Save(ctx, backend.Handle{Type: backend.PackFile, Name: strings.Repeat("a", 64)}, backend.NewByteReader(data)); err != nil {
		t.Fatal(err)
	}
	floor := time.Duration(float64(len(data)-256<<10) / rate * float64(time.Second))
	if el := time.Since(start); el < floor {
		t.Errorf("2 MiB saved in %v at 4 MiB/s; the bucket allows no less than %v", el, floor)
	}
	start = time.Now()
	st, err := lb.Stage(ctx, backend.PackFile)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := st.Write(data); err != nil {
		t.Fatal(err)
	}
	if err := st.Commit(ctx, strings.Repeat("b", 64)); err != nil {
		t.Fatal(err)
	}
	if el := time.Since(start); el < floor {
		t.Errorf("2 MiB staged in %v at 4 MiB/s; the bucket allows no less than %v", el, floor)
	}
}

func TestCancelStopsWaiting(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	lb := limit.New(mem.New(), limit.Rates{Upload: 64 << 10})
	go func() { time.Sleep(50 * time.Millisecond); cancel() }()
	err := lb.Save(ctx, backend.Handle{Type: backend.PackFile, Name: strings.Repeat("a", 64)}, backend.NewByteReader(make([]byte, 64<<20)))
	if !errors.Is(err, context.Canceled) {
		t.Errorf("Save of 64 MiB at 64 KiB/s, cancelled: %v", err)
	}
}

// Small objects pass at once, whatever the rate.
func TestOnlyPacksAreLimited(t *testing.T) {
	lb := limit.New(mem.New(), limit.Rates{Upload: 2048})
	start := time.Now()
	for i, typ := range []backend.FileType{backend.IndexFile, backend.SnapshotFile, backend.LockFile, backend.HistoryFile} {
		h := backend.Handle{Type: typ, Name: strings.Repeat(string(rune('a'+i)), 64)}
		if err := lb.Save(context.Background(), h, backend.NewByteReader(make([]byte, 64<<10))); err != nil {
			t.Fatal(err)
		}
	}
	if el := time.Since(start); el > 20*time.Second {
		t.Errorf("256 KiB of small objects took %v at 2 KiB/s: they were limited", el)
	}
}

// Loads are limited by the download rate alone, and a zero upload rate
// leaves writes unlimited.
func TestLoadIsLimited(t *testing.T) {
	ctx := context.Background()
	const rate = 4 << 20
	data := bytes.Repeat([]byte("y"), 2<<20)
	lb := limit.New(mem.New(), limit.Rates{Download: rate})
	h := backend.Handle{Type: backend.PackFile, Name: strings.Repeat("c", 64)}
	if err := lb.Save(ctx, h, backend.NewByteReader(data)); err != nil {
		t.Fatal(err)
	}
	floor := time.Duration(float64(len(data)-256<<10) / rate * float64(time.Second))
	start := time.Now()
	got, err := backend.LoadAll(ctx, lb, h)
	if err != nil || !bytes.Equal(got, data) {
		t.Fatalf("load: %d bytes, %v", len(got), err)
	}
	if el := time.Since(start); el < floor {
		t.Errorf("2 MiB loaded in %v at 4 MiB/s; the bucket allows no less than %v", el, floor)
	}
	// A range is limited too, and yields exactly its bytes.
	start = time.Now()
	part, err := backend.LoadRange(ctx, lb, h, 1<<20, 512<<10)
	if err != nil || len(part) != 1<<20 {
		t.Fatalf("load range: %d bytes, %v", len(part), err)
	}
	if el, floor := time.Since(start), time.Duration(float64(1<<20-256<<10)/rate*float64(time.Second)); el < floor {
		t.Errorf("1 MiB range loaded in %v at 4 MiB/s; the bucket allows no less than %v", el, floor)
	}
}

func TestCancelStopsLoading(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	be := mem.New()
	h := backend.Handle{Type: backend.PackFile, Name: strings.Repeat("d", 64)}
	if err := be.Save(ctx, h, backend.NewByteReader(make([]byte, 16<<20))); err != nil {
		t.Fatal(err)
	}
	lb := limit.New(be, limit.Rates{Download: 64 << 10})
	go func() { time.Sleep(50 * time.Millisecond); cancel() }()
	start := time.Now()
	err := lb.Load(ctx, h, 0, 0, func(rd io.Reader) error {
		_, err := io.Copy(io.Discard, rd)
		return err
	})
	if !errors.Is(err, context.Canceled) {
		t.Errorf("Load of 16 MiB at 64 KiB/s, cancelled: %v", err)
	}
	if el := time.Since(start); el > 5*time.Second {
		t.Errorf("cancelled load returned after %v", el)
	}
}
