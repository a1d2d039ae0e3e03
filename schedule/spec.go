package schedule

import (
	"time"

	"github.com/robfig/cron/v3"

	"github.com/cairnbackup/cairn/config"
)

// Spec is a parsed schedule line: five cron fields (minute hour
// day-of-month month weekday) or a descriptor (@hourly, @daily, @weekly,
// @monthly, @yearly, @every 30m), parsed by config.ParseSchedule so that
// the configuration, the daemon and the generated timers agree.
//
// The zero Spec never comes due: a task with it runs only when triggered.
type Spec struct {
	line  string
	sched cron.Schedule
}

// Parse parses a schedule line.
func Parse(line string) (Spec, error) {
	s, err := config.ParseSchedule(line)
	if err != nil {
		return Spec{}, err
	}
	return Spec{line: line, sched: s}, nil
}

// MustParse is Parse for lines known to be valid (tests, constants); it
// panics on an error.
func MustParse(line string) Spec {
	s, err := Parse(line)
	if err != nil {
		panic(err)
	}
	return s
}

// Next returns the first time after after that the schedule comes due, or
// the zero time when it never does (the zero Spec, or a date such as
// February 30 that robfig/cron finds no match for within five years).
//
// Cron lines are read in after's location: the daemon passes local time.
// Across daylight saving changes this follows robfig/cron v3: a wall-clock
// time that does not exist (02:30 on the night clocks go forward, in
// Europe/Berlin) is skipped, so a daily "30 2 * * *" does not run that
// day; a time that occurs twice (02:30 on the night clocks go back) comes
// due twice, an hour apart. systemd's OnCalendar also skips the first but
// runs the second only once. @every intervals are absolute durations and
// ignore the change. Schedules outside 02:00-03:00 avoid both cases.
func (s Spec) Next(after time.Time) time.Time {
	if s.sched == nil {
		return time.Time{}
	}
	return s.sched.Next(after)
}

// String returns the line the Spec was parsed from.
func (s Spec) String() string { return s.line }

// IsZero reports whether s is the zero Spec, which never comes due.
func (s Spec) IsZero() bool { return s.sched == nil }
