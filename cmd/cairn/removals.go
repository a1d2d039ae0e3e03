package main

import (
	"context"
	"path/filepath"

	"github.com/cairnbackup/cairn/backend/multi"
	"github.com/cairnbackup/cairn/repo"
)

// removalJournal returns the journal of removals that missed a location of
// the repository id, kept in the cache folder next to the index cache.
func (g *globalOptions) removalJournal(id repo.ID) (*multi.Journal, error) {
	dir := g.cacheDir
	if dir == "" {
		var err error
		if dir, err = repo.DefaultCacheDir(); err != nil {
			return nil, err
		}
	}
	return multi.OpenJournal(filepath.Join(dir, id.String(), "pending-removals.json")), nil
}

// applyPendingRemovals makes the removals that missed a location, now that
// it can be reached (sync and prune do this first, so that the union of
// the locations never brings back what was removed).
func (g *globalOptions) applyPendingRemovals(ctx context.Context) error {
	if g.multi == nil {
		return nil
	}
	res, err := g.multi.ApplyJournal(ctx)
	if res.Applied > 0 {
		g.printf("applied %d removal(s) that had missed a location\n", res.Applied)
	}
	if res.Waiting > 0 {
		g.warnf("%d removal(s) still wait for an unavailable location; sync or prune applies them when it is back", res.Waiting)
	}
	return err
}
