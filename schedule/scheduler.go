// Package schedule runs tasks on cron schedules: the engine of `cairn
// daemon`. It queues due runs under a global concurrency limit and a
// per-key exclusivity rule, coalesces a run that comes due while the last
// one is still running or queued, retries failures with exponential
// backoff, catches up a run missed while the daemon was down, and reports
// every state change. Time and randomness are injected (Options.Clock,
// Options.Rand), so the tests run on a fake clock.
//
// The package knows nothing of repositories: a Task's Run does the work.
package schedule

import (
	"cmp"
	"context"
	"fmt"
	"log/slog"
	"maps"
	"math/rand/v2"
	"slices"
	"sync"
	"time"

	"github.com/cairnbackup/cairn/config"
)

// Task is one schedulable unit (a job's backup, or its check).
type Task struct {
	// Name is unique within a set, such as "etc" or "etc/check".
	Name string
	// Key is the exclusivity key: two tasks with the same Key never run
	// at once (the daemon uses the repository). An empty Key excludes
	// only the task itself.
	Key string
	// Spec is when the task comes due; the zero Spec never does (the task
	// runs only when triggered).
	Spec Spec
	// CatchUp: when the scheduler starts (or the task is added while it
	// runs) and Options.LastRun says a run came due since the last start
	// (missed while the daemon was down) or has no record of one, the
	// task runs once at once.
	CatchUp bool
	// RandomDelay delays each scheduled start by a random amount in
	// [0, RandomDelay). Catch-ups, retries and triggers are not delayed.
	RandomDelay time.Duration
	// Run does the work. Its context is cancelled when the scheduler
	// stops. An error wrapping ErrPermanent is not retried.
	Run func(ctx context.Context) error
}

// Options configure a Scheduler. The zero value works.
type Options struct {
	// Clock is the time source (default SystemClock()).
	Clock Clock
	// Concurrency is how many tasks run at once overall (default 1).
	Concurrency int
	// Attempts is how many times a due run is tried, the first included
	// (default 1: no retries).
	Attempts int
	// BaseDelay and MaxDelay shape the backoff: attempt n >= 2 starts
	// min(MaxDelay, BaseDelay·2^(n-2))·(0.5 + 0.5·Rand()) after attempt
	// n-1 ended. Defaults: config.DefaultBaseDelay (1m) and
	// config.DefaultMaxDelay (1h).
	BaseDelay time.Duration
	MaxDelay  time.Duration
	// Rand returns numbers in [0, 1) for the backoff's jitter and the
	// tasks' random delays (default math/rand/v2.Float64). It is called
	// with the scheduler's lock held, never concurrently.
	Rand func() float64
	// LastRun returns the last start of a task, if known. It is used when
	// a task is first scheduled: for CatchUp, and so that the next run of
	// an @every task counts from the last one (nil: neither). It is
	// called without the scheduler's lock held.
	LastRun func(task string) (time.Time, bool)
	// Logger receives a line per event (nil discards).
	Logger *slog.Logger
	// OnEvent, if set, observes every state change, in order, from the
	// goroutine running Run. It may call Status, Set and Trigger; it
	// should return quickly, since scheduling waits for it.
	OnEvent func(Event)
}

// maxSleep bounds how long the scheduler sleeps before it looks at the
// clock again: Go's timers do not count time suspended, and the wall
// clock may be set.
const maxSleep = time.Minute

// Scheduler runs a set of tasks on their schedules. Its methods are safe
// for concurrent use.
type Scheduler struct {
	opts    Options
	log     *slog.Logger
	wake    chan struct{}      // buffered: something changed, look again
	barrier chan chan struct{} // tests: closed after the next full round

	mu       sync.Mutex
	tasks    map[string]*taskState // the set, and removed tasks still running
	order    []string              // the set's names, in Set's order
	queue    []queued              // due runs waiting for a slot, by due time
	seq      uint64                // orders queue entries due at the same time
	running  int
	busy     map[string]bool // keys of running tasks
	active   bool            // Run is running
	stopping bool            // Run's context is cancelled
	runCtx   context.Context // parent of the tasks' contexts while active
	events   []Event         // not yet delivered to OnEvent
	wg       sync.WaitGroup  // running tasks
}

// taskState is what the scheduler knows of one task.
type taskState struct {
	task    Task
	removed bool // no longer in the set; kept while it runs

	next time.Time // next scheduled start, random delay included; zero: none
	base time.Time // the schedule's time behind next

	retryAt      time.Time // pending retry; zero: none
	retryAttempt int

	queued  bool
	running bool
	runKey  string // the Key the running run holds
	attempt int    // of the running or last run

	lastStart, lastEnd time.Time
	lastOutcome        Outcome
	lastErr            error
}

