package main

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"

	"golang.org/x/term"

	"github.com/cairnbackup/cairn/crypto"
	"github.com/cairnbackup/cairn/repo"
)

// errNoCredentials is returned when nothing says how to unlock a repository.
var errNoCredentials = errors.New("no password given: use --password-file, --password-command or --key-file (or their CAIRN_ environment variables), or run cairn on a terminal to be asked")

// credentials finds the password or key for loc from the flags, the
// default key file, or a terminal prompt (confirmed twice when confirm is set).
func (g *globalOptions) credentials(loc location, confirm bool) (repo.Credentials, error) {
	return g.credentialsFrom(credentialSource{g.keyFile, g.passwordFile, g.passwordCommand}, loc, confirm)
}

// credentialSource says where a password or key comes from; empty fields
// are not used.
type credentialSource struct {
	keyFile, passwordFile, passwordCommand string
}

// credentialsFrom reads credentials from src, the default key file, or a
// terminal prompt.
func (g *globalOptions) credentialsFrom(src credentialSource, loc location, confirm bool) (repo.Credentials, error) {
	switch {
	case src.keyFile != "":
		return g.readKeyFile(src.keyFile)
	case src.passwordFile != "":
		b, err := os.ReadFile(src.passwordFile)
		if err != nil {
			return repo.Credentials{}, fmt.Errorf("read password file: %w", err)
		}
		return passwordCreds(trimNewline(b), "password file "+src.passwordFile)
	case src.passwordCommand != "":
		cmd := exec.Command("sh", "-c", src.passwordCommand)
		cmd.Stderr = g.stderr
		out, err := cmd.Output()
		if err != nil {
			return repo.Credentials{}, fmt.Errorf("password command failed: %w", err)
		}
		return passwordCreds(trimNewline(out), "password command")
	case loc.keyFile != "":
		return g.readKeyFile(loc.keyFile)
	}
	return g.promptPassword(loc, confirm)
}

func passwordCreds(pw []byte, source string) (repo.Credentials, error) {
	if len(pw) == 0 {
		return repo.Credentials{}, fmt.Errorf("the %s gave an empty password", source)
	}
	return repo.Credentials{Password: pw}, nil
}

// trimNewline removes one trailing line ending, as editors and echo add.
func trimNewline(b []byte) []byte {
	b = bytes.TrimSuffix(b, []byte("\n"))
	return bytes.TrimSuffix(b, []byte("\r"))
}

// readKeyFile reads a key of 64 hex digits. The error never shows the file's
// content.
func (g *globalOptions) readKeyFile(path string) (repo.Credentials, error) {
	fi, err := os.Stat(path)
	if err != nil {
		return repo.Credentials{}, fmt.Errorf("read key file: %w", err)
	}
	if fi.Mode().Perm()&0o077 != 0 {
		fmt.Fprintf(g.stderr, "cairn: warning: key file %s can be read by other users (mode %#o); run chmod 600 %s\n", path, fi.Mode().Perm(), path)
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return repo.Credentials{}, fmt.Errorf("read key file: %w", err)
	}
	kek, err := crypto.ParseKEK(string(b))
	if err != nil {
		return repo.Credentials{}, fmt.Errorf("key file %s: %w", path, err)
	}
	return repo.Credentials{KEK: kek}, nil
}

// promptPassword asks on the terminal without echo.
func (g *globalOptions) promptPassword(loc location, confirm bool) (repo.Credentials, error) {
	f, ok := g.stdin.(*os.File)
	if !ok || !term.IsTerminal(int(f.Fd())) {
		return repo.Credentials{}, errNoCredentials
	}
	read := func(prompt string) ([]byte, error) {
		fmt.Fprint(g.stderr, prompt)
		pw, err := term.ReadPassword(int(f.Fd()))
		fmt.Fprintln(g.stderr)
		return pw, err
	}
	pw, err := read(fmt.Sprintf("password for %s: ", loc.addr))
	if err != nil {
		return repo.Credentials{}, fmt.Errorf("read password: %w", err)
	}
	if confirm {
		again, err := read("repeat the password: ")
		if err != nil {
			return repo.Credentials{}, fmt.Errorf("read password: %w", err)
		}
		if !bytes.Equal(pw, again) {
			return repo.Credentials{}, errors.New("the passwords differ; nothing was changed")
		}
	}
	return passwordCreds(pw, "prompt")
}

// newCredentials asks for a new password or key (for key add/passwd):
// from a file given with --new-password-file or --new-key-file, or a
// confirmed prompt.
func (g *globalOptions) newCredentials(passwordFile, keyFile string) (repo.Credentials, error) {
	switch {
	case keyFile != "":
		return g.readKeyFile(keyFile)
	case passwordFile != "":
		b, err := os.ReadFile(passwordFile)
		if err != nil {
			return repo.Credentials{}, fmt.Errorf("read new password file: %w", err)
		}
		return passwordCreds(trimNewline(b), "new password file")
	}
	creds, err := g.promptPassword(location{addr: "the new key"}, true)
	if errors.Is(err, errNoCredentials) {
		return creds, errors.New("no new password given: use --new-password-file or --new-key-file, or run on a terminal")
	}
	return creds, err
}

// ensureKeyFile makes a fresh key file at path (0600, folder 0700) unless
// one exists, and reports whether it made one.
func ensureKeyFile(path string) (bool, error) {
	if _, err := os.Stat(path); err == nil {
		return false, nil
	} else if !errors.Is(err, fs.ErrNotExist) {
		return false, fmt.Errorf("key file %s: %w", path, err)
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return false, fmt.Errorf("create key folder: %w", err)
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return false, fmt.Errorf("create key file: %w", err)
	}
	_, err = f.WriteString(crypto.NewKEKText() + "\n")
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		os.Remove(path)
		return false, fmt.Errorf("write key file %s: %w", path, err)
	}
	return true, nil
}
