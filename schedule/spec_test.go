package schedule_test

import (
	"testing"
	"time"

	"github.com/cairnbackup/cairn/schedule"
)

func TestSpecNext(t *testing.T) {
	d := func(day, h, m, s int) time.Time { return time.Date(2026, 6, day, h, m, s, 0, time.UTC) }
	tests := []struct {
		line  string
		after time.Time
		want  []time.Time // successive Next calls
	}{
		{"@daily", d(1, 10, 0, 0), []time.Time{d(2, 0, 0, 0), d(3, 0, 0, 0)}},
		{"@midnight", d(1, 0, 0, 0), []time.Time{d(2, 0, 0, 0)}},
		{"@hourly", d(1, 10, 20, 0), []time.Time{d(1, 11, 0, 0), d(1, 12, 0, 0)}},
		{"30 2 * * *", d(1, 2, 30, 0), []time.Time{d(2, 2, 30, 0), d(3, 2, 30, 0)}}, // strictly after
		{"30 2 * * *", d(1, 2, 29, 59), []time.Time{d(1, 2, 30, 0)}},
		{"*/15 * * * *", d(1, 10, 7, 0), []time.Time{d(1, 10, 15, 0), d(1, 10, 30, 0), d(1, 10, 45, 0), d(1, 11, 0, 0)}},
		{"0 4 * * sun", d(1, 10, 0, 0), []time.Time{d(7, 4, 0, 0), d(14, 4, 0, 0)}}, // June 1 is a Monday
		{"@weekly", d(1, 10, 0, 0), []time.Time{d(7, 0, 0, 0)}},
		{"@monthly", d(1, 10, 0, 0), []time.Time{time.Date(2026, 7, 1, 0, 0, 0, 0, time.UTC)}},
		{"0 9-17 * * 1-5", d(5, 17, 0, 0), []time.Time{d(8, 9, 0, 0)}}, // Friday 17:00 → Monday 09:00
		{"0 0 1,15 * *", d(1, 0, 0, 0), []time.Time{d(15, 0, 0, 0), time.Date(2026, 7, 1, 0, 0, 0, 0, time.UTC)}},
		// Day of month and weekday both restricted: either matches (cron's OR).
		{"0 0 13 * fri", d(1, 0, 0, 0), []time.Time{d(5, 0, 0, 0), d(12, 0, 0, 0), d(13, 0, 0, 0), d(19, 0, 0, 0)}},
		// @every adds the interval, dropping fractions of a second.
		{"@every 30m", d(1, 10, 7, 0).Add(500 * time.Millisecond), []time.Time{d(1, 10, 37, 0), d(1, 11, 7, 0)}},
		{"@every 36h", d(1, 0, 0, 0), []time.Time{d(2, 12, 0, 0)}},
		// A date that never comes: the zero time.
		{"0 0 30 2 *", d(1, 0, 0, 0), []time.Time{{}}},
	}
	for _, tt := range tests {
		spec, err := schedule.Parse(tt.line)
		if err != nil {
			t.Fatalf("Parse(%q): %v", tt.line, err)
		}
		if spec.String() != tt.line {
			t.Errorf("String() = %q, want %q", spec.String(), tt.line)
		}
		after := tt.after
		for i, want := range tt.want {
			got := spec.Next(after)
			if !got.Equal(want) {
				t.Errorf("%q: Next #%d after %v = %v, want %v", tt.line, i+1, after, got, want)
				break
			}
			after = got
		}
	}
}

func TestSpecZeroAndErrors(t *testing.T) {
	var zero schedule.Spec
	if !zero.IsZero() || !zero.Next(t0).IsZero() || zero.String() != "" {
		t.Errorf("zero Spec: IsZero %v, Next %v, String %q", zero.IsZero(), zero.Next(t0), zero.String())
	}
	for _, line := range []string{"", "* * *", "61 * * * *", "@every 1.5s", "TZ=UTC 0 0 * * *", "@sometimes"} {
		if _, err := schedule.Parse(line); err == nil {
			t.Errorf("Parse(%q) succeeded", line)
		}
	}
}

// TestSpecDST pins down what robfig/cron does when Europe/Berlin's clocks
// change (documented on Spec.Next): a time that does not exist is
// skipped, a time that occurs twice comes due twice, and hourly and
// @every schedules count real hours.
func TestSpecDST(t *testing.T) {
	berlin, err := time.LoadLocation("Europe/Berlin")
	if err != nil {
		t.Skipf("no time zone data: %v", err)
	}
	b := func(month time.Month, day, h, m int) time.Time {
		return time.Date(2026, month, day, h, m, 0, 0, berlin)
	}
	// 2026-03-29 02:00 CET becomes 03:00 CEST; 2026-10-25 03:00 CEST
	// becomes 02:00 CET.
	cest := time.FixedZone("CEST", 2*3600)
	cet := time.FixedZone("CET", 3600)
	tests := []struct {
		name, line string
		after      time.Time
		want       []time.Time
	}{
		{"spring: 02:30 does not exist and is skipped", "30 2 * * *", b(3, 28, 12, 0),
			[]time.Time{time.Date(2026, 3, 30, 2, 30, 0, 0, cest)}},
		{"spring: 03:30 is there", "30 3 * * *", b(3, 28, 12, 0),
			[]time.Time{time.Date(2026, 3, 29, 3, 30, 0, 0, cest)}},
		{"autumn: 02:30 comes twice", "30 2 * * *", b(10, 24, 12, 0),
			[]time.Time{time.Date(2026, 10, 25, 2, 30, 0, 0, cest), time.Date(2026, 10, 25, 2, 30, 0, 0, cet),
				time.Date(2026, 10, 26, 2, 30, 0, 0, cet)}},
		{"spring: hourly jumps from 01:00 to 03:00, an hour later", "@hourly", b(3, 29, 0, 30),
			[]time.Time{time.Date(2026, 3, 29, 1, 0, 0, 0, cet), time.Date(2026, 3, 29, 3, 0, 0, 0, cest)}},
		{"autumn: daily midnight stays at midnight", "@daily", b(10, 24, 12, 0),
			[]time.Time{time.Date(2026, 10, 25, 0, 0, 0, 0, cest), time.Date(2026, 10, 26, 0, 0, 0, 0, cet)}},
		{"@every counts real time", "@every 1h", time.Date(2026, 10, 25, 2, 30, 0, 0, cest).In(berlin),
			[]time.Time{time.Date(2026, 10, 25, 2, 30, 0, 0, cet)}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			spec := schedule.MustParse(tt.line)
			after := tt.after
			for i, want := range tt.want {
				got := spec.Next(after)
				if !got.Equal(want) || got.Location() != berlin {
					t.Fatalf("Next #%d after %v = %v (%v), want %v in Europe/Berlin", i+1, after, got, got.Location(), want)
				}
				after = got
			}
		})
	}
}
