package access

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/cairnbackup/cairn/config"
	"github.com/cairnbackup/cairn/repo"
)

var ctx = context.Background()

func TestDefaultRepository(t *testing.T) {
	for _, c := range []struct {
		env        map[string]string
		euid       int
		addr, key  string
		wantErrMsg string
	}{
		{env: map[string]string{"HOME": "/home/u"}, euid: 1000, addr: "/home/u/.local/share/cairn/repository", key: "/home/u/.config/cairn/default.key"},
		{env: map[string]string{"HOME": "/home/u", "XDG_DATA_HOME": "/d", "XDG_CONFIG_HOME": "/c"}, euid: 1000, addr: "/d/cairn/repository", key: "/c/cairn/default.key"},
		{env: map[string]string{}, euid: 0, addr: "/var/lib/cairn/repository", key: "/etc/cairn/default.key"}, // root under systemd, env -i
		{env: map[string]string{"HOME": "/root"}, euid: 0, addr: "/root/.local/share/cairn/repository", key: "/root/.config/cairn/default.key"},
		{env: map[string]string{}, euid: 1000, wantErrMsg: "-r"},
	} {
		got, err := defaultRepository(func(k string) string { return c.env[k] }, c.euid)
		if c.wantErrMsg != "" {
			if err == nil || !strings.Contains(err.Error(), c.wantErrMsg) {
				t.Errorf("%v: %v, want an error naming %s", c.env, err, c.wantErrMsg)
			}
			continue
		}
		if err != nil || got.Addr != c.addr || got.KeyFile != c.key || !got.IsDefault {
			t.Errorf("%v euid %d: %+v, %v", c.env, c.euid, got, err)
		}
	}
}

func TestFromConfigSortsByPriority(t *testing.T) {
	off := false
	locs, min, max := FromConfig(config.Repository{MinCopies: 1, MaxCopies: 2, Locations: []config.Location{
		{URL: "/b", Priority: 2}, {URL: "/a", Priority: 1}, {URL: "/c", Priority: 2, Enabled: &off},
	}})
	if min != 1 || max != 2 || len(locs) != 3 || locs[0].Addr != "/a" || locs[1].Addr != "/b" || locs[2].Enabled {
		t.Fatalf("%+v %d %d", locs, min, max)
	}
}

func writeFile(t *testing.T, name, content string, mode os.FileMode) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(p, []byte(content), mode); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestCredentials(t *testing.T) {
	var warned []string
	o := New(Options{Locations: []Location{{Addr: "/r", Enabled: true}}, Warn: func(m string) { warned = append(warned, m) }})

	pw := writeFile(t, "pw", "secret\n", 0o600)
	c, err := o.credentials(Secret{PasswordFile: pw}, Target{Addr: "/r"}, false)
	if err != nil || string(c.Password) != "secret" {
		t.Fatalf("password file: %q, %v", c.Password, err)
	}
	c, err = o.credentials(Secret{PasswordCommand: "printf 'from command\\r\\n'"}, Target{Addr: "/r"}, false)
	if err != nil || string(c.Password) != "from command" {
		t.Fatalf("password command: %q, %v", c.Password, err)
	}
	if _, err := o.credentials(Secret{PasswordFile: writeFile(t, "empty", "\n", 0o600)}, Target{}, false); err == nil || !strings.Contains(err.Error(), "empty password") {
		t.Errorf("empty password file: %v", err)
	}

	key := writeFile(t, "key", repo.NewKeyText()+"\n", 0o644)
	if c, err = o.credentials(Secret{KeyFile: key}, Target{}, false); err != nil || c.KEK == nil {
		t.Fatalf("key file: %v", err)
	}
	if len(warned) != 1 || !strings.Contains(warned[0], "chmod 600") {
		t.Errorf("a key file others can read was not warned about: %v", warned)
	}
	bad := writeFile(t, "bad", "not-a-key-SECRETVALUE", 0o600)
	if _, err := o.credentials(Secret{KeyFile: bad}, Target{}, false); err == nil || strings.Contains(err.Error(), "SECRETVALUE") {
		t.Errorf("a bad key file: %v (must fail without quoting it)", err)
	}

	// The default repository's key file, when no secret is named.
	if c, err = o.credentials(Secret{}, Target{Addr: "/r", KeyFile: key}, false); err != nil || c.KEK == nil {
		t.Errorf("default key: %v", err)
	}

	// Password files others can read are warned about too, new ones as well.
	warned = nil
	open := writeFile(t, "open-pw", "secret\n", 0o640)
	if c, err = o.credentials(Secret{PasswordFile: open}, Target{}, false); err != nil || string(c.Password) != "secret" {
		t.Fatalf("password file others can read: %q, %v", c.Password, err)
	}
	if _, err = o.NewCredentials(open, ""); err != nil {
		t.Fatalf("new password file: %v", err)
	}
	if len(warned) != 2 || !strings.Contains(warned[0], "password file "+open) || !strings.Contains(warned[1], "new password file") || strings.Contains(strings.Join(warned, ""), "secret\n") {
		t.Errorf("password files others can read: warned %q", warned)
	}
	// A huge file is a wrong name, not a password; it is refused unquoted.
	huge := writeFile(t, "huge", strings.Repeat("SECRETVALUE", 10000), 0o600)
	if _, err := o.credentials(Secret{PasswordFile: huge}, Target{}, false); err == nil || !strings.Contains(err.Error(), "longer than") || strings.Contains(err.Error(), "SECRETVALUE") {
		t.Errorf("a huge password file: %v", err)
	}
	// A pipe, as --password-file <(pass show cairn) gives, is not warned about.
	warned = nil
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	go func() { w.WriteString("piped\n"); w.Close() }()
	if c, err = o.credentials(Secret{PasswordFile: fmt.Sprintf("/dev/fd/%d", r.Fd())}, Target{}, false); err != nil || string(c.Password) != "piped" || len(warned) != 0 {
		t.Errorf("password from a pipe: %q, %v, warned %q", c.Password, err, warned)
	}
	r.Close()
	// No secret, no terminal.
	if _, err := o.credentials(Secret{}, Target{Addr: "/r"}, false); !errors.Is(err, ErrNoCredentials) {
		t.Errorf("no secret and no prompt: %v", err)
	}
	// A prompt, confirmed.
	answers := []string{"one", "two"}
	o.opts.Prompt = func(string) ([]byte, error) { a := answers[0]; answers = answers[1:]; return []byte(a), nil }
	if _, err := o.credentials(Secret{}, Target{Addr: "/r"}, true); err == nil || !strings.Contains(err.Error(), "differ") {
		t.Errorf("two different answers: %v", err)
	}
}

func TestEnsureKeyFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "conf", "cairn", "default.key")
	made, err := EnsureKeyFile(path)
	if err != nil || !made {
		t.Fatalf("first: %v, %v", made, err)
	}
	for p, want := range map[string]os.FileMode{path: 0o600, filepath.Dir(path): 0o700 | os.ModeDir} {
		if fi, err := os.Stat(p); err != nil || fi.Mode() != want {
			t.Errorf("%s: %v, %v; want %v", p, fi.Mode(), err, want)
		}
	}
	before, _ := os.ReadFile(path)
	if made, err := EnsureKeyFile(path); err != nil || made {
		t.Fatalf("second: %v, %v", made, err)
	}
	if after, _ := os.ReadFile(path); string(after) != string(before) {
		t.Fatal("an existing key file was replaced")
	}
}

// Init, Open, refusal to init twice, and several locations with one down.
func TestOpenLocalAndSeveralLocations(t *testing.T) {
	dir := t.TempDir()
	pw := writeFile(t, "pw", "secret", 0o600)
	one := filepath.Join(dir, "one")
	two := filepath.Join(dir, "two")
	var warned []string
	opts := Options{
		Locations: []Location{{Addr: one, Enabled: true}, {Addr: two, Priority: 1, Enabled: true}},
		Secret:    Secret{PasswordFile: pw}, CacheDir: filepath.Join(dir, "cache"),
		Warn: func(m string) { warned = append(warned, m) },
	}
	o := New(opts)
	r, made, err := o.Init(ctx, InitOptions{Compression: repo.NewRepositoryCompression, PackSize: repo.DefaultPackSize})
	if err != nil {
		t.Fatal(err)
	}
	if made.Addr != one || made.KeyFile != "" {
		t.Errorf("created %+v", made)
	}
	r.Close()
	if _, _, err := New(opts).Init(ctx, InitOptions{PackSize: repo.DefaultPackSize}); !errors.Is(err, repo.ErrExists) {
		t.Fatalf("second init: %v", err)
	}
	o = New(opts)
	r, err = o.Open(ctx, OpenOptions{})
	if err != nil {
		t.Fatal(err)
	}
	r.Close()
	if o.Multi() == nil || o.Unavailable() != nil {
		t.Errorf("two healthy locations: multi %v, unavailable %v", o.Multi(), o.Unavailable())
	}
	if j, err := o.Journal(); err != nil || j == nil {
		t.Errorf("journal: %v, %v", j, err)
	}

	// The second location is gone: the first carries on, with a warning.
	os.RemoveAll(two)
	o = New(opts)
	r, err = o.Open(ctx, OpenOptions{})
	if err != nil {
		t.Fatalf("open with one location gone: %v", err)
	}
	r.Close()
	if len(warned) == 0 || !strings.Contains(warned[len(warned)-1], "unavailable") {
		t.Errorf("warnings %v", warned)
	}
	opened, failed, err := o.EachLocation(ctx)
	if err != nil || len(opened) != 1 || len(failed) != 1 {
		t.Errorf("each location: %d opened, %v failed, %v", len(opened), failed, err)
	}
	for _, op := range opened {
		op.Backend.Close()
	}
	if o.Requests().List == 0 {
		t.Error("no request counted")
	}
}

