package faultsuite

import (
	"bytes"
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/cairnbackup/cairn/archiver"
	"github.com/cairnbackup/cairn/backend"
	"github.com/cairnbackup/cairn/backend/faulty"
	"github.com/cairnbackup/cairn/backend/mem"
	"github.com/cairnbackup/cairn/backend/mirror"
	"github.com/cairnbackup/cairn/backend/retry"
	"github.com/cairnbackup/cairn/check"
	"github.com/cairnbackup/cairn/copier"
	"github.com/cairnbackup/cairn/internal/kdftest"
	"github.com/cairnbackup/cairn/internal/repotest"
	"github.com/cairnbackup/cairn/repo"
	"github.com/cairnbackup/cairn/repo/prune"
	"github.com/cairnbackup/cairn/restorer"
)

var ctx = context.Background()

// faultyRepo is a repository in memory reached through faults and retries.
type faultyRepo struct {
	t     *testing.T
	mem   *mem.Backend
	fb    *faulty.Backend
	be    backend.Backend
	cache string
}

func newFaultyRepo(t *testing.T, seed uint64, rate float64) *faultyRepo {
	m := mem.New()
	r, err := repo.Init(ctx, m, repotest.Password, repo.InitOptions{KDF: kdftest.Cheap, PackSize: 1 << 20}, repo.Options{CacheDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	r.Close()
	fb := faulty.New(m)
	fb.Randomize(faulty.Random{Seed: seed, Rate: rate, Slow: time.Millisecond})
	be := retry.New(fb, retry.Options{MaxAttempts: 8, BaseDelay: time.Microsecond, MaxDelay: time.Millisecond, MaxElapsed: -1})
	return &faultyRepo{t: t, mem: m, fb: fb, be: be, cache: t.TempDir()}
}

// open opens the repository through the faults; a failure to open is an
// error like any other.
func (f *faultyRepo) open() (*repo.Repository, error) {
	return repo.Open(ctx, f.be, repotest.Password, repo.Options{CacheDir: f.cache})
}

// check runs a full check straight on the memory backend (no faults, a
// fresh cache) and fails the test on damage: garbage packs are allowed.
func (f *faultyRepo) check(after string) {
	f.t.Helper()
	r, err := repo.Open(ctx, f.mem, repotest.Password, repo.Options{CacheDir: f.t.TempDir()})
	if err != nil {
		f.t.Fatalf("after %s: open without faults: %v", after, err)
	}
	defer r.Close()
	all, _ := check.ParseSubset("all")
	rep, err := check.Run(ctx, r, check.Options{ReadData: all, ReadHeaders: true})
	if err != nil {
		f.t.Fatalf("after %s: check: %v", after, err)
	}
	if rep.Damaged() {
		var lines []string
		for _, p := range rep.Problems {
			lines = append(lines, fmt.Sprintf("%s %s: %s", p.Kind, p.Object, strings.Join(p.Faults, "; ")))
		}
		f.t.Fatalf("after %s: the repository is damaged:\n%s", after, strings.Join(lines, "\n"))
	}
}

// outcome counts what the operations did.
type outcome struct{ ok, failed, verified int }

func (o *outcome) note(t *testing.T, what string, err error) bool {
	if err == nil {
		o.ok++
		return true
	}
	if err.Error() == "" {
		t.Fatalf("%s failed without saying why", what)
	}
	o.failed++
	return false
}

// TestFaultSeeds runs snapshot, restore, prune, copy, sync and check against
// random faults, seed after seed.
func TestFaultSeeds(t *testing.T) {
	seeds := 4
	if os.Getenv("CAIRN_SOAK") != "" {
		seeds = 100
	}
	first := uint64(1)
	if v := os.Getenv("CAIRN_FAULT_SEED"); v != "" { // one seed again, to debug it
		n, err := strconv.ParseUint(v, 10, 64)
		if err != nil {
			t.Fatalf("CAIRN_FAULT_SEED=%q: %v", v, err)
		}
		first, seeds = n, 1
	}
	var total outcome
	injected := map[faulty.RandomKind]int{}
	for seed := range uint64(seeds) {
		var o outcome
		f := runSeed(t, first+seed, &o)
		for k, n := range f.fb.Injected() {
			injected[k] += n
		}
		total.ok += o.ok
		total.failed += o.failed
		total.verified += o.verified
		if t.Failed() {
			return
		}
	}
	n := 0
	for _, c := range injected {
		n += c
	}
	t.Logf("faults: %d seeds, %d faults injected %v; %d operations succeeded, %d failed with an error; %d snapshots verified, 0 bytes lost",
		seeds, n, injected, total.ok, total.failed, total.verified)
	for _, k := range faulty.AllRandomKinds {
		if injected[k] == 0 && seeds > 1 {
			t.Errorf("no %s fault was injected", k)
		}
	}
}

func runSeed(t *testing.T, seed uint64, o *outcome) *faultyRepo {
	f := newFaultyRepo(t, seed, 0.08)
	rng := rand.New(rand.NewPCG(seed, 7))
	src := t.TempDir()
	saved := map[repo.ID]map[string][]byte{}
	for round := range 3 {
		files := map[string][]byte{
			"shared":                    pseudo(1, 300<<10),
			fmt.Sprintf("r%d", round):   pseudo(seed*10+uint64(round), 200<<10+rng.IntN(100<<10)),
			fmt.Sprintf("d/s%d", round): []byte(fmt.Sprintf("small %d %d\n", seed, round)),
		}
		os.RemoveAll(src)
		writeFiles(t, src, files)
		what := fmt.Sprintf("seed %d: snapshot %d", seed, round)
		r, err := f.open()
		if o.note(t, what+" (open)", err) {
			res, err := archiver.Snapshot(ctx, r, archiver.Options{Paths: []string{src}, Host: "h"})
			if o.note(t, what, err) {
				saved[res.ID] = files
			}
			r.Close()
		}
		f.check(what)
	}
	for id, files := range saved {
		restoreAndCompare(t, f, seed, id, src, files, o)
	}
	pruneOnce(t, f, seed, saved, o)
	f.check(fmt.Sprintf("seed %d: prune", seed))
	copyAll(t, f, seed, saved, src, o)
	f.check(fmt.Sprintf("seed %d: copy", seed))
	syncAll(t, f, seed, saved, src, o)
	f.check(fmt.Sprintf("seed %d: sync", seed))
	// check through the faults: it either reports or fails; it must not
	// change anything (a check without faults still passes).
	if r, err := f.open(); o.note(t, "check (open)", err) {
		all, _ := check.ParseSubset("all")
		_, err := check.Run(ctx, r, check.Options{ReadData: all})
		o.note(t, "check", err)
		r.Close()
	}
	f.check(fmt.Sprintf("seed %d: check through faults", seed))
	return f
}

// restoreAndCompare restores a snapshot through the faults: it may fail,
// but never leave wrong bytes behind while saying it succeeded.
func restoreAndCompare(t *testing.T, f *faultyRepo, seed uint64, id repo.ID, src string, files map[string][]byte, o *outcome) {
	what := fmt.Sprintf("seed %d: restore %s", seed, id.Short())
	r, err := f.open()
	if !o.note(t, what+" (open)", err) {
		return
	}
	defer r.Close()
	snap, err := r.LoadSnapshot(ctx, id)
	if !o.note(t, what+" (load)", err) {
		return
	}
	target := t.TempDir()
	root := repo.Node{Type: repo.NodeDir, Mode: 0o755, Subtree: snap.Tree}
	var warned []string
	res, err := restorer.Restore(ctx, r, &root, "/", restorer.Options{Target: target, Verify: true,
		Warn: func(path string, err error) { warned = append(warned, fmt.Sprintf("%s: %v", path, err)) }})
	if err == nil && res.Errors > 0 {
		if len(warned) == 0 {
			t.Fatalf("%s: %d errors, none told", what, res.Errors)
		}
		err = fmt.Errorf("%d file(s) not restored: %s", res.Errors, warned[0])
	}
	failed := !o.note(t, what, err)
	// Whatever happened, a file under its own name holds the right bytes;
	// a file that could not be restored whole is set aside (or absent).
	for rel, want := range files {
		got, rerr := os.ReadFile(filepath.Join(target, src, rel))
		if failed && os.IsNotExist(rerr) {
			continue
		}
		if rerr != nil || !bytes.Equal(got, want) {
			t.Fatalf("%s: %s is wrong (%v; restore error: %v)", what, rel, rerr, err)
		}
	}
	if failed {
		return
	}
	o.verified++
}

// pruneOnce forgets one snapshot and prunes with instant delete.
func pruneOnce(t *testing.T, f *faultyRepo, seed uint64, saved map[repo.ID]map[string][]byte, o *outcome) {
	what := fmt.Sprintf("seed %d: prune", seed)
	r, err := f.open()
	if !o.note(t, what+" (open)", err) {
		return
	}
	defer r.Close()
	for id := range saved {
		if o.note(t, what+" (forget)", r.RemoveSnapshot(ctx, id)) {
			delete(saved, id)
		}
		break
	}
	lock, err := r.Lock(ctx, repo.PruneLock)
	if !o.note(t, what+" (lock)", err) {
		return
	}
	opts := prune.DefaultOptions()
	opts.InstantDelete = true
	_, _, err = prune.Run(lock.Context(), r, opts)
	o.note(t, what, err)
	lock.Release(ctx)
}

// copyAll copies every saved snapshot into a second faulty repository,
// then restores the copies there.
func copyAll(t *testing.T, f *faultyRepo, seed uint64, saved map[repo.ID]map[string][]byte, src string, o *outcome) {
	what := fmt.Sprintf("seed %d: copy", seed)
	dst := newFaultyRepo(t, seed+1000, 0.08)
	r, err := f.open()
	if !o.note(t, what+" (open)", err) {
		return
	}
	defer r.Close()
	d, err := dst.open()
	if !o.note(t, what+" (open destination)", err) {
		return
	}
	c := copier.New(r, d, copier.Options{})
	copied := map[repo.ID]map[string][]byte{}
	for id, files := range saved {
		snap, err := r.LoadSnapshot(ctx, id)
		if !o.note(t, what+" (load)", err) {
			continue
		}
		res, err := c.Copy(ctx, snap)
		if o.note(t, what, err) {
			copied[res.Copy] = files
		}
	}
	c.Close()
	d.Close()
	dst.check(what + " (destination)")
	for id, files := range copied {
		restoreAndCompare(t, dst, seed, id, src, files, o)
	}
}

// syncAll syncs the repository to an empty faulty location, faults on
// both sides. A failed sync is run again (what an operator does): each
// run may fail with an error, and the destination must pass check after
// every one, since sync writes snapshots only after what they need. Once
// a sync succeeds, every saved snapshot restores there byte for byte.
func syncAll(t *testing.T, f *faultyRepo, seed uint64, saved map[repo.ID]map[string][]byte, src string, o *outcome) {
	dst := mem.New()
	dfb := faulty.New(dst)
	dfb.Randomize(faulty.Random{Seed: seed + 2000, Rate: 0.08, Slow: time.Millisecond})
	dbe := retry.New(dfb, retry.Options{MaxAttempts: 8, BaseDelay: time.Microsecond, MaxDelay: time.Millisecond, MaxElapsed: -1})
	synced := false
	for try := range 5 {
		what := fmt.Sprintf("seed %d: sync, run %d", seed, try+1)
		_, err := mirror.Sync(ctx, f.be, dbe, mirror.Options{})
		synced = o.note(t, what, err)
		if _, cerr := dst.Stat(ctx, backend.Handle{Type: backend.ConfigFile}); cerr == nil {
			(&faultyRepo{t: t, mem: dst}).check(what + " (destination)")
		}
		if synced {
			break
		}
	}
	if !synced {
		return
	}
	synced2 := &faultyRepo{t: t, mem: dst, fb: dfb, be: dbe, cache: t.TempDir()}
	for id, files := range saved {
		restoreAndCompare(t, synced2, seed, id, src, files, o)
	}
}

func pseudo(seed uint64, n int) []byte {
	b := make([]byte, n)
	var s [32]byte
	for i := range 8 {
		s[i] = byte(seed >> (8 * i))
	}
	rand.NewChaCha8(s).Read(b)
	return b
}

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
