package main

import (
	"bytes"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io/fs"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// The crash harness runs each writing command as a real process of the
// real binary and kills it with SIGKILL, at a chosen backend call (the
// CAIRN_TEST_KILL_AT_CALL hook) and at random moments. After every kill:
// check --read-data passes on every repository involved (garbage packs are
// allowed: check reports them as such), every snapshot there restores byte
// for byte, the next run of the same command succeeds, and check passes
// again. After a killed key passwd the old key or the new one opens the
// repository. CAIRN_SOAK=1 selects the long form; CAIRN_CRASH_SEED seeds
// the random moments.

// crashCase is one writing command in the harness.
type crashCase struct {
	name string
	// setup builds, in w, the state the command starts from.
	setup func(w *crashWorld)
	// args are the command's arguments; {dst} stands for the trial's
	// destination repository.
	args []string
	// damaged names snapshots that cannot restore before the command runs
	// (repair snapshots is there to deal with them).
	damaged map[string]bool
}

// crashWorld is a folder holding the repository, maybe a destination
// repository, two key files and the sources, with what each source held.
type crashWorld struct {
	*procRepo
	dst    string
	key    string
	newKey string
	// sources maps a snapshot's path to its files (relative path → bytes).
	sources map[string]map[string][]byte
	damaged map[string]bool
	// restored holds the snapshots (by repository and id) this trial
	// restored already: immutable, they are not restored again (check
	// after the next run still proves their data is there).
	restored map[string]bool
}

// crashStats are the totals of one command's trials.
type crashStats struct {
	atCall, random, verified int
}

func newCrashWorld(t *testing.T) *crashWorld {
	p := newProcRepo(t, "--pack-size", "1")
	w := &crashWorld{procRepo: p, dst: filepath.Join(p.dir, "dst"), key: filepath.Join(p.dir, "key"),
		newKey: filepath.Join(p.dir, "key2"), sources: map[string]map[string][]byte{}, damaged: map[string]bool{}}
	if err := os.WriteFile(w.newKey, []byte(hex.EncodeToString(bytes.Repeat([]byte{9}, 32))+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	return w
}

// addSnapshot writes source i (some content shared by all sources, some
// its own) and snapshots it.
func (w *crashWorld) addSnapshot(i int) string {
	src := filepath.Join(w.dir, "src", strconv.Itoa(i))
	files := map[string][]byte{
		"shared":                    randomBytes(5, 200<<10),
		fmt.Sprintf("own%d", i):     randomBytes(uint64(1000+i), 700<<10),
		fmt.Sprintf("d/small%d", i): []byte(fmt.Sprintf("small file %d\n", i)),
	}
	writeFiles(w.t, src, files)
	w.sources[src] = files
	return w.snapshot("", src)
}

// clone copies the world's folder for one trial.
func (w *crashWorld) clone() *crashWorld {
	w.t.Helper()
	dir := w.t.TempDir()
	if out, err := exec.Command("cp", "-a", w.dir+"/.", dir).CombinedOutput(); err != nil {
		w.t.Fatalf("copy the world: %v: %s", err, out)
	}
	p := *w.procRepo
	p.dir, p.repo, p.clock = dir, filepath.Join(dir, "repo"), filepath.Join(dir, "clock")
	p.env = nil
	for _, e := range w.env {
		p.env = append(p.env, strings.ReplaceAll(e, w.dir, dir))
	}
	c := *w
	c.procRepo = &p
	c.dst, c.key, c.newKey = filepath.Join(dir, "dst"), filepath.Join(dir, "key"), filepath.Join(dir, "key2")
	return &c
}

func (w *crashWorld) args(args []string) []string {
	out := make([]string, len(args))
	for i, a := range args {
		out[i] = strings.ReplaceAll(a, "{dst}", w.dst)
	}
	return out
}

// onRepo runs cairn against repository addr with key file key.
func (w *crashWorld) onRepo(addr, key string, args ...string) (string, int) {
	w.t.Helper()
	cmd := w.command("", append([]string{"-r", addr, "--key-file", key}, args...)...)
	out, err := cmd.CombinedOutput()
	return string(out), exitOf(w.t, err)
}

// checkRepo runs check --read-data on a repository and fails unless it
// finds no damage. A destination that holds no repository yet (a sync
// killed before it wrote the config) is accepted when mayBeEmpty.
func (w *crashWorld) checkRepo(when, addr, key string, mayBeEmpty bool) {
	w.t.Helper()
	out, code := w.onRepo(addr, key, "check", "--read-data")
	if code == 10 && mayBeEmpty {
		return
	}
	if code != 0 || !strings.Contains(out, "no damage found") {
		w.t.Fatalf("%s: check %s: exit %d\n%s", when, addr, code, out)
	}
}

// verifySnapshots restores every snapshot of a repository (but those in
// skip, and those restored before) and compares the files with the source it was taken from: every
// file present and equal, nothing else. A snapshot that repair rewrote
// may lack files, never hold wrong bytes. It returns how many snapshots
// it verified.
func (w *crashWorld) verifySnapshots(when, addr, key string, skip map[string]bool) int {
	w.t.Helper()
	out, code := w.onRepo(addr, key, "snapshots", "--json")
	if code == 10 {
		return 0
	}
	if code != 0 {
		w.t.Fatalf("%s: snapshots of %s: exit %d\n%s", when, addr, code, out)
	}
	var snaps []struct {
		ID       string   `json:"id"`
		Paths    []string `json:"paths"`
		Original *string  `json:"original"`
		Repaired bool     `json:"repaired"`
	}
	if err := json.Unmarshal([]byte(out), &snaps); err != nil {
		w.t.Fatalf("%s: %v\n%s", when, err, out)
	}
	n := 0
	for _, s := range snaps {
		if skip[s.ID] || w.restored[addr+s.ID] {
			continue
		}
		if w.restored == nil {
			w.restored = map[string]bool{}
		}
		w.restored[addr+s.ID] = true
		if len(s.Paths) != 1 {
			w.t.Fatalf("%s: snapshot %s has paths %v", when, s.ID[:8], s.Paths)
		}
		want, ok := w.sources[s.Paths[0]]
		if !ok {
			w.t.Fatalf("%s: snapshot %s of unknown path %s", when, s.ID[:8], s.Paths[0])
		}
		target := filepath.Join(w.dir, "restore")
		os.RemoveAll(target)
		if out, code := w.onRepo(addr, key, "restore", s.ID, "--target", target); code != 0 {
			w.t.Fatalf("%s: restore %s from %s: exit %d\n%s", when, s.ID[:8], addr, code, out)
		}
		root := filepath.Join(target, s.Paths[0])
		got := 0
		err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
			if err != nil || d.IsDir() {
				return err
			}
			rel, _ := filepath.Rel(root, path)
			b, err := os.ReadFile(path)
			if err != nil {
				return err
			}
			if wb, ok := want[rel]; !ok || !bytes.Equal(b, wb) {
				return fmt.Errorf("%s differs from the source after restore", rel)
			}
			got++
			return nil
		})
		if err == nil && got != len(want) && !s.Repaired {
			err = fmt.Errorf("%d of %d files restored", got, len(want))
		}
		if err != nil {
			w.t.Fatalf("%s: snapshot %s in %s: %v", when, s.ID[:8], addr, err)
		}
		os.RemoveAll(target)
		n++
	}
	return n
}

// opens reports whether key opens the repository.
func (w *crashWorld) opens(key string) bool {
	_, code := w.onRepo(w.repo, key, "snapshots")
	return code == 0
}

// verifyAll checks and restores every repository of the world; it returns
// the snapshots verified.
func (w *crashWorld) verifyAll(c crashCase, when string) int {
	w.t.Helper()
	key := w.key
	if c.name == "key-passwd" {
		oldOK, newOK := w.opens(w.key), w.opens(w.newKey)
		if !oldOK && !newOK {
			w.t.Fatalf("%s: neither the old key nor the new one opens the repository", when)
		}
		if !oldOK {
			key = w.newKey
		}
	}
	if c.damaged == nil {
		w.checkRepo(when, w.repo, key, false)
	}
	n := w.verifySnapshots(when, w.repo, key, w.damaged)
	switch c.name {
	case "sync":
		w.checkRepo(when, w.dst, w.key, true)
		n += w.verifySnapshots(when, w.dst, w.key, nil)
	case "copy":
		w.checkRepo(when, w.dst, w.newKey, false)
		n += w.verifySnapshots(when, w.dst, w.newKey, nil)
	}
	return n
}

// rerun runs the command again after a kill; it must succeed, and leave
// every repository checked and restorable.
func (w *crashWorld) rerun(c crashCase, when string) int {
	w.t.Helper()
	args := w.args(c.args)
	key := w.key
	if c.name == "key-passwd" && !w.opens(w.key) {
		key = w.newKey
	}
	if out, code := w.onRepo(w.repo, key, args...); code != 0 {
		w.t.Fatalf("%s: the next run of %s: exit %d\n%s", when, strings.Join(args, " "), code, out)
	}
	if c.name == "key-passwd" && (w.opens(w.key) || !w.opens(w.newKey)) {
		w.t.Fatalf("%s: after the next key passwd the old key still opens, or the new one does not", when)
	}
	if c.damaged != nil {
		w.damaged = nil // repaired, the originals forgotten
		c.damaged = nil
	}
	return w.verifyAll(c, when+", after the next run")
}

// start starts the command with extra environment.
func (w *crashWorld) start(c crashCase, env ...string) *exec.Cmd {
	cmd := w.command("", append([]string{"-r", w.repo, "--key-file", w.key}, w.args(c.args)...)...)
	cmd.Env = append(append([]string{}, w.env...), env...)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		w.t.Fatal(err)
	}
	return cmd
}

