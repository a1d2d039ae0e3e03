package policy

import (
	"fmt"
	"slices"
	"strings"
)

// GroupBy says which snapshot facts split snapshots into groups, as restic's
// --group-by does. The zero GroupBy puts every snapshot in one group.
type GroupBy struct {
	Host, Paths, Tags bool
}

// DefaultGroupBy returns restic's default grouping: by host and paths.
func DefaultGroupBy() GroupBy {
	return GroupBy{Host: true, Paths: true}
}

// ParseGroupBy parses a comma-separated list of "host", "paths" and "tags"
// (or "path", "tag", "hosts"), as restic's --group-by takes it. Empty items are
// ignored, so "" means a single group.
func ParseGroupBy(s string) (GroupBy, error) {
	var g GroupBy
	for _, item := range strings.Split(s, ",") {
		switch strings.TrimSpace(item) {
		case "host", "hosts":
			g.Host = true
		case "path", "paths":
			g.Paths = true
		case "tag", "tags":
			g.Tags = true
		case "":
		default:
			return GroupBy{}, fmt.Errorf(`policy: unknown grouping %q in %q (want a comma-separated list of host, paths and tags, e.g. "host,paths", or "" for one group)`, item, s)
		}
	}
	return g, nil
}

// String returns the canonical form that ParseGroupBy reads back:
// "host,paths,tags" or a part of it, "" for one group.
func (g GroupBy) String() string {
	var parts []string
	for _, f := range []struct {
		on   bool
		name string
	}{{g.Host, "host"}, {g.Paths, "paths"}, {g.Tags, "tags"}} {
		if f.on {
			parts = append(parts, f.name)
		}
	}
	return strings.Join(parts, ",")
}

// GroupKey identifies a group. Only the fields grouped by are set; Paths and
// Tags are sorted copies, so snapshots whose paths or tags differ only in
// order share a group.
type GroupKey struct {
	Host  string
	Paths []string
	Tags  []string
}

// String describes the key for people: "host alpha, paths [/data /etc],
// tags [daily]", leaving out empty fields; "all snapshots" when none is set.
func (k GroupKey) String() string {
	var parts []string
	if k.Host != "" {
		parts = append(parts, "host "+k.Host)
	}
	if len(k.Paths) > 0 {
		parts = append(parts, fmt.Sprintf("paths %v", k.Paths))
	}
	if len(k.Tags) > 0 {
		parts = append(parts, fmt.Sprintf("tags %v", k.Tags))
	}
	if len(parts) == 0 {
		return "all snapshots"
	}
	return strings.Join(parts, ", ")
}

// compare orders keys by host, then paths, then tags.
func (k GroupKey) compare(o GroupKey) int {
	if c := strings.Compare(k.Host, o.Host); c != 0 {
		return c
	}
	if c := slices.Compare(k.Paths, o.Paths); c != 0 {
		return c
	}
	return slices.Compare(k.Tags, o.Tags)
}

// Group is the snapshots that share one key.
type Group struct {
	Key       GroupKey
	Snapshots []Snapshot
}

// GroupSnapshots splits snaps into groups by the facts in by. Groups come in
// ascending key order (host, then paths, then tags, each compared as
// strings); each group holds its snapshots in input order. A nil and an empty
// tag or path list are the same.
func GroupSnapshots(snaps []Snapshot, by GroupBy) []Group {
	var groups []Group
	index := map[string]int{}
	for _, s := range snaps {
		k := keyOf(s, by)
		id := fmt.Sprintf("%q %q %q", k.Host, k.Paths, k.Tags)
		i, ok := index[id]
		if !ok {
			i = len(groups)
			index[id] = i
			groups = append(groups, Group{Key: k})
		}
		groups[i].Snapshots = append(groups[i].Snapshots, s)
	}
	slices.SortFunc(groups, func(a, b Group) int { return a.Key.compare(b.Key) })
	return groups
}

// keyOf returns the key of s under by.
func keyOf(s Snapshot, by GroupBy) GroupKey {
	var k GroupKey
	if by.Host {
		k.Host = s.Host
	}
	if by.Paths && len(s.Paths) > 0 {
		k.Paths = slices.Sorted(slices.Values(s.Paths))
	}
	if by.Tags && len(s.Tags) > 0 {
		k.Tags = slices.Sorted(slices.Values(s.Tags))
	}
	return k
}
