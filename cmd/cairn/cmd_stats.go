package main

import (
	"context"
	"fmt"

	"github.com/urfave/cli/v2"
)

// Stats modes.
const (
	statsAll         = "all"
	statsRestoreSize = "restore-size"
	statsRawData     = "raw-data"
)

type statsOptions struct {
	mode   string
	filter snapshotFilter
}

// newStatsCommand builds "cairn stats".
func newStatsCommand(g *globalOptions) *cli.Command {
	var o statsOptions
	return &cli.Command{
		Name:      "stats",
		Usage:     "show how much the snapshots hold and how much they take",
		ArgsUsage: "[SNAP...]",
		Description: `For the snapshots given (latest or id prefixes; default all, or those
selected with --host, --tag and --path as in "cairn snapshots"):
   restore size  the files a restore would write, each file counted once per
                 snapshot (hard links once), and how many
   stored        the distinct data and tree blobs they use: their size in
                 the packs, and their size before compression
and from those the deduplication ratio (restore size / plaintext of the
distinct data blobs) and the compression ratio (plaintext of the distinct
data and tree blobs / their stored size), and the repository's pack and
blob counts. --mode restore-size looks up no blobs (faster, and without
the memory that takes); --mode raw-data reports only the stored side.
With --json, one object.`,
		Flags: append([]cli.Flag{
			&cli.StringFlag{Name: "mode", Value: statsAll, Destination: &o.mode, Usage: "what to compute: all, restore-size or raw-data"},
		}, o.filter.flags()...),
		Action: func(c *cli.Context) error {
			return runStats(c.Context, g, o, c.Args().Slice())
		},
	}
}

// runStats totals the snapshots named (or selected) and the repository.
func runStats(ctx context.Context, g *globalOptions, o statsOptions, names []string) error {
	if o.mode != statsAll && o.mode != statsRestoreSize && o.mode != statsRawData {
		return fmt.Errorf("--mode %q: use all, restore-size or raw-data", o.mode)
	}
	r, err := g.openRepo(ctx)
	if err != nil {
		return err
	}
	defer r.Close()
	snaps, err := g.selectSnapshots(ctx, r, names, &o.filter)
	if err != nil {
		return err
	}
	w := newStatsWalker(r, o.mode != statsRestoreSize)
	for _, s := range snaps {
		t, err := w.snapshot(ctx, s.Tree)
		if err != nil {
			return fmt.Errorf("snapshot %s: %w", s.ID().Short(), err)
		}
		w.res.add(t)
	}
	res := w.res
	res.Snapshots = len(snaps)
	res.Mode = o.mode
	if res.Packs, res.RepoBlobs, err = r.IndexCounts(); err != nil {
		return fmt.Errorf("count the index: %w", err)
	}
	res.ratios()
	if g.json {
		return g.printJSON(res)
	}
	g.printStats(&res)
	return nil
}

// statsResult is what stats reports (the JSON object).
type statsResult struct {
	Mode      string `json:"mode"`
	Snapshots int    `json:"snapshots"`
	// restore size: over all snapshots, each file once per snapshot
	Files       uint64 `json:"total_file_count"`
	Dirs        uint64 `json:"total_dir_count"`
	RestoreSize uint64 `json:"total_size"`
	// raw data: distinct blobs
	TreeBlobs  uint64 `json:"tree_blobs"`
	DataBlobs  uint64 `json:"data_blobs"`
	StoredSize uint64 `json:"stored_size"`     // sealed, as in the packs
	PlainSize  uint64 `json:"plain_size"`      // before compression
	DataPlain  uint64 `json:"data_plain_size"` // of the data blobs alone
	// ratios, when both sides were computed and are not zero
	DedupRatio       float64 `json:"dedup_ratio,omitempty"`
	CompressionRatio float64 `json:"compression_ratio,omitempty"`
	// the whole repository, from the index
	Packs     int `json:"repository_packs"`
	RepoBlobs int `json:"repository_blobs"`
}

// add counts one snapshot's tree totals.
func (s *statsResult) add(t treeTotals) {
	s.Files += t.files
	s.Dirs += t.dirs
	s.RestoreSize += t.bytes
}

// ratios fills in the ratios that the mode allows.
func (s *statsResult) ratios() {
	if s.Mode != statsAll {
		return
	}
	if s.DataPlain > 0 {
		s.DedupRatio = float64(s.RestoreSize) / float64(s.DataPlain)
	}
	if s.StoredSize > 0 {
		s.CompressionRatio = float64(s.PlainSize) / float64(s.StoredSize)
	}
}

// printStats writes the totals for people, leaving out what the mode
// did not compute.
func (g *globalOptions) printStats(s *statsResult) {
	g.printf("snapshots:      %d\n", s.Snapshots)
	if s.Mode != statsRawData {
		g.printf("restore size:   %s in %d files, %d folders\n", formatBytes(s.RestoreSize), s.Files, s.Dirs)
	}
	if s.Mode != statsRestoreSize {
		g.printf("stored:         %s in packs, %s before compression, in %d data and %d tree blobs\n",
			formatBytes(s.StoredSize), formatBytes(s.PlainSize), s.DataBlobs, s.TreeBlobs)
	}
	if s.DedupRatio > 0 {
		g.printf("deduplication:  %.2fx (restore size / distinct file data, %s)\n", s.DedupRatio, formatBytes(s.DataPlain))
	}
	if s.CompressionRatio > 0 {
		g.printf("compression:    %.2fx (before compression / stored)\n", s.CompressionRatio)
	}
	g.printf("repository:     %d packs, %d blobs\n", s.Packs, s.RepoBlobs)
}
