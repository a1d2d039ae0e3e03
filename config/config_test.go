package config_test

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/cairnbackup/cairn/config"
)

func TestLoadFull(t *testing.T) {
	dir := t.TempDir()
	data, err := os.ReadFile("testdata/full.yaml")
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, "cairn.yaml")
	os.WriteFile(path, data, 0o600)
	c, err := config.Load(path)
	if err != nil {
		t.Fatal(err)
	}
	if len(c.Warnings) != 0 {
		t.Errorf("warnings for a 0600 file: %v", c.Warnings)
	}
	r := c.Repository
	if len(r.Locations) != 2 || r.MinCopies != 1 || r.MaxCopies != 2 || !r.Locations[1].IsEnabled() {
		t.Fatalf("repository %+v", r)
	}
	s := r.Locations[1].S3
	if s == nil || s.Region != "eu-west-1" || !*s.PathStyle || s.CAFile != filepath.Join(dir, "ca.pem") {
		t.Errorf("s3 options %#v", s)
	}
	if r.PasswordFile != filepath.Join(dir, "password") {
		t.Errorf("password file %q not made relative to the config's folder", r.PasswordFile)
	}
	j, err := c.Job("etc")
	if err != nil || !j.ExcludeCaches || !j.OneFileSystem || len(j.Tags) != 2 || j.Sources[0] != "/etc" {
		t.Errorf("job etc: %+v, %v", j, err)
	}
	logs, _ := c.Job("logs")
	if rt := logs.Retention; rt == nil || rt.KeepWithin != "90d" || rt.KeepDaily != 7 || rt.KeepMonthly != -1 ||
		len(rt.KeepTags) != 2 || rt.GroupBy == nil || *rt.GroupBy != "host" || !rt.Prune {
		t.Errorf("job logs' retention %+v", logs.Retention)
	}
	if _, err := c.Job("nope"); err == nil || !strings.Contains(err.Error(), "etc, logs") {
		t.Errorf("unknown job: %v", err)
	}
	for _, out := range []string{fmt.Sprint(*s), fmt.Sprintf("%v", s), fmt.Sprintf("%#v", *s), fmt.Sprintf("%+v", *s)} {
		if strings.Contains(out, "very-secret-key") || strings.Contains(out, "AKIAEXAMPLE") {
			t.Errorf("printing S3 options shows a secret: %s", out)
		}
	}
}

func TestLoadWarnsAboutReadableFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "cairn.yaml")
	os.WriteFile(path, []byte("jobs: []\n"), 0o644)
	c, err := config.Load(path)
	if err != nil {
		t.Fatal(err)
	}
	if len(c.Warnings) != 1 || !strings.Contains(c.Warnings[0], "chmod 600") {
		t.Errorf("warnings %v", c.Warnings)
	}
}

