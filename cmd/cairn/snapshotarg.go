package main

import (
	"context"
	"strings"

	"github.com/cairnbackup/cairn/pattern"
	"github.com/cairnbackup/cairn/repo"
	"github.com/cairnbackup/cairn/restorer"
)

// snapshotArg is a parsed SNAP[:PATH] argument.
type snapshotArg struct {
	snap *repo.Snapshot
	path string // absolute path inside the snapshot, "/" for the root
	node *repo.Node
}

// resolveSnapshot parses "latest", an id prefix, and an optional ":PATH",
// and finds the node at PATH (see restorer.Locate): "latest" is the newest
// snapshot f selects that holds PATH and, for a restore, something match
// selects.
func resolveSnapshot(ctx context.Context, r *repo.Repository, arg string, f *snapshotFilter, match pattern.Filter) (*snapshotArg, error) {
	name, path, _ := strings.Cut(arg, ":")
	rf, err := f.repoFilter()
	if err != nil {
		return nil, err
	}
	snaps, err := r.Snapshots(ctx, func(repo.ID, error) error { return nil })
	if err != nil {
		return nil, err
	}
	loc, err := restorer.Locate(ctx, r, snaps, name, path, rf, match)
	if err != nil {
		return nil, about("snapshot", name, err)
	}
	return &snapshotArg{snap: loc.Snapshot, path: loc.Path, node: loc.Node}, nil
}
