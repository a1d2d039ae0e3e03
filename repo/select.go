package repo

import (
	"fmt"
	"slices"
	"strings"
	"time"
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

// LeadsTo reports whether the snapshot's tree can hold path (absolute and
// clean): one of its sources is path or lies above it, or lies below it,
// so that path is one of the folders on the way to that source. Every
// snapshot leads to "/".
func (s *Snapshot) LeadsTo(path string) bool {
	return slices.ContainsFunc(s.Paths, func(p string) bool { return within(path, p) || within(p, path) })
}

// within reports whether p is dir or lies below it (both absolute, clean).
func within(p, dir string) bool {
	return p == dir || dir == "/" || strings.HasPrefix(p, dir+"/")
}

// Label names the snapshot in messages: its short id, what it backs up,
// and when (local time).
func (s *Snapshot) Label() string {
	what := strings.Join(s.Paths, ", ")
	if s.Job != "" {
		what = "job " + s.Job + ": " + what
	}
	return fmt.Sprintf("%s (%s, %s)", s.id.Short(), what, s.Time.Local().Format(time.DateTime))
}

// LatestCandidates returns, newest first, the snapshots that "latest" may
// name for a command reading path (absolute and clean; "/" for the whole
// snapshot): those the filter selects whose sources lead to path (see
// LeadsTo), and of each host, job and set of sources only the newest. On
// a repository that several jobs back up into, `latest` and a path thus
// mean the newest snapshot of the job that backs that path up, whichever
// job ran last; an older snapshot of that job is not a candidate, so a
// file deleted (or excluded) since is not read from it under the name
// latest: name that snapshot by its id instead. all is sorted oldest
// first, as Snapshots returns it. None is ErrNotFound, with a message
// that names the newest snapshot the filter selects.
func LatestCandidates(all []*Snapshot, f SnapshotFilter, path string) ([]*Snapshot, error) {
	newest, err := PickSnapshot(all, "latest", f)
	if err != nil {
		return nil, err
	}
	type group struct{ host, job, paths string }
	seen := map[group]bool{}
	var out []*Snapshot
	for i := len(all) - 1; i >= 0; i-- {
		s := all[i]
		if !f.Match(s) || !s.LeadsTo(path) {
			continue
		}
		g := group{s.Hostname, s.Job, strings.Join(s.Paths, "\x00")}
		if seen[g] {
			continue
		}
		seen[g] = true
		out = append(out, s)
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("%w: no snapshot backs up %s; the newest, %s, backs up other paths: name a snapshot that holds it (cairn snapshots lists them with their paths)",
			ErrNotFound, path, newest.Label())
	}
	return out, nil
}
