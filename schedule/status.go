package schedule

import (
	"slices"
	"strings"
	"time"
)

// Outcome is how a task's last run ended.
type Outcome string

// The outcomes; the empty Outcome means the task has not run yet.
const (
	OutcomeSucceeded Outcome = "succeeded"
	OutcomeFailed    Outcome = "failed"
	OutcomeCancelled Outcome = "cancelled"
)

// TaskStatus is a snapshot of one task, for `cairn status` and metrics.
// Zero times mean "none" (and are left out of JSON).
type TaskStatus struct {
	Name string `json:"name"`
	Key  string `json:"key,omitempty"`
	// Spec is the schedule line ("" for a task that only runs when
	// triggered).
	Spec string `json:"schedule,omitempty"`
	// Next is the next scheduled start, random delay included; zero when
	// Run is not running, the schedule never comes due, or the task was
	// removed.
	Next time.Time `json:"next,omitzero"`
	// Running and Queued say whether a run is under way or waiting for a
	// slot (or for its key).
	Running bool `json:"running"`
	Queued  bool `json:"queued"`
	// Attempt is the attempt number of the running run, or of the last
	// one (1 is the first try; 0 before any run).
	Attempt int `json:"attempt,omitempty"`
	// RetryAt is when a failed run is tried again, as attempt Attempt+1.
	RetryAt time.Time `json:"retry_at,omitzero"`
	// LastStart and LastEnd bound the last run (LastEnd is zero while the
	// first run is under way).
	LastStart time.Time `json:"last_start,omitzero"`
	LastEnd   time.Time `json:"last_end,omitzero"`
	// LastOutcome and LastError say how the last finished run ended.
	LastOutcome Outcome `json:"last_outcome,omitempty"`
	LastError   string  `json:"last_error,omitempty"`
	// Removed marks a task that a Set removed while it was running; it is
	// listed until it ends.
	Removed bool `json:"removed,omitempty"`
}

// Status returns a snapshot of every task, in the order of the last Set,
// followed by removed tasks that are still running.
func (s *Scheduler) Status() []TaskStatus {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]TaskStatus, 0, len(s.tasks))
	for _, name := range s.order {
		out = append(out, s.tasks[name].status())
	}
	n := len(out)
	for _, st := range s.tasks {
		if st.removed {
			out = append(out, st.status())
		}
	}
	slices.SortFunc(out[n:], func(a, b TaskStatus) int { return strings.Compare(a.Name, b.Name) })
	return out
}

func (st *taskState) status() TaskStatus {
	ts := TaskStatus{
		Name: st.task.Name, Key: st.task.Key, Spec: st.task.Spec.String(),
		Next: st.next, Running: st.running, Queued: st.queued,
		Attempt: st.attempt, RetryAt: st.retryAt,
		LastStart: st.lastStart, LastEnd: st.lastEnd, LastOutcome: st.lastOutcome,
		Removed: st.removed,
	}
	if st.lastErr != nil {
		ts.LastError = st.lastErr.Error()
	}
	return ts
}
