package main

import (
	"bytes"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/cairnbackup/cairn/crypto"
)

// secretRun is one session of the real binary whose every output is kept
// for the search for secrets.
type secretRun struct {
	t       *testing.T
	bin     string
	dir     string
	env     []string
	outputs map[string][]byte // what each command printed, by a label
}

func (s *secretRun) run(wantCode int, env []string, args ...string) string {
	s.t.Helper()
	cmd := exec.Command(s.bin, args...)
	cmd.Env = append(append([]string{}, s.env...), env...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	code := exitOf(s.t, cmd.Run())
	label := strings.Join(args, " ")
	s.outputs[label+" (stdout)"] = stdout.Bytes()
	s.outputs[label+" (stderr)"] = stderr.Bytes()
	if code != wantCode {
		s.t.Fatalf("cairn %s: exit %d, want %d\n%s%s", label, code, wantCode, stdout.Bytes(), stderr.Bytes())
	}
	return stdout.String() + stderr.String()
}

// masterKeyNeedles opens the repository's key files with the password and
// returns the master key's secret parts in every spelling a leak could
// take: hex (both cases) and base64 (standard, URL, with and without
// padding), of the whole encoding and of each key.
func masterKeyNeedles(t *testing.T, keysDir string, password []byte) map[string]string {
	t.Helper()
	entries, err := os.ReadDir(keysDir)
	if err != nil || len(entries) == 0 {
		t.Fatalf("key files in %s: %v", keysDir, err)
	}
	var kf struct {
		Params *crypto.KDFParams `json:"params"`
		Salt   []byte            `json:"salt"`
		Sealed []byte            `json:"data"`
	}
	b, err := os.ReadFile(filepath.Join(keysDir, entries[0].Name()))
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, &kf); err != nil || kf.Params == nil {
		t.Fatalf("key file: %v", err)
	}
	kek, err := crypto.DeriveKey(password, kf.Salt, *kf.Params)
	if err != nil {
		t.Fatal(err)
	}
	mk, err := kek.Open(nil, kf.Sealed, []byte("cairn key v1"))
	if err != nil {
		t.Fatalf("open the master key with the password: %v", err)
	}
	needles := map[string]string{}
	for name, part := range map[string][]byte{"master key": mk, "data key": mk[:crypto.KeySize], "id key": mk[crypto.KeySize : 2*crypto.KeySize]} {
		needles[name+" (hex)"] = hex.EncodeToString(part)
		needles[name+" (HEX)"] = strings.ToUpper(hex.EncodeToString(part))
		needles[name+" (base64)"] = base64.RawStdEncoding.EncodeToString(part)
		needles[name+" (base64url)"] = base64.RawURLEncoding.EncodeToString(part)
	}
	return needles
}

