package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/urfave/cli/v2"

	"github.com/cairnbackup/cairn/pattern"
	"github.com/cairnbackup/cairn/repo"
)

type diffOptions struct {
	metadata bool
	filter   snapshotFilter // selects what "latest" is
}

// newDiffCommand builds "cairn diff".
func newDiffCommand(g *globalOptions) *cli.Command {
	var o diffOptions
	return &cli.Command{
		Name:      "diff",
		Usage:     "show what changed between two snapshots",
		ArgsUsage: "SNAP1[:PATH] SNAP2[:PATH]",
		Description: `Compares two snapshots (or two folders in them; paths are then shown as in
the first) and lists every difference, one entry per line, folders with a
trailing "/":
   +  added             -  removed
   M  content changed (file data, link target or device number)
   T  type changed (for example a file replaced by a folder)
   U  only metadata changed: mode, owner, modification time or xattrs
then counts and the file data added and removed (chunks not in the other
version). Folders whose tree is the same in both are not read at all.
--metadata names the metadata that changed after M and U lines.
With --json: {"changes": [{"path", "modifier"}...], "stats": {...}}.`,
		Flags: append([]cli.Flag{
			&cli.BoolFlag{Name: "metadata", Destination: &o.metadata, Usage: "name the metadata that changed (mode, owner, mtime, xattrs)"},
		}, o.filter.flags()...),
		Action: func(c *cli.Context) error {
			if c.NArg() != 2 {
				return errors.New("diff takes two snapshots: cairn diff 1a2b3c4d latest")
			}
			return runDiff(c.Context, g, o, c.Args().Get(0), c.Args().Get(1))
		},
	}
}

// runDiff compares the folders named by arg1 and arg2 (SNAP[:PATH]).
func runDiff(ctx context.Context, g *globalOptions, o diffOptions, arg1, arg2 string) error {
	r, err := g.openReadRepo(ctx)
	if err != nil {
		return err
	}
	defer r.Close()
	var sa [2]*snapshotArg
	for i, arg := range []string{arg1, arg2} {
		if sa[i], err = resolveSnapshot(ctx, r, arg, &o.filter, pattern.Filter{}); err != nil {
			return err
		}
		if sa[i].node.Type != repo.NodeDir {
			return fmt.Errorf("%s is a %s in snapshot %s: diff compares folders", sa[i].path, sa[i].node.Type, sa[i].snap.ID().Short())
		}
	}
	g.printf("comparing snapshot %s to %s:\n", sa[0].snap.ID().Short(), sa[1].snap.ID().Short())
	w := bufio.NewWriterSize(g.stdout, 64<<10)
	changes := []diffChange{}
	d := &differ{r: r, metadata: o.metadata, emit: func(c diffChange) {
		if g.json {
			changes = append(changes, c)
			return
		}
		fmt.Fprintf(w, "%-4s %s", c.Modifier, c.Path)
		if len(c.Metadata) > 0 {
			fmt.Fprintf(w, "  (%s)", strings.Join(c.Metadata, ", "))
		}
		fmt.Fprintln(w)
	}}
	err = d.trees(ctx, sa[0].node.Subtree, sa[1].node.Subtree, sa[0].path)
	if ferr := w.Flush(); err == nil {
		err = ferr
	}
	if err != nil {
		return err
	}
	if g.json {
		return g.printJSON(map[string]any{
			"snapshot1": sa[0].snap.ID(), "snapshot2": sa[1].snap.ID(), "changes": changes, "stats": d.stats,
		})
	}
	g.printDiffStats(d.stats)
	return nil
}

// diffChange is one line of a diff.
type diffChange struct {
	Path     string   `json:"path"`
	Modifier string   `json:"modifier"`           // + - M T U
	Metadata []string `json:"metadata,omitempty"` // with --metadata: what changed
}

// diffStats counts the changes. Bytes are file data: the chunks of added
// (removed) files and those of changed files that the other version lacks,
// each distinct chunk once per file.
type diffStats struct {
	FilesAdded      int    `json:"files_added"`
	DirsAdded       int    `json:"dirs_added"`
	OthersAdded     int    `json:"others_added"`
	FilesRemoved    int    `json:"files_removed"`
	DirsRemoved     int    `json:"dirs_removed"`
	OthersRemoved   int    `json:"others_removed"`
	Changed         int    `json:"changed"`          // M
	TypeChanged     int    `json:"type_changed"`     // T
	MetadataChanged int    `json:"metadata_changed"` // U
	BytesAdded      uint64 `json:"bytes_added"`
	BytesRemoved    uint64 `json:"bytes_removed"`
}

// printDiffStats writes the summary that follows the changes.
func (g *globalOptions) printDiffStats(s diffStats) {
	g.printf("\nadded:    %d files, %d folders, %d others; %s of file data\n",
		s.FilesAdded, s.DirsAdded, s.OthersAdded, formatBytes(s.BytesAdded))
	g.printf("removed:  %d files, %d folders, %d others; %s of file data\n",
		s.FilesRemoved, s.DirsRemoved, s.OthersRemoved, formatBytes(s.BytesRemoved))
	g.printf("changed:  %d content (M), %d type (T), %d metadata only (U)\n",
		s.Changed, s.TypeChanged, s.MetadataChanged)
}
