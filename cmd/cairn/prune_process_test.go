package main

import (
	"bytes"
	"context"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// procRepo runs the real cairn binary against one local repository, with a
// key file (no key derivation, so runs are quick) and a shared fake clock.
type procRepo struct {
	t     *testing.T
	bin   string
	dir   string
	repo  string
	clock string
	env   []string
}

func newProcRepo(t *testing.T, initArgs ...string) *procRepo {
	t.Helper()
	return newProcRepoAt(t, "", initArgs...)
}

// newProcRepoAt is newProcRepo for a repository at addr (an S3 address,
// say); an empty addr means a local repository in the test's folder.
func newProcRepoAt(t *testing.T, addr string, initArgs ...string) *procRepo {
	t.Helper()
	dir := t.TempDir()
	if addr == "" {
		addr = filepath.Join(dir, "repo")
	}
	p := &procRepo{t: t, bin: cairnBinary(t), dir: dir, repo: addr, clock: filepath.Join(dir, "clock")}
	key := filepath.Join(dir, "key")
	if err := os.WriteFile(key, []byte(hex.EncodeToString(bytes.Repeat([]byte{7}, 32))+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	p.setClock(0)
	p.env = append(os.Environ(), "CAIRN_REPOSITORY="+p.repo, "CAIRN_KEY_FILE="+key,
		testClockEnv+"="+p.clock, testLockRefreshEnv+"=50ms", "CAIRN_PASSWORD_FILE=", "CAIRN_CONFIG=")
	if out, code := p.run("", append([]string{"init"}, initArgs...)...); code != 0 {
		t.Fatalf("init: exit %d\n%s", code, out)
	}
	return p
}

// setClock moves the shared clock to d after the real time.
func (p *procRepo) setClock(d time.Duration) {
	p.t.Helper()
	tmp := p.clock + ".tmp"
	if err := os.WriteFile(tmp, []byte(d.String()), 0o600); err != nil {
		p.t.Fatal(err)
	}
	if err := os.Rename(tmp, p.clock); err != nil {
		p.t.Fatal(err)
	}
}

// run runs cairn with its own cache folder (as another host would) and
// returns its combined output and exit code.
func (p *procRepo) run(cache string, args ...string) (string, int) {
	p.t.Helper()
	cmd := p.command(cache, args...)
	out, err := cmd.CombinedOutput()
	return string(out), exitOf(p.t, err)
}

func (p *procRepo) command(cache string, args ...string) *exec.Cmd {
	if cache == "" {
		cache = "main"
	}
	cmd := exec.Command(p.bin, append([]string{"--cache-dir", filepath.Join(p.dir, "cache-"+cache)}, args...)...)
	cmd.Env = p.env
	return cmd
}

func exitOf(t *testing.T, err error) int {
	t.Helper()
	if ee, ok := err.(*exec.ExitError); ok {
		return ee.ExitCode()
	}
	if err != nil {
		t.Fatal(err)
	}
	return 0
}

// mustRun runs cairn and fails the test unless it exits 0.
func (p *procRepo) mustRun(cache string, args ...string) string {
	p.t.Helper()
	out, code := p.run(cache, args...)
	if code != 0 {
		p.t.Fatalf("cairn %s: exit %d\n%s", strings.Join(args, " "), code, out)
	}
	return out
}

// snapshotIDs lists the snapshots in the repository.
func (p *procRepo) snapshotIDs() []string {
	p.t.Helper()
	var snaps []struct {
		ID string `json:"id"`
	}
	if err := json.Unmarshal([]byte(p.mustRun("", "snapshots", "--json")), &snaps); err != nil {
		p.t.Fatal(err)
	}
	var ids []string
	for _, s := range snaps {
		ids = append(ids, s.ID)
	}
	return ids
}

// snapshot stores dir and returns the new snapshot's id.
func (p *procRepo) snapshot(cache string, args ...string) string {
	p.t.Helper()
	id, err := p.trySnapshot(cache, args...)
	if err != nil {
		p.t.Fatal(err)
	}
	return id
}

// trySnapshot is snapshot for other goroutines than the test's: it
// returns what went wrong instead of failing the test.
func (p *procRepo) trySnapshot(cache string, args ...string) (string, error) {
	cmd := p.command(cache, append([]string{"snapshot", "--json"}, args...)...)
	b, err := cmd.CombinedOutput()
	out := string(b)
	if err != nil {
		return "", fmt.Errorf("cairn snapshot %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	for _, line := range strings.Split(out, "\n") {
		var m struct {
			Type string `json:"message_type"`
			ID   string `json:"snapshot_id"`
		}
		if json.Unmarshal([]byte(line), &m) == nil && m.Type == "summary" {
			return m.ID, nil
		}
	}
	return "", fmt.Errorf("no summary in the snapshot's output:\n%s", out)
}

// verifyRestore restores a snapshot and compares every file with want
// (relative path → content, under the source folder src).
func (p *procRepo) verifyRestore(id, src string, want map[string][]byte) {
	p.t.Helper()
	target := filepath.Join(p.dir, "restore-"+id[:12])
	os.RemoveAll(target)
	p.mustRun("", "restore", id, "--target", target)
	for rel, b := range want {
		got, err := os.ReadFile(filepath.Join(target, src, rel))
		if err != nil {
			p.t.Fatalf("snapshot %s: %v", id[:8], err)
		}
		if !bytes.Equal(got, b) {
			p.t.Fatalf("snapshot %s: %s differs after restore", id[:8], rel)
		}
	}
	os.RemoveAll(target)
}

// writeFiles writes files (relative path → content) below dir.
func writeFiles(t *testing.T, dir string, files map[string][]byte) {
	t.Helper()
	for rel, b := range files {
		p := filepath.Join(dir, rel)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

func randomBytes(seed uint64, n int) []byte {
	b := make([]byte, n)
	var s [32]byte
	for i := range 8 {
		s[i] = byte(seed >> (8 * i))
	}
	rand.NewChaCha8(s).Read(b)
	return b
}

// TestSnapshotsNeverBlockedByPrune runs two writer processes taking
// snapshots while forget --prune runs again and again, the shared fake
// clock moving 20 minutes a round (grace period 1 hour), so that packs are
// condemned, revived and deleted while the writers deduplicate against
// them. Every snapshot completes, every snapshot still in the repository
// restores byte for byte, and check --read-data passes.
func TestSnapshotsNeverBlockedByPrune(t *testing.T) {
	p := newProcRepo(t, "--pack-size", "1")
	const rounds = 6
	type written struct {
		src   string
		files map[string][]byte
	}
	var mu sync.Mutex
	snaps := map[string]written{}
	var wg sync.WaitGroup
	done := make(chan struct{})
	for w := range 2 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			host := fmt.Sprintf("w%d", w)
			for i := range rounds {
				// Shared content (deduplicated across writers), new content,
				// and content that only forgotten snapshots held (whose packs
				// prune may be condemning or deleting right now).
				files := map[string][]byte{
					"shared":  randomBytes(1000, 600<<10),
					"new":     randomBytes(uint64(100*w+i+1), 400<<10),
					"revived": randomBytes(uint64(100*w+max(i-4, 0)+1), 400<<10),
				}
				src := filepath.Join(p.dir, "src", host, fmt.Sprint(i))
				writeFiles(t, src, files)
				id, err := p.trySnapshot(host, "--host", host, src)
				if err != nil {
					t.Errorf("writer %s, snapshot %d: %v", host, i, err)
					return
				}
				mu.Lock()
				snaps[id] = written{src, files}
				mu.Unlock()
			}
		}()
	}
	go func() { wg.Wait(); close(done) }()

	var deleted, revived int
	prune := func(round int) {
		p.setClock(time.Duration(round) * 20 * time.Minute)
		out := p.mustRun("pruner", "forget", "--keep-last", "3", "--group-by", "host", "--prune", "--keep-delete", "1h", "--json")
		for _, line := range strings.Split(out, "\n") {
			var m struct {
				Result *struct {
					Deleted int `json:"deleted_packs"`
					Revived int `json:"revived_packs"`
				} `json:"result"`
			}
			if json.Unmarshal([]byte(line), &m) == nil && m.Result != nil {
				deleted += m.Result.Deleted
				revived += m.Result.Revived
			}
		}
	}
	round := 1
	for running := true; running; round++ {
		select {
		case <-done:
			running = false
		default:
		}
		prune(round)
	}
	for end := round + 6; round < end; round++ {
		prune(round)
	}
	t.Logf("%d snapshots written, %d prune rounds: %d packs deleted, %d revived", len(snaps), round-1, deleted, revived)
	if deleted == 0 {
		t.Fatal("no pack was deleted: the test did not exercise prune")
	}
	remaining := p.snapshotIDs()
	if len(remaining) != 6 {
		t.Errorf("%d snapshots remain, want 3 per writer", len(remaining))
	}
	for _, id := range remaining {
		s, ok := snaps[id]
		if !ok {
			t.Fatalf("snapshot %s was not written by a writer", id[:8])
		}
		p.verifyRestore(id, s.src, s.files)
	}
	if out := p.mustRun("", "check", "--read-data"); !strings.Contains(out, "no damage found") {
		t.Fatalf("check:\n%s", out)
	}
}

// TestPruneKilled kills prune with SIGKILL at random moments. After each
// kill, check --read-data passes, every kept snapshot restores byte for
// byte, and the next prunes finish the work.
func TestPruneKilled(t *testing.T) {
	base := newProcRepo(t, "--pack-size", "1")
	kept := map[string]map[string][]byte{}
	var forgotten []string
	src := filepath.Join(base.dir, "src")
	for i := range 16 {
		files := map[string][]byte{"common": randomBytes(7, 300<<10), fmt.Sprintf("f%d", i): randomBytes(uint64(i+10), 1500<<10)}
		os.RemoveAll(src)
		writeFiles(t, src, files)
		id := base.snapshot("", src)
		if i%2 == 0 {
			forgotten = append(forgotten, id)
		} else {
			kept[id] = files
		}
	}
	base.mustRun("", append([]string{"forget"}, forgotten...)...)
	base.mustRun("", "prune") // condemns: the killed prunes below delete, repack and condemn
	base.setClock(25 * time.Hour)
	os.RemoveAll(src)
	writeFiles(t, src, map[string][]byte{"late": randomBytes(99, 800<<10)})
	late := base.snapshot("", src)
	base.mustRun("", "forget", late)

	start := time.Now()
	probe := cloneRepo(t, base)
	probe.mustRun("", "prune")
	full := time.Since(start)
	trials := 10
	if os.Getenv("CAIRN_SOAK") != "" {
		trials = 50
	}
	rng := rand.New(rand.NewPCG(1, 2))
	killed := 0
	defer func() {
		t.Logf("a prune takes %s; %d of %d trials killed it before it finished", full.Round(time.Millisecond), killed, trials)
	}()
	for trial := range trials {
		p := cloneRepo(t, base)
		cmd := p.command("", "prune")
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		time.Sleep(time.Duration(rng.Int64N(int64(full))))
		cmd.Process.Signal(syscall.SIGKILL)
		if cmd.Wait() != nil {
			killed++
		}
		if out := p.mustRun("", "check", "--read-data"); !strings.Contains(out, "no damage found") {
			t.Fatalf("trial %d: check after the kill:\n%s", trial, out)
		}
		for id, files := range kept {
			p.verifyRestore(id, src, files)
		}
		p.mustRun("", "prune")
		p.setClock(50 * time.Hour)
		p.mustRun("", "prune")
		out := p.mustRun("", "prune", "--json")
		if !strings.Contains(out, `"condemned_packs":0`) || !strings.Contains(out, `"garbage_packs":0`) || !strings.Contains(out, `"unused_blobs":0`) {
			t.Fatalf("trial %d: work left after two more prunes:\n%s", trial, out)
		}
		if out := p.mustRun("", "check", "--read-data"); !strings.Contains(out, "no damage found") {
			t.Fatalf("trial %d: check after the next prunes:\n%s", trial, out)
		}
		for id, files := range kept {
			p.verifyRestore(id, src, files)
		}
	}
}

// cloneRepo copies a repository (and its fake clock) to a new folder.
func cloneRepo(t *testing.T, base *procRepo) *procRepo {
	t.Helper()
	p := *base
	p.dir = t.TempDir()
	p.repo = filepath.Join(p.dir, "repo")
	p.clock = filepath.Join(p.dir, "clock")
	out, err := exec.CommandContext(context.Background(), "cp", "-a", base.repo, p.repo).CombinedOutput()
	if err != nil {
		t.Fatalf("copy repository: %v: %s", err, out)
	}
	b, _ := os.ReadFile(base.clock)
	os.WriteFile(p.clock, b, 0o600)
	p.env = nil
	for _, e := range base.env {
		switch {
		case strings.HasPrefix(e, "CAIRN_REPOSITORY="):
			e = "CAIRN_REPOSITORY=" + p.repo
		case strings.HasPrefix(e, testClockEnv+"="):
			e = testClockEnv + "=" + p.clock
		}
		p.env = append(p.env, e)
	}
	return &p
}
