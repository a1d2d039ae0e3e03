package retry_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/cairnbackup/cairn/backend"
	"github.com/cairnbackup/cairn/backend/backendtest"
	"github.com/cairnbackup/cairn/backend/faulty"
	"github.com/cairnbackup/cairn/backend/mem"
	"github.com/cairnbackup/cairn/backend/retry"
)

func TestConformanceWithoutFaults(t *testing.T) {
	backendtest.Run(t, func(t *testing.T) backend.Backend {
		return retry.New(mem.New(), retry.Options{})
	})
}

// fakeClock records the waits instead of sleeping.
type fakeClock struct {
	mu    sync.Mutex
	now   time.Time
	waits []time.Duration
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *fakeClock) Sleep(ctx context.Context, d time.Duration) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.waits = append(c.waits, d)
	c.now = c.now.Add(d)
	return ctx.Err()
}

// setup returns a faulty memory backend behind a retrier on a fake clock
// whose jitter always draws 1/2.
func setup(t *testing.T, opts retry.Options) (*retry.Backend, *faulty.Backend, *fakeClock) {
	clock := &fakeClock{now: time.Unix(1e9, 0)}
	opts.Now, opts.Sleep = clock.Now, clock.Sleep
	opts.Rand = func() float64 { return 0.5 }
	opts.Logger = slog.New(slog.NewTextHandler(t.Output(), nil))
	fb := faulty.New(mem.New())
	return retry.New(fb, opts), fb, clock
}

var (
	ctx  = context.Background()
	h    = backend.Handle{Type: backend.PackFile, Name: strings.Repeat("ab", 32)}
	data = bytes.Repeat([]byte("cairn"), 1000)
)

func TestTransientThenSuccess(t *testing.T) {
	rb, fb, clock := setup(t, retry.Options{})
	fb.Inject(faulty.Fault{Op: faulty.OpSave, Kind: faulty.FailMidStream, Offset: 100, Times: 2})
	if err := rb.Save(ctx, h, backend.NewByteReader(data)); err != nil {
		t.Fatal(err)
	}
	if n := fb.Calls(faulty.OpSave); n != 3 {
		t.Errorf("%d attempts, want 3", n)
	}
	if want := []time.Duration{time.Second, 2 * time.Second}; fmt.Sprint(clock.waits) != fmt.Sprint(want) {
		t.Errorf("waits %v, want %v (half of 2 s, 4 s)", clock.waits, want)
	}
	got, err := backend.LoadAll(ctx, rb, h)
	if err != nil || !bytes.Equal(got, data) {
		t.Fatalf("the source was not rewound: %v, %d bytes", err, len(got))
	}
}

func TestPermanentErrorsAreNotRetried(t *testing.T) {
	for _, perm := range []error{backend.ErrNotFound, backend.ErrAccessDenied, backend.ErrInvalidHandle,
		backend.ErrShortRead, backend.ErrNoSpace, context.Canceled, errors.New("something else"),
		fmt.Errorf("%w and %w", backend.ErrTransient, backend.ErrAccessDenied)} {
		rb, fb, _ := setup(t, retry.Options{})
		fb.Inject(faulty.Fault{Op: faulty.OpStat, Err: perm, Times: -1})
		if _, err := rb.Stat(ctx, h); !errors.Is(err, perm) || fb.Calls(faulty.OpStat) != 1 {
			t.Errorf("%v: got %v after %d calls, want it after 1", perm, err, fb.Calls(faulty.OpStat))
		}
	}
}

type timeout struct{}

func (timeout) Error() string   { return "i/o timeout" }
func (timeout) Timeout() bool   { return true }
func (timeout) Temporary() bool { return true }

func TestUnclassifiedTimeoutIsRetried(t *testing.T) {
	rb, fb, _ := setup(t, retry.Options{})
	fb.Inject(faulty.Fault{Op: faulty.OpStat, Err: fmt.Errorf("stat: %w", timeout{})})
	if _, err := rb.Stat(ctx, h); !errors.Is(err, backend.ErrNotFound) || fb.Calls(faulty.OpStat) != 2 {
		t.Errorf("got %v after %d calls, want ErrNotFound after 2", err, fb.Calls(faulty.OpStat))
	}
	if retry.Retryable(context.DeadlineExceeded) {
		t.Error("a context deadline (also a net.Error timeout) counts as retryable")
	}
}

func TestBudget(t *testing.T) {
	rb, fb, clock := setup(t, retry.Options{})
	fb.Inject(faulty.Fault{Op: faulty.OpRemove, Times: -1})
	err := rb.Remove(ctx, h)
	if !errors.Is(err, faulty.ErrInjected) || !strings.Contains(err.Error(), "after 6 attempts") {
		t.Errorf("got %v, want the last error after 6 attempts", err)
	}
	want := []time.Duration{1, 2, 4, 8, 15} // half of 2, 4, 8, 16, 30 (capped) seconds
	for i := range want {
		want[i] *= time.Second
	}
	if fmt.Sprint(clock.waits) != fmt.Sprint(want) {
		t.Errorf("waits %v, want %v", clock.waits, want)
	}

	rb, fb, _ = setup(t, retry.Options{MaxAttempts: 50, MaxElapsed: 10 * time.Second})
	fb.Inject(faulty.Fault{Op: faulty.OpRemove, Times: -1})
	if err := rb.Remove(ctx, h); !errors.Is(err, faulty.ErrInjected) || fb.Calls(faulty.OpRemove) != 4 {
		t.Errorf("time budget: %v after %d calls, want 4 (waits 1+2+4 s, then 8 s would pass 10 s)", err, fb.Calls(faulty.OpRemove))
	}
}

