package schedule_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/cairnbackup/cairn/schedule"
)

func TestScheduledRun(t *testing.T) {
	h := newHarness(t, t0, schedule.Options{}, task("etc", "@hourly", ok)).start()
	at(t, "next", h.status("etc").Next, t0.Add(time.Hour))
	h.advance(59 * time.Minute)
	h.quiet()
	h.advance(time.Minute)
	ev := h.expect("etc due", "etc started", "etc succeeded")
	at(t, "due", ev[0].Time, t0.Add(time.Hour))
	h.quiet()
	st := h.status("etc")
	at(t, "next", st.Next, t0.Add(2*time.Hour))
	at(t, "last start", st.LastStart, t0.Add(time.Hour))
	if st.LastOutcome != schedule.OutcomeSucceeded || st.Attempt != 1 || st.Running || st.Queued || st.Spec != "@hourly" {
		t.Errorf("status %+v", st)
	}
}

// A machine that slept through many runs runs once when it wakes, and
// the next run is the schedule's next after now.
func TestMissedRunsComeDueOnce(t *testing.T) {
	h := newHarness(t, t0, schedule.Options{}, task("logs", "@every 10m", ok)).start()
	h.advance(3 * time.Hour)
	h.expect("logs due", "logs started", "logs succeeded")
	h.quiet()
	at(t, "next", h.status("logs").Next, t0.Add(3*time.Hour+10*time.Minute))
}

func TestConcurrencyLimit(t *testing.T) {
	a, b, c := newGate(t), newGate(t), newGate(t)
	h := newHarness(t, t0, schedule.Options{Concurrency: 2},
		task("a", "0 1 * * *", a.run), task("b", "0 1 * * *", b.run), task("c", "0 1 * * *", c.run)).start()
	h.advance(time.Hour)
	h.expect("a due", "b due", "c due", "a started", "b started")
	h.quiet()
	if st := h.status("c"); !st.Queued || st.Running {
		t.Errorf("c: queued %v, running %v; want queued", st.Queued, st.Running)
	}
	b.finish(nil)
	h.expect("b succeeded", "c started")
	a.finish(nil)
	h.expect("a succeeded")
	c.finish(nil)
	h.expect("c succeeded")
	h.quiet()
}

// Queued runs start in the order they came due, not the order of the set.
func TestQueueInDueOrder(t *testing.T) {
	x := newGate(t)
	h := newHarness(t, t0, schedule.Options{},
		task("x", "30 0 * * *", x.run), task("late", "50 0 * * *", ok), task("early", "40 0 * * *", ok)).start()
	h.advance(30 * time.Minute)
	h.expect("x due", "x started")
	h.advance(30 * time.Minute) // both come due in one round
	h.expect("late due", "early due")
	x.finish(nil)
	h.expect("x succeeded", "early started", "early succeeded", "late started", "late succeeded")
	h.quiet()
}

// Tasks of one key never overlap, even with slots free; other keys pass.
func TestKeyExclusive(t *testing.T) {
	a1, a2, b := newGate(t), newGate(t), newGate(t)
	mk := func(name, key string, run func(context.Context) error) schedule.Task {
		tk := task(name, "@hourly", run)
		tk.Key = key
		return tk
	}
	h := newHarness(t, t0, schedule.Options{Concurrency: 3},
		mk("a1", "repo", a1.run), mk("a2", "repo", a2.run), mk("b", "other", b.run)).start()
	h.advance(time.Hour)
	h.expect("a1 due", "a2 due", "b due", "a1 started", "b started")
	h.quiet()
	b.finish(nil)
	h.expect("b succeeded")
	h.quiet() // a slot is free, but a2's key is held
	a1.finish(nil)
	h.expect("a1 succeeded", "a2 started")
	a2.finish(nil)
	h.expect("a2 succeeded")
	h.quiet()
}

