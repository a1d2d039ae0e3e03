package config_test

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

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
	if logs.Compression != "max" || len(logs.ExcludeIfPresent) != 2 || logs.ExcludeLargerThanBytes() != 100<<20 || !logs.SkipIfUnchanged {
		t.Errorf("job logs' snapshot keys: compression %q, exclude_if_present %q, exclude_larger_than %d, skip_if_unchanged %v",
			logs.Compression, logs.ExcludeIfPresent, logs.ExcludeLargerThanBytes(), logs.SkipIfUnchanged)
	}
	if j.Compression != "" || j.ExcludeLargerThanBytes() != 0 || j.SkipIfUnchanged {
		t.Errorf("job etc's snapshot defaults: %+v", j)
	}
	if logs.Schedule != "30 2 * * *" || !logs.CatchUp || logs.RandomDelayDuration() != 10*time.Minute {
		t.Errorf("job logs' schedule %q, catch_up %v, random_delay %v", logs.Schedule, logs.CatchUp, logs.RandomDelayDuration())
	}
	if ch := logs.Check; ch == nil || ch.Schedule != "@weekly" || ch.ReadData != "10%" || ch.Drills != 2 || !ch.AllLocations {
		t.Errorf("job logs' check %+v", logs.Check)
	}
	if h := logs.Hooks; h == nil || h.Before == "" || h.After != "echo done" || h.OnFailure == "" || h.TimeoutDuration() != 5*time.Minute {
		t.Errorf("job logs' hooks %+v", logs.Hooks)
	}
	if class, level := logs.Limits.IOClass(); logs.Limits.UploadBytesPerSecond() != 10<<20 || logs.Limits.CPUs != 1 || class != "best-effort" || level != 6 || logs.Limits.Nice != 10 {
		t.Errorf("job logs' limits %+v", logs.Limits)
	}
	if j.Hooks.TimeoutDuration() != config.DefaultHookTimeout || j.Limits.UploadBytesPerSecond() != 0 {
		t.Errorf("job etc's defaults: hook timeout %v, upload rate %d", j.Hooks.TimeoutDuration(), j.Limits.UploadBytesPerSecond())
	}
	if attempts, base, maxDelay := c.Daemon.Retry.Values(); c.Daemon.Concurrency != 2 || attempts != 4 || base != 30*time.Second || maxDelay != 20*time.Minute || c.Daemon.MetricsAddr != "127.0.0.1:9750" {
		t.Errorf("daemon %+v, retry %d %v %v", c.Daemon, attempts, base, maxDelay)
	}
	if m := c.Monitoring; m.AuditLog != filepath.Join(dir, "audit.jsonl") || m.MetricsFile != "/var/lib/node_exporter/cairn.prom" {
		t.Errorf("monitoring %+v", m)
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
		{"repository:\n  min_copies: two\n", `x.yaml:2: repository.min_copies: want a whole number, got "two"`},
		{"jobs:\n  - name: a\n    sources: [/x]\n    exclude_caches: yes\n", `x.yaml:4: jobs[0].exclude_caches: want true or false, got "yes"`},
		{"jobs:\n  - name: a\n    sources: [/x]\n  - name: b\n    sources: /y\n", `x.yaml:5: jobs[1].sources: want a list (one "- item" line per item, or [a, b]), got a single text value`},
		{"jobs:\n  - name: a\n    sources: [/x]\n    retention:\n      keep_daily: [7]\n", `x.yaml:5: jobs[0].retention.keep_daily: want a whole number, got a list`},
		{"repository:\n  locations:\n    - url: /a\n      enabled: maybe\n", `x.yaml:4: repository.locations[0].enabled: want true or false, got "maybe"`},
		{"repository:\n  locations:\n    - url: /a\n      s3: fast\n", `x.yaml:4: repository.locations[0].s3: want a block of settings (key: value lines), got a single text value`},
		{"daemon:\n  concurrency: 99999999999999999999\n", `x.yaml:2: daemon.concurrency: want a smaller number`},
		{"jobs: 3\n", `x.yaml:1: jobs: want a list`},
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
		{"jobs:\n  - name: a\n    sources: [/x]\n    schedule: \"61 * * * *\"\n", `x.yaml:4: job "a": schedule "61 * * * *"`},
		{"jobs:\n  - name: a\n    sources: [/x]\n    schedule: \"@every 10ms\"\n", `x.yaml:4: job "a": schedule "@every 10ms": @every needs whole seconds`},
		{"jobs:\n  - name: a\n    sources: [/x]\n    schedule: \"CRON_TZ=UTC 0 2 * * *\"\n", `x.yaml:4: job "a": schedule "CRON_TZ=UTC 0 2 * * *": time zones`},
		{"jobs:\n  - name: a\n    sources: [/x]\n    catch_up: true\n", `x.yaml:4: job "a": catch_up needs a schedule`},
		{"jobs:\n  - name: a\n    sources: [/x]\n    random_delay: soon\n", `x.yaml:4: job "a": random_delay "soon"`},
		{"jobs:\n  - name: a\n    sources: [/x]\n    check:\n      read_data: 10%\n", `x.yaml:5: job "a": check schedule ""`},
		{"jobs:\n  - name: a\n    sources: [/x]\n    check:\n      schedule: \"@daily\"\n      read_data: 8/7\n", `x.yaml:6: job "a": read_data "8/7": part 8 of 7`},
		{"jobs:\n  - name: a\n    sources: [/x]\n    check:\n      schedule: \"@daily\"\n      read_data: 120%\n", `x.yaml:6: job "a": read_data "120%"`},
		{"jobs:\n  - name: a\n    sources: [/x]\n    check:\n      schedule: \"@daily\"\n      read_data: some\n", `x.yaml:6: job "a": read_data "some"`},
		{"jobs:\n  - name: a\n    sources: [/x]\n    check:\n      schedule: \"@daily\"\n      drills: -1\n", `x.yaml:6: job "a": drills -1`},
		{"jobs:\n  - name: a\n    sources: [/x]\n    hooks:\n      before: x\n      timeout: 5\n", `x.yaml:6: job "a": hook timeout "5"`},
		{"jobs:\n  - name: a\n    sources: [/x]\n    hooks:\n      timeout: 5m\n", `x.yaml:5: job "a": the hooks block names no command`},
		{"jobs:\n  - name: a\n    sources: [/x]\n    limits:\n      upload_rate: 10 MB\n", `x.yaml:5: job "a": rate "10 MB"`},
		{"jobs:\n  - name: a\n    sources: [/x]\n    limits:\n      upload_rate: 100B/s\n", `below 1 KiB/s`},
		{"jobs:\n  - name: a\n    sources: [/x]\n    limits:\n      io_nice: best-effort:8\n", `x.yaml:5: job "a": io_nice "best-effort:8"`},
		{"jobs:\n  - name: a\n    sources: [/x]\n    limits:\n      io_nice: realtime\n", `io_nice "realtime"`},
		{"jobs:\n  - name: a\n    sources: [/x]\n    limits:\n      nice: 20\n", `x.yaml:5: job "a": nice 20`},
		{"jobs:\n  - name: a\n    sources: [/x]\n    limits:\n      cpus: -1\n", `x.yaml:5: job "a": cpus -1`},
		{"jobs:\n  - name: a\n    sources: [/x]\n    compression: zip\n", `x.yaml:4: job "a": compression "zip": use one of auto, off, fastest, default, better, max`},
		{"jobs:\n  - name: a\n    sources: [/x]\n    exclude_if_present: [ok, a/b]\n", `x.yaml:4: job "a": exclude_if_present "a/b": give a file name`},
		{"jobs:\n  - name: a\n    sources: [/x]\n    exclude_if_present: [\"\"]\n", `x.yaml:4: job "a": exclude_if_present ""`},
		{"jobs:\n  - name: a\n    sources: [/x]\n    exclude_larger_than: big\n", `x.yaml:4: job "a": exclude_larger_than: size "big"`},
		{"jobs:\n  - name: a\n    sources: [/x]\n    exclude_larger_than: 0\n", `x.yaml:4: job "a": exclude_larger_than "0" would leave out every file`},
		{"jobs:\n  - name: a\n    sources: [/x]\n    skip_if_unchanged: maybe\n", `x.yaml:4`},
		{"daemon:\n  concurrency: -1\n", `x.yaml:2: concurrency -1`},
		{"jobs:\n  - name: a\n    sources: [/x]\n    repository:\n      min_copies: 1\n", `x.yaml:5: job "a": its repository block names no location`},
		{"jobs:\n  - name: a\n    sources: [/x]\n    repository:\n      locations:\n        - url: /r\n      min_copies: 2\n", `x.yaml:7: min_copies 2 is more than the 1 enabled location(s)`},
		{"daemon:\n  retry:\n    base_delay: 1x\n", `x.yaml:3: base_delay "1x"`},
		{"daemon:\n  metrics_addr: localhost\n", `x.yaml:2: metrics_addr "localhost"`},
	} {
		_, err := config.Parse("x.yaml", []byte(c.yaml))
		if err == nil || !errors.Is(err, config.ErrInvalid) || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%q:\n got %v\nwant …%s…", c.yaml, err, c.want)
		}
	}
}

