package policy

import (
	"strings"
	"testing"
	"time"
)

func TestParseDurationValid(t *testing.T) {
	for _, c := range []struct {
		in   string
		want Duration
		str  string
	}{
		{"90d", Duration{Days: 90}, "90d"},
		{"1y2m3d", Duration{Years: 1, Months: 2, Days: 3}, "1y2m3d"},
		{"36h", Duration{Hours: 36}, "36h"},
		{"1y2m3d4h", Duration{1, 2, 3, 4}, "1y2m3d4h"},
		{"4h3d2m1y", Duration{1, 2, 3, 4}, "1y2m3d4h"},
		{"0d", Duration{}, "0d"},
		{"0y0m0d0h", Duration{}, "0d"},
		{" 7d ", Duration{Days: 7}, "7d"},
		{"007d", Duration{Days: 7}, "7d"},
		{"1y0m", Duration{Years: 1}, "1y"},
		{"999999h", Duration{Hours: 999999}, "999999h"},
		{"0000000000001m", Duration{Months: 1}, "1m"},
	} {
		got, err := ParseDuration(c.in)
		if err != nil {
			t.Errorf("ParseDuration(%q): %v", c.in, err)
			continue
		}
		if got != c.want || got.String() != c.str {
			t.Errorf("ParseDuration(%q) = %+v (%s), want %+v (%s)", c.in, got, got, c.want, c.str)
		}
		back, err := ParseDuration(got.String())
		if err != nil || back != got {
			t.Errorf("round trip of %q: %+v, %v", c.in, back, err)
		}
	}
}

func TestParseDurationInvalid(t *testing.T) {
	for _, c := range []struct{ in, says string }{
		{"", "empty"},
		{"   ", "empty"},
		{"5", "no unit"},
		{"1x", `unknown unit 'x'`},
		{"1D", `unknown unit 'D'`},
		{"-1d", "negative"},
		{"1d-2h", "negative"},
		{"d", "expected a number"},
		{"1d2d", "twice"},
		{"1w", "unknown unit 'w'"},
		{"1000000d", "too large"},
		{"99999999999999999999999d", "too large"},
		{"1.5d", "unknown unit '.'"},
		{"1d 2h", "expected a number"},
		{"+1d", "expected a number"},
	} {
		_, err := ParseDuration(c.in)
		if err == nil {
			t.Errorf("ParseDuration(%q) accepted", c.in)
			continue
		}
		msg := err.Error()
		if !strings.Contains(msg, c.says) || !strings.Contains(msg, `"1y2m3d4h"`) {
			t.Errorf("ParseDuration(%q): %q does not say %q and give an example", c.in, msg, c.says)
		}
	}
}

func TestDurationZero(t *testing.T) {
	if !(Duration{}).Zero() {
		t.Error("zero duration is not Zero")
	}
	for _, d := range []Duration{{Years: 1}, {Months: 1}, {Days: 1}, {Hours: 1}, {Hours: -1}} {
		if d.Zero() {
			t.Errorf("%+v is Zero", d)
		}
	}
}

func TestDurationBefore(t *testing.T) {
	berlin, err := time.LoadLocation("Europe/Berlin")
	if err != nil {
		t.Skip(err)
	}
	for _, c := range []struct {
		d        Duration
		from, to time.Time
	}{
		// AddDate normalizes: 31 March less a month is "31 February", 2 March.
		{Duration{Months: 1}, date(2016, 3, 31, 12, time.UTC), date(2016, 3, 2, 12, time.UTC)},
		{Duration{Years: 1}, date(2016, 2, 29, 0, time.UTC), date(2015, 3, 1, 0, time.UTC)},
		{Duration{Hours: 36}, date(2016, 4, 10, 12, time.UTC), date(2016, 4, 9, 0, time.UTC)},
		{Duration{1, 2, 3, 0}, date(2016, 4, 10, 12, time.UTC), date(2015, 2, 7, 12, time.UTC)},
		// Calendar days keep the wall clock across a daylight-saving change,
		// hours do not.
		{Duration{Days: 1}, date(2016, 3, 27, 12, berlin), date(2016, 3, 26, 12, berlin)},
		{Duration{Hours: 24}, date(2016, 3, 27, 12, berlin), date(2016, 3, 26, 11, berlin)},
	} {
		if got := c.d.before(c.from); !got.Equal(c.to) {
			t.Errorf("%s before %v = %v, want %v", c.d, c.from, got, c.to)
		}
	}
}

func date(y int, m time.Month, d, h int, loc *time.Location) time.Time {
	return time.Date(y, m, d, h, 0, 0, 0, loc)
}

func FuzzParseDuration(f *testing.F) {
	for _, s := range []string{"90d", "1y2m3d4h", "36h", "0d", "", "5", "1x", "-1d", "d", "1d2d", "999999y", "1000000h", " 3m "} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		d, err := ParseDuration(s)
		if err != nil {
			return
		}
		if d.negative() {
			t.Fatalf("ParseDuration(%q) = %+v, negative", s, d)
		}
		back, err := ParseDuration(d.String())
		if err != nil || back != d {
			t.Fatalf("ParseDuration(%q) = %+v; its String %q parses to %+v, %v", s, d, d.String(), back, err)
		}
		_ = d.before(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC))
	})
}