// killed waits for cmd and reports whether SIGKILL ended it.
func killed(cmd *exec.Cmd) bool {
	err := cmd.Wait()
	ee, ok := err.(*exec.ExitError)
	if !ok {
		return false
	}
	ws, ok := ee.Sys().(syscall.WaitStatus)
	return ok && ws.Signaled() && ws.Signal() == syscall.SIGKILL
}

// countCalls finds how many backend calls one run of the command makes
// (the smallest N at which the hook no longer kills it, minus one), and
// how long a full run takes.
func countCalls(base *crashWorld, c crashCase) (int, time.Duration) {
	killsAt := func(n int) bool {
		w := base.clone()
		return killed(w.start(c, fmt.Sprintf("%s=%d", testKillAtCallEnv, n)))
	}
	hi := 8
	for killsAt(hi) {
		hi *= 2
		if hi > 1<<16 {
			base.t.Fatal("the command never finishes under the kill hook")
		}
	}
	lo := 0 // killsAt(lo) or lo == 0
	for hi-lo > 1 {
		mid := (lo + hi) / 2
		if killsAt(mid) {
			lo = mid
		} else {
			hi = mid
		}
	}
	w := base.clone()
	start := time.Now()
	cmd := w.start(c)
	if err := cmd.Wait(); err != nil {
		base.t.Fatalf("a full run of %s: %v\n%s", c.name, err, cmd.Stdout)
	}
	return lo, time.Since(start)
}

