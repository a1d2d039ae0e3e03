package check

import (
	"context"
	"errors"
	"fmt"
	"hash/fnv"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/cairnbackup/cairn/repo"
	"github.com/cairnbackup/cairn/restorer"
)

// DrillOptions describe restore drills.
type DrillOptions struct {
	// Snapshots is how many of the most recent snapshots to restore.
	Snapshots int
	// SamplePercent restores only that share of each snapshot's entries,
	// chosen by a hash of the snapshot id and the path (so each snapshot
	// samples other files, and a rerun the same ones); 0 or 100 means all.
	SamplePercent float64
	// Timeout stops the drills after this long; 0 means no limit.
	Timeout time.Duration
	// TempDir is where the temporary folder is made; "" means os.TempDir().
	TempDir string
}

// DrillResult is what one drill found.
type DrillResult struct {
	Snapshot  repo.ID        `json:"snapshot"`
	Time      time.Time      `json:"time"`
	Paths     []string       `json:"paths"`
	Sample    float64        `json:"sample_percent,omitempty"`
	Files     int            `json:"files"`    // regular files selected
	Entries   int            `json:"entries"`  // all entries selected (files, links, folders, …)
	Verified  int            `json:"verified"` // files whose content hash restore checked
	Bytes     uint64         `json:"bytes"`
	Failures  []DrillFailure `json:"failures,omitempty"`
	Warnings  []DrillFailure `json:"warnings,omitempty"` // metadata that could not be restored here (not damage)
	TimedOut  bool           `json:"timed_out,omitempty"`
	Seconds   float64        `json:"seconds"`
	Completed bool           `json:"completed"`
}

// DrillFailure is an entry that did not come back as the snapshot has it.
type DrillFailure struct {
	Path  string `json:"path"`
	Fault string `json:"fault"`
}

// maxDrillFailures bounds the failures one drill lists.
const maxDrillFailures = 1000

// drills restores the most recent snapshots, newest first, each into a
// fresh temporary folder that is removed afterwards, until done or the
// timeout passes.
func (c *checker) drills(ctx context.Context) error {
	d := c.opts.Drill
	snaps := slices.Clone(c.snaps)
	slices.SortStableFunc(snaps, func(a, b *repo.Snapshot) int { return b.Time.Compare(a.Time) })
	snaps = snaps[:min(d.Snapshots, len(snaps))]
	dctx, cancel := ctx, context.CancelFunc(func() {})
	if d.Timeout > 0 {
		dctx, cancel = context.WithTimeout(ctx, d.Timeout)
	}
	defer cancel()
	for i, s := range snaps {
		if dctx.Err() != nil {
			if ctx.Err() != nil {
				return ctx.Err()
			}
			c.note("drill timeout of %s reached: %d snapshot(s) not drilled", d.Timeout, len(snaps)-i)
			break
		}
		res, err := c.drill(dctx, s)
		if ctx.Err() != nil {
			return ctx.Err()
		}
		if err != nil {
			return fmt.Errorf("drill of snapshot %s: %w", s.ID().Short(), err)
		}
		c.rep.Drills = append(c.rep.Drills, res)
		c.drillProblems(s, &res)
	}
	return nil
}