// Errors about a location name it in a field, for --json.
func TestLocationErrors(t *testing.T) {
	dir := t.TempDir()
	pw := writeFile(t, "pw", "secret", 0o600)
	missing := filepath.Join(dir, "missing")
	o := New(Options{Locations: []Location{{Addr: missing, Enabled: true}}, Secret: Secret{PasswordFile: pw}, CacheDir: filepath.Join(dir, "cache")})
	_, err := o.Open(ctx, OpenOptions{})
	var le *LocationError
	if !errors.Is(err, repo.ErrNoRepository) || !errors.As(err, &le) || le.Location != missing {
		t.Errorf("missing folder: %v (%#v)", err, le)
	}
	empty := filepath.Join(dir, "empty")
	os.Mkdir(empty, 0o700)
	o = New(Options{Locations: []Location{{Addr: empty, Enabled: true}}, Secret: Secret{PasswordFile: pw}, CacheDir: filepath.Join(dir, "cache")})
	_, err = o.Open(ctx, OpenOptions{})
	if !errors.Is(err, repo.ErrNoRepository) || !errors.As(err, &le) || le.Location != empty || le.Error() != errors.Unwrap(le).Error() {
		t.Errorf("empty folder: %v (%#v)", err, le)
	}
	r, _, err := o.Init(ctx, InitOptions{PackSize: repo.DefaultPackSize})
	if err != nil {
		t.Fatal(err)
	}
	r.Close()
	wrong := writeFile(t, "wrong", "not it", 0o600)
	o = New(Options{Locations: []Location{{Addr: empty, Enabled: true}}, Secret: Secret{PasswordFile: wrong}, CacheDir: filepath.Join(dir, "cache")})
	if _, err = o.Open(ctx, OpenOptions{}); !errors.Is(err, repo.ErrWrongPassword) || !errors.As(err, &le) || le.Location != empty {
		t.Errorf("wrong password: %v (%#v)", err, le)
	}
	if _, _, err = o.Init(ctx, InitOptions{PackSize: repo.DefaultPackSize}); !errors.Is(err, repo.ErrExists) || !errors.As(err, &le) || le.Location != empty {
		t.Errorf("second init: %v (%#v)", err, le)
	}
}

// A read-only open lists and reads the snapshots while the repository
// opens: the command's first Snapshots call asks storage nothing. Other
// opens leave the listing to the command (prune lists under its lock).
func TestReadOnlyOpenReadsSnapshots(t *testing.T) {
	dir := t.TempDir()
	opts := Options{
		Locations: []Location{{Addr: filepath.Join(dir, "repo"), Enabled: true}},
		Secret:    Secret{PasswordFile: writeFile(t, "pw", "secret", 0o600)},
	}
	opts.CacheDir = filepath.Join(dir, "cache-init")
	r, _, err := New(opts).Init(ctx, InitOptions{Compression: repo.NewRepositoryCompression, PackSize: repo.DefaultPackSize})
	if err != nil {
		t.Fatal(err)
	}
	root, err := r.SaveTree(ctx, &repo.Tree{})
	if err == nil {
		_, err = r.SaveSnapshot(ctx, &repo.Snapshot{Time: time.Unix(1700000000, 0), Tree: root, Paths: []string{"/etc"}, Hostname: "h"})
	}
	if err != nil {
		t.Fatal(err)
	}
	r.Close()
	for i, readOnly := range []bool{true, false} {
		opts.CacheDir = filepath.Join(dir, fmt.Sprintf("cache-%d", i)) // empty: the snapshot must be read
		o := New(opts)
		r, err := o.Open(ctx, OpenOptions{ReadOnly: readOnly})
		if err != nil {
			t.Fatal(err)
		}
		before := o.Requests()
		snaps, err := r.Snapshots(ctx, nil)
		got := o.Requests().Sub(before)
		r.Close()
		if err != nil || len(snaps) != 1 {
			t.Fatalf("read-only %v: %d snapshots, %v", readOnly, len(snaps), err)
		}
		if readOnly && got.Requests() != 0 {
			t.Errorf("read-only open: the first Snapshots made requests: %v", got)
		}
		if !readOnly && got.List == 0 {
			t.Errorf("plain open: the first Snapshots listed nothing (%v)", got)
		}
	}
}
