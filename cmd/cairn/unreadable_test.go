package main

import (
	"bytes"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
)

var (
	buildOnce sync.Once
	builtBin  string
	buildErr  error
)

// cairnBinary builds the real binary once into a folder any user can read.
func cairnBinary(t *testing.T) string {
	t.Helper()
	buildOnce.Do(func() {
		dir, err := os.MkdirTemp("", "cairn-bin-")
		if err != nil {
			buildErr = err
			return
		}
		os.Chmod(dir, 0o755)
		builtBin = filepath.Join(dir, "cairn")
		out, err := exec.Command("go", "build", "-o", builtBin, ".").CombinedOutput()
		if err != nil {
			buildErr = errors.New(string(out))
		}
	})
	if buildErr != nil {
		t.Fatalf("build cairn: %v", buildErr)
	}
	return builtBin
}

// sandbox is a folder tree that a dropped-privilege cairn can use.
type sandbox struct {
	t    *testing.T
	dir  string
	uid  int
	cred *syscall.Credential
}

func newSandbox(t *testing.T) *sandbox {
	dir, err := os.MkdirTemp("", "cairn-e2e-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	os.Chmod(dir, 0o755)
	s := &sandbox{t: t, dir: dir, uid: os.Getuid()}
	if os.Geteuid() == 0 {
		// Root reads everything: run cairn as nobody so permissions bite.
		s.uid = 65534
		s.cred = &syscall.Credential{Uid: 65534, Gid: 65534}
		os.Chown(dir, s.uid, s.uid)
	}
	return s
}

func (s *sandbox) path(rel string) string { return filepath.Join(s.dir, rel) }

func (s *sandbox) write(rel, content string, mode os.FileMode) {
	p := s.path(rel)
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		s.t.Fatal(err)
	}
	if err := os.WriteFile(p, []byte(content), mode); err != nil {
		s.t.Fatal(err)
	}
	os.Chown(p, s.uid, s.uid)
	os.Chmod(p, mode)
}

// run executes cairn as the sandbox user and returns stdout, stderr and
// the exit code.
func (s *sandbox) run(args ...string) (string, string, int) {
	cmd := exec.Command(cairnBinary(s.t), args...)
	cmd.Env = append(os.Environ(), "HOME="+s.path("home"), "XDG_CACHE_HOME="+s.path("home/cache"),
		"XDG_CONFIG_HOME="+s.path("home/config"), "XDG_DATA_HOME="+s.path("home/data"))
	if s.cred != nil {
		cmd.SysProcAttr = &syscall.SysProcAttr{Credential: s.cred}
	}
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	code := 0
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		code = ee.ExitCode()
	} else if err != nil {
		s.t.Fatal(err)
	}
	return out.String(), errb.String(), code
}

func TestUnreadableFilesAreSkippedWithExitCode3(t *testing.T) {
	s := newSandbox(t)
	for _, d := range []string{"home", "src", "src/locked"} {
		os.MkdirAll(s.path(d), 0o755)
		os.Chown(s.path(d), s.uid, s.uid)
	}
	s.write("pw", "secret\n", 0o600)
	s.write("src/readable.txt", "fine", 0o644)
	s.write("src/unreadable.txt", "hidden", 0o000)
	s.write("src/locked/inside.txt", "hidden too", 0o644)
	os.Chmod(s.path("src/locked"), 0o000)

	repoDir := s.path("repo")
	if _, errOut, code := s.run("-r", repoDir, "--password-file", s.path("pw"), "init"); code != 0 {
		t.Fatalf("init: exit %d: %s", code, errOut)
	}
	out, errOut, code := s.run("-r", repoDir, "--password-file", s.path("pw"), "snapshot", s.path("src"))
	if code != exitPartial {
		t.Fatalf("snapshot with unreadable files: exit %d, want %d\nstdout: %s\nstderr: %s", code, exitPartial, out, errOut)
	}
	for _, want := range []string{s.path("src/unreadable.txt") + ": open: permission denied (skipped)",
		s.path("src/locked") + ": read folder: open: permission denied (skipped)",
		"could not be read (listed above)"} {
		if !strings.Contains(errOut, want) {
			t.Errorf("stderr does not say %q:\n%s", want, errOut)
		}
	}
	if !strings.Contains(out, "snapshot ") || !strings.Contains(out, " saved") {
		t.Errorf("no snapshot reported:\n%s", out)
	}
	target := s.path("out")
	if _, errOut, code := s.run("-r", repoDir, "--password-file", s.path("pw"), "restore", "latest", "--target", target); code != 0 {
		t.Fatalf("restore: exit %d: %s", code, errOut)
	}
	if b, err := os.ReadFile(filepath.Join(target, s.path("src/readable.txt"))); err != nil || string(b) != "fine" {
		t.Errorf("readable file not restored: %v", err)
	}
	if _, err := os.Lstat(filepath.Join(target, s.path("src/unreadable.txt"))); err == nil {
		t.Errorf("the unreadable file appears in the snapshot")
	}
}
