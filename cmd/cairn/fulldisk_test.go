package main

import (
	"crypto/rand"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
)

// TestFullDiskFailsCleanly fills a small tmpfs holding the repository: the
// snapshot fails with exit 1 and a message that names the full storage and
// says what to do, leaves no temporary file and no snapshot behind, and
// check still passes. Mounting needs root, which CI has.
func TestFullDiskFailsCleanly(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("mounting a small tmpfs needs root")
	}
	dir := t.TempDir()
	mnt := filepath.Join(dir, "mnt")
	os.Mkdir(mnt, 0o700)
	if err := syscall.Mount("tmpfs", mnt, "tmpfs", 0, "size=8m"); err != nil {
		t.Fatalf("mount tmpfs: %v", err)
	}
	t.Cleanup(func() { syscall.Unmount(mnt, syscall.MNT_DETACH) })
	src := filepath.Join(dir, "src")
	os.Mkdir(src, 0o700)
	data := make([]byte, 24<<20)
	rand.Read(data)
	if err := os.WriteFile(filepath.Join(src, "big.bin"), data, 0o600); err != nil {
		t.Fatal(err)
	}
	pw := filepath.Join(dir, "pw")
	os.WriteFile(pw, []byte("secret\n"), 0o600)
	run := func(args ...string) (string, int) {
		cmd := exec.Command(cairnBinary(t), append([]string{"-r", filepath.Join(mnt, "repo"), "--password-file", pw,
			"--cache-dir", filepath.Join(dir, "cache")}, args...)...)
		out, err := cmd.CombinedOutput()
		code := 0
		if ee, ok := err.(*exec.ExitError); ok {
			code = ee.ExitCode()
		} else if err != nil {
			t.Fatal(err)
		}
		return string(out), code
	}
	if out, code := run("init"); code != 0 {
		t.Fatalf("init: exit %d: %s", code, out)
	}
	out, code := run("snapshot", src)
	if code != exitFailure {
		t.Fatalf("snapshot onto a full disk: exit %d, want %d:\n%s", code, exitFailure, out)
	}
	for _, want := range []string{"no space left", "storage is full: free space"} {
		if !strings.Contains(out, want) {
			t.Errorf("message does not say %q:\n%s", want, out)
		}
	}
	filepath.WalkDir(filepath.Join(mnt, "repo"), func(p string, d fs.DirEntry, err error) error {
		if err == nil && strings.HasPrefix(d.Name(), ".tmp-") {
			t.Errorf("temporary file left: %s", p)
		}
		return nil
	})
	if out, code := run("snapshots", "--json"); code != 0 || strings.TrimSpace(out) != "[]" {
		t.Errorf("snapshots after the failure: exit %d: %s", code, out)
	}
	if out, code := run("check"); code != 0 {
		t.Errorf("check after the failure: exit %d:\n%s", code, out)
	}
}
