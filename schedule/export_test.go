package schedule

import (
	"context"
	"time"
)

// Settle waits until s's Run has gone round once after the call: every
// change made before it has been acted on and its events delivered.
func Settle(ctx context.Context, s *Scheduler) error { return s.settle(ctx) }

// Backoff returns the wait before attempt n.
func Backoff(s *Scheduler, n int) time.Duration { return s.backoff(n) }
