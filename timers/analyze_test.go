package timers

import (
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/cairnbackup/cairn/config"
	"github.com/cairnbackup/cairn/schedule"
)

// systemdAnalyze returns the path of systemd-analyze, skipping the test
// where it is not installed.
func systemdAnalyze(t *testing.T) string {
	t.Helper()
	p, err := exec.LookPath("systemd-analyze")
	if err != nil {
		t.Skip("systemd-analyze is not installed")
	}
	return p
}

// TestSystemdAnalyzeVerify has systemd check the generated units, system
// and user, with the test binary standing in for cairn (verify wants the
// ExecStart= program to exist). It prints problems but exits 0 on most,
// so any output fails the test.
func TestSystemdAnalyzeVerify(t *testing.T) {
	sa := systemdAnalyze(t)
	bin, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	configs := []*config.Config{loadConfig(t, "cairn.yaml"), parse(t, `
jobs:
  - name: fast
    sources: [/var/tmp/spool]
    schedule: "@every 7m"
    random_delay: 30s
    check:
      schedule: "0 0 */2 * 1"
`)}
	for _, user := range []bool{false, true} {
		for _, c := range configs {
			units, err := Systemd(c, Options{Binary: bin, ConfigFile: "/etc/cairn/cairn.yaml", User: user})
			if err != nil {
				t.Fatal(err)
			}
			dir := t.TempDir()
			if err := WriteUnits(units, dir); err != nil {
				t.Fatal(err)
			}
			args := []string{"verify", "--man=no"}
			if user {
				args = append([]string{"--user"}, args...)
			}
			for _, u := range units {
				args = append(args, filepath.Join(dir, u.Name))
			}
			cmd := exec.Command(sa, args...)
			// The user manager needs a runtime folder, which a root shell
			// in a container lacks.
			cmd.Env = append(os.Environ(), "XDG_RUNTIME_DIR="+t.TempDir())
			out, err := cmd.CombinedOutput()
			if err != nil || len(out) > 0 {
				t.Errorf("systemd-analyze %s: %v\n%s", strings.Join(args[:len(args)-len(units)], " "), err, out)
			}
		}
	}
}

var elapse = regexp.MustCompile(`(?m)^\s*(?:Next elapse|Iter\. #\d+): \w{3} (\d{4}-\d\d-\d\d \d\d:\d\d:\d\d) UTC$`)

// TestCalendarMatchesSchedule has systemd compute the next times of each
// OnCalendar expression and compares them with schedule.Spec.Next.
func TestCalendarMatchesSchedule(t *testing.T) {
	sa := systemdAnalyze(t)
	const n = 8
	// A Monday at midnight: from there the @every lines, which the daemon
	// counts from its start, fall on the calendar's times too.
	base := time.Date(2026, 6, 1, 0, 0, 0, 0, time.UTC)
	for _, line := range []string{
		"@daily", "@hourly", "@weekly", "@monthly", "30 2 * * *", "*/15 * * * *", "0 4 * * sun",
		"0 9-17 * * 1-5", "0 0 1,15 * *", "0 3 1 * sun", "0 0 */2 * 1", "0 0 * * 5,6,0",
		"0,30 8,20 * * sat,sun", "@every 6h", "@every 20m", "5/15 */3 * 2-9 *",
	} {
		exprs, err := OnCalendar(line)
		if err != nil {
			t.Fatal(err)
		}
		var got []time.Time
		for _, e := range exprs {
			cmd := exec.Command(sa, "calendar", "--iterations="+strconv.Itoa(n), "--base-time="+base.Format("2006-01-02 15:04:05")+" UTC", e)
			cmd.Env = append(os.Environ(), "TZ=UTC")
			out, err := cmd.CombinedOutput()
			if err != nil {
				t.Fatalf("systemd-analyze calendar %q: %v\n%s", e, err, out)
			}
			for _, m := range elapse.FindAllStringSubmatch(string(out), -1) {
				tm, err := time.Parse("2006-01-02 15:04:05", m[1])
				if err != nil {
					t.Fatal(err)
				}
				got = append(got, tm)
			}
		}
		slices.SortFunc(got, func(a, b time.Time) int { return a.Compare(b) })
		got = slices.CompactFunc(got, func(a, b time.Time) bool { return a.Equal(b) })
		spec := schedule.MustParse(line)
		var want []time.Time
		for t := base; len(want) < n; {
			t = spec.Next(t)
			want = append(want, t)
		}
		if len(got) < n || !slices.EqualFunc(got[:n], want, func(a, b time.Time) bool { return a.Equal(b) }) {
			t.Errorf("%q → %q: systemd elapses at %v, the daemon at %v", line, exprs, got, want)
		}
	}
}