// A run due while the last one runs, or waits in the queue, is coalesced.
func TestCoalesce(t *testing.T) {
	slow, blocker := newGate(t), newGate(t)
	w := task("waiting", "@every 10m", ok)
	w.Key = "repo"
	b := task("blocker", "", blocker.run)
	b.Key = "repo"
	h := newHarness(t, t0, schedule.Options{Concurrency: 2}, task("slow", "@every 10m", slow.run), w, b).start()
	if err := h.s.Trigger("blocker"); err != nil {
		t.Fatal(err)
	}
	h.expect("blocker due", "blocker started")

	h.advance(10 * time.Minute)
	h.expect("slow due", "waiting due", "slow started")
	for range 3 {
		h.advance(10 * time.Minute)
		h.expect("slow due", "slow skipped", "waiting due", "waiting skipped")
	}
	if err := h.s.Trigger("slow"); !errors.Is(err, schedule.ErrBusy) {
		t.Errorf("Trigger of a running task: %v, want ErrBusy", err)
	}
	h.expect("slow due", "slow skipped")
	slow.finish(nil)
	h.expect("slow succeeded")
	blocker.finish(nil)
	h.expect("blocker succeeded", "waiting started", "waiting succeeded")
	h.quiet()
	h.advance(10 * time.Minute)
	h.expect("slow due", "waiting due", "slow started", "waiting started")
}

func TestRetryBackoff(t *testing.T) {
	opts := schedule.Options{Attempts: 4, BaseDelay: time.Minute, MaxDelay: 3 * time.Minute, Rand: fixed(0)}
	h := newHarness(t, t0, opts, task("t", "", fail)).start()
	if err := h.s.Trigger("t"); err != nil {
		t.Fatal(err)
	}
	h.expect("t due", "t started", "t failed")
	// Factor 0.5: 1m·0.5, 2m·0.5, min(3m, 4m)·0.5.
	now := t0
	for _, step := range []struct {
		attempt int
		wait    time.Duration
	}{{2, 30 * time.Second}, {3, time.Minute}, {4, 90 * time.Second}} {
		ev := h.expect(fmt.Sprintf("t retry-scheduled #%d", step.attempt))
		at(t, fmt.Sprintf("attempt %d", step.attempt), ev[0].NextAttempt, now.Add(step.wait))
		if st := h.status("t"); !st.RetryAt.Equal(now.Add(step.wait)) || st.Attempt != step.attempt-1 {
			t.Errorf("status: retry at %v, attempt %d", st.RetryAt, st.Attempt)
		}
		h.advance(step.wait - time.Second)
		h.quiet()
		h.advance(time.Second)
		now = now.Add(step.wait)
		p := fmt.Sprintf("t %%s #%d", step.attempt)
		h.expect(fmt.Sprintf(p, "due"), fmt.Sprintf(p, "started"), fmt.Sprintf(p, "failed"))
	}
	ev := h.expect("t gave-up #4")
	if !errors.Is(ev[0].Err, errBoom) {
		t.Errorf("gave-up error %v", ev[0].Err)
	}
	h.quiet()
	st := h.status("t")
	if st.LastOutcome != schedule.OutcomeFailed || st.LastError != "boom" || !st.RetryAt.IsZero() || st.Attempt != 4 {
		t.Errorf("status %+v", st)
	}
}

func TestBackoffSequence(t *testing.T) {
	for _, tt := range []struct {
		rand float64
		want []time.Duration // attempts 2, 3, …
	}{
		{0, []time.Duration{30 * time.Second, time.Minute, 2 * time.Minute, 4 * time.Minute, 8 * time.Minute, 16 * time.Minute, 30 * time.Minute, 30 * time.Minute}},
		{0.5, []time.Duration{45 * time.Second, 90 * time.Second, 3 * time.Minute, 6 * time.Minute, 12 * time.Minute, 24 * time.Minute, 45 * time.Minute, 45 * time.Minute}},
	} {
		s := schedule.New(schedule.Options{BaseDelay: time.Minute, MaxDelay: time.Hour, Rand: fixed(tt.rand)})
		for i, want := range tt.want {
			if got := schedule.Backoff(s, i+2); got != want {
				t.Errorf("rand %v: attempt %d waits %v, want %v", tt.rand, i+2, got, want)
			}
		}
		if got := schedule.Backoff(s, 1000); got != tt.want[len(tt.want)-1] {
			t.Errorf("rand %v: attempt 1000 waits %v", tt.rand, got)
		}
	}
	// The defaults are the configuration's: 1m, at most 1h.
	s := schedule.New(schedule.Options{Rand: fixed(0.999999)})
	if got := schedule.Backoff(s, 2); got < 59*time.Second || got > time.Minute {
		t.Errorf("default base delay: %v", got)
	}
	if got := schedule.Backoff(s, 30); got < 59*time.Minute || got > time.Hour {
		t.Errorf("default max delay: %v", got)
	}
}

