package schedule

import (
	"context"
	"errors"
	"fmt"
	"math"
	"runtime/debug"
	"time"
)

// plan schedules a task that Run has not scheduled yet: its next time,
// and a catch-up run now when one was missed. Called with s.mu held.
func (s *Scheduler) plan(st *taskState, now time.Time, last *lastRun) {
	st.next, st.base = time.Time{}, time.Time{}
	spec := st.task.Spec
	if spec.IsZero() {
		return
	}
	missed := false
	switch {
	case last == nil: // no LastRun: no catch-up
	case !last.ok:
		missed = true // never ran
	default:
		if n := spec.Next(last.at); n.After(now) {
			// Nothing was missed; an @every task counts from its last run.
			s.setNext(st, n)
			return
		}
		missed = true
	}
	if missed && st.task.CatchUp {
		s.emit(Event{Task: st.task.Name, Kind: EventDue, Time: now, Attempt: 1})
		s.enqueue(st, now, 1)
	}
	s.setNext(st, spec.Next(now))
}

// setNext sets the task's next scheduled start to at plus a random delay.
func (s *Scheduler) setNext(st *taskState, at time.Time) {
	st.base, st.next = at, at
	if at.IsZero() {
		return
	}
	if d := st.task.RandomDelay; d > 0 {
		st.next = at.Add(time.Duration(s.opts.Rand() * float64(d)))
	}
}

// fire queues the scheduled runs and retries that are due at now. Runs
// missed by more than one period (a suspended machine, a clock set
// forward) come due once. Called with s.mu held.
func (s *Scheduler) fire(now time.Time) {
	for _, name := range s.order {
		st := s.tasks[name]
		if !st.next.IsZero() && !st.next.After(now) {
			due := st.next
			n := st.task.Spec.Next(st.base)
			if !n.IsZero() && !n.After(now) {
				n = st.task.Spec.Next(now)
			}
			s.setNext(st, n)
			s.emit(Event{Task: name, Kind: EventDue, Time: due, Attempt: 1})
			s.enqueue(st, due, 1)
		}
		if !st.retryAt.IsZero() && !st.retryAt.After(now) {
			due, attempt := st.retryAt, st.retryAttempt
			st.retryAt = time.Time{}
			s.emit(Event{Task: name, Kind: EventDue, Time: due, Attempt: attempt})
			s.enqueue(st, due, attempt)
		}
	}
}

// enqueue queues a due run unless the task is running or queued already,
// in which case it is coalesced with that run. A first attempt replaces
// a pending retry. It reports whether the run was queued. Called with
// s.mu held.
func (s *Scheduler) enqueue(st *taskState, due time.Time, attempt int) bool {
	name := st.task.Name
	if st.running || st.queued {
		s.emit(Event{Task: name, Kind: EventSkipped, Time: s.opts.Clock.Now(), Attempt: attempt})
		return false
	}
	if attempt == 1 && !st.retryAt.IsZero() {
		s.log.Info("a new run replaces the pending retry", "task", name, "retry", st.retryAt)
		st.retryAt = time.Time{}
	}
	st.queued = true
	s.seq++
	s.queue = append(s.queue, queued{name: name, due: due, attempt: attempt, seq: s.seq})
	s.sortQueue()
	return true
}

// dispatch starts queued runs, in due order, while slots are free and
// their keys are not held; a run whose key is held keeps its place and
// later runs may pass it. Nothing starts before Run or once it is
// stopping.
// Called with s.mu held.
func (s *Scheduler) dispatch(now time.Time) {
	if !s.active || s.stopping || s.runCtx.Err() != nil {
		return
	}
	for i := 0; i < len(s.queue) && s.running < s.opts.Concurrency; {
		q := s.queue[i]
		st := s.tasks[q.name]
		if k := st.task.Key; k != "" && s.busy[k] {
			i++
			continue
		}
		s.queue = append(s.queue[:i], s.queue[i+1:]...)
		s.start(st, q.attempt, now)
	}
}

// start runs a task in a goroutine of its own. Called with s.mu held.
func (s *Scheduler) start(st *taskState, attempt int, now time.Time) {
	st.queued, st.running = false, true
	st.attempt, st.runKey, st.lastStart = attempt, st.task.Key, now
	s.running++
	if st.runKey != "" {
		s.busy[st.runKey] = true
	}
	s.emit(Event{Task: st.task.Name, Kind: EventStarted, Time: now, Attempt: attempt})
	ctx, cancel := context.WithCancel(s.runCtx)
	run := st.task.Run
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		err := safeRun(ctx, run)
		cancel()
		end := s.opts.Clock.Now()
		s.mu.Lock()
		s.finish(st, attempt, end, err)
		s.mu.Unlock()
		s.signal()
	}()
}

// safeRun calls run, turning a panic into an error so that one task's bug
// does not stop the daemon.
func safeRun(ctx context.Context, run func(context.Context) error) (err error) {
	defer func() {
		if p := recover(); p != nil {
			err = fmt.Errorf("panic: %v\n%s", p, debug.Stack())
		}
	}()
	return run(ctx)
}

// finish records a run's end and schedules its retry. Called with s.mu
// held.
func (s *Scheduler) finish(st *taskState, attempt int, end time.Time, err error) {
	name := st.task.Name
	st.running, st.lastEnd, st.lastErr = false, end, err
	s.running--
	delete(s.busy, st.runKey)
	switch {
	case err == nil:
		st.lastOutcome = OutcomeSucceeded
		s.emit(Event{Task: name, Kind: EventSucceeded, Time: end, Attempt: attempt})
	case s.stopping || s.runCtx.Err() != nil:
		st.lastOutcome = OutcomeCancelled
		s.emit(Event{Task: name, Kind: EventCancelled, Time: end, Attempt: attempt, Err: err})
	default:
		st.lastOutcome = OutcomeFailed
		s.emit(Event{Task: name, Kind: EventFailed, Time: end, Attempt: attempt, Err: err})
		if st.removed || errors.Is(err, ErrPermanent) || attempt >= s.opts.Attempts {
			s.emit(Event{Task: name, Kind: EventGaveUp, Time: end, Attempt: attempt, Err: err})
			break
		}
		st.retryAt, st.retryAttempt = end.Add(s.backoff(attempt+1)), attempt+1
		s.emit(Event{Task: name, Kind: EventRetryScheduled, Time: end, Attempt: attempt + 1, NextAttempt: st.retryAt})
	}
	if st.removed && s.tasks[name] == st {
		delete(s.tasks, name)
	}
}

// backoff returns how long attempt n (n >= 2) waits after attempt n-1:
// min(MaxDelay, BaseDelay·2^(n-2)) scaled by 0.5 + 0.5·Rand().
func (s *Scheduler) backoff(n int) time.Duration {
	d := s.opts.BaseDelay
	for i := 2; i < n && d < s.opts.MaxDelay && d < math.MaxInt64/2; i++ {
		d *= 2
	}
	d = min(d, s.opts.MaxDelay)
	return time.Duration(float64(d) * (0.5 + 0.5*s.opts.Rand()))
}