func TestParseRate(t *testing.T) {
	for in, want := range map[string]int64{"10MiB/s": 10 << 20, "500KB/s": 500e3, "8Mbit/s": 1e6, "1.5 GiB/s": 3 << 29, "2048B/s": 2048, "80kbit/s": 10e3} {
		if got, err := config.ParseRate(in); err != nil || got != want {
			t.Errorf("ParseRate(%q) = %d, %v; want %d", in, got, err, want)
		}
	}
	for _, in := range []string{"", "10", "10MiB", "-1MiB/s", "10XB/s", "1KB/s"} {
		if _, err := config.ParseRate(in); err == nil {
			t.Errorf("ParseRate(%q) accepted", in)
		}
	}
}

func TestSchedules(t *testing.T) {
	at := time.Date(2026, 12, 7, 10, 17, 0, 0, time.Local)
	for spec, want := range map[string]time.Time{
		"@daily":         time.Date(2026, 12, 8, 0, 0, 0, 0, time.Local),
		"@hourly":        time.Date(2026, 12, 7, 11, 0, 0, 0, time.Local),
		"30 2 * * *":     time.Date(2026, 12, 8, 2, 30, 0, 0, time.Local),
		"*/15 * * * *":   time.Date(2026, 12, 7, 10, 30, 0, 0, time.Local),
		"0 4 * * sun":    time.Date(2026, 12, 13, 4, 0, 0, 0, time.Local),
		"0 0 1 * *":      time.Date(2027, 1, 1, 0, 0, 0, 0, time.Local),
		"@every 30m":     at.Add(30 * time.Minute),
		"0 9-17 * * 1-5": time.Date(2026, 12, 7, 11, 0, 0, 0, time.Local),
	} {
		s, err := config.ParseSchedule(spec)
		if err != nil {
			t.Errorf("%s: %v", spec, err)
			continue
		}
		if got := s.Next(at); !got.Equal(want) {
			t.Errorf("%s: next after %v is %v, want %v", spec, at, got, want)
		}
	}
}