// queued is a due run waiting for a slot.
type queued struct {
	name    string
	due     time.Time
	attempt int
	seq     uint64
}

// New returns a Scheduler with no tasks; Set gives it some and Run runs
// them.
func New(opts Options) *Scheduler {
	if opts.Clock == nil {
		opts.Clock = SystemClock()
	}
	opts.Concurrency = max(opts.Concurrency, 1)
	opts.Attempts = max(opts.Attempts, 1)
	if opts.BaseDelay <= 0 {
		opts.BaseDelay = config.DefaultBaseDelay
	}
	if opts.MaxDelay <= 0 {
		opts.MaxDelay = config.DefaultMaxDelay
	}
	if opts.Rand == nil {
		opts.Rand = rand.Float64
	}
	log := opts.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Scheduler{
		opts:    opts,
		log:     log,
		wake:    make(chan struct{}, 1),
		barrier: make(chan chan struct{}),
		tasks:   make(map[string]*taskState),
		busy:    make(map[string]bool),
	}
}

// Set replaces the task set (at start, and on a reload). A running task
// keeps running to its end, also when it was removed or changed; a
// removed task's queued run and pending retry are dropped and it is not
// started again; a changed Spec or RandomDelay takes effect for the next
// run; a new task is scheduled (and caught up) as at start.
//
// Names must be unique and non-empty and every task needs a Run: Set
// panics otherwise, since those are programming errors.
func (s *Scheduler) Set(tasks []Task) {
	names := make(map[string]bool, len(tasks))
	for _, t := range tasks {
		switch {
		case t.Name == "":
			panic("schedule: a task has no name")
		case names[t.Name]:
			panic(fmt.Sprintf("schedule: task %q is in the set twice", t.Name))
		case t.Run == nil:
			panic(fmt.Sprintf("schedule: task %q has no Run", t.Name))
		}
		names[t.Name] = true
	}
	last := s.lastRuns(tasks)

	s.mu.Lock()
	now := s.opts.Clock.Now()
	order := make([]string, 0, len(tasks))
	for _, t := range tasks {
		order = append(order, t.Name)
		st, ok := s.tasks[t.Name]
		if !ok || st.removed {
			if !ok {
				st = &taskState{}
				s.tasks[t.Name] = st
			}
			st.task, st.removed = t, false
			if s.active {
				s.plan(st, now, last[t.Name])
			}
			continue
		}
		old := st.task
		st.task = t
		if s.active && (old.Spec.String() != t.Spec.String() || old.RandomDelay != t.RandomDelay) {
			s.setNext(st, t.Spec.Next(now))
		}
	}
	for _, name := range s.order {
		if !names[name] {
			s.remove(s.tasks[name])
		}
	}
	s.order = order
	s.mu.Unlock()
	s.signal()
}

// lastRun is an answer of Options.LastRun.
type lastRun struct {
	at time.Time
	ok bool
}

// lastRuns asks Options.LastRun about each task, without the lock held.
func (s *Scheduler) lastRuns(tasks []Task) map[string]*lastRun {
	if s.opts.LastRun == nil {
		return nil
	}
	m := make(map[string]*lastRun, len(tasks))
	for _, t := range tasks {
		at, ok := s.opts.LastRun(t.Name)
		m[t.Name] = &lastRun{at, ok}
	}
	return m
}

// remove takes st out of the set: its queued run and retry are dropped;
// a running task is forgotten when it ends.
func (s *Scheduler) remove(st *taskState) {
	st.removed = true
	st.next, st.base, st.retryAt = time.Time{}, time.Time{}, time.Time{}
	if st.queued {
		s.unqueue(st.task.Name)
		s.log.Info("task removed; its queued run is dropped", "task", st.task.Name)
	}
	if !st.running {
		delete(s.tasks, st.task.Name)
	}
}

// Trigger queues a run of the named task now, like a due run (without a
// random delay). It returns an error wrapping ErrUnknownTask for a name
// not in the set and ErrBusy when the task is already running or queued
// (the request is coalesced with that run). Before Run, the run waits
// for Run to start.
func (s *Scheduler) Trigger(name string) error {
	s.mu.Lock()
	st, ok := s.tasks[name]
	if !ok || st.removed {
		s.mu.Unlock()
		return fmt.Errorf("trigger %q: %w", name, ErrUnknownTask)
	}
	now := s.opts.Clock.Now()
	s.emit(Event{Task: name, Kind: EventDue, Time: now, Attempt: 1})
	queuedNow := s.enqueue(st, now, 1)
	s.mu.Unlock()
	s.signal()
	if !queuedNow {
		return fmt.Errorf("trigger %q: %w", name, ErrBusy)
	}
	return nil
}

