package main

import (
	"context"
	"fmt"
	"path/filepath"
	"strings"

	"github.com/urfave/cli/v2"

	"github.com/cairnbackup/cairn/repo"
)

// repeatedFlag collects every value of a repeatable flag as given. Unlike
// cli.StringSliceFlag it does not split values at commas, so "--tag a,b"
// stays one value (and paths with commas survive).
type repeatedFlag []string

// Set appends one value (cli.Generic).
func (f *repeatedFlag) Set(v string) error {
	*f = append(*f, v)
	return nil
}

// String returns the values for help output (cli.Generic).
func (f *repeatedFlag) String() string { return strings.Join(*f, " ") }

// snapshotFilter selects snapshots by host, tags and paths.
//
// Semantics (restic's): a snapshot is selected when its host is one of the
// --host values (if any are given); when, for at least one --tag value,
// it carries every comma-separated tag of that value (so --tag a,b needs
// both a and b, --tag a --tag b needs either); and when its paths include
// every --path value (made absolute and clean).
type snapshotFilter struct {
	hosts, tags, paths repeatedFlag
}

// flags returns the --host, --tag and --path flags, bound to f.
func (f *snapshotFilter) flags() []cli.Flag {
	return []cli.Flag{
		&cli.GenericFlag{Name: "host", Value: &f.hosts, Usage: "only snapshots of `HOST` (repeat for any of several)"},
		&cli.GenericFlag{Name: "tag", Value: &f.tags,
			Usage: "only snapshots carrying `TAG[,TAG...]`: all tags of one value, any of several --tag"},
		&cli.GenericFlag{Name: "path", Value: &f.paths, Usage: "only snapshots whose paths include `PATH` (repeat: all of them)"},
	}
}

// repoFilter turns the flags into a repository snapshot filter, making
// --path values absolute.
func (f *snapshotFilter) repoFilter() (repo.SnapshotFilter, error) {
	rf := repo.SnapshotFilter{Hosts: f.hosts}
	for _, p := range f.paths {
		abs, err := filepath.Abs(p)
		if err != nil {
			return rf, fmt.Errorf("--path %s: %w", p, err)
		}
		rf.Paths = append(rf.Paths, abs)
	}
	for _, t := range f.tags {
		var set []string
		for _, tag := range strings.Split(t, ",") {
			if tag = strings.TrimSpace(tag); tag != "" {
				set = append(set, tag)
			}
		}
		rf.TagSets = append(rf.TagSets, set)
	}
	return rf, nil
}

// listSnapshots loads every snapshot, oldest first, warning about (and
// skipping) the ones that cannot be read.
func (g *globalOptions) listSnapshots(ctx context.Context, r *repo.Repository) ([]*repo.Snapshot, error) {
	snaps, err := r.Snapshots(ctx, func(id repo.ID, err error) error {
		g.warnf("snapshot %s cannot be read (skipped): %v", id.Short(), err)
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("list snapshots: %w", err)
	}
	return snaps, nil
}

// selectSnapshots returns the snapshots named in names ("latest" or id
// prefixes, in the order given, without repeats), or all of them when names
// is empty; either way only those the filter selects.
func (g *globalOptions) selectSnapshots(ctx context.Context, r *repo.Repository, names []string, f *snapshotFilter) ([]*repo.Snapshot, error) {
	rf, err := f.repoFilter()
	if err != nil {
		return nil, err
	}
	all, err := g.listSnapshots(ctx, r)
	if err != nil {
		return nil, err
	}
	return repo.SelectSnapshots(all, names, rf)
}
