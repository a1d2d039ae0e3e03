package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"slices"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/cairnbackup/cairn/pattern"
	"github.com/cairnbackup/cairn/repo"
	"github.com/cairnbackup/cairn/walker"
)

type findOptions struct {
	snapshots []string
	filter    snapshotFilter
}

// newFindCommand builds "cairn find".
func newFindCommand(g *globalOptions) *cli.Command {
	var o findOptions
	return &cli.Command{
		Name:      "find",
		Usage:     "find files and folders by name or path in snapshots",
		ArgsUsage: "PATTERN...",
		Description: `Searches every snapshot (or those given with --snapshot, or selected with
--host, --tag and --path as in "cairn snapshots") for entries whose absolute
path matches one of the patterns: globs with * ? [...] for one path
component and ** for any number of them. A pattern starting with "/" is
matched from the root; any other may match at any depth, so "*.conf"
matches every entry whose name ends in .conf. A folder that matches is
listed itself, not everything inside it: use "/etc/**" for that.
Matches are listed per snapshot, oldest first, as ls -l shows them.`,
		Flags: append([]cli.Flag{
			&cli.StringSliceFlag{Name: "snapshot", Aliases: []string{"s"}, Usage: "search only snapshot `ID` (repeat for several)"},
		}, o.filter.flags()...),
		Action: func(c *cli.Context) error {
			if c.NArg() == 0 {
				return errors.New("find takes at least one pattern: cairn find '*.conf'")
			}
			o.snapshots = c.StringSlice("snapshot")
			return runFind(c.Context, g, o, c.Args().Slice())
		},
	}
}

// runFind searches the selected snapshots for paths matching the patterns
// in args, printing the matches of each snapshot as soon as it is searched.
func runFind(ctx context.Context, g *globalOptions, o findOptions, args []string) error {
	pats, err := parsePatterns(args)
	if err != nil {
		return err
	}
	r, err := g.openReadRepo(ctx)
	if err != nil {
		return err
	}
	defer r.Close()
	snaps, err := g.selectSnapshots(ctx, r, o.snapshots, &o.filter)
	if err != nil {
		return err
	}
	f := &finder{r: r, patterns: pats, trees: map[repo.ID]*repo.Tree{}, barren: map[treeAt]struct{}{}}
	results := []findResult{}
	total, hits := 0, 0
	for _, s := range snaps {
		var found []foundEntry
		err := f.walk(ctx, s.Tree, func(path string, n *repo.Node) {
			found = append(found, foundEntry{path, n})
		})
		if err != nil {
			return fmt.Errorf("snapshot %s: %w", s.ID().Short(), err)
		}
		if len(found) == 0 {
			continue
		}
		total, hits = total+len(found), hits+1
		if g.json {
			results = append(results, newFindResult(s, found))
		} else {
			if err := printFound(g.stdout, s, found); err != nil {
				return err
			}
		}
	}
	if g.json {
		return g.printJSON(results)
	}
	g.printf("%d match(es) in %d of %d snapshot(s)\n", total, hits, len(snaps))
	return nil
}

// findResult is the JSON form of the matches in one snapshot.
type findResult struct {
	Snapshot repo.ID    `json:"snapshot"`
	ShortID  string     `json:"short_id"`
	Time     time.Time  `json:"time"`
	Hostname string     `json:"hostname"`
	Matches  []nodeJSON `json:"matches"`
}

// newFindResult describes the matches in snapshot s.
func newFindResult(s *repo.Snapshot, found []foundEntry) findResult {
	res := findResult{Snapshot: s.ID(), ShortID: s.ID().Short(), Time: s.Time, Hostname: s.Hostname}
	for _, m := range found {
		res.Matches = append(res.Matches, newNodeJSON(m.path, m.node))
	}
	return res
}

// foundEntry is one match.
type foundEntry struct {
	path string
	node *repo.Node
}

// printFound writes a heading and one ls -l line per match.
func printFound(w io.Writer, s *repo.Snapshot, found []foundEntry) error {
	bw := bufio.NewWriter(w)
	fmt.Fprintf(bw, "snapshot %s of %s at %s:\n", s.ID().Short(), s.Hostname, s.Time.Local().Format(timeLayout))
	for _, m := range found {
		fmt.Fprintln(bw, longLine(m.path, m.node))
	}
	fmt.Fprintln(bw)
	return bw.Flush()
}

// parsePatterns parses the patterns to search for.
func parsePatterns(args []string) ([]pattern.Pattern, error) {
	var pats []pattern.Pattern
	for _, a := range args {
		p, err := pattern.Parse(a)
		if err != nil {
			return nil, err
		}
		pats = append(pats, p)
	}
	return pats, nil
}

// treeAt is a tree at a place: what a search below it finds depends on
// both, since patterns match whole paths.
type treeAt struct {
	id  repo.ID
	dir string
}

// finder walks snapshots, loading each distinct tree once however many
// snapshots share it, and skipping trees already known to hold no match at
// the same place.
type finder struct {
	r        *repo.Repository
	patterns []pattern.Pattern
	// trees holds every tree read, so memory grows with the number of
	// distinct trees of the snapshots searched; that is what spares
	// reading (and decrypting) a tree again for each snapshot.
	trees  map[repo.ID]*repo.Tree
	barren map[treeAt]struct{} // no match at or below
}

// LoadTree returns the tree id, read once (walker.TreeLoader).
func (f *finder) LoadTree(ctx context.Context, id repo.ID) (*repo.Tree, error) {
	if t, ok := f.trees[id]; ok {
		return t, nil
	}
	t, err := f.r.LoadTree(ctx, id)
	if err != nil {
		return nil, err
	}
	f.trees[id] = t
	return t, nil
}

// match reports whether path itself matches one of the patterns.
func (f *finder) match(path string) bool {
	return slices.ContainsFunc(f.patterns, func(p pattern.Pattern) bool { return p.MatchExact(path) })
}

// walk calls emit for each match below the root tree id, depth first in
// name order. A folder with no match at or below it is remembered by tree
// and place, and skipped the next time.
func (f *finder) walk(ctx context.Context, id repo.ID, emit func(string, *repo.Node)) error {
	if _, ok := f.barren[treeAt{id, "/"}]; ok {
		return nil
	}
	found := []bool{false} // one flag per folder being walked, the root first
	return walker.Walk(ctx, f, id, "/", walker.Visitor{
		Node: func(path string, n *repo.Node) error {
			if f.match(path) {
				emit(path, n)
				found[len(found)-1] = true
			}
			if n.Type != repo.NodeDir {
				return nil
			}
			if _, ok := f.barren[treeAt{n.Subtree, path}]; ok {
				return walker.ErrSkipTree
			}
			found = append(found, false)
			return nil
		},
		Leave: func(path string, id repo.ID) error {
			below := found[len(found)-1]
			found = found[:len(found)-1]
			if !below {
				f.barren[treeAt{id, path}] = struct{}{}
			} else if len(found) > 0 {
				found[len(found)-1] = true
			}
			return nil
		},
	})
}
