package policy

import (
	"fmt"
	"strings"
	"time"
)

// Duration is a calendar duration as restic's --keep-within takes it: a
// number of years, months, days and hours, such as "90d", "1y2m3d", "36h" or
// "1y2m3d4h". Months and years are calendar months and years, not fixed
// lengths.
type Duration struct {
	Years, Months, Days, Hours int
}

// maxDurationField bounds each number in a duration, so that any accepted
// duration subtracts from any sensible time without overflow (999999 hours is
// about 114 years, well inside time.Duration).
const maxDurationField = 999999

// durationExample ends every parse error, so that a reader sees the form.
const durationExample = `(want numbers with units y, m, d or h, e.g. "90d" or "1y2m3d4h")`

// ParseDuration parses a duration such as "1y2m3d4h". Each unit (y for
// years, m for months, d for days, h for hours) may appear once, in any order;
// every number is a non-negative decimal of at most six digits. Surrounding
// spaces are ignored. "0d" is the zero duration; the empty string is an error.
//
// Every duration restic's forget accepts and uses parses to the same value
// here. ParseDuration is stricter about the rest: restic also takes a repeated
// unit (the last one wins), negative numbers (which forget then refuses) and
// the empty string (no rule), and panics on numbers too large for an int.
func ParseDuration(s string) (Duration, error) {
	rest := strings.TrimSpace(s)
	if rest == "" {
		return Duration{}, fmt.Errorf("policy: empty duration %s", durationExample)
	}
	var d Duration
	seen := map[byte]bool{}
	for rest != "" {
		n, unit, tail, err := nextDurationField(rest)
		if err != nil {
			return Duration{}, fmt.Errorf("policy: duration %q: %v %s", s, err, durationExample)
		}
		if seen[unit] {
			return Duration{}, fmt.Errorf("policy: duration %q: unit %q appears twice %s", s, unit, durationExample)
		}
		seen[unit] = true
		*d.field(unit) = n
		rest = tail
	}
	return d, nil
}

// nextDurationField reads one number and its unit from the front of s.
func nextDurationField(s string) (n int, unit byte, rest string, err error) {
	i := 0
	for i < len(s) && s[i] >= '0' && s[i] <= '9' {
		i++
	}
	digits := s[:i]
	switch {
	case i == 0 && s[0] == '-':
		return 0, 0, "", fmt.Errorf("negative numbers are not allowed")
	case i == 0:
		return 0, 0, "", fmt.Errorf("expected a number at %q", s)
	case len(strings.TrimLeft(digits, "0")) > len(fmt.Sprint(maxDurationField)):
		return 0, 0, "", fmt.Errorf("number %s is too large (at most %d)", digits, maxDurationField)
	case i == len(s):
		return 0, 0, "", fmt.Errorf("number %s has no unit", digits)
	case !strings.ContainsRune("ymdh", rune(s[i])):
		return 0, 0, "", fmt.Errorf("unknown unit %q after %s", s[i], digits)
	}
	for _, c := range digits {
		n = n*10 + int(c-'0')
	}
	return n, s[i], s[i+1:], nil
}

// field returns the field that unit (one of y, m, d, h) sets.
func (d *Duration) field(unit byte) *int {
	switch unit {
	case 'y':
		return &d.Years
	case 'm':
		return &d.Months
	case 'd':
		return &d.Days
	default:
		return &d.Hours
	}
}

// String returns the canonical form: the non-zero fields in the order years,
// months, days, hours ("1y2m3d4h"), or "0d" for the zero duration. It parses
// back to the same Duration for any duration ParseDuration accepts.
func (d Duration) String() string {
	var b strings.Builder
	for _, f := range []struct {
		n    int
		unit string
	}{{d.Years, "y"}, {d.Months, "m"}, {d.Days, "d"}, {d.Hours, "h"}} {
		if f.n != 0 {
			fmt.Fprintf(&b, "%d%s", f.n, f.unit)
		}
	}
	if b.Len() == 0 {
		return "0d"
	}
	return b.String()
}

// Zero reports whether every field is zero, which means the rule that holds
// the duration is not used.
func (d Duration) Zero() bool {
	return d == Duration{}
}

// negative reports whether some field is below zero (possible only in a
// Duration built by hand).
func (d Duration) negative() bool {
	return d.Years < 0 || d.Months < 0 || d.Days < 0 || d.Hours < 0
}

// before returns the instant d before t: the calendar part is taken off in
// t's own location (so that "1m" before 31 March is 2 March, as time.AddDate
// normalizes), then the hours as elapsed time.
func (d Duration) before(t time.Time) time.Time {
	return t.AddDate(-d.Years, -d.Months, -d.Days).Add(-time.Duration(d.Hours) * time.Hour)
}
