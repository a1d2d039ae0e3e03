package main

import (
	"context"
	"fmt"

	"github.com/urfave/cli/v2"

	"github.com/cairnbackup/cairn/repo"
	"github.com/cairnbackup/cairn/repo/prune"
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
blob counts. Then the repository's storage: the bytes its packs take (what
du counts under data/), broken down into what the snapshots use, blobs no
snapshot uses, second copies, pack headers, condemned packs and garbage,
and what the next prune would delete and condemn. --mode restore-size looks up no blobs (faster, and without
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
	r, err := g.openReadRepo(ctx)
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
	if o.mode != statsRestoreSize {
		if res.Storage, err = storageStats(ctx, r); err != nil {
			return err
		}
	}
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
	// the whole repository's storage, as prune sees it
	Storage *storageResult `json:"storage,omitempty"`
}

// storageResult is what the packs in storage hold: every snapshot's
// used blobs, and what the next prunes would free.
type storageResult struct {
	prune.Stats
	// NextPrune is what `cairn prune` with its defaults would do now:
	// delete (bytes freed at once) and condemn (freed by a prune after the
	// grace period).
	NextPruneDeletes  int64 `json:"next_prune_deletes"`
	NextPruneCondemns int64 `json:"next_prune_condemns"`
}

// storageStats plans a prune with the default options (changing nothing)
// to break the packs' bytes down.
func storageStats(ctx context.Context, r *repo.Repository) (*storageResult, error) {
	plan, err := prune.PlanPrune(ctx, r, prune.DefaultOptions())
	if err != nil {
		return nil, fmt.Errorf("break down storage: %w", err)
	}
	now, later := plan.Frees()
	return &storageResult{Stats: plan.Stats, NextPruneDeletes: now, NextPruneCondemns: later}, nil
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
	if st := s.Storage; st != nil {
		g.printf("storage:        %s in %d pack(s), of which (for every snapshot):\n", formatBytes(uint64(st.PackBytes)), st.Packs)
		g.printf("  used          %s in %d blob(s)\n", formatBytes(uint64(st.UsedBytes)), st.UsedBlobs)
		g.printf("  unused        %s in %d blob(s) no snapshot uses\n", formatBytes(uint64(st.UnusedBytes)), st.UnusedBlobs)
		g.printf("  duplicates    %s in %d second copies\n", formatBytes(uint64(st.DuplicateBytes)), st.DuplicateBlobs)
		g.printf("  headers       %s\n", formatBytes(uint64(st.HeaderBytes)))
		g.printf("  condemned     %s in %d pack(s) awaiting deletion\n", formatBytes(uint64(st.CondemnedBytes)), st.CondemnedPacks)
		g.printf("  garbage       %s in %d pack(s) no index names\n", formatBytes(uint64(st.GarbageBytes)), st.GarbagePacks)
		g.printf("next prune:     deletes %s, condemns %s (deleted by a prune a day later)\n", formatBytes(uint64(st.NextPruneDeletes)), formatBytes(uint64(st.NextPruneCondemns)))
	}
}