// A retry waits without holding a slot or its key.
func TestRetryDoesNotBlock(t *testing.T) {
	var calls atomic.Int32
	flaky := func(context.Context) error {
		if calls.Add(1) == 1 {
			return errBoom
		}
		return nil
	}
	other := newGate(t)
	a, b := task("a", "", flaky), task("b", "", other.run)
	a.Key, b.Key = "repo", "repo"
	h := newHarness(t, t0, schedule.Options{Attempts: 2, BaseDelay: time.Minute, Rand: fixed(0)}, a, b).start()
	if err := h.s.Trigger("a"); err != nil {
		t.Fatal(err)
	}
	h.expect("a due", "a started", "a failed", "a retry-scheduled #2")
	if err := h.s.Trigger("b"); err != nil {
		t.Fatal(err)
	}
	h.expect("b due", "b started")
	// The retry comes due while b holds the key: it waits for b.
	h.advance(30 * time.Second)
	h.expect("a due #2")
	h.quiet()
	other.finish(nil)
	h.expect("b succeeded", "a started #2", "a succeeded #2")
	h.quiet()
}

// A retry still pending when the next scheduled run comes is merged into
// that run: one run, a fresh first attempt.
func TestRetryMergedIntoNextRun(t *testing.T) {
	// Runs at 01:00 and 02:00; the first fails and its retry would start
	// at 02:00 (with the scheduled run) or at 03:00 (after it).
	for _, base := range []time.Duration{2 * time.Hour, 4 * time.Hour} {
		t.Run(base.String(), func(t *testing.T) {
			var calls atomic.Int32
			flaky := func(context.Context) error {
				if calls.Add(1) == 1 {
					return errBoom
				}
				return nil
			}
			h := newHarness(t, t0, schedule.Options{Attempts: 3, BaseDelay: base, MaxDelay: 10 * time.Hour, Rand: fixed(0)},
				task("t", "0 1,2 * * *", flaky)).start()
			h.advance(time.Hour)
			ev := h.expect("t due", "t started", "t failed", "t retry-scheduled #2")
			at(t, "retry", ev[3].NextAttempt, t0.Add(time.Hour+base/2))
			h.advance(time.Hour)
			h.expect("t due", "t started", "t succeeded")
			h.quiet()
			if st := h.status("t"); !st.RetryAt.IsZero() {
				t.Errorf("retry still pending at %v", st.RetryAt)
			}
			h.advance(90 * time.Minute)
			h.quiet()
			if n := calls.Load(); n != 2 {
				t.Errorf("%d runs, want 2", n)
			}
		})
	}
}

func TestPermanentErrorIsNotRetried(t *testing.T) {
	perm := func(context.Context) error { return fmt.Errorf("open repository: %w", schedule.ErrPermanent) }
	h := newHarness(t, t0, schedule.Options{Attempts: 5}, task("t", "@hourly", perm)).start()
	h.advance(time.Hour)
	h.expect("t due", "t started", "t failed", "t gave-up")
	h.advance(59 * time.Minute)
	h.quiet()
	if st := h.status("t"); !st.RetryAt.IsZero() || st.LastOutcome != schedule.OutcomeFailed {
		t.Errorf("status %+v", st)
	}
}

func TestPanicIsAFailure(t *testing.T) {
	boom := func(context.Context) error { panic("oops") }
	h := newHarness(t, t0, schedule.Options{}, task("t", "", boom)).start()
	if err := h.s.Trigger("t"); err != nil {
		t.Fatal(err)
	}
	ev := h.expect("t due", "t started", "t failed", "t gave-up")
	if !strings.Contains(ev[2].Err.Error(), "panic: oops") {
		t.Errorf("error %v", ev[2].Err)
	}
}

