package restorer

import (
	"context"
	"errors"
	"fmt"
	"path"
	"strconv"
	"strings"

	"github.com/cairnbackup/cairn/pattern"
	"github.com/cairnbackup/cairn/repo"
)

// ErrNoSuchPath is returned when a path is not in a snapshot.
var ErrNoSuchPath = errors.New("no such file or folder")

// ErrNothingMatched is returned when a restore's patterns select nothing
// in the snapshot.
var ErrNothingMatched = errors.New("nothing matches")

// Located is a path found in a snapshot.
type Located struct {
	Snapshot *repo.Snapshot
	Path     string // absolute and clean; "/" is the snapshot's root
	Node     *repo.Node
}

// Locate finds p (an absolute path; "" means "/") in the snapshot called
// name, "latest" or an id prefix, among all (oldest first, as
// repo.Snapshots returns them).
//
// An id prefix names its snapshot whatever the filter. "latest" is the
// newest of repo.LatestCandidates (the filter's snapshots whose sources
// lead to p, the newest of each job) whose tree holds p: with several
// jobs in one repository, `latest` and /etc/app/app.yaml mean the newest
// snapshot of the job that backs up /etc/app, whichever job ran last.
//
// When match has patterns (a restore's), the snapshot must also hold an
// entry below p (or p itself, for a file) that match selects; "latest"
// then skips the candidates that hold none. Errors name the snapshots
// looked at and wrap ErrNoSuchPath, ErrNothingMatched or repo.ErrNotFound.
func Locate(ctx context.Context, r TreeLoader, all []*repo.Snapshot, name, p string, f repo.SnapshotFilter, match pattern.Filter) (*Located, error) {
	p = path.Clean("/" + p)
	var cands []*repo.Snapshot
	if name == "latest" {
		var err error
		if cands, err = repo.LatestCandidates(all, f, p); err != nil {
			return nil, err
		}
	} else {
		s, err := repo.FindSnapshot(all, name)
		if err != nil {
			return nil, err
		}
		cands = []*repo.Snapshot{s}
	}
	var missing, unmatched []*repo.Snapshot
	for _, s := range cands {
		node, err := Lookup(ctx, r, s.Tree, p)
		if errors.Is(err, ErrNoSuchPath) {
			missing = append(missing, s)
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("snapshot %s: %w", s.Label(), err)
		}
		if hasPatterns(match) {
			ok, err := holdsMatch(ctx, r, node, p, match)
			if err != nil {
				return nil, fmt.Errorf("snapshot %s: %w", s.Label(), err)
			}
			if !ok {
				unmatched = append(unmatched, s)
				continue
			}
		}
		return &Located{Snapshot: s, Path: p, Node: node}, nil
	}
	if len(unmatched) > 0 {
		return nil, nothingMatched(match, p, unmatched)
	}
	return nil, fmt.Errorf("%s: %w in snapshot %s", p, ErrNoSuchPath, labels(missing))
}

// hasPatterns reports whether the filter leaves anything out.
func hasPatterns(f pattern.Filter) bool { return len(f.Include)+len(f.Exclude) > 0 }

// holdsMatch reports whether the filter selects the file node at p, or,
// for a folder, an entry below it. It stops at the first one, loading only
// the trees a restore with the filter would walk.
func holdsMatch(ctx context.Context, r TreeLoader, node *repo.Node, p string, f pattern.Filter) (bool, error) {
	if node.Type != repo.NodeDir {
		return f.Selected(p), nil
	}
	tree, err := r.LoadTree(ctx, node.Subtree)
	if err != nil {
		return false, fmt.Errorf("read folder %s: %w", p, err)
	}
	for i := range tree.Nodes {
		n := &tree.Nodes[i]
		abs := joinAbs(p, n.Name)
		if f.Selected(abs) {
			return true, nil
		}
		if n.Type != repo.NodeDir || !f.Descend(abs) {
			continue
		}
		if ok, err := holdsMatch(ctx, r, n, abs, f); ok || err != nil {
			return ok, err
		}
	}
	return false, nil
}

// nothingMatched says which patterns selected nothing, where.
func nothingMatched(f pattern.Filter, p string, snaps []*repo.Snapshot) error {
	where := ""
	if p != "/" {
		where = " below " + p
	}
	return fmt.Errorf("%w the patterns (%s)%s in snapshot %s: check their spelling; `cairn find PATTERN` lists the matching paths of every snapshot",
		ErrNothingMatched, describePatterns(f), where, labels(snaps))
}

// describePatterns lists a filter's patterns: include "a", exclude "b".
func describePatterns(f pattern.Filter) string {
	var parts []string
	for _, p := range f.Include {
		parts = append(parts, "include "+strconv.Quote(p.String()))
	}
	for _, p := range f.Exclude {
		parts = append(parts, "exclude "+strconv.Quote(p.String()))
	}
	return strings.Join(parts, ", ")
}

// labels names snapshots: "A", "A or B", "A, B or C".
func labels(snaps []*repo.Snapshot) string {
	var b strings.Builder
	for i, s := range snaps {
		switch {
		case i == 0:
		case i == len(snaps)-1:
			b.WriteString(" or ")
		default:
			b.WriteString(", ")
		}
		b.WriteString(s.Label())
	}
	return b.String()
}