func TestErrorsDoNotQuoteTheFile(t *testing.T) {
	for _, in := range []string{
		"repository:\n  locations:\n    - url: s3:http://h/b\n      s3:\n        secret_access_key: hunter2hunter2\n        bogus: 1\n",
		// Type errors quote only values of boolean and number fields.
		"repository:\n  locations:\n    - url: s3:http://h/b\n      s3:\n        secret_access_key: [hunter2hunter2]\n",
		"repository:\n  locations:\n    - url: s3:http://h/b\n      s3: hunter2hunter2\n",
		"repository:\n  password_command: [hunter2hunter2]\n",
	} {
		_, err := config.Parse("x.yaml", []byte(in))
		if err == nil || strings.Contains(err.Error(), "hunter2") {
			t.Errorf("%q: error %v", in, err)
		}
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

func TestJobRepository(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "cairn.yaml")
	os.WriteFile(path, []byte("repository:\n  locations:\n    - url: main\njobs:\n  - name: a\n    sources: [/x]\n  - name: b\n    sources: [/y]\n    repository:\n      locations:\n        - url: other\n      key_file: b.key\n"), 0o600)
	c, err := config.Load(path)
	if err != nil {
		t.Fatal(err)
	}
	a, _ := c.Job("a")
	b, _ := c.Job("b")
	if r := c.RepositoryOf(a); r.Locations[0].URL != filepath.Join(dir, "main") {
		t.Errorf("job a's repository %+v", r)
	}
	if r := c.RepositoryOf(b); r.Locations[0].URL != filepath.Join(dir, "other") || r.KeyFile != filepath.Join(dir, "b.key") {
		t.Errorf("job b's repository %+v", r)
	}
}

func TestDefaultPath(t *testing.T) {
	env := func(m map[string]string) func(string) string { return func(k string) string { return m[k] } }
	for _, c := range []struct {
		env  map[string]string
		euid int
		want string
	}{
		{map[string]string{"HOME": "/root"}, 0, "/etc/cairn/cairn.yaml"},
		{nil, 0, "/etc/cairn/cairn.yaml"},
		{map[string]string{"HOME": "/home/a"}, 1000, "/home/a/.config/cairn/cairn.yaml"},
		{map[string]string{"HOME": "/home/a", "XDG_CONFIG_HOME": "/x"}, 1000, "/x/cairn/cairn.yaml"},
		{nil, 1000, ""},
	} {
		if got := config.DefaultPath(env(c.env), c.euid); got != c.want {
			t.Errorf("%v, euid %d: %q, want %q", c.env, c.euid, got, c.want)
		}
	}
}
