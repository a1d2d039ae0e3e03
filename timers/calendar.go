package timers

import (
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/robfig/cron/v3"

	"github.com/cairnbackup/cairn/config"
)

// ErrNotCalendar is returned (wrapped) by OnCalendar for an @every
// interval that no calendar expression matches: one that does not divide
// an hour or a day evenly.
var ErrNotCalendar = errors.New("timers: no calendar expression for this interval")

// starBit is robfig/cron's mark, in a SpecSchedule field, that the field
// was given as * or ? (without a step): for the day-of-month and weekday
// fields it decides between cron's AND and OR.
const starBit = 1 << 63

// OnCalendar turns a schedule line (config.ParseSchedule's syntax) into
// systemd OnCalendar= expressions matching the same times: usually one,
// two when both the day of the month and the weekday are restricted
// (cron then runs on either, and one expression can only ask for both).
// Seconds are always 00. "@every D" is turned into the calendar form of
// the cron line for D when D divides an hour or a day evenly (@every 15m
// is *:00/15), which runs at the same times of day rather than D after
// the daemon started; other intervals return an error wrapping
// ErrNotCalendar (Systemd then uses OnUnitActiveSec=).
func OnCalendar(line string) ([]string, error) {
	sched, err := config.ParseSchedule(line)
	if err != nil {
		return nil, err
	}
	switch s := sched.(type) {
	case *cron.SpecSchedule:
		return calendar(s), nil
	case cron.ConstantDelaySchedule:
		c, ok := everyCron(s.Delay)
		if !ok {
			return nil, fmt.Errorf("schedule %q: %w", line, ErrNotCalendar)
		}
		return OnCalendar(c)
	default:
		return nil, fmt.Errorf("schedule %q: unexpected schedule type %T", line, sched)
	}
}

// calendar renders a cron schedule as OnCalendar expressions.
func calendar(s *cron.SpecSchedule) []string {
	clock := calField(s.Hour, 0, 23) + ":" + calField(s.Minute, 0, 59) + ":00"
	month := calField(s.Month, 1, 12)
	dom := calField(s.Dom, 1, 31)
	dow := weekdays(s.Dow)
	if s.Dom&starBit != 0 || s.Dow&starBit != 0 {
		// Cron's AND: both must match (one of them is usually *).
		return []string{strings.TrimSpace(dow + " *-" + month + "-" + dom + " " + clock)}
	}
	// Cron's OR: either matches.
	return []string{
		strings.TrimSpace(dow + " *-" + month + "-* " + clock),
		"*-" + month + "-" + dom + " " + clock,
	}
}

// values lists the values from lo to hi set in a cron field's bits.
func values(bits uint64, lo, hi int) []int {
	var v []int
	for i := lo; i <= hi; i++ {
		if bits&(1<<uint(i)) != 0 {
			v = append(v, i)
		}
	}
	return v
}

// step returns the step of values that form a progression running to the
// end of the field (such as 0,15,30,45 of 0-59), or 0.
func step(v []int, hi int) int {
	if len(v) < 3 {
		return 0
	}
	d := v[1] - v[0]
	for i := 2; i < len(v); i++ {
		if v[i]-v[i-1] != d {
			return 0
		}
	}
	if d < 2 || v[len(v)-1]+d <= hi {
		return 0
	}
	return d
}

// runs renders values as a list of single values and ranges of three or
// more, with name for each value and sep between a range's ends.
func runs(v []int, name func(int) string, sep string) string {
	var parts []string
	for i := 0; i < len(v); {
		j := i
		for j+1 < len(v) && v[j+1] == v[j]+1 {
			j++
		}
		switch {
		case j-i >= 2:
			parts = append(parts, name(v[i])+sep+name(v[j]))
		case j == i+1:
			parts = append(parts, name(v[i]), name(v[j]))
		default:
			parts = append(parts, name(v[i]))
		}
		i = j + 1
	}
	return strings.Join(parts, ",")
}

func twoDigits(n int) string { return fmt.Sprintf("%02d", n) }

// calField renders a minute, hour, day or month field for OnCalendar.
func calField(bits uint64, lo, hi int) string {
	v := values(bits, lo, hi)
	if len(v) == hi-lo+1 {
		return "*"
	}
	if d := step(v, hi); d > 0 {
		return fmt.Sprintf("%02d/%d", v[0], d)
	}
	return runs(v, twoDigits, "..")
}

var dayNames = [7]string{"Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"}

// weekdays renders a weekday field for OnCalendar, Monday first; "" when
// every day is in it.
func weekdays(bits uint64) string {
	var v []int // 1 = Monday … 7 = Sunday
	for d := 1; d <= 7; d++ {
		if bits&(1<<uint(d%7)) != 0 {
			v = append(v, d)
		}
	}
	if len(v) == 7 {
		return ""
	}
	return runs(v, func(d int) string { return dayNames[d%7] }, "..")
}

// Divisors of an hour (in minutes) and of a day (in hours): the @every
// intervals that a cron line or a calendar expression can express.
var (
	hourDivisors = []int{1, 2, 3, 4, 5, 6, 10, 12, 15, 20, 30}
	dayDivisors  = []int{1, 2, 3, 4, 6, 8, 12, 24}
)

// everyCron returns the cron line that runs every d, when d is whole
// minutes dividing an hour, or whole hours dividing a day.
func everyCron(d time.Duration) (string, bool) {
	if d <= 0 || d%time.Minute != 0 {
		return "", false
	}
	if m := int(d / time.Minute); m < 60 && 60%m == 0 {
		if m == 1 {
			return "* * * * *", true
		}
		return fmt.Sprintf("*/%d * * * *", m), true
	}
	if d%time.Hour != 0 {
		return "", false
	}
	switch h := int(d / time.Hour); {
	case h == 1:
		return "0 * * * *", true
	case h == 24:
		return "0 0 * * *", true
	case h < 24 && 24%h == 0:
		return fmt.Sprintf("0 */%d * * *", h), true
	}
	return "", false
}

// nearestEvery returns the expressible interval nearest to d (the shorter
// one on a tie: backups rather too often than too rarely).
func nearestEvery(d time.Duration) time.Duration {
	var cands []time.Duration
	for _, m := range hourDivisors {
		cands = append(cands, time.Duration(m)*time.Minute)
	}
	for _, h := range dayDivisors {
		cands = append(cands, time.Duration(h)*time.Hour)
	}
	best := cands[0]
	for _, c := range cands {
		if absDiff(c, d) < absDiff(best, d) {
			best = c
		}
	}
	return best
}

func absDiff(a, b time.Duration) time.Duration {
	if a > b {
		return a - b
	}
	return b - a
}

// short renders a duration without zero trailing units: 6m, 2h, 1h30m.
func short(d time.Duration) string {
	s := d.String()
	if strings.HasSuffix(s, "m0s") {
		s = strings.TrimSuffix(s, "0s")
	}
	if strings.HasSuffix(s, "h0m") {
		s = strings.TrimSuffix(s, "0m")
	}
	return s
}