func TestCatchUp(t *testing.T) {
	now := time.Date(2026, 6, 1, 10, 0, 0, 0, time.UTC)
	tests := []struct {
		name    string
		line    string
		catchUp bool
		last    *time.Time // nil: no record
		noLast  bool       // Options.LastRun is nil
		runs    bool
		next    time.Time
	}{
		{name: "missed while down", line: "@daily", catchUp: true, last: ptr(now.Add(-24 * time.Hour)), runs: true, next: now.Add(14 * time.Hour)},
		{name: "nothing missed", line: "@daily", catchUp: true, last: ptr(now.Add(-10 * time.Hour)), next: now.Add(14 * time.Hour)},
		{name: "missed without catch_up", line: "@daily", last: ptr(now.Add(-48 * time.Hour)), next: now.Add(14 * time.Hour)},
		{name: "never ran", line: "@daily", catchUp: true, runs: true, next: now.Add(14 * time.Hour)},
		{name: "never ran, without catch_up", line: "@daily", next: now.Add(14 * time.Hour)},
		{name: "no LastRun", line: "@daily", catchUp: true, noLast: true, next: now.Add(14 * time.Hour)},
		{name: "@every counts from the last run", line: "@every 6h", last: ptr(now.Add(-2 * time.Hour)), next: now.Add(4 * time.Hour)},
		{name: "@every missed", line: "@every 6h", catchUp: true, last: ptr(now.Add(-7 * time.Hour)), runs: true, next: now.Add(6 * time.Hour)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			opts := schedule.Options{LastRun: func(name string) (time.Time, bool) {
				if name != "job" {
					t.Errorf("LastRun(%q)", name)
				}
				if tt.last == nil {
					return time.Time{}, false
				}
				return *tt.last, true
			}}
			if tt.noLast {
				opts.LastRun = nil
			}
			tk := task("job", tt.line, ok)
			tk.CatchUp = tt.catchUp
			h := newHarness(t, now, opts, tk).start()
			if tt.runs {
				ev := h.expect("job due", "job started", "job succeeded")
				at(t, "due", ev[0].Time, now)
			}
			h.quiet()
			at(t, "next", h.status("job").Next, tt.next)
		})
	}
}

func ptr[T any](v T) *T { return &v }

// Stopping cancels running tasks, waits for them, and drops queued runs.
func TestStop(t *testing.T) {
	sawCancel, release := make(chan struct{}), make(chan struct{})
	stubborn := func(ctx context.Context) error {
		<-ctx.Done()
		close(sawCancel)
		<-release // still cleaning up
		return ctx.Err()
	}
	h := newHarness(t, t0, schedule.Options{Attempts: 3}, task("a", "@hourly", stubborn), task("b", "@hourly", ok)).start()
	h.advance(time.Hour)
	h.expect("a due", "b due", "a started")
	h.cancel()
	<-sawCancel
	select {
	case err := <-h.done:
		t.Fatalf("Run returned (%v) before its task did", err)
	default:
	}
	close(release)
	if err := <-h.done; err != nil {
		t.Fatalf("Run: %v", err)
	}
	h.cancel = nil
	h.expect("a cancelled")
	for _, st := range h.s.Status() {
		if st.Running || st.Queued || !st.RetryAt.IsZero() || !st.Next.IsZero() {
			t.Errorf("after stop: %+v", st)
		}
	}
	if st := h.status("b"); !st.LastStart.IsZero() {
		t.Errorf("b ran: %+v", st)
	}
	if st := h.status("a"); st.LastOutcome != schedule.OutcomeCancelled {
		t.Errorf("a: %+v", st)
	}
}

func TestRunTwice(t *testing.T) {
	h := newHarness(t, t0, schedule.Options{}).start()
	if err := h.s.Run(context.Background()); !errors.Is(err, schedule.ErrRunning) {
		t.Errorf("second Run: %v", err)
	}
}

func TestRandomDelay(t *testing.T) {
	tk := task("t", "@hourly", ok)
	tk.RandomDelay = 10 * time.Minute
	h := newHarness(t, t0, schedule.Options{Rand: fixed(0.5)}, tk).start()
	at(t, "next", h.status("t").Next, t0.Add(65*time.Minute))
	h.advance(time.Hour)
	h.quiet()
	h.advance(5 * time.Minute)
	ev := h.expect("t due", "t started", "t succeeded")
	at(t, "due", ev[0].Time, t0.Add(65*time.Minute))
	at(t, "next", h.status("t").Next, t0.Add(125*time.Minute))
	// Triggered runs are not delayed.
	if err := h.s.Trigger("t"); err != nil {
		t.Fatal(err)
	}
	h.expect("t due", "t started", "t succeeded")
}

