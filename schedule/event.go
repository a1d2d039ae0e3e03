package schedule

import (
	"context"
	"log/slog"
	"time"
)

// EventKind names a state change of a task.
type EventKind string

// The event kinds, in the order a run goes through them.
const (
	// EventDue: a run came due (its schedule, a retry, a catch-up or
	// Trigger) and is queued unless the task is already running or queued.
	EventDue EventKind = "due"
	// EventSkipped: a due run was coalesced with the run already running
	// or queued.
	EventSkipped EventKind = "skipped"
	// EventStarted: the task's Run was called.
	EventStarted EventKind = "started"
	// EventSucceeded: Run returned nil.
	EventSucceeded EventKind = "succeeded"
	// EventFailed: Run returned an error (Err); EventRetryScheduled or
	// EventGaveUp follows.
	EventFailed EventKind = "failed"
	// EventRetryScheduled: the failed run will be tried again at
	// NextAttempt, as attempt Attempt.
	EventRetryScheduled EventKind = "retry-scheduled"
	// EventGaveUp: the failed run is not tried again (attempts used up,
	// an ErrPermanent error, or the task was removed).
	EventGaveUp EventKind = "gave-up"
	// EventCancelled: Run returned an error after the scheduler was
	// stopped; it is not retried.
	EventCancelled EventKind = "cancelled"
)

// Event is one state change of a task, given to Options.OnEvent.
type Event struct {
	Task string
	Kind EventKind
	// Time is when the event happened on the scheduler's clock; for
	// EventDue it is the time the run came due (the scheduled time with
	// its random delay, the retry time, or the time of a catch-up or
	// Trigger).
	Time time.Time
	// Attempt is the run's attempt number, 1 for the first try; for
	// EventRetryScheduled, the attempt to come.
	Attempt int
	// Err is the run's error (EventFailed, EventGaveUp, EventCancelled).
	Err error
	// NextAttempt is when the retry starts (EventRetryScheduled).
	NextAttempt time.Time
}

// log writes the event to l at a level matching its weight.
func (e Event) log(l *slog.Logger) {
	attrs := []any{"task", e.Task, "attempt", e.Attempt}
	level := slog.LevelInfo
	msg := "task " + string(e.Kind)
	switch e.Kind {
	case EventDue:
		level = slog.LevelDebug
	case EventFailed, EventCancelled:
		level = slog.LevelWarn
		attrs = append(attrs, "err", e.Err)
	case EventGaveUp:
		level = slog.LevelError
		attrs = append(attrs, "err", e.Err)
	case EventRetryScheduled:
		attrs = append(attrs, "at", e.NextAttempt)
	}
	l.Log(context.Background(), level, msg, attrs...)
}
