package timers

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
)

// SystemDir is where system units are installed.
const SystemDir = "/etc/systemd/system"

// DefaultDir returns where units are installed: SystemDir, or for user
// units $XDG_CONFIG_HOME/systemd/user (~/.config/systemd/user).
func DefaultDir(user bool) (string, error) {
	if !user {
		return SystemDir, nil
	}
	if d := os.Getenv("XDG_CONFIG_HOME"); d != "" {
		return filepath.Join(d, "systemd", "user"), nil
	}
	home, err := os.UserHomeDir()
	if err != nil {
		return "", fmt.Errorf("find the user unit folder: %w", err)
	}
	return filepath.Join(home, ".config", "systemd", "user"), nil
}

// WriteUnits writes each unit into dir (made if missing) as a file of
// mode 0644, atomically: written to a temporary name, synced, renamed
// over the unit's name; the folder is synced at the end.
func WriteUnits(units []Unit, dir string) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("make the unit folder: %w", err)
	}
	for _, u := range units {
		if u.Name == "" || strings.ContainsRune(u.Name, '/') {
			return fmt.Errorf("unit name %q: want a file name", u.Name)
		}
		if err := writeFile(filepath.Join(dir, u.Name), []byte(u.Text)); err != nil {
			return err
		}
	}
	d, err := os.Open(dir)
	if err != nil {
		return fmt.Errorf("sync the unit folder: %w", err)
	}
	defer d.Close()
	if err := d.Sync(); err != nil {
		return fmt.Errorf("sync the unit folder %s: %w", dir, err)
	}
	return nil
}

// writeFile replaces name with data atomically.
func writeFile(name string, data []byte) (err error) {
	f, err := os.CreateTemp(filepath.Dir(name), "."+filepath.Base(name)+".tmp-*")
	if err != nil {
		return fmt.Errorf("write unit %s: %w", name, err)
	}
	defer func() {
		if err != nil {
			f.Close()
			os.Remove(f.Name())
		}
	}()
	if _, err := f.Write(data); err != nil {
		return fmt.Errorf("write unit %s: %w", name, err)
	}
	if err := f.Chmod(0o644); err != nil {
		return fmt.Errorf("write unit %s: %w", name, err)
	}
	if err := f.Sync(); err != nil {
		return fmt.Errorf("write unit %s: %w", name, err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("write unit %s: %w", name, err)
	}
	if err := os.Rename(f.Name(), name); err != nil {
		return fmt.Errorf("write unit %s: %w", name, err)
	}
	return nil
}

// Install writes the units into dir (DefaultDir when empty), then runs
// `systemctl [--user] daemon-reload` and `systemctl [--user] enable
// --now NAME.timer` for each timer. dir must be one systemd reads units
// from for the enabling to work.
func Install(ctx context.Context, units []Unit, dir string, user bool) error {
	if dir == "" {
		d, err := DefaultDir(user)
		if err != nil {
			return err
		}
		dir = d
	}
	if err := WriteUnits(units, dir); err != nil {
		return err
	}
	if err := systemctl(ctx, user, "daemon-reload"); err != nil {
		return err
	}
	for _, u := range units {
		if strings.HasSuffix(u.Name, ".timer") {
			if err := systemctl(ctx, user, "enable", "--now", u.Name); err != nil {
				return err
			}
		}
	}
	return nil
}

// systemctl runs systemctl with args, returning its output in the error.
func systemctl(ctx context.Context, user bool, args ...string) error {
	if user {
		args = append([]string{"--user"}, args...)
	}
	cmd := exec.CommandContext(ctx, "systemctl", args...)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Run(); err != nil {
		msg := strings.TrimSpace(out.String())
		if errors.Is(err, exec.ErrNotFound) {
			msg = "is systemd installed?"
		}
		return fmt.Errorf("systemctl %s: %w: %s", strings.Join(args, " "), err, msg)
	}
	return nil
}