func TestTrigger(t *testing.T) {
	h := newHarness(t, t0, schedule.Options{}, task("t", "", ok))
	if err := h.s.Trigger("nope"); !errors.Is(err, schedule.ErrUnknownTask) {
		t.Errorf("Trigger of an unknown task: %v", err)
	}
	// Before Run, the run waits for it.
	if err := h.s.Trigger("t"); err != nil {
		t.Fatal(err)
	}
	if st := h.status("t"); !st.Queued {
		t.Errorf("not queued: %+v", st)
	}
	h.start()
	h.expect("t due", "t started", "t succeeded")
	h.quiet()
}

// Set while running: a running task keeps running under its new spec, a
// removed task's queued run is dropped, a new task is scheduled.
func TestSetReload(t *testing.T) {
	a := newGate(t)
	ta, tb := task("a", "@hourly", a.run), task("b", "@hourly", ok)
	ta.Key, tb.Key = "repo", "repo"
	h := newHarness(t, t0, schedule.Options{Concurrency: 2}, ta, tb).start()
	h.advance(time.Hour)
	h.expect("a due", "b due", "a started")
	ctx := a.ctx()

	ta.Spec = schedule.MustParse("*/20 * * * *")
	h.s.Set([]schedule.Task{ta, task("c", "@daily", ok)})
	h.quiet()
	if ctx.Err() != nil {
		t.Fatal("Set cancelled the running task")
	}
	if got := names(h.s.Status()); got != "a,c" {
		t.Errorf("tasks after Set: %s", got)
	}
	st := h.status("a")
	at(t, "a next", st.Next, t0.Add(80*time.Minute))
	if !st.Running || st.Spec != "*/20 * * * *" {
		t.Errorf("a: %+v", st)
	}
	at(t, "c next", h.status("c").Next, t0.Add(24*time.Hour))
	a.finish(nil)
	h.expect("a succeeded") // b's queued run is gone
	h.quiet()
	h.advance(20 * time.Minute)
	h.expect("a due", "a started")
	a.finish(nil)
	h.expect("a succeeded")

	// Removed while running: listed until it ends, and not retried.
	h.advance(20 * time.Minute)
	h.expect("a due", "a started")
	h.s.Set([]schedule.Task{task("c", "@daily", ok)})
	h.quiet()
	if st := h.status("a"); !st.Removed || !st.Running || !st.Next.IsZero() {
		t.Errorf("removed a: %+v", st)
	}
	if err := h.s.Trigger("a"); !errors.Is(err, schedule.ErrUnknownTask) {
		t.Errorf("Trigger of a removed task: %v", err)
	}
	a.finish(errBoom)
	h.expect("a failed", "a gave-up")
	h.quiet()
	if got := names(h.s.Status()); got != "c" {
		t.Errorf("tasks: %s", got)
	}
	h.advance(time.Hour)
	h.quiet()
}

// A task removed and added back while it runs is one task again.
func TestSetRemoveAndReAdd(t *testing.T) {
	a := newGate(t)
	ta := task("a", "@hourly", a.run)
	h := newHarness(t, t0, schedule.Options{}, ta).start()
	h.advance(time.Hour)
	h.expect("a due", "a started")
	h.s.Set(nil)
	h.s.Set([]schedule.Task{ta})
	h.quiet()
	st := h.status("a")
	if st.Removed || !st.Running {
		t.Errorf("status %+v", st)
	}
	at(t, "next", st.Next, t0.Add(2*time.Hour))
	a.finish(nil)
	h.expect("a succeeded")
	h.advance(time.Hour)
	h.expect("a due", "a started")
	a.finish(nil)
	h.expect("a succeeded")
}

func TestSetPanicsOnBadTasks(t *testing.T) {
	for name, tasks := range map[string][]schedule.Task{
		"no name":   {{Run: ok}},
		"duplicate": {task("a", "", ok), task("a", "", ok)},
		"no run":    {{Name: "a"}},
	} {
		t.Run(name, func(t *testing.T) {
			defer func() {
				if recover() == nil {
					t.Error("Set did not panic")
				}
			}()
			schedule.New(schedule.Options{}).Set(tasks)
		})
	}
}
