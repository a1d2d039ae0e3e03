package main

import (
	"context"
	"fmt"
	"path/filepath"
	"slices"
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

// matcher compiles the filter, resolving --path values to absolute paths.
func (f *snapshotFilter) matcher() (func(*repo.Snapshot) bool, error) {
	paths := make([]string, len(f.paths))
	for i, p := range f.paths {
		abs, err := filepath.Abs(p)
		if err != nil {
			return nil, fmt.Errorf("--path %s: %w", p, err)
		}
		paths[i] = abs
	}
	var tagSets [][]string
	for _, t := range f.tags {
		var set []string
		for _, tag := range strings.Split(t, ",") {
			if tag = strings.TrimSpace(tag); tag != "" {
				set = append(set, tag)
			}
		}
		tagSets = append(tagSets, set)
	}
	return func(s *repo.Snapshot) bool {
		if len(f.hosts) > 0 && !slices.Contains(f.hosts, s.Hostname) {
			return false
		}
		if len(tagSets) > 0 && !slices.ContainsFunc(tagSets, func(set []string) bool { return hasAllTags(s, set) }) {
			return false
		}
		for _, p := range paths {
			if !slices.Contains(s.Paths, p) {
				return false
			}
		}
		return true
	}, nil
}

// hasAllTags reports whether s carries every tag of set.
func hasAllTags(s *repo.Snapshot, set []string) bool {
	for _, t := range set {
		if !s.HasTag(t) {
			return false
		}
	}
	return true
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
	keep, err := f.matcher()
	if err != nil {
		return nil, err
	}
	all, err := g.listSnapshots(ctx, r)
	if err != nil {
		return nil, err
	}
	if len(names) == 0 {
		return slices.DeleteFunc(all, func(s *repo.Snapshot) bool { return !keep(s) }), nil
	}
	var out []*repo.Snapshot
	for _, name := range names {
		s, err := pickSnapshot(all, name, keep)
		if err != nil {
			return nil, err
		}
		if keep(s) && !slices.Contains(out, s) {
			out = append(out, s)
		}
	}
	return out, nil
}

// pickSnapshot finds name among all (sorted oldest first): "latest" is the
// newest snapshot the filter selects, so that on a repository shared by
// several hosts `latest --host web1` is web1's; an id prefix names its
// snapshot whatever the filter.
func pickSnapshot(all []*repo.Snapshot, name string, keep func(*repo.Snapshot) bool) (*repo.Snapshot, error) {
	if name == "latest" {
		sel := slices.DeleteFunc(slices.Clone(all), func(s *repo.Snapshot) bool { return !keep(s) })
		if len(sel) == 0 && len(all) > 0 {
			return nil, fmt.Errorf("%w: no snapshot matches the --host, --tag and --path filters", repo.ErrNotFound)
		}
		all = sel
	}
	return repo.FindSnapshot(all, name)
}
