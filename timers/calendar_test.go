package timers

import (
	"errors"
	"slices"
	"strings"
	"testing"
	"time"
)

func TestOnCalendar(t *testing.T) {
	tests := []struct {
		line string
		want []string
	}{
		{"@daily", []string{"*-*-* 00:00:00"}},
		{"@midnight", []string{"*-*-* 00:00:00"}},
		{"@hourly", []string{"*-*-* *:00:00"}},
		{"@weekly", []string{"Sun *-*-* 00:00:00"}},
		{"@monthly", []string{"*-*-01 00:00:00"}},
		{"@yearly", []string{"*-01-01 00:00:00"}},
		{"30 2 * * *", []string{"*-*-* 02:30:00"}},
		{"*/15 * * * *", []string{"*-*-* *:00/15:00"}},
		{"5/15 * * * *", []string{"*-*-* *:05/15:00"}},
		{"0 4 * * sun", []string{"Sun *-*-* 04:00:00"}},
		{"0 4 * * 0", []string{"Sun *-*-* 04:00:00"}},
		{"0 9-17 * * 1-5", []string{"Mon..Fri *-*-* 09..17:00:00"}},
		{"0 9-17 * * mon-fri", []string{"Mon..Fri *-*-* 09..17:00:00"}},
		{"0 0 1,15 * *", []string{"*-*-01,15 00:00:00"}},
		{"0,30 8,20 * * sat,sun", []string{"Sat,Sun *-*-* 08,20:00,30:00"}},
		{"0 0 * * 5,6,0", []string{"Fri..Sun *-*-* 00:00:00"}},
		{"0 0 * 1-3,12 *", []string{"*-01..03,12-* 00:00:00"}},
		{"0 */6 * * *", []string{"*-*-* 00/6:00:00"}},
		{"0 0 * * 0-6", []string{"*-*-* 00:00:00"}},
		// Both day fields restricted: cron runs on either.
		{"0 3 1 * sun", []string{"Sun *-*-* 03:00:00", "*-*-01 03:00:00"}},
		{"0 0 13 * 5", []string{"Fri *-*-* 00:00:00", "*-*-13 00:00:00"}},
		// robfig reads */2 as a list (no star): OR.
		{"0 0 */2 * 1", []string{"Mon *-*-* 00:00:00", "*-*-01/2 00:00:00"}},
		// A star in a day field: AND.
		{"0 0 * 6 1", []string{"Mon *-06-* 00:00:00"}},
		// @every that divides an hour or a day.
		{"@every 15m", []string{"*-*-* *:00/15:00"}},
		{"@every 1m", []string{"*-*-* *:*:00"}},
		{"@every 1h", []string{"*-*-* *:00:00"}},
		{"@every 6h", []string{"*-*-* 00/6:00:00"}},
		{"@every 24h", []string{"*-*-* 00:00:00"}},
	}
	for _, tt := range tests {
		got, err := OnCalendar(tt.line)
		if err != nil {
			t.Errorf("OnCalendar(%q): %v", tt.line, err)
			continue
		}
		if !slices.Equal(got, tt.want) {
			t.Errorf("OnCalendar(%q) = %q, want %q", tt.line, got, tt.want)
		}
	}
	for _, line := range []string{"@every 7m", "@every 90m", "@every 48h", "@every 30s", "@every 5h"} {
		if got, err := OnCalendar(line); !errors.Is(err, ErrNotCalendar) {
			t.Errorf("OnCalendar(%q) = %q, %v; want ErrNotCalendar", line, got, err)
		}
	}
	if _, err := OnCalendar("61 * * * *"); err == nil || errors.Is(err, ErrNotCalendar) {
		t.Errorf("a bad line: %v", err)
	}
}

func TestCronLine(t *testing.T) {
	tests := []struct{ line, want string }{
		{"30 2 * * *", "30 2 * * *"},
		{"@daily", "@daily"},
		{"@weekly", "@weekly"},
		{"*/15 * * * *", "*/15 * * * *"},
		{"0 9-17 * * 1-5", "0 9-17 * * 1-5"},
		{"0 0 1,15 * *", "0 0 1,15 * *"},
		// Names and ? become numbers.
		{"0 4 * * sun", "0 4 * * 0"},
		{"0 9 * jan-mar mon-fri", "0 9 * 1-3 1-5"},
		{"0 0 ? * *", "0 0 * * *"},
		// cron would read */2 as a star and AND the day fields; robfig ORs.
		{"0 0 */2 * 1", "0 0 1-31/2 * 1"},
		{"0 0 * * */2", "0 0 * * 0-6/2"},
		// @every that divides an hour or a day.
		{"@every 1m", "* * * * *"},
		{"@every 20m", "*/20 * * * *"},
		{"@every 60m", "0 * * * *"},
		{"@every 8h", "0 */8 * * *"},
		{"@every 24h", "0 0 * * *"},
	}
	for _, tt := range tests {
		got, err := cronLine(tt.line)
		if err != nil || got != tt.want {
			t.Errorf("cronLine(%q) = %q, %v; want %q", tt.line, got, err, tt.want)
		}
	}
	for line, suggest := range map[string]string{
		"@every 7m":   `"*/6 * * * *" (every 6m)`,
		"@every 90m":  `"0 * * * *" (every 1h)`,
		"@every 100m": `"0 */2 * * *" (every 2h)`,
		"@every 48h":  `"0 0 * * *" (every 24h)`,
		"@every 45s":  `"* * * * *" (every 1m)`,
	} {
		_, err := cronLine(line)
		if err == nil || !strings.Contains(err.Error(), suggest) {
			t.Errorf("cronLine(%q): %v; want a suggestion of %s", line, err, suggest)
		}
	}
}

func TestShort(t *testing.T) {
	for d, want := range map[time.Duration]string{
		time.Minute: "1m", 6 * time.Minute: "6m", 2 * time.Hour: "2h", 90 * time.Minute: "1h30m", 45 * time.Second: "45s", 61 * time.Second: "1m1s",
	} {
		if got := short(d); got != want {
			t.Errorf("short(%v) = %q, want %q", d, got, want)
		}
	}
}

func TestSpan(t *testing.T) {
	for d, want := range map[time.Duration]string{
		0: "0", time.Minute: "1min", 90 * time.Minute: "1h 30min", 7 * time.Minute: "7min",
		36 * time.Hour: "1d 12h", 1500 * time.Millisecond: "1s 500ms",
	} {
		if got := span(d); got != want {
			t.Errorf("span(%v) = %q, want %q", d, got, want)
		}
	}
}
