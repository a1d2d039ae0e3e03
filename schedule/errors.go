package schedule

import "errors"

var (
	// ErrPermanent, wrapped in the error a Task's Run returns, says that
	// trying again cannot help (a missing configuration, a wrong
	// password): the run is not retried.
	ErrPermanent = errors.New("schedule: permanent failure")
	// ErrUnknownTask is returned by Trigger for a name not in the set.
	ErrUnknownTask = errors.New("schedule: no such task")
	// ErrBusy is returned by Trigger when the task is already running or
	// queued; the request is coalesced with that run.
	ErrBusy = errors.New("schedule: task already running or queued")
	// ErrRunning is returned by Run when the scheduler is already running.
	ErrRunning = errors.New("schedule: scheduler already running")
)