func TestCancelStopsWaiting(t *testing.T) {
	fb := faulty.New(mem.New())
	fb.Inject(faulty.Fault{Op: faulty.OpSave, Times: -1})
	rb := retry.New(fb, retry.Options{BaseDelay: time.Hour, MaxDelay: time.Hour, MaxElapsed: -1, Rand: func() float64 { return 0.99 }})
	c, cancel := context.WithCancel(ctx)
	time.AfterFunc(20*time.Millisecond, cancel)
	start := time.Now()
	err := rb.Save(c, h, backend.NewByteReader(data))
	if !errors.Is(err, context.Canceled) || time.Since(start) > 10*time.Second {
		t.Errorf("got %v after %v, want context.Canceled at once", err, time.Since(start))
	}
}

func TestLoad(t *testing.T) {
	rb, fb, _ := setup(t, retry.Options{})
	if err := rb.Save(ctx, h, backend.NewByteReader(data)); err != nil {
		t.Fatal(err)
	}
	readAll := func(got *[]byte, calls *int) func(io.Reader) error {
		return func(rd io.Reader) error {
			*calls++
			var err error
			*got, err = io.ReadAll(rd)
			return err
		}
	}

	// The stream breaks under fn, which returns the reader's error: start over.
	var got []byte
	calls := 0
	fb.Inject(faulty.Fault{Op: faulty.OpLoad, Kind: faulty.FailMidStream, Offset: 1000})
	if err := rb.Load(ctx, h, 0, 0, readAll(&got, &calls)); err != nil || !bytes.Equal(got, data) || calls != 2 {
		t.Errorf("broken stream: %v, %d bytes, fn called %d times (want 2)", err, len(got), calls)
	}

	// The GET itself fails: retried without calling fn.
	calls = 0
	fb.Inject(faulty.Fault{Op: faulty.OpLoad})
	if err := rb.Load(ctx, h, 0, 0, readAll(&got, &calls)); err != nil || calls != 1 {
		t.Errorf("failed GET: %v, fn called %d times (want 1)", err, calls)
	}

	// fn's own error, even a transient-looking one, is final.
	before := fb.Calls(faulty.OpLoad)
	own := fmt.Errorf("fn: %w", backend.ErrTransient)
	if err := rb.Load(ctx, h, 0, 0, func(io.Reader) error { return own }); err != own || fb.Calls(faulty.OpLoad) != before+1 {
		t.Errorf("fn's error: %v after %d calls, want it as is after 1", err, fb.Calls(faulty.OpLoad)-before)
	}

	// A reader error that fn re-wrapped without %w is fn's decision.
	before = fb.Calls(faulty.OpLoad)
	fb.Inject(faulty.Fault{Op: faulty.OpLoad, Kind: faulty.FailMidStream, Offset: 10})
	err := rb.Load(ctx, h, 0, 0, func(rd io.Reader) error {
		_, err := io.ReadAll(rd)
		return fmt.Errorf("decode: %v", err)
	})
	if err == nil || fb.Calls(faulty.OpLoad) != before+1 {
		t.Errorf("re-wrapped reader error: %v after %d calls, want an error after 1", err, fb.Calls(faulty.OpLoad)-before)
	}
}

func TestList(t *testing.T) {
	rb, fb, _ := setup(t, retry.Options{})
	for i := range 3 {
		hi := backend.Handle{Type: backend.IndexFile, Name: fmt.Sprintf("%064d", i)}
		if err := rb.Save(ctx, hi, backend.NewByteReader(data)); err != nil {
			t.Fatal(err)
		}
	}
	count := func() (int, error) {
		n := 0
		err := rb.List(ctx, backend.IndexFile, func(backend.FileInfo) error { n++; return nil })
		return n, err
	}
	fb.Inject(faulty.Fault{Op: faulty.OpList, Times: 2})
	if n, err := count(); err != nil || n != 3 {
		t.Errorf("list failing before any object: %v, %d objects", err, n)
	}
	fb.Inject(faulty.Fault{Op: faulty.OpList, Kind: faulty.FailMidStream, Offset: 2})
	n, err := count()
	if !errors.Is(err, faulty.ErrInjected) || n != 2 || !strings.Contains(err.Error(), "not retried") {
		t.Errorf("list broken after 2 objects: %v, %d objects reported", err, n)
	}
}

func TestRemoveAfterLostAnswer(t *testing.T) {
	rb, fb, _ := setup(t, retry.Options{})
	if err := rb.Save(ctx, h, backend.NewByteReader(data)); err != nil {
		t.Fatal(err)
	}
	fb.Inject(faulty.Fault{Op: faulty.OpRemove, Kind: faulty.FailAfter})
	if err := rb.Remove(ctx, h); err != nil {
		t.Errorf("remove whose first answer was lost: %v", err)
	}
	if err := rb.Remove(ctx, h); !errors.Is(err, backend.ErrNotFound) {
		t.Errorf("remove of a missing object: %v, want ErrNotFound", err)
	}
}

func TestLogger(t *testing.T) {
	var buf bytes.Buffer
	fb := faulty.New(mem.New())
	fb.Inject(faulty.Fault{Op: faulty.OpStat})
	rb := retry.New(fb, retry.Options{
		Sleep:  func(context.Context, time.Duration) error { return nil },
		Logger: slog.New(slog.NewTextHandler(&buf, nil)),
	})
	rb.Stat(ctx, h)
	lines := strings.Split(strings.TrimSpace(buf.String()), "\n")
	if len(lines) != 1 || !strings.Contains(lines[0], `op="stat data/ab/`) || !strings.Contains(lines[0], "attempt=1 of=6") {
		t.Errorf("log lines %q", lines)
	}
	if rb.Unwrap() != fb {
		t.Error("Unwrap does not return the wrapped backend")
	}
}