// TestSecretsNeverLeak runs a full session through the real binary, with
// a password, a key file and an S3 secret, verbose, in text and JSON, with
// an audit log; then searches everything it printed and every file it
// wrote outside the repositories (cache, configuration, data folders,
// audit log) for the secrets, and checks the modes of those files.
func TestSecretsNeverLeak(t *testing.T) {
	s3Env().require(t)
	dir := t.TempDir()
	home := filepath.Join(dir, "home")
	password := "correct-horse-battery-staple-4711"
	newPassword := "second-secret-passphrase-0815"
	s3Secret := os.Getenv("S3_SECRET_KEY")
	wrongSecret := "wrong-s3-secret-never-printed-42"
	pwFile, newPwFile, wrongPwFile := filepath.Join(dir, "pw"), filepath.Join(dir, "newpw"), filepath.Join(dir, "wrongpw")
	for f, v := range map[string]string{pwFile: password, newPwFile: newPassword, wrongPwFile: "not-the-password-either"} {
		if err := os.WriteFile(f, []byte(v+"\n"), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	audit := filepath.Join(home, "log", "audit.jsonl")
	cfgFile := filepath.Join(dir, "cairn.yaml")
	if err := os.WriteFile(cfgFile, []byte("monitoring:\n  audit_log: "+audit+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	src := filepath.Join(dir, "src")
	writeFiles(t, src, map[string][]byte{"etc/app.yaml": []byte("setting: 1\n"), "data/blob": randomBytes(1, 300<<10)})

	s := &secretRun{t: t, bin: cairnBinary(t), dir: dir, outputs: map[string][]byte{}}
	for _, e := range os.Environ() {
		if !strings.HasPrefix(e, "CAIRN_") && !strings.HasPrefix(e, "AWS_") && !strings.HasPrefix(e, "HOME=") && !strings.HasPrefix(e, "XDG_") {
			s.env = append(s.env, e)
		}
	}
	s.env = append(s.env, "HOME="+home, "XDG_DATA_HOME="+filepath.Join(home, "data"),
		"XDG_CONFIG_HOME="+filepath.Join(home, "config"), "XDG_CACHE_HOME="+filepath.Join(home, "cache"),
		"CAIRN_CONFIG="+cfgFile)

	// A local repository with a password.
	local := filepath.Join(dir, "repo")
	pw := []string{"CAIRN_REPOSITORY=" + local, "CAIRN_PASSWORD_FILE=" + pwFile}
	s.run(0, pw, "-v", "init")
	session := func(env []string, target string) {
		s.run(0, env, "-v", "snapshot", src)
		s.run(0, env, "-v", "--json", "snapshot", src)
		s.run(0, env, "-v", "--debug", "snapshots")
		s.run(0, env, "--json", "snapshots")
		s.run(0, env, "-v", "ls", "-l", "latest")
		s.run(0, env, "--json", "ls", "latest")
		s.run(0, env, "-v", "restore", "latest", "--target", target, "--verify")
		s.run(0, env, "--json", "restore", "latest", "--target", target+"-json")
		s.run(0, env, "-v", "--debug", "check", "--read-data")
		s.run(0, env, "--json", "check", "--read-data")
		s.run(0, env, "-v", "forget", "--keep-last", "1", "--prune")
		s.run(0, env, "--json", "forget", "--keep-last", "1", "--prune")
		s.run(0, env, "-v", "--debug", "stats")
	}
	session(pw, filepath.Join(dir, "restored"))
	s.run(0, pw, "-v", "key", "list")
	s.run(0, pw, "-v", "key", "passwd", "--new-password-file", newPwFile)
	newPw := []string{"CAIRN_REPOSITORY=" + local, "CAIRN_PASSWORD_FILE=" + newPwFile}
	s.run(0, newPw, "-v", "check")
	s.run(12, pw, "-v", "--debug", "snapshots")
	s.run(12, []string{"CAIRN_REPOSITORY=" + local, "CAIRN_PASSWORD_FILE=" + wrongPwFile}, "--json", "snapshots")
	s.run(12, []string{"CAIRN_REPOSITORY=" + local, "CAIRN_PASSWORD_COMMAND=echo " + "not-it"}, "-v", "check")

	// The same on S3, with the secret key in the environment.
	bucket := "cairn-secrets-" + hex.EncodeToString(crypto.RandomBytes(4))
	s3 := []string{"CAIRN_REPOSITORY=s3:http://" + os.Getenv("S3_ENDPOINT") + "/" + bucket + "/r", "CAIRN_PASSWORD_FILE=" + pwFile,
		"AWS_ACCESS_KEY_ID=" + os.Getenv("S3_ACCESS_KEY"), "AWS_SECRET_ACCESS_KEY=" + s3Secret, "AWS_REGION=us-east-1"}
	s.run(0, s3, "-v", "init", "--create-bucket")
	session(s3, filepath.Join(dir, "restored-s3"))
	bad := append(append([]string{}, s3[:2]...), "AWS_ACCESS_KEY_ID="+os.Getenv("S3_ACCESS_KEY"), "AWS_SECRET_ACCESS_KEY="+wrongSecret, "AWS_REGION=us-east-1")
	if out := s.run(1, bad, "-v", "--debug", "snapshots"); !strings.Contains(strings.ToLower(out), "denied") && !strings.Contains(out, "signature") {
		t.Logf("wrong S3 secret said: %s", out)
	}

	// The default repository: a generated key file in the config folder.
	s.run(0, nil, "-v", "init")
	s.run(0, nil, "-v", "snapshot", src)
	s.run(0, nil, "-v", "check", "--read-data")
	keyFiles, _ := filepath.Glob(filepath.Join(home, "config", "cairn", "*key*"))
	if len(keyFiles) != 1 {
		t.Fatalf("default key file: %v", keyFiles)
	}
	keyText, err := os.ReadFile(keyFiles[0])
	if err != nil {
		t.Fatal(err)
	}

	needles := masterKeyNeedles(t, filepath.Join(local, "keys"), []byte(newPassword))
	needles["password"] = password
	needles["new password"] = newPassword
	needles["S3 secret key"] = s3Secret
	needles["wrong S3 secret key"] = wrongSecret
	needles["default repository's key"] = strings.TrimSpace(string(keyText))

	// Everything written outside the repositories and the restores: the
	// key file is the one place its own key may be.
	files := map[string][]byte{}
	filepath.WalkDir(home, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			t.Errorf("walk %s: %v", p, err)
			return nil
		}
		info, _ := d.Info()
		if d.IsDir() {
			if info.Mode().Perm()&0o077 != 0 && !isDefaultRepo(home, p) {
				t.Errorf("folder %s has mode %v, want 0700", p, info.Mode().Perm())
			}
			return nil
		}
		if info.Mode().Perm()&0o077 != 0 {
			t.Errorf("file %s has mode %v, want 0600", p, info.Mode().Perm())
		}
		if p != keyFiles[0] && !isDefaultRepo(home, p) {
			b, _ := os.ReadFile(p)
			files[p] = b
		}
		return nil
	})
	for p := range files {
		t.Logf("file %s", p)
	}
	if len(files) < 4 {
		t.Fatalf("only %d files found in the cache, configuration and data folders", len(files))
	}
	if _, ok := files[audit]; !ok {
		t.Errorf("no audit log at %s", audit)
	}
	for name, b := range s.outputs {
		files["output of cairn "+name] = b
	}
	leaks := 0
	for where, b := range files {
		for what, needle := range needles {
			if len(needle) < 16 {
				t.Fatalf("needle %s is too short to search for: %q", what, needle)
			}
			if bytes.Contains(b, []byte(needle)) {
				leaks++
				t.Errorf("the %s appears in %s", what, where)
			}
		}
	}
	t.Logf("searched %d outputs and files for %d secrets: %d leaks", len(files), len(needles), leaks)
}

// isDefaultRepo reports whether p lies in the default repository in the
// data folder, whose objects are not secrets (they are sealed) and whose
// modes are the local backend's.
func isDefaultRepo(home, p string) bool {
	return strings.HasPrefix(p, filepath.Join(home, "data", "cairn")+string(filepath.Separator)) || p == filepath.Join(home, "data", "cairn")
}
