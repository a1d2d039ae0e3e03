package schedule_test

import (
	"context"
	"fmt"
	"time"

	"github.com/cairnbackup/cairn/schedule"
	"github.com/cairnbackup/cairn/schedule/scheduletest"
)

// A daemon sets its tasks, runs the scheduler until it is told to stop,
// and watches the events.
func Example() {
	clock := scheduletest.NewClock(time.Date(2026, 6, 1, 2, 29, 0, 0, time.UTC))
	done := make(chan struct{})
	s := schedule.New(schedule.Options{
		Clock: clock,
		OnEvent: func(e schedule.Event) {
			fmt.Println(e.Time.Format("15:04"), e.Task, e.Kind)
			if e.Kind == schedule.EventSucceeded {
				close(done)
			}
		},
	})
	s.Set([]schedule.Task{{
		Name: "etc",
		Key:  "repository",
		Spec: schedule.MustParse("30 2 * * *"),
		Run:  func(ctx context.Context) error { return nil },
	}})
	ctx, stop := context.WithCancel(context.Background())
	stopped := make(chan error)
	go func() { stopped <- s.Run(ctx) }()
	for clock.Timers() == 0 { // wait for Run to sleep, then wake it
		time.Sleep(time.Millisecond)
	}
	clock.Advance(time.Minute)
	<-done
	stop()
	fmt.Println(<-stopped)
	// Output:
	// 02:30 etc due
	// 02:30 etc started
	// 02:30 etc succeeded
	// <nil>
}