// killAt lists the calls to kill at: every one in the long form, else
// up to n spread evenly from the first call to the last.
func killAt(total, n int, soak bool) []int {
	if soak || total <= n {
		out := make([]int, total)
		for i := range out {
			out[i] = i + 1
		}
		return out
	}
	var out []int
	for i := range n {
		out = append(out, 1+i*(total-1)/(n-1))
	}
	return out
}

func crashCases() []crashCase {
	return []crashCase{
		{name: "snapshot", args: []string{"snapshot", "--json", "SRC"}, setup: func(w *crashWorld) {
			w.addSnapshot(0)
			w.addSnapshot(1)
		}},
		// The same with every index segment's rows deferred to the end of
		// the session (what a cache of a million blobs does): a kill
		// between a recorded segment and its rows must lose nothing.
		{name: "snapshot-deferred-rows", args: []string{"snapshot", "--json", "SRC"}, setup: func(w *crashWorld) {
			w.env = append(w.env, testDeferRowsEnv+"=0")
			w.addSnapshot(0)
			w.addSnapshot(1)
		}},
		{name: "forget-prune", args: []string{"forget", "--keep-last", "2", "--group-by", "host", "--prune"}, setup: func(w *crashWorld) {
			for i := range 3 {
				id := w.addSnapshot(i)
				if i == 0 {
					w.mustRun("", "forget", id)
				}
			}
			w.mustRun("", "prune") // condemns: the killed run deletes these, and condemns more
			w.setClock(25 * time.Hour)
			w.addSnapshot(3)
		}},
		{name: "sync", args: []string{"sync", "--to", "{dst}"}, setup: func(w *crashWorld) {
			for i := range 3 {
				w.addSnapshot(i)
			}
		}},
		{name: "copy", args: []string{"copy", "--to", "{dst}", "--to-key-file", "KEY2"}, setup: func(w *crashWorld) {
			for i := range 3 {
				w.addSnapshot(i)
			}
			if out, code := w.onRepo(w.dst, w.newKey, "init", "--pack-size", "1"); code != 0 {
				w.t.Fatalf("init the destination: exit %d\n%s", code, out)
			}
		}},
		{name: "repair-index", args: []string{"repair", "index", "--read-all-packs"}, setup: func(w *crashWorld) {
			for i := range 3 {
				w.addSnapshot(i)
			}
		}},
		{name: "repair-snapshots", args: []string{"repair", "snapshots", "--forget-original"}, setup: func(w *crashWorld) {
			for i := range 2 {
				w.addSnapshot(i)
			}
			// Lose the pack of snapshot 2's own file.
			before := packFiles(w.t, w.repo)
			lost := w.addSnapshot(2)
			w.damaged[lost] = true
			w.losePackOf(before)
			w.mustRun("", "repair", "index")
		}},
		{name: "key-passwd", args: []string{"key", "passwd", "--new-key-file", "KEY2"}, setup: func(w *crashWorld) {
			w.addSnapshot(0)
		}},
	}
}

