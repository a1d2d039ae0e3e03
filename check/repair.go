package check

import (
	"context"
	"errors"
	"fmt"

	"github.com/cairnbackup/cairn/repo"
)

// RepairRepo is what RepairSnapshots needs from a repository.
type RepairRepo interface {
	MetaStore
	SnapshotsUncached(ctx context.Context, onError func(repo.ID, error) error) ([]*repo.Snapshot, error)
	LoadTreeUncached(ctx context.Context, id repo.ID) (*repo.Tree, error)
	SaveTree(ctx context.Context, t *repo.Tree) (repo.ID, error)
	SaveSnapshot(ctx context.Context, s *repo.Snapshot) (repo.ID, error)
	RemoveSnapshot(ctx context.Context, id repo.ID) error
	LookupBlob(t repo.BlobType, id repo.ID) (repo.BlobLocation, error)
	LoadBlob(ctx context.Context, t repo.BlobType, id repo.ID, buf []byte) ([]byte, error)
	ListPacks(ctx context.Context, fn func(repo.StoredPack) error) error
}

var _ RepairRepo = (*repo.Repository)(nil)

// RepairOptions tune RepairSnapshots.
type RepairOptions struct {
	// ForgetOriginal removes each snapshot that was rewritten (and each
	// whose root folder is lost entirely).
	ForgetOriginal bool
	// DryRun finds what would change and writes nothing.
	DryRun bool
}

// RepairedSnapshot is one snapshot that lost something.
type RepairedSnapshot struct {
	Original     repo.ID  `json:"original"`
	New          repo.ID  `json:"new,omitzero"` // zero in a dry run, or when nothing was left
	Dropped      []string `json:"dropped"`      // files left out (the first maxListed)
	DroppedTotal int      `json:"dropped_total"`
	Emptied      []string `json:"emptied,omitempty"` // folders whose contents could not be read
	RootLost     bool     `json:"root_lost,omitempty"`
	OriginalGone bool     `json:"original_removed,omitempty"`
	// AlreadyRepaired: an earlier repair wrote the same repaired snapshot
	// (New), so none was added.
	AlreadyRepaired bool `json:"already_repaired,omitempty"`
	EmptiedTotal    int  `json:"emptied_total,omitempty"`
}

// RepairResult lists what RepairSnapshots did.
type RepairResult struct {
	Snapshots int                `json:"snapshots"` // snapshots looked at
	Repaired  []RepairedSnapshot `json:"repaired"`
}

// RepairSnapshots rewrites every snapshot that references lost data: files
// that need a blob which no pack in storage holds (or that the last check
// found damaged and that still does not open) are dropped, folders whose
// tree cannot be read are kept empty. The new snapshot records the
// original's id and is marked repaired; everything else about it is kept.
// A snapshot whose root folder is lost is not rewritten. The caller holds
// a session lock.
func RepairSnapshots(ctx context.Context, r RepairRepo, opts RepairOptions) (RepairResult, error) {
	var res RepairResult
	ls, err := newLostSet(ctx, r)
	if err != nil {
		return res, err
	}
	snaps, err := r.SnapshotsUncached(ctx, func(repo.ID, error) error { return nil })
	if err != nil {
		return res, fmt.Errorf("list snapshots: %w", err)
	}
	rw := &rewriter{r: r, lost: ls, dry: opts.DryRun, memo: map[repo.ID]*rewritten{}, done: map[repairKey]repo.ID{}}
	for _, s := range snaps {
		if s.Repaired && s.Original != nil {
			rw.done[repairKey{*s.Original, s.Tree}] = s.ID()
		}
	}
	for _, s := range snaps {
		res.Snapshots++
		out, err := rw.tree(ctx, s.Tree)
		if err != nil {
			return res, fmt.Errorf("snapshot %s: %w", s.ID().Short(), err)
		}
		if !out.changed {
			continue
		}
		rs, err := rw.saveSnapshot(ctx, s, out, opts)
		if err != nil {
			return res, err
		}
		res.Repaired = append(res.Repaired, rs)
	}
	return res, nil
}

// lostSet decides whether a blob is lost.
type lostSet struct {
	r       RepairRepo
	present map[repo.ID]bool
	damaged map[repo.BlobType]map[repo.ID]bool
	memo    map[repo.ID]bool // data blobs already decided
}

func newLostSet(ctx context.Context, r RepairRepo) (*lostSet, error) {
	ls := &lostSet{r: r, present: map[repo.ID]bool{}, memo: map[repo.ID]bool{}}
	if err := r.ListPacks(ctx, func(p repo.StoredPack) error {
		ls.present[p.ID] = true
		return nil
	}); err != nil {
		return nil, err
	}
	var err error
	ls.damaged, err = DamagedBlobs(r)
	return ls, err
}

// lost reports whether a data blob cannot be read: no index entry, its
// pack is gone, or the last check found it damaged and it still fails.
func (l *lostSet) lost(ctx context.Context, id repo.ID) (bool, error) {
	if v, ok := l.memo[id]; ok {
		return v, nil
	}
	loc, err := l.r.LookupBlob(repo.DataBlob, id)
	var v bool
	switch {
	case errors.Is(err, repo.ErrBlobNotFound):
		v = true
	case err != nil:
		return false, err
	case !l.present[loc.Pack]:
		v = true
	case l.damaged[repo.DataBlob][id]:
		_, lerr := l.r.LoadBlob(ctx, repo.DataBlob, id, nil)
		if ctx.Err() != nil {
			return false, ctx.Err()
		}
		v = lerr != nil
	}
	l.memo[id] = v
	return v, nil
}

// rewritten is a tree after repair, with the paths it lost relative to it
// and the size of the files it still holds.
type rewritten struct {
	id                 repo.ID
	changed            bool
	dropped, emptied   []string
	droppedN, emptiedN int
	size               uint64
}

func (w *rewritten) add(prefix string, sub *rewritten) {
	w.droppedN += sub.droppedN
	w.emptiedN += sub.emptiedN
	for _, p := range sub.dropped {
		if len(w.dropped) < maxListed {
			w.dropped = append(w.dropped, join(prefix, p))
		}
	}
	for _, p := range sub.emptied {
		if len(w.emptied) < maxListed {
			w.emptied = append(w.emptied, join(prefix, p))
		}
	}
}
