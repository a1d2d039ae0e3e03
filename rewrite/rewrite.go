// Package rewrite changes snapshots that exist: their tags (Tags), or
// their trees without the files and folders that match exclude patterns
// (Exclude: a secret backed up by mistake). A snapshot object is
// immutable, so each change writes a new snapshot that records the
// original's id, and then removes the old one: everything new is written
// before anything old is removed. Exclude only drops references; a prune
// afterwards frees the storage that nothing uses any more.
package rewrite

import (
	"context"
	"fmt"

	"github.com/cairnbackup/cairn/repo"
)

// Repo is what rewriting needs from a repository; *repo.Repository is
// one. The caller holds a session lock.
type Repo interface {
	LoadTree(ctx context.Context, id repo.ID) (*repo.Tree, error)
	SaveTree(ctx context.Context, t *repo.Tree) (repo.ID, error)
	SaveSnapshot(ctx context.Context, s *repo.Snapshot) (repo.ID, error)
	RemoveSnapshot(ctx context.Context, id repo.ID) error
}

var _ Repo = (*repo.Repository)(nil)

// maxListed bounds the paths a Changed lists.
const maxListed = 100

// Changed is one snapshot that was (or, in a dry run, would be)
// rewritten.
type Changed struct {
	Old repo.ID `json:"old"`
	New repo.ID `json:"new,omitzero"` // zero in a dry run
	// Tags are the new snapshot's tags (Tags).
	Tags []string `json:"tags,omitempty"`
	// Removed lists the paths taken out, the first maxListed (Exclude).
	Removed      []string `json:"removed,omitempty"`
	RemovedTotal int      `json:"removed_total,omitempty"`
	RemovedBytes uint64   `json:"removed_bytes,omitempty"` // file bytes taken out
	// OldRemoved says that the old snapshot was removed.
	OldRemoved bool `json:"old_removed"`
}

// replace writes ns, a changed copy of s that records s's original (or s
// itself) as its original, and then removes s unless keep is set.
func replace(ctx context.Context, r Repo, s *repo.Snapshot, ns *repo.Snapshot, keep bool, ch *Changed) error {
	orig := s.ID()
	if s.Original != nil {
		orig = *s.Original
	}
	ns.Original = &orig
	id, err := r.SaveSnapshot(ctx, ns)
	if err != nil {
		return fmt.Errorf("save the new snapshot of %s: %w", s.ID().Short(), err)
	}
	ch.New = id
	if keep {
		return nil
	}
	if err := r.RemoveSnapshot(ctx, s.ID()); err != nil {
		return fmt.Errorf("new snapshot %s saved, but the old one: %w", id.Short(), err)
	}
	ch.OldRemoved = true
	return nil
}

// copySnapshot returns a copy of s to change, its slices its own.
func copySnapshot(s *repo.Snapshot) *repo.Snapshot {
	ns := &repo.Snapshot{
		Time: s.Time, Tree: s.Tree, Paths: append([]string(nil), s.Paths...), Hostname: s.Hostname,
		Username: s.Username, UID: s.UID, GID: s.GID, Tags: append([]string(nil), s.Tags...), Job: s.Job,
		Parent: s.Parent, Repaired: s.Repaired, ProgramVersion: s.ProgramVersion,
	}
	if s.Summary != nil {
		sum := *s.Summary
		ns.Summary = &sum
	}
	return ns
}
