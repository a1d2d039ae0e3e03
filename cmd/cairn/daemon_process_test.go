package main

import (
	"bufio"
	"bytes"
	"cmp"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"io"
	mrand "math/rand/v2"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// daemonEnv is a configuration file, a key and a source folder, for runs
// of the real binary.
type daemonEnv struct {
	t   *testing.T
	bin string
	dir string
	cfg string
	env []string
}

func newDaemonEnv(t *testing.T, repoURL, jobs string) *daemonEnv {
	t.Helper()
	dir := t.TempDir()
	e := &daemonEnv{t: t, bin: cairnBinary(t), dir: dir, cfg: filepath.Join(dir, "cairn.yaml")}
	os.MkdirAll(filepath.Join(dir, "src", "etc"), 0o700)
	os.WriteFile(filepath.Join(dir, "src", "etc", "app.conf"), []byte("listen = 8080\n"), 0o600)
	os.WriteFile(filepath.Join(dir, "key"), []byte(strings.Repeat("5a", 32)+"\n"), 0o600)
	cfg := fmt.Sprintf("repository:\n  locations:\n    - url: %s\n  key_file: key\n%s\nmonitoring:\n  audit_log: audit.jsonl\n",
		repoURL, strings.ReplaceAll(jobs, "SRC", filepath.Join(dir, "src")))
	os.WriteFile(e.cfg, []byte(cfg), 0o600)
	// No HOME: the cache comes from CACHE_DIRECTORY, as systemd's
	// CacheDirectory= sets it.
	e.env = []string{"PATH=" + os.Getenv("PATH"), "CAIRN_CONFIG=" + e.cfg, "CACHE_DIRECTORY=" + filepath.Join(dir, "cache")}
	for _, k := range []string{"AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_REGION"} {
		e.env = append(e.env, k+"="+os.Getenv(k))
	}
	return e
}

func (e *daemonEnv) cairn(args ...string) (string, int) {
	e.t.Helper()
	cmd := exec.Command(e.bin, args...)
	cmd.Env, cmd.Dir = e.env, e.dir
	out, err := cmd.CombinedOutput()
	return string(out), exitOf(e.t, err)
}

func (e *daemonEnv) mustCairn(args ...string) string {
	e.t.Helper()
	out, code := e.cairn(args...)
	if code != 0 {
		e.t.Fatalf("cairn %v: exit %d\n%s", args, code, out)
	}
	return out
}

// proc is a running cairn process whose standard error is collected.
type proc struct {
	cmd  *exec.Cmd
	mu   sync.Mutex
	log  bytes.Buffer
	done chan error
}

func (e *daemonEnv) start(args ...string) *proc {
	e.t.Helper()
	p := &proc{cmd: exec.Command(e.bin, args...), done: make(chan error, 1)}
	p.cmd.Env, p.cmd.Dir = e.env, e.dir
	stderr, err := p.cmd.StderrPipe()
	if err != nil {
		e.t.Fatal(err)
	}
	p.cmd.Stdout = io.Discard
	if err := p.cmd.Start(); err != nil {
		e.t.Fatal(err)
	}
	go func() {
		sc := bufio.NewScanner(stderr)
		for sc.Scan() {
			p.mu.Lock()
			p.log.WriteString(sc.Text() + "\n")
			p.mu.Unlock()
		}
		p.done <- p.cmd.Wait()
	}()
	e.t.Cleanup(func() { p.cmd.Process.Kill() })
	return p
}

func (p *proc) stderr() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.log.String()
}

// waitFor polls until cond holds, or fails after a minute.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(time.Minute)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// exit waits for the process and returns its exit code.
func (p *proc) exit(t *testing.T) int {
	t.Helper()
	select {
	case err := <-p.done:
		return exitOf(t, err)
	case <-time.After(2 * time.Minute):
		t.Fatalf("the process did not end:\n%s", p.stderr())
	}
	return -1
}

