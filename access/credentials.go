package access

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"

	"github.com/cairnbackup/cairn/repo"
)

// ErrNoCredentials is returned when nothing says how to unlock a repository.
var ErrNoCredentials = errors.New("no password given: use --password-file, --password-command or --key-file (or their CAIRN_ environment variables), or run cairn on a terminal to be asked")

// Credentials reads the password or key of the repository (confirmed
// twice at a prompt when confirm is set).
func (o *Opener) Credentials(confirm bool) (repo.Credentials, error) {
	t, err := o.Target()
	if err != nil {
		return repo.Credentials{}, err
	}
	return o.credentials(o.opts.Secret, t, confirm)
}

// CredentialsFor reads the password or key of another repository, at addr,
// from s (copy's destination).
func (o *Opener) CredentialsFor(s Secret, addr string) (repo.Credentials, error) {
	return o.credentials(s, Target{Addr: addr}, false)
}

// credentials reads credentials from s, the default key file, or a prompt.
func (o *Opener) credentials(s Secret, t Target, confirm bool) (repo.Credentials, error) {
	switch {
	case s.KeyFile != "":
		return o.readKeyFile(s.KeyFile)
	case s.PasswordFile != "":
		b, err := o.readSecretFile(s.PasswordFile, "password file")
		if err != nil {
			return repo.Credentials{}, err
		}
		return passwordCreds(trimNewline(b), "password file "+s.PasswordFile)
	case s.PasswordCommand != "":
		cmd := exec.Command("sh", "-c", s.PasswordCommand)
		cmd.Stderr = o.opts.Stderr
		out, err := cmd.Output()
		if err != nil {
			return repo.Credentials{}, fmt.Errorf("password command failed: %w", err)
		}
		return passwordCreds(trimNewline(out), "password command")
	case t.KeyFile != "":
		return o.readKeyFile(t.KeyFile)
	}
	return o.prompt(t.Addr, confirm)
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

// readSecretFile reads the password or key file at path, what naming it
// in messages, and warns when other users may read it too. Errors never
// show the file's content.
func (o *Opener) readSecretFile(path, what string) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", what, err)
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", what, err)
	}
	if fi.Mode().IsRegular() && fi.Mode().Perm()&0o077 != 0 {
		o.warn("%s %s can be read by other users (mode %#o); run chmod 600 %s", what, path, fi.Mode().Perm(), path)
	}
	b, err := io.ReadAll(io.LimitReader(f, maxSecretFile+1))
	if err != nil {
		return nil, fmt.Errorf("read %s %s: %w", what, path, err)
	}
	if len(b) > maxSecretFile {
		return nil, fmt.Errorf("%s %s is longer than %d bytes: is it the right file?", what, path, maxSecretFile)
	}
	return b, nil
}

// maxSecretFile bounds what is read of a password or key file: a
// password longer than this is a wrong file name, not a password.
const maxSecretFile = 64 << 10

// readKeyFile reads a key of 64 hex digits. The error never shows the
// file's content.
func (o *Opener) readKeyFile(path string) (repo.Credentials, error) {
	b, err := o.readSecretFile(path, "key file")
	if err != nil {
		return repo.Credentials{}, err
	}
	c, err := repo.KeyCredentials(string(b))
	if err != nil {
		return repo.Credentials{}, fmt.Errorf("key file %s: %w", path, err)
	}
	return c, nil
}

// prompt asks for the password of what, twice when confirm is set.
func (o *Opener) prompt(what string, confirm bool) (repo.Credentials, error) {
	if o.opts.Prompt == nil {
		return repo.Credentials{}, ErrNoCredentials
	}
	pw, err := o.opts.Prompt(fmt.Sprintf("password for %s: ", what))
	if err != nil {
		return repo.Credentials{}, fmt.Errorf("read password: %w", err)
	}
	if confirm {
		again, err := o.opts.Prompt("repeat the password: ")
		if err != nil {
			return repo.Credentials{}, fmt.Errorf("read password: %w", err)
		}
		if !bytes.Equal(pw, again) {
			return repo.Credentials{}, errors.New("the passwords differ; nothing was changed")
		}
	}
	return passwordCreds(pw, "prompt")
}

// NewCredentials reads a new password or key (key add, key passwd): from
// passwordFile or keyFile, or a confirmed prompt.
func (o *Opener) NewCredentials(passwordFile, keyFile string) (repo.Credentials, error) {
	switch {
	case keyFile != "":
		return o.readKeyFile(keyFile)
	case passwordFile != "":
		b, err := o.readSecretFile(passwordFile, "new password file")
		if err != nil {
			return repo.Credentials{}, err
		}
		return passwordCreds(trimNewline(b), "new password file")
	}
	creds, err := o.prompt("the new key", true)
	if errors.Is(err, ErrNoCredentials) {
		return creds, errors.New("no new password given: use --new-password-file or --new-key-file, or run on a terminal")
	}
	return creds, err
}

// EnsureKeyFile makes a fresh key file at path (0600, folder 0700) unless
// one exists, and reports whether it made one.
func EnsureKeyFile(path string) (bool, error) {
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
	_, err = f.WriteString(repo.NewKeyText() + "\n")
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