// losePackOf removes the largest pack that snapshot id added (the one
// holding its own file's data), leaving the index naming it.
func (w *crashWorld) losePackOf(before map[string]string) {
	w.t.Helper()
	var lost string
	var size int64
	for rel, path := range packFiles(w.t, w.repo) {
		if _, ok := before[rel]; ok {
			continue
		}
		if fi, err := os.Stat(path); err == nil && fi.Size() > size {
			lost, size = path, fi.Size()
		}
	}
	if lost == "" {
		w.t.Fatal("the snapshot added no pack")
	}
	if err := os.Remove(lost); err != nil {
		w.t.Fatal(err)
	}
}

func packFiles(t *testing.T, repoDir string) map[string]string {
	t.Helper()
	out := map[string]string{}
	filepath.WalkDir(filepath.Join(repoDir, "data"), func(path string, d fs.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			rel, _ := filepath.Rel(repoDir, path)
			out[rel] = path
		}
		return nil
	})
	return out
}

// TestCrashEveryCommand is the crash harness (see the comment at the top
// of this file).
func TestCrashEveryCommand(t *testing.T) {
	soak := os.Getenv("CAIRN_SOAK") != ""
	seed := uint64(1)
	if s, err := strconv.ParseUint(os.Getenv("CAIRN_CRASH_SEED"), 10, 64); err == nil {
		seed = s
	}
	atCalls, minKills := 8, 10
	if soak {
		minKills = 50
	}
	for _, c := range crashCases() {
		t.Run(c.name, func(t *testing.T) {
			base := newCrashWorld(t)
			c.setup(base)
			if len(base.damaged) > 0 {
				c.damaged = base.damaged
			}
			src := filepath.Join(base.dir, "src", "new")
			files := map[string][]byte{"shared": randomBytes(5, 200<<10), "new": randomBytes(77, 900<<10), "d/x": []byte("x\n")}
			writeFiles(t, src, files)
			base.sources[src] = files
			for i, a := range c.args {
				c.args[i] = strings.NewReplacer("SRC", src, "KEY2", base.newKey).Replace(a)
			}
			total, full := countCalls(base, c)
			var st crashStats
			trial := func(how string, env []string, delay time.Duration) bool {
				w := base.clone()
				w.damaged = clone(base.damaged)
				cmd := w.start(c, env...)
				if delay > 0 {
					time.Sleep(delay)
					cmd.Process.Signal(syscall.SIGKILL)
				}
				if !killed(cmd) {
					return false
				}
				when := fmt.Sprintf("%s killed %s", c.name, how)
				st.verified += w.verifyAll(c, when)
				st.verified += w.rerun(c, when)
				return true
			}
			for _, n := range killAt(total, atCalls, soak) {
				if trial(fmt.Sprintf("at backend call %d of %d", n, total), []string{fmt.Sprintf("%s=%d", testKillAtCallEnv, n)}, 0) {
					st.atCall++
				}
			}
			rng := rand.New(rand.NewPCG(seed, uint64(len(c.name))))
			for attempt := 0; st.atCall+st.random < minKills || st.random < 2; attempt++ {
				if attempt >= 10*minKills {
					t.Fatalf("only %d random kills in %d attempts", st.random, attempt)
				}
				d := time.Duration(rng.Int64N(int64(full))) + time.Microsecond
				if trial(fmt.Sprintf("after %s (seed %d)", d, seed), nil, d) {
					st.random++
				}
			}
			t.Logf("crash: %s: %d kills survived (%d at a backend call of %d, %d at random moments), %d snapshots verified, 0 bytes lost",
				c.name, st.atCall+st.random, st.atCall, total, st.random, st.verified)
		})
	}
}

func clone[K comparable, V any](m map[K]V) map[K]V {
	out := make(map[K]V, len(m))
	for k, v := range m {
		out[k] = v
	}
	return out
}