// The daemon runs a job every second against the S3 server, serves its
// metrics, reloads on SIGHUP and stops on SIGTERM, with no HOME.
func TestDaemonAgainstS3(t *testing.T) {
	endpoint := os.Getenv("S3_ENDPOINT")
	if endpoint == "" || os.Getenv("AWS_ACCESS_KEY_ID") == "" {
		if os.Getenv("CAIRN_SKIP_S3") == "1" {
			t.Skip("!!! CAIRN_SKIP_S3=1: SKIPPING the daemon's S3 test !!!")
		}
		t.Fatal("S3_ENDPOINT or AWS_ACCESS_KEY_ID is not set: " + s3Hint)
	}
	var b [6]byte
	rand.Read(b[:])
	bucket := "cairn-daemon-" + hex.EncodeToString(b[:])
	e := newDaemonEnv(t, "s3:http://"+endpoint+"/"+bucket+"/web1", `jobs:
  - name: etc
    sources: [SRC]
    schedule: "@every 1s"
    check:
      schedule: "@every 2s"
      read_data: 50%
      drills: 1
`)
	e.mustCairn("init", "--create-bucket")
	d := e.start("daemon", "--metrics-addr", "127.0.0.1:0")
	var url string
	waitFor(t, "the metrics address", func() bool {
		m := regexp.MustCompile(`msg="serving metrics" url=(\S+)`).FindStringSubmatch(d.stderr())
		if m != nil {
			url = m[1]
		}
		return m != nil
	})
	scrape := func() string {
		resp, err := http.Get(url)
		if err != nil {
			return ""
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return string(b)
	}
	waitFor(t, "a successful backup and check in the metrics", func() bool {
		m := scrape()
		return strings.Contains(m, `cairn_backup_last_run_success{job="etc"} 1`) && strings.Contains(m, `cairn_check_last_success{job="etc"} 1`) &&
			strings.Contains(m, `cairn_drill_last_success{job="etc"} 1`)
	})
	// SIGHUP with a second job: the daemon runs it too.
	cfg, _ := os.ReadFile(e.cfg)
	os.WriteFile(e.cfg, bytes.Replace(cfg, []byte("monitoring:"), []byte("  - name: more\n    sources: ["+filepath.Join(e.dir, "src")+"]\n    schedule: \"@every 1s\"\nmonitoring:"), 1), 0o600)
	d.cmd.Process.Signal(syscall.SIGHUP)
	waitFor(t, "the reloaded job's success", func() bool { return strings.Contains(scrape(), `cairn_backup_last_run_success{job="more"} 1`) })
	d.cmd.Process.Signal(syscall.SIGTERM)
	if code := d.exit(t); code != 0 {
		t.Fatalf("the daemon exited with %d on SIGTERM:\n%s", code, d.stderr())
	}
	log := d.stderr()
	for _, want := range []string{"configuration reloaded", "daemon stopped", `task succeeded" task=etc/check`} {
		if !strings.Contains(log, want) {
			t.Errorf("the daemon's log lacks %q:\n%s", want, log)
		}
	}
	e.mustCairn("check")
	status := e.mustCairn("status")
	if !regexp.MustCompile(`(?m)^  etc\n    last run: .*: success`).MatchString(status) {
		t.Errorf("status:\n%s", status)
	}
	audit, _ := os.ReadFile(filepath.Join(e.dir, "audit.jsonl"))
	if !strings.Contains(string(audit), `"job":"more"`) || strings.Contains(string(audit), os.Getenv("AWS_SECRET_ACCESS_KEY")) {
		t.Errorf("audit log:\n%s", audit)
	}
}

// SIGTERM while a snapshot runs, in the daemon and in `cairn run`: the
// process stops, the run is in the history as interrupted, and check
// (reading all data) finds nothing wrong.
func TestSIGTERMDuringSnapshot(t *testing.T) {
	if testing.Short() {
		t.Skip("writes 48 MiB")
	}
	e := newDaemonEnv(t, "repo", `jobs:
  - name: big
    sources: [SRC]
    schedule: "@every 1s"
    limits:
      upload_rate: 4MiB/s
`)
	for i := range 3 {
		os.WriteFile(filepath.Join(e.dir, "src", fmt.Sprintf("big%d", i)), randomContent(uint64(i+40), 16<<20), 0o600)
	}
	e.mustCairn("init")
	packs := func() int {
		n := 0
		filepath.WalkDir(filepath.Join(e.dir, "repo", "data"), func(_ string, d os.DirEntry, err error) error {
			if err == nil && !d.IsDir() {
				n++
			}
			return nil
		})
		return n
	}
	for _, args := range [][]string{{"daemon"}, {"run", "big"}} {
		before := packs()
		p := e.start(args...)
		// Interrupt once the snapshot has written a pack or two: it is
		// mid-way (48 MiB at 4 MiB/s take 12 s).
		waitFor(t, "a pack written by "+args[0], func() bool { return packs() > before })
		p.cmd.Process.Signal(syscall.SIGTERM)
		code := p.exit(t)
		want := map[string]int{"daemon": 0, "run": exitTerminated}[args[0]]
		if code != want {
			t.Fatalf("%s exited with %d on SIGTERM, want %d:\n%s", args[0], code, want, p.stderr())
		}
		if out := e.mustCairn("check", "--read-data"); !strings.Contains(out, "no damage found") {
			t.Fatalf("check after SIGTERM of %s:\n%s", args[0], out)
		}
	}
	out := e.mustCairn("status", "--json")
	if !strings.Contains(out, `"outcome":"interrupted"`) {
		t.Errorf("status does not show the interrupted run:\n%s", out)
	}
	if out := e.mustCairn("snapshots", "--json"); strings.Contains(out, `"job":"big"`) {
		t.Errorf("an interrupted snapshot was saved:\n%s", out)
	}
}

// A snapshot killed (SIGKILL) or interrupted (SIGINT) at a random point
// keeps the packs it uploaded: the next run stores again at most what was
// uploaded and not yet indexed (one segment interval: 8 packs) with
// SIGKILL, and nothing already stored with SIGINT; check passes.
func TestInterruptedSnapshotKeepsItsPacks(t *testing.T) {
	if testing.Short() {
		t.Skip("writes 40 MiB a few times")
	}
	rng := mrand.New(mrand.NewPCG(uint64(time.Now().UnixNano()), 7))
	for _, sig := range []syscall.Signal{syscall.SIGKILL, syscall.SIGINT, syscall.SIGKILL} {
		e := newDaemonEnv(t, "repo", `jobs:
  - name: big
    sources: [SRC]
    limits:
      upload_rate: 8MiB/s
`)
		for i := range 4 {
			os.WriteFile(filepath.Join(e.dir, "src", fmt.Sprintf("big%d", i)), randomContent(rng.Uint64(), 10<<20), 0o600)
		}
		e.mustCairn("init", "--pack-size", "1")
		packSizes := func() []int64 {
			var sizes []int64
			filepath.WalkDir(filepath.Join(e.dir, "repo", "data"), func(_ string, d os.DirEntry, err error) error {
				if err == nil && !d.IsDir() && !strings.HasPrefix(d.Name(), ".") {
					if fi, err := d.Info(); err == nil {
						sizes = append(sizes, fi.Size())
					}
				}
				return nil
			})
			return sizes
		}
		packBytes := func() int64 {
			var n int64
			for _, s := range packSizes() {
				n += s
			}
			return n
		}
		at := int64(3+rng.IntN(25)) << 20
		p := e.start("run", "big")
		waitFor(t, "packs stored", func() bool { return packBytes() >= at })
		p.cmd.Process.Signal(sig)
		p.exit(t)
		stored := packBytes()
		// With SIGKILL, the packs since the last segment are not indexed:
		// at most a segment's 8 packs, and the two whose uploads ended
		// while it was written. Packs hold at least one chunk (up to 8 MiB),
		// so that is counted in the largest packs stored.
		sizes := packSizes()
		slices.SortFunc(sizes, func(a, b int64) int { return cmp.Compare(b, a) })
		var unindexed int64
		for _, s := range sizes[:min(10, len(sizes))] {
			unindexed += s
		}
		out := e.mustCairn("--json", "run", "big")
		var added int64
		if m := regexp.MustCompile(`"bytes_added_stored":(\d+)`).FindStringSubmatch(out); m != nil {
			fmt.Sscan(m[1], &added)
		} else {
			t.Fatalf("no summary in %s", out)
		}
		total := int64(40 << 20)
		slack := int64(1 << 20) // headers, trees
		if sig == syscall.SIGKILL {
			slack += unindexed
		}
		if added > total-stored+slack {
			t.Errorf("%v after %d MiB stored: the next run stored %d MiB again, want at most %d MiB", sig, stored>>20, added>>20, (total-stored+slack)>>20)
		}
		t.Logf("%v at %.1f MiB stored: the next run stored %.1f MiB of %d MiB", sig, float64(stored)/(1<<20), float64(added)/(1<<20), total>>20)
		if out := e.mustCairn("check", "--read-data"); !strings.Contains(out, "no damage found") {
			t.Errorf("check after %v:\n%s", sig, out)
		}
	}
}
