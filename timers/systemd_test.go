package timers

import (
	"errors"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/cairnbackup/cairn/config"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata")

var (
	systemOptions = Options{Binary: "/usr/local/bin/cairn", ConfigFile: "/etc/cairn/cairn.yaml"}
	userOptions   = Options{Binary: "/home/me/bin/cairn", ConfigFile: "/home/me/.config/cairn/cairn.yaml", User: true}
)

// loadConfig parses a configuration from testdata.
func loadConfig(t *testing.T, name string) *config.Config {
	t.Helper()
	data, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	c, err := config.Parse(name, data)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// golden compares got with testdata/name, or rewrites it with -update.
func golden(t *testing.T, name, got string) {
	t.Helper()
	path := filepath.Join("testdata", name)
	if *update {
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test -update to write it)", err)
	}
	if got != string(want) {
		t.Errorf("%s differs (run go test -update and review the diff); got:\n%s", name, got)
	}
}

// render lists units as `cairn schedule systemd` prints them.
func render(units []Unit) string {
	var b strings.Builder
	for _, u := range units {
		b.WriteString("# FILE " + u.Name + "\n" + u.Text + "\n")
	}
	return b.String()
}

func TestSystemdGolden(t *testing.T) {
	c := loadConfig(t, "cairn.yaml")
	for name, o := range map[string]Options{"systemd.golden": systemOptions, "systemd-user.golden": userOptions} {
		units, err := Systemd(c, o)
		if err != nil {
			t.Fatal(err)
		}
		var names []string
		for _, u := range units {
			names = append(names, u.Name)
		}
		want := "cairn-etc.service cairn-etc.timer cairn-etc-check.service cairn-etc-check.timer cairn-logs.service cairn-logs.timer"
		if got := strings.Join(names, " "); got != want {
			t.Errorf("units %s, want %s", got, want)
		}
		golden(t, name, render(units))
	}
}

func TestCrontabGolden(t *testing.T) {
	got, err := Crontab(loadConfig(t, "cairn.yaml"), systemOptions)
	if err != nil {
		t.Fatal(err)
	}
	golden(t, "crontab.golden", got)
}

// unit returns the text of the named unit.
func unit(t *testing.T, units []Unit, name string) string {
	t.Helper()
	for _, u := range units {
		if u.Name == name {
			return u.Text
		}
	}
	t.Fatalf("no unit %s", name)
	return ""
}

