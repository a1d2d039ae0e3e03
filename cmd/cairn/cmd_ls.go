package main

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"strings"

	"github.com/urfave/cli/v2"

	"github.com/cairnbackup/cairn/pattern"
	"github.com/cairnbackup/cairn/repo"
	"github.com/cairnbackup/cairn/walker"
)

type lsOptions struct {
	long      bool
	recursive bool
	filter    snapshotFilter // selects what "latest" is
}

// newLsCommand builds "cairn ls".
func newLsCommand(g *globalOptions) *cli.Command {
	var o lsOptions
	return &cli.Command{
		Name:      "ls",
		Usage:     "list the files and folders of a snapshot",
		ArgsUsage: "SNAP[:PATH] | SNAP PATH",
		Description: `Lists a snapshot's entries by full path, one per line. Without a path, the
whole snapshot is listed. With a path, that entry and, for a folder, its
direct contents; --recursive lists everything below it. -l shows them as
ls -l does (mode, owner, group, size, local time, path, -> link target).
With --json, one JSON object per entry and line. With a path, "latest" is
the newest snapshot that holds it, whichever job wrote it.`,
		Flags: append([]cli.Flag{
			&cli.BoolFlag{Name: "long", Aliases: []string{"l"}, Destination: &o.long, Usage: "long format: mode, owner, group, size, time"},
			&cli.BoolFlag{Name: "recursive", Aliases: []string{"R"}, Destination: &o.recursive, Usage: "list everything below PATH, not just its direct contents"},
		}, o.filter.flags()...),
		Action: func(c *cli.Context) error {
			arg, err := snapshotPathArg(c.Args().Slice(), "ls")
			if err != nil {
				return err
			}
			return runLs(c.Context, g, o, arg)
		},
	}
}

// snapshotPathArg accepts "SNAP[:PATH]" or "SNAP PATH" and returns the
// first form.
func snapshotPathArg(args []string, cmd string) (string, error) {
	switch {
	case len(args) == 1:
		return args[0], nil
	case len(args) == 2 && !strings.Contains(args[0], ":"):
		return args[0] + ":" + args[1], nil
	}
	return "", fmt.Errorf("%s takes one snapshot (latest or an id), optionally with a path: SNAP:PATH or SNAP PATH", cmd)
}

// runLs lists the entries named by arg (SNAP[:PATH]).
func runLs(ctx context.Context, g *globalOptions, o lsOptions, arg string) error {
	r, err := g.openReadRepo(ctx)
	if err != nil {
		return err
	}
	defer r.Close()
	sa, err := resolveSnapshot(ctx, r, arg, &o.filter, pattern.Filter{})
	if err != nil {
		return err
	}
	w := bufio.NewWriterSize(g.stdout, 64<<10)
	l := &lister{r: r, w: w, long: o.long}
	if g.json {
		l.json = json.NewEncoder(w)
		l.json.SetEscapeHTML(false)
	}
	if err := l.list(ctx, sa, o.recursive); err != nil {
		w.Flush() // what was listed before the error
		return err
	}
	return w.Flush()
}

// lister writes entries in one of the three formats.
type lister struct {
	r    *repo.Repository
	w    io.Writer
	long bool
	json *json.Encoder // set with --json
}

// list writes the entry named by the argument and what lies below it:
// everything for the root or with recursive, else a folder's direct
// contents.
func (l *lister) list(ctx context.Context, sa *snapshotArg, recursive bool) error {
	root := sa.path == "/"
	if !root {
		if err := l.print(sa.path, sa.node); err != nil {
			return err
		}
	}
	if sa.node.Type != repo.NodeDir {
		return nil
	}
	depth := 1
	if root || recursive {
		depth = -1 // unlimited
	}
	return l.walk(ctx, sa.node.Subtree, sa.path, depth)
}

// walk lists the tree's entries depth first, in name order, descending
// depth more levels (all of them when depth is negative).
func (l *lister) walk(ctx context.Context, id repo.ID, dir string, depth int) error {
	base := strings.Count(strings.TrimSuffix(dir, "/"), "/")
	return walker.Walk(ctx, l.r, id, dir, walker.Visitor{Node: func(path string, n *repo.Node) error {
		if err := l.print(path, n); err != nil {
			return err
		}
		if depth > 0 && strings.Count(path, "/")-base >= depth {
			return walker.ErrSkipTree
		}
		return nil
	}})
}

// print writes one entry.
func (l *lister) print(path string, n *repo.Node) error {
	var err error
	switch {
	case l.json != nil:
		err = l.json.Encode(newNodeJSON(path, n))
	case l.long:
		_, err = fmt.Fprintln(l.w, longLine(path, n))
	default:
		_, err = fmt.Fprintln(l.w, path)
	}
	if err != nil {
		return fmt.Errorf("write listing: %w", err)
	}
	return nil
}