func TestParseErrors(t *testing.T) {
	for _, c := range []struct{ yaml, want string }{
		{"repository:\n  locations:\n    - url: /a\n      colour: red\n", `x.yaml:4:7: unknown field "colour"`},
		{"repository:\n  min_copies: two\n", "x.yaml:2:15: cannot unmarshal string"},
		{"jobs: [\n", "x.yaml:1:"},
		{"repository:\n  locations:\n    - url: /a\n    - url: /a\n", `x.yaml:4: location "/a" is listed twice`},
		{"repository:\n  locations:\n    - url: /a\n  min_copies: 2\n", "x.yaml:4: min_copies 2 is more than the 1 enabled location(s)"},
		{"repository:\n  locations:\n    - url: /a\n    - url: /b\n  max_copies: 3\n", "x.yaml:5: max_copies 3"},
		{"repository:\n  min_copies: 3\n  max_copies: 2\n", "min_copies 3 is more than max_copies 2"},
		{"repository:\n  locations:\n    - url: /a\n      enabled: false\n", "every location is disabled"},
		{"repository:\n  locations:\n    - url: /a\n      s3:\n        region: x\n", "x.yaml:5: s3 options on location \"/a\""},
		{"repository:\n  locations:\n    - url: s3:http://h/b\n      s3:\n        access_key_id: k\n", "access_key_id and secret_access_key go together"},
		{"repository:\n  locations:\n    - priority: 1\n", "x.yaml:3: location has no url"},
		{"repository:\n  password_file: a\n  key_file: b\n", "only one of password_file"},
		{"jobs:\n  - name: a b\n    sources: [/x]\n", `x.yaml:2: job name "a b"`},
		{"jobs:\n  - name: a\n    sources: [/x]\n  - name: a\n    sources: [/y]\n", `x.yaml:4: job "a" is defined twice`},
		{"jobs:\n  - name: a\n", `job "a" has no sources`},
		{"jobs:\n  - name: a\n    sources: [/x, rel]\n", `source "rel" must be an absolute path`},
		{"jobs:\n  - name: a\n    sources: [/x]\n    retention:\n      keep_daily: -2\n", `x.yaml:5: job "a": keep_daily -2`},
		{"jobs:\n  - name: a\n    sources: [/x]\n    retention:\n      keep_within: 90 days\n", `x.yaml:5: job "a": keep_within "90 days"`},
		{"jobs:\n  - name: a\n    sources: [/x]\n    retention:\n      keep_daily: 7\n      group_by: host,disk\n", `x.yaml:6: job "a": group_by "host,disk"`},
		{"jobs:\n  - name: a\n    sources: [/x]\n    retention:\n      prune: true\n", `x.yaml:5: job "a": retention names no rule`},
		{"jobs:\n  - name: a\n    sources: [/x]\n    retention:\n      keep_dayly: 7\n", `x.yaml:5:7: unknown field "keep_dayly"`},
	} {
		_, err := config.Parse("x.yaml", []byte(c.yaml))
		if err == nil || !errors.Is(err, config.ErrInvalid) || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%q:\n got %v\nwant …%s…", c.yaml, err, c.want)
		}
	}
}

func TestErrorsDoNotQuoteTheFile(t *testing.T) {
	_, err := config.Parse("x.yaml", []byte("repository:\n  locations:\n    - url: s3:http://h/b\n      s3:\n        secret_access_key: hunter2hunter2\n        bogus: 1\n"))
	if err == nil || strings.Contains(err.Error(), "hunter2") {
		t.Errorf("error %v", err)
	}
}

func TestMarshalRoundTrip(t *testing.T) {
	data, _ := os.ReadFile("testdata/full.yaml")
	c, err := config.Parse("full.yaml", data)
	if err != nil {
		t.Fatal(err)
	}
	out, err := config.Marshal(c)
	if err != nil {
		t.Fatal(err)
	}
	c2, err := config.Parse("again.yaml", out)
	if err != nil {
		t.Fatalf("re-parse:\n%s\n%v", out, err)
	}
	out2, _ := config.Marshal(c2)
	if string(out) != string(out2) {
		t.Errorf("encode → parse → encode differs:\n%s\n---\n%s", out, out2)
	}
}

// FuzzParse: a configuration is bytes from disk; Parse must never panic,
// and whatever it accepts must encode to a file it accepts again, the same.
func FuzzParse(f *testing.F) {
	full, _ := os.ReadFile("testdata/full.yaml")
	f.Add(full)
	f.Add([]byte("jobs: []\n"))
	f.Add([]byte("repository:\n  locations:\n    - url: /a\n  min_copies: 1\n"))
	f.Add([]byte("a: &x [*x]\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		c, err := config.Parse("fuzz.yaml", data)
		if err != nil {
			if !errors.Is(err, config.ErrInvalid) {
				t.Fatalf("error not marked ErrInvalid: %v", err)
			}
			return
		}
		out, err := config.Marshal(c)
		if err != nil {
			t.Fatalf("marshal accepted config: %v", err)
		}
		c2, err := config.Parse("again.yaml", out)
		if err != nil {
			t.Fatalf("re-parse of %q (from %q): %v", out, data, err)
		}
		out2, err := config.Marshal(c2)
		if err != nil || string(out2) != string(out) {
			t.Fatalf("not stable:\n%s\n---\n%s", out, out2)
		}
	})
}
