package main

import (
	"context"
	"strings"

	"github.com/cairnbackup/cairn/repo"
	"github.com/cairnbackup/cairn/restorer"
)

// snapshotArg is a parsed SNAP[:PATH] argument.
type snapshotArg struct {
	snap *repo.Snapshot
	path string // absolute path inside the snapshot, "/" for the root
	node *repo.Node
}

// resolveSnapshot parses "latest" (the newest snapshot f selects), an id
// prefix, and an optional ":PATH", and finds the node at PATH.
func resolveSnapshot(ctx context.Context, r *repo.Repository, arg string, f *snapshotFilter) (*snapshotArg, error) {
	name, path, _ := strings.Cut(arg, ":")
	rf, err := f.repoFilter()
	if err != nil {
		return nil, err
	}
	snaps, err := r.Snapshots(ctx, func(repo.ID, error) error { return nil })
	if err != nil {
		return nil, err
	}
	snap, err := repo.PickSnapshot(snaps, name, rf)
	if err != nil {
		return nil, about("snapshot", name, err)
	}
	if path == "" {
		path = "/"
	}
	if !strings.HasPrefix(path, "/") {
		path = "/" + path
	}
	node, err := restorer.Lookup(ctx, r, snap.Tree, path)
	if err != nil {
		return nil, about("snapshot", snap.ID().String(), err)
	}
	return &snapshotArg{snap: snap, path: path, node: node}, nil
}