// drill restores one snapshot (or a sample of it) and compares it. The
// result is named so that the deferred timer sets the Seconds it returns.
func (c *checker) drill(ctx context.Context, s *repo.Snapshot) (res DrillResult, err error) {
	res = DrillResult{Snapshot: s.ID(), Time: s.Time, Paths: s.Paths, Sample: c.opts.Drill.SamplePercent}
	start := time.Now()
	defer func() { res.Seconds = time.Since(start).Seconds() }()
	var dir string
	dir, err = os.MkdirTemp(c.opts.Drill.TempDir, "cairn-drill-")
	if err != nil {
		return res, fmt.Errorf("create a temporary folder: %w", err)
	}
	defer func() {
		if err := removeTree(dir); err != nil {
			c.logf("remove drill folder %s: %v", dir, err)
		}
	}()
	sel := sampler(s.ID(), c.opts.Drill.SamplePercent)
	warns := map[string]error{}
	var mu sync.Mutex
	prog := &restorer.Progress{}
	stop := c.watchRestore(s, prog)
	root := &repo.Node{Type: repo.NodeDir, Subtree: s.Tree, Mode: 0o700}
	rr, rerr := restorer.Restore(ctx, c.r, root, "/", restorer.Options{
		Target: dir, Verify: true, Select: sel, Progress: prog, Workers: c.opts.Workers,
		Warn: func(path string, err error) {
			mu.Lock()
			warns["/"+strings.TrimPrefix(strings.TrimPrefix(path, dir), "/")] = err
			mu.Unlock()
		},
	})
	stop()
	res.Verified, res.Bytes = int(rr.Verified), rr.Bytes
	if ctx.Err() != nil {
		res.TimedOut = true
		return res, nil
	}
	if rerr != nil && !errors.Is(rerr, restorer.ErrVerify) {
		res.Failures = append(res.Failures, DrillFailure{Path: "/", Fault: rerr.Error()})
		return res, nil
	}
	cmp := &drillCompare{c: c, dir: dir, sel: sel, warns: warns, res: &res}
	if err := cmp.tree(ctx, s.Tree, ""); err != nil {
		if ctx.Err() != nil {
			res.TimedOut = true
			return res, nil
		}
		return res, err
	}
	res.Completed = true
	return res, nil
}

// watchRestore mirrors a restore's counters into the check's progress
// until the returned function is called.
func (c *checker) watchRestore(s *repo.Snapshot, prog *restorer.Progress) func() {
	p := c.opts.Progress
	if p == nil {
		return func() {}
	}
	total := int64(0)
	if s.Summary != nil {
		total = int64(s.Summary.TotalSize)
	}
	p.start("drill "+s.ID().Short(), 0, total)
	done := make(chan struct{})
	var wg sync.WaitGroup
	wg.Go(func() {
		t := time.NewTicker(200 * time.Millisecond)
		defer t.Stop()
		for {
			p.Done.Store(int64(prog.Files.Load()))
			p.Bytes.Store(int64(prog.Bytes.Load()))
			select {
			case <-done:
				return
			case <-t.C:
			}
		}
	})
	return func() { close(done); wg.Wait() }
}

// sampler selects the entries a drill restores: every entry, or a share
// of them by a hash of the snapshot id and the path. Device nodes and
// sockets are left out: they cannot be made without privileges and hold
// no data.
func sampler(snap repo.ID, percent float64) func(string, *repo.Node) bool {
	return func(path string, n *repo.Node) bool {
		switch n.Type {
		case repo.NodeCharDev, repo.NodeBlockDev, repo.NodeSocket:
			return false
		}
		if percent <= 0 || percent >= 100 {
			return true
		}
		h := fnv.New64a()
		h.Write(snap[:])
		h.Write([]byte(path))
		return float64(h.Sum64()%1_000_000) < percent*10_000
	}
}

// drillProblems turns a drill's failures into one problem.
func (c *checker) drillProblems(s *repo.Snapshot, res *DrillResult) {
	if len(res.Failures) == 0 {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	p := c.problem(KindDrill, "drill of snapshot "+s.ID().Short(), s.ID(), fixDrill)
	p.fault("%d of %d restored entries differ from the snapshot", len(res.Failures), res.Entries)
	for _, f := range res.Failures {
		if len(p.Faults) <= maxBlobFaults {
			p.fault("%s: %s", f.Path, f.Fault)
		}
		p.addAffected(Affected{Snapshot: s.ID(), Time: s.Time, Path: f.Path})
	}
}

// removeTree removes a drill folder, first making every folder in it
// writable (a restored read-only folder would stop RemoveAll).
func removeTree(dir string) error {
	_ = filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err == nil && d.IsDir() {
			_ = os.Chmod(path, 0o700)
		}
		return nil
	})
	return os.RemoveAll(dir)
}
