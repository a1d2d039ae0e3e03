package schedule_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/cairnbackup/cairn/schedule"
	"github.com/cairnbackup/cairn/schedule/scheduletest"
)

// patience bounds every wait of the tests; it is reached only when a test
// is broken (nothing here waits for time to pass: the clock is fake).
const patience = 20 * time.Second

// t0 is Monday 2026-06-01 00:00 UTC, where most tests start.
var t0 = time.Date(2026, 6, 1, 0, 0, 0, 0, time.UTC)

var errBoom = errors.New("boom")

// harness runs a Scheduler on a fake clock and records its events.
type harness struct {
	t      *testing.T
	clock  *scheduletest.Clock
	s      *schedule.Scheduler
	events chan schedule.Event
	cancel context.CancelFunc
	done   chan error
}

// newHarness makes a scheduler on a fake clock at start with the tasks
// set; start runs it.
func newHarness(t *testing.T, start time.Time, opts schedule.Options, tasks ...schedule.Task) *harness {
	t.Helper()
	h := &harness{t: t, clock: scheduletest.NewClock(start), events: make(chan schedule.Event, 1000)}
	opts.Clock = h.clock
	opts.OnEvent = func(e schedule.Event) { h.events <- e }
	h.s = schedule.New(opts)
	h.s.Set(tasks)
	return h
}

// start runs the scheduler until the test ends (or stop).
func (h *harness) start() *harness {
	h.t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	h.cancel, h.done = cancel, make(chan error, 1)
	go func() { h.done <- h.s.Run(ctx) }()
	h.t.Cleanup(func() {
		if h.cancel != nil {
			h.stop()
		}
	})
	h.settle()
	return h
}

// stop cancels Run and waits for it to return nil.
func (h *harness) stop() {
	h.t.Helper()
	h.cancel()
	select {
	case err := <-h.done:
		if err != nil {
			h.t.Errorf("Run returned %v", err)
		}
	case <-time.After(patience):
		h.t.Fatal("Run did not return after its context was cancelled")
	}
	h.cancel = nil
}

// settle waits until the scheduler has acted on everything so far.
func (h *harness) settle() {
	h.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), patience)
	defer cancel()
	if err := schedule.Settle(ctx, h.s); err != nil {
		h.t.Fatalf("scheduler did not settle: %v", err)
	}
}

// advance moves the clock and lets the scheduler act on it.
func (h *harness) advance(d time.Duration) {
	h.t.Helper()
	h.clock.Advance(d)
	h.settle()
}

// next returns the next event.
func (h *harness) next() schedule.Event {
	h.t.Helper()
	select {
	case e := <-h.events:
		return e
	case <-time.After(patience):
		h.t.Fatal("no event came")
	}
	panic("unreachable")
}

// expect consumes events and compares them with want, in order: each is
// "TASK KIND", followed by " #N" for attempts after the first.
func (h *harness) expect(want ...string) []schedule.Event {
	h.t.Helper()
	var got []schedule.Event
	for i, w := range want {
		e := h.next()
		got = append(got, e)
		if s := describe(e); s != w {
			h.t.Fatalf("event %d: got %q, want %q (error %v)", i, s, w, e.Err)
		}
	}
	return got
}

// quiet checks that nothing more happened.
func (h *harness) quiet() {
	h.t.Helper()
	h.settle()
	select {
	case e := <-h.events:
		h.t.Fatalf("unexpected event %q", describe(e))
	default:
	}
}

func describe(e schedule.Event) string {
	s := e.Task + " " + string(e.Kind)
	if e.Attempt > 1 {
		s += fmt.Sprintf(" #%d", e.Attempt)
	}
	return s
}

// status returns the status of the named task.
func (h *harness) status(name string) schedule.TaskStatus {
	h.t.Helper()
	for _, st := range h.s.Status() {
		if st.Name == name {
			return st
		}
	}
	h.t.Fatalf("no status for %q in %v", name, names(h.s.Status()))
	return schedule.TaskStatus{}
}

func names(st []schedule.TaskStatus) string {
	var n []string
	for _, s := range st {
		n = append(n, s.Name)
	}
	return strings.Join(n, ",")
}

// gate is a task that runs until the test finishes it.
type gate struct {
	t       *testing.T
	results chan error
	ctxs    chan context.Context
}

func newGate(t *testing.T) *gate {
	return &gate{t: t, results: make(chan error), ctxs: make(chan context.Context, 100)}
}

func (g *gate) run(ctx context.Context) error {
	g.ctxs <- ctx
	select {
	case err := <-g.results:
		return err
	case <-ctx.Done():
		return ctx.Err()
	}
}

// finish makes the running task return err.
func (g *gate) finish(err error) {
	g.t.Helper()
	select {
	case g.results <- err:
	case <-time.After(patience):
		g.t.Fatal("the task is not running")
	}
}

// ctx returns the context of the run that started last.
func (g *gate) ctx() context.Context {
	g.t.Helper()
	select {
	case ctx := <-g.ctxs:
		return ctx
	case <-time.After(patience):
		g.t.Fatal("the task did not start")
	}
	return nil
}

func ok(context.Context) error   { return nil }
func fail(context.Context) error { return errBoom }

func task(name, line string, run func(context.Context) error) schedule.Task {
	t := schedule.Task{Name: name, Key: name, Run: run}
	if line != "" {
		t.Spec = schedule.MustParse(line)
	}
	return t
}

// fixed returns a Rand that always answers v.
func fixed(v float64) func() float64 { return func() float64 { return v } }

func at(t *testing.T, what string, got, want time.Time) {
	t.Helper()
	if !got.Equal(want) {
		t.Errorf("%s: got %v, want %v", what, got, want)
	}
}
