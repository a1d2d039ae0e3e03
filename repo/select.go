package repo

import (
	"fmt"
	"slices"
)

// SnapshotFilter selects snapshots by host, tags and paths, with restic's
// meaning: a snapshot is selected when its host is one of Hosts (if any are
// given); when, for at least one of TagSets, it carries every tag of that
// set (so {{"a","b"}} needs both a and b, {{"a"},{"b"}} either); and when
// its paths include every one of Paths (absolute and clean). The zero
// filter selects every snapshot.
type SnapshotFilter struct {
	Hosts   []string
	TagSets [][]string
	Paths   []string
}

// Match reports whether the filter selects s.
func (f SnapshotFilter) Match(s *Snapshot) bool {
	if len(f.Hosts) > 0 && !slices.Contains(f.Hosts, s.Hostname) {
		return false
	}
	if len(f.TagSets) > 0 && !slices.ContainsFunc(f.TagSets, func(set []string) bool { return hasAllTags(s, set) }) {
		return false
	}
	for _, p := range f.Paths {
		if !slices.Contains(s.Paths, p) {
			return false
		}
	}
	return true
}

// hasAllTags reports whether s carries every tag of set.
func hasAllTags(s *Snapshot, set []string) bool {
	for _, t := range set {
		if !s.HasTag(t) {
			return false
		}
	}
	return true
}

// SelectSnapshots returns the snapshots named ("latest" or id prefixes, in
// the order given, without repeats), or all of them when names is empty;
// either way only those the filter selects. all is sorted oldest first, as
// Snapshots returns it.
func SelectSnapshots(all []*Snapshot, names []string, f SnapshotFilter) ([]*Snapshot, error) {
	if len(names) == 0 {
		return slices.DeleteFunc(slices.Clone(all), func(s *Snapshot) bool { return !f.Match(s) }), nil
	}
	var out []*Snapshot
	for _, name := range names {
		s, err := PickSnapshot(all, name, f)
		if err != nil {
			return nil, err
		}
		if f.Match(s) && !slices.Contains(out, s) {
			out = append(out, s)
		}
	}
	return out, nil
}

// PickSnapshot finds name among all (sorted oldest first): "latest" is the
// newest snapshot the filter selects, so that on a repository shared by
// several hosts `latest --host web1` is web1's; an id prefix names its
// snapshot whatever the filter.
func PickSnapshot(all []*Snapshot, name string, f SnapshotFilter) (*Snapshot, error) {
	if name == "latest" {
		sel := slices.DeleteFunc(slices.Clone(all), func(s *Snapshot) bool { return !f.Match(s) })
		if len(sel) == 0 && len(all) > 0 {
			return nil, fmt.Errorf("%w: no snapshot matches the --host, --tag and --path filters", ErrNotFound)
		}
		all = sel
	}
	return FindSnapshot(all, name)
}
