package timers

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestWriteUnits(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "units")
	units := []Unit{{"a.service", "one\n"}, {"a.timer", "two\n"}}
	for range 2 { // the second time replaces the files
		if err := WriteUnits(units, dir); err != nil {
			t.Fatal(err)
		}
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	if len(entries) != 2 {
		t.Fatalf("%d files in the folder, want 2 (no temporary ones)", len(entries))
	}
	for _, u := range units {
		fi, err := os.Stat(filepath.Join(dir, u.Name))
		if err != nil {
			t.Fatal(err)
		}
		data, _ := os.ReadFile(filepath.Join(dir, u.Name))
		if fi.Mode().Perm() != 0o644 || string(data) != u.Text {
			t.Errorf("%s: mode %v, text %q", u.Name, fi.Mode(), data)
		}
	}
	if err := WriteUnits([]Unit{{"../x", ""}}, dir); err == nil {
		t.Error("a unit name with a slash was accepted")
	}
}

// TestInstall runs Install with a systemctl that records its arguments.
func TestInstall(t *testing.T) {
	bin := t.TempDir()
	log := filepath.Join(t.TempDir(), "calls")
	script := "#!/bin/sh\necho \"$*\" >> " + log + "\n"
	if err := os.WriteFile(filepath.Join(bin, "systemctl"), []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	t.Setenv("PATH", bin+string(os.PathListSeparator)+os.Getenv("PATH"))
	dir := t.TempDir()
	units := []Unit{{"cairn-a.service", "s"}, {"cairn-a.timer", "t"}, {"cairn-b.service", "s"}, {"cairn-b.timer", "t"}}
	if err := Install(context.Background(), units, dir, true); err != nil {
		t.Fatal(err)
	}
	calls, err := os.ReadFile(log)
	if err != nil {
		t.Fatal(err)
	}
	want := "--user daemon-reload\n--user enable --now cairn-a.timer\n--user enable --now cairn-b.timer\n"
	if string(calls) != want {
		t.Errorf("systemctl calls:\n%s\nwant:\n%s", calls, want)
	}
	if _, err := os.Stat(filepath.Join(dir, "cairn-b.timer")); err != nil {
		t.Error(err)
	}

	// A failing systemctl is reported with its output.
	script = "#!/bin/sh\necho 'Access denied' >&2\nexit 1\n"
	if err := os.WriteFile(filepath.Join(bin, "systemctl"), []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	err = Install(context.Background(), units, dir, false)
	if err == nil || !strings.Contains(err.Error(), "systemctl daemon-reload") || !strings.Contains(err.Error(), "Access denied") {
		t.Errorf("failing systemctl: %v", err)
	}
}

func TestDefaultDir(t *testing.T) {
	if d, _ := DefaultDir(false); d != "/etc/systemd/system" {
		t.Errorf("system: %s", d)
	}
	t.Setenv("XDG_CONFIG_HOME", "/x/config")
	if d, _ := DefaultDir(true); d != "/x/config/systemd/user" {
		t.Errorf("user: %s", d)
	}
	t.Setenv("XDG_CONFIG_HOME", "")
	t.Setenv("HOME", "/home/me")
	if d, _ := DefaultDir(true); d != "/home/me/.config/systemd/user" {
		t.Errorf("user without XDG_CONFIG_HOME: %s", d)
	}
}
