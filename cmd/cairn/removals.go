package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/cairnbackup/cairn/backend"
	"github.com/cairnbackup/cairn/repo"
)

// pendingRemoval is an object that was removed from a repository while one
// of its locations was unavailable. Until that location has removed it
// too, it would reappear through the union of the locations (a removed key
// file would even keep opening that copy), so it is remembered here and
// applied by the next `cairn sync` between the locations.
type pendingRemoval struct {
	Location string           `json:"location"`
	Type     backend.FileType `json:"type"`
	Name     string           `json:"name"`
	Time     time.Time        `json:"time"`
}

func (p pendingRemoval) handle() backend.Handle { return backend.Handle{Type: p.Type, Name: p.Name} }

// removalJournal returns the journal file of the repository id, kept in
// the cache folder next to the index cache (0600, folder 0700).
func (g *globalOptions) removalJournal(id repo.ID) (string, error) {
	dir := g.cacheDir
	if dir == "" {
		var err error
		if dir, err = repo.DefaultCacheDir(); err != nil {
			return "", err
		}
	}
	return filepath.Join(dir, id.String(), "pending-removals.json"), nil
}

func loadRemovals(path string) ([]pendingRemoval, error) {
	b, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var list []pendingRemoval
	if err := json.Unmarshal(b, &list); err != nil {
		return nil, fmt.Errorf("%s is damaged (%v); delete it and run `cairn sync --to` each lagging location with --delete", path, err)
	}
	return list, nil
}

// saveRemovals writes the journal atomically, or removes it when empty.
func saveRemovals(path string, list []pendingRemoval) error {
	if len(list) == 0 {
		if err := os.Remove(path); err != nil && !errors.Is(err, os.ErrNotExist) {
			return err
		}
		return nil
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return err
	}
	return writeJSONFile(path, list)
}

// recordMissedRemovals adds the removals this command could not make
// everywhere to the journal. Called once, when the command ends.
func (g *globalOptions) recordMissedRemovals() {
	g.lags.mu.Lock()
	missed := g.lags.removals
	g.lags.removals = nil
	g.lags.mu.Unlock()
	if len(missed) == 0 || g.repoID.IsNull() {
		return
	}
	path, err := g.removalJournal(g.repoID)
	if err == nil {
		var list []pendingRemoval
		if list, err = loadRemovals(path); err == nil {
			err = saveRemovals(path, append(list, missed...))
		}
	}
	if err != nil {
		g.warnf("could not remember %d removal(s) that missed a location: %v; run `cairn sync --to LOCATION --delete` for it", len(missed), err)
	}
}

// applyPendingRemovals makes the removals that missed a location, now that
// it can be reached, and keeps those that still cannot be made.
func (g *globalOptions) applyPendingRemovals(ctx context.Context) error {
	path, err := g.removalJournal(g.repoID)
	if err != nil {
		return err
	}
	list, err := loadRemovals(path)
	if err != nil || len(list) == 0 {
		return err
	}
	locs := map[string]backend.Backend{}
	for i, l := range g.multi.Locations() {
		if l.Enabled && g.multi.Health()[i].Healthy {
			locs[l.Name] = l.Backend
		}
	}
	var keep []pendingRemoval
	done := 0
	for _, p := range list {
		be, ok := locs[p.Location]
		if ok {
			err := be.Remove(ctx, p.handle())
			if err == nil || errors.Is(err, backend.ErrNotFound) {
				done++
				continue
			}
			g.warnf("removal of %s from %s still fails: %v", p.handle(), p.Location, err)
		}
		keep = append(keep, p)
	}
	if done > 0 {
		g.printf("applied %d removal(s) that had missed a location\n", done)
	}
	if len(keep) > 0 {
		g.warnf("%d removal(s) still wait for an unavailable location; run sync again when it is back", len(keep))
	}
	return saveRemovals(path, keep)
}