// Run schedules until ctx is cancelled, then drops the queued runs and
// pending retries, cancels the contexts of running tasks, waits for them
// to return, and returns nil. It returns ErrRunning when the scheduler is
// already running. Run may be called again after it returned; the tasks
// are then scheduled (and caught up) afresh.
func (s *Scheduler) Run(ctx context.Context) error {
	if err := s.begin(ctx); err != nil {
		return err
	}
	var barriers []chan struct{}
	for {
		now, wake := s.round()
		for _, b := range barriers {
			close(b)
		}
		barriers = nil
		t := s.opts.Clock.NewTimer(wake.Sub(now))
		if !s.opts.Clock.Now().Before(wake) {
			// The clock moved on while the timer was made (a fake clock
			// may have skipped past it): look again at once.
			t.Stop()
			continue
		}
		select {
		case <-ctx.Done():
			t.Stop()
			s.stop()
			return nil
		case <-t.C():
		case <-s.wake:
		case b := <-s.barrier:
			barriers = append(barriers, b)
		}
		t.Stop()
	}
}

// begin marks the scheduler as running and schedules the tasks, asking
// Options.LastRun about them without the lock held.
func (s *Scheduler) begin(ctx context.Context) error {
	last := make(map[string]*lastRun)
	s.mu.Lock()
	defer s.mu.Unlock()
	for {
		if s.active {
			return ErrRunning
		}
		var missing []Task
		for _, name := range s.order {
			if _, ok := last[name]; !ok && s.opts.LastRun != nil {
				missing = append(missing, s.tasks[name].task)
			}
		}
		if len(missing) == 0 {
			break
		}
		s.mu.Unlock()
		maps.Copy(last, s.lastRuns(missing))
		s.mu.Lock()
	}
	s.active, s.runCtx = true, ctx
	now := s.opts.Clock.Now()
	for _, name := range s.order {
		s.plan(s.tasks[name], now, last[name])
	}
	return nil
}

// round queues what came due, starts what may start, delivers the events
// and returns the time it looked at and when to look again.
func (s *Scheduler) round() (now, wake time.Time) {
	s.mu.Lock()
	now = s.opts.Clock.Now()
	s.fire(now)
	s.dispatch(now)
	wake = now.Add(maxSleep)
	for _, st := range s.tasks {
		for _, t := range []time.Time{st.next, st.retryAt} {
			if !t.IsZero() && t.Before(wake) {
				wake = t
			}
		}
	}
	s.mu.Unlock()
	s.flush()
	return now, wake
}

// stop ends Run: queued runs and retries are dropped, running tasks are
// waited for (their contexts derive from Run's, which is cancelled).
func (s *Scheduler) stop() {
	s.mu.Lock()
	s.stopping = true
	for _, q := range s.queue {
		s.tasks[q.name].queued = false
		s.log.Info("stopping; queued run dropped", "task", q.name)
	}
	s.queue = nil
	for _, st := range s.tasks {
		st.next, st.base, st.retryAt = time.Time{}, time.Time{}, time.Time{}
	}
	s.mu.Unlock()
	s.flush()
	s.wg.Wait()
	s.mu.Lock()
	s.active, s.stopping, s.runCtx = false, false, nil
	s.mu.Unlock()
	s.flush()
}

// signal wakes Run to look at the tasks again.
func (s *Scheduler) signal() {
	select {
	case s.wake <- struct{}{}:
	default:
	}
}

// settle waits until Run has gone round once after the call, so that
// every change made before it is acted on and its events are delivered.
// Tests use it with a fake clock.
func (s *Scheduler) settle(ctx context.Context) error {
	b := make(chan struct{})
	select {
	case s.barrier <- b:
	case <-ctx.Done():
		return ctx.Err()
	}
	select {
	case <-b:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// emit records an event for delivery by flush. Called with s.mu held.
func (s *Scheduler) emit(e Event) {
	s.events = append(s.events, e)
}

// flush delivers the recorded events, in order, without the lock held.
// Only Run's goroutine calls it, so events are never delivered
// concurrently or out of order.
func (s *Scheduler) flush() {
	s.mu.Lock()
	events := s.events
	s.events = nil
	s.mu.Unlock()
	for _, e := range events {
		e.log(s.log)
		if s.opts.OnEvent != nil {
			s.opts.OnEvent(e)
		}
	}
}

// sortQueue keeps the queue in due order, first come first within a time.
func (s *Scheduler) sortQueue() {
	slices.SortStableFunc(s.queue, func(a, b queued) int {
		if c := a.due.Compare(b.due); c != 0 {
			return c
		}
		return cmp.Compare(a.seq, b.seq)
	})
}

// unqueue drops the queued run of the named task.
func (s *Scheduler) unqueue(name string) {
	s.queue = slices.DeleteFunc(s.queue, func(q queued) bool { return q.name == name })
	if st := s.tasks[name]; st != nil {
		st.queued = false
	}
}
