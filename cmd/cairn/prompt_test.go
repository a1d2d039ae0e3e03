package main

import (
	"bytes"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// openPTY returns the two ends of a new pseudo-terminal.
func openPTY(t *testing.T) (master, slave *os.File) {
	t.Helper()
	m, err := os.OpenFile("/dev/ptmx", os.O_RDWR|syscall.O_NOCTTY, 0)
	if err != nil {
		t.Skipf("no pseudo-terminals here: %v", err)
	}
	if err := unix.IoctlSetPointerInt(int(m.Fd()), unix.TIOCSPTLCK, 0); err != nil {
		t.Fatal(err)
	}
	n, err := unix.IoctlGetInt(int(m.Fd()), unix.TIOCGPTN)
	if err != nil {
		t.Fatal(err)
	}
	s, err := os.OpenFile(fmt.Sprintf("/dev/pts/%d", n), os.O_RDWR|syscall.O_NOCTTY, 0)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { m.Close(); s.Close() })
	return m, s
}

// expect reads from the terminal until want appears.
func expect(t *testing.T, r io.Reader, seen *bytes.Buffer, want string) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	buf := make([]byte, 256)
	for !strings.Contains(seen.String(), want) {
		if time.Now().After(deadline) {
			t.Fatalf("terminal never showed %q; it showed %q", want, seen.String())
		}
		n, err := r.Read(buf)
		seen.Write(buf[:n])
		if err != nil {
			t.Fatalf("read terminal: %v (saw %q)", err, seen.String())
		}
	}
}

// awaitNoEcho waits until the program has switched the terminal's echo
// off, as a password prompt must before anything is typed.
func awaitNoEcho(t *testing.T, tty *os.File) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for {
		tio, err := unix.IoctlGetTermios(int(tty.Fd()), unix.TCGETS)
		if err != nil {
			t.Fatal(err)
		}
		if tio.Lflag&unix.ECHO == 0 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatal("the prompt never turned the terminal's echo off")
		}
		time.Sleep(2 * time.Millisecond)
	}
}

// initOnTerminal runs `cairn init` with its stdin and stderr on a terminal
// and types the two answers.
func initOnTerminal(t *testing.T, repoDir, first, second string) (string, error) {
	master, slave := openPTY(t)
	cmd := exec.Command(cairnBinary(t), "-r", repoDir, "--cache-dir", filepath.Join(t.TempDir(), "cache"), "init")
	var stdout bytes.Buffer
	cmd.Stdin, cmd.Stderr, cmd.Stdout = slave, slave, &stdout
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	var seen bytes.Buffer
	expect(t, master, &seen, "password for "+repoDir+": ")
	awaitNoEcho(t, slave)
	io.WriteString(master, first+"\n")
	expect(t, master, &seen, "repeat the password: ")
	awaitNoEcho(t, slave)
	io.WriteString(master, second+"\n")
	err := cmd.Wait()
	slave.Close()
	rest, _ := io.ReadAll(master)
	seen.Write(rest)
	if strings.Contains(seen.String(), first) || strings.Contains(seen.String(), second) {
		t.Errorf("the password was echoed: %q", seen.String())
	}
	return seen.String() + stdout.String(), err
}

func TestInitPromptsTwiceWithoutEcho(t *testing.T) {
	repoDir := filepath.Join(t.TempDir(), "repo")
	out, err := initOnTerminal(t, repoDir, "typed-secret-1", "typed-secret-1")
	if err != nil {
		t.Fatalf("init on a terminal: %v\n%s", err, out)
	}
	if !strings.Contains(out, "created repository") {
		t.Fatalf("no repository reported: %q", out)
	}
	pw := filepath.Join(t.TempDir(), "pw")
	os.WriteFile(pw, []byte("typed-secret-1\n"), 0o600)
	cmd := exec.Command(cairnBinary(t), "-r", repoDir, "--password-file", pw, "--cache-dir", t.TempDir(), "key", "list")
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("the typed password does not open the repository: %v\n%s", err, b)
	}
}

func TestInitPromptMismatchChangesNothing(t *testing.T) {
	repoDir := filepath.Join(t.TempDir(), "repo")
	out, err := initOnTerminal(t, repoDir, "typed-secret-1", "typed-secret-2")
	if err == nil || !strings.Contains(out, "the passwords differ; nothing was changed") {
		t.Fatalf("mismatched passwords: err %v, output %q", err, out)
	}
	if _, err := os.Stat(repoDir); !os.IsNotExist(err) {
		t.Fatalf("a repository folder was created after a mismatch: %v", err)
	}
}