func parse(t *testing.T, yaml string) *config.Config {
	t.Helper()
	c, err := config.Parse("test.yaml", []byte(yaml))
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func TestSystemdVariants(t *testing.T) {
	c := parse(t, `
jobs:
  - name: fast
    sources: [/var/tmp/spool]
    schedule: "@every 7m"
    random_delay: 30s
  - name: weekly
    sources: [/srv]
    schedule: "@every 48h"
    check:
      schedule: "@daily"
`)
	units, err := Systemd(c, systemOptions)
	if err != nil {
		t.Fatal(err)
	}
	fast := unit(t, units, "cairn-fast.timer")
	for _, want := range []string{"\nOnBootSec=7min\n", "\nOnUnitActiveSec=7min\n", "\nAccuracySec=1s\n", "\nRandomizedDelaySec=30s\n"} {
		if !strings.Contains(fast, want) {
			t.Errorf("cairn-fast.timer lacks %q:\n%s", strings.TrimSpace(want), fast)
		}
	}
	if strings.Contains(fast, "OnCalendar=") || strings.Contains(fast, "Persistent=") {
		t.Errorf("cairn-fast.timer:\n%s", fast)
	}
	if s := unit(t, units, "cairn-fast.service"); strings.Contains(s, "\nPrivateTmp=") || !strings.Contains(s, "ProtectSystem=strict") {
		t.Errorf("a source under /var/tmp: PrivateTmp must go, the rest stay:\n%s", s)
	}
	if s := unit(t, units, "cairn-weekly.timer"); !strings.Contains(s, "OnUnitActiveSec=2d\n") || !strings.Contains(s, "AccuracySec=1min\n") {
		t.Errorf("cairn-weekly.timer:\n%s", s)
	}
	// A check without drills keeps only CAP_DAC_READ_SEARCH and no setuid files.
	check := unit(t, units, "cairn-weekly-check.service")
	for _, want := range []string{"CapabilityBoundingSet=CAP_DAC_READ_SEARCH\n", "RestrictSUIDSGID=true\n", "ExecStart=/usr/local/bin/cairn --config /etc/cairn/cairn.yaml run --check weekly\n"} {
		if !strings.Contains(check, want) {
			t.Errorf("check service lacks %q:\n%s", want, check)
		}
	}
	if strings.Contains(check, "ReadOnlyPaths=") || strings.Contains(check, "ReadWritePaths=") {
		t.Errorf("check service:\n%s", check)
	}
}

func TestSystemdErrors(t *testing.T) {
	tests := []struct {
		name, yaml string
		o          Options
		want       string
	}{
		{"nothing scheduled", "jobs:\n  - name: a\n    sources: [/a]\n", systemOptions, "no job has a schedule"},
		{"names collide", "jobs:\n  - name: a\n    sources: [/a]\n    check:\n      schedule: '@daily'\n  - name: a-check\n    sources: [/a]\n    schedule: '@daily'\n",
			systemOptions, `jobs "a" and "a-check" would both have units named cairn-a-check`},
		{"relative binary", "jobs:\n  - name: a\n    sources: [/a]\n    schedule: '@daily'\n", Options{Binary: "cairn", ConfigFile: "/c.yaml"}, "must be absolute"},
		{"quote in a source", "jobs:\n  - name: a\n    sources: ['/a\"b']\n    schedule: '@daily'\n", systemOptions, "holds a quote"},
		{"negative nice in a user unit", "jobs:\n  - name: a\n    sources: [/a]\n    schedule: '@daily'\n    limits:\n      nice: -5\n", userOptions, "raises the priority"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Systemd(parse(t, tt.yaml), tt.o)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("got %v, want %q", err, tt.want)
			}
		})
	}
	_, err := Crontab(parse(t, "jobs:\n  - name: a\n    sources: [/a]\n"), systemOptions)
	if !errors.Is(err, ErrNothingScheduled) {
		t.Errorf("Crontab with nothing scheduled: %v", err)
	}
	_, err = Crontab(parse(t, "jobs:\n  - name: logs\n    sources: [/a]\n    schedule: '@every 7m'\n"), systemOptions)
	if err == nil || !strings.Contains(err.Error(), `job "logs": schedule "@every 7m": cron cannot run every 7m,`) {
		t.Errorf("Crontab with @every 7m: %v", err)
	}
}

func TestQuoting(t *testing.T) {
	for in, want := range map[string]string{
		"/usr/bin/cairn":        "/usr/bin/cairn",
		"/opt/my tools/cairn":   `"/opt/my tools/cairn"`,
		"/etc/100%/cairn.yaml":  "/etc/100%%/cairn.yaml",
		"/etc/$HOME/c.yaml":     "/etc/$$HOME/c.yaml",
		`/etc/a"b\c`:            `"/etc/a\"b\\c"`,
		"/etc/semi;colon":       `"/etc/semi;colon"`,
		"/etc/it's here/c.yaml": `"/etc/it's here/c.yaml"`,
	} {
		if got := execWord(in); got != want {
			t.Errorf("execWord(%q) = %s, want %s", in, got, want)
		}
	}
	got, err := pathList([]string{"/etc", "/srv/my data", "/etc", "/srv/50%"})
	if want := `-/etc "-/srv/my data" -/srv/50%%`; err != nil || got != want {
		t.Errorf("pathList = %s, %v; want %s", got, err, want)
	}
	cmd, err := shellCommand(Options{Binary: "/opt/my tools/cairn", ConfigFile: "/etc/it's/50%.yaml"}, []string{"run", "etc"})
	if want := `'/opt/my tools/cairn' --config '/etc/it'\''s/50\%.yaml' run etc`; err != nil || cmd != want {
		t.Errorf("shellCommand = %s, %v; want %s", cmd, err, want)
	}
	if _, err := execLine(Options{Binary: "/bin/cairn\n", ConfigFile: "/c"}, nil); err == nil {
		t.Error("a newline in a path was accepted")
	}
}
