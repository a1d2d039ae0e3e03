package main

import (
	"context"
	"errors"
	"fmt"

	"github.com/urfave/cli/v2"

	"github.com/cairnbackup/cairn/backend"
	"github.com/cairnbackup/cairn/backend/mirror"
	"github.com/cairnbackup/cairn/repo"
)

type syncOptions struct {
	to           string
	delete       bool
	dryRun       bool
	parallel     int
	createBucket bool
}

func newSyncCommand(g *globalOptions) *cli.Command {
	var o syncOptions
	return &cli.Command{
		Name:  "sync",
		Usage: "copy every object a location lacks (same repository, same keys)",
		Description: `Makes --to hold every object of the repository (-r): packs, index, keys,
snapshots and the config, copying only what is missing and checking each
object's hash on the way. An interrupted sync resumes when run again. An
empty (or new) location is initialised as a copy. Objects only --to has are
kept unless --delete is given; they are removed after everything was
copied, snapshots first. No key is needed: objects are copied as stored.

Without --to, on a repository with several locations (repeated -r, or the
configuration file), every enabled location is brought up to the union of
them all.`,
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "to", Destination: &o.to, Usage: "the location to fill: a path or s3: address"},
			&cli.BoolFlag{Name: "delete", Destination: &o.delete, Usage: "remove objects the destination has and the source does not"},
			&cli.BoolFlag{Name: "dry-run", Aliases: []string{"n"}, Destination: &o.dryRun, Usage: "only say what would be copied and removed"},
			&cli.IntFlag{Name: "parallel", Destination: &o.parallel, Usage: "copy `N` objects at once (default: 4, or 16 to or from an object store)"},
			&cli.BoolFlag{Name: "create-bucket", Destination: &o.createBucket, Usage: "create the destination's S3 bucket if it does not exist"},
		},
		Action: func(c *cli.Context) error {
			if c.NArg() > 0 {
				return errors.New("sync takes no arguments (name the destination with --to)")
			}
			return runSync(c.Context, g, o)
		},
	}
}

func runSync(ctx context.Context, g *globalOptions, o syncOptions) error {
	src, err := g.acc.Backend(ctx, false, false)
	if err != nil {
		return err
	}
	defer src.Close()
	hdr, err := repo.ReadHeader(ctx, src)
	if err != nil {
		return err
	}
	if o.to == "" {
		return g.catchUp(ctx, src, o)
	}
	if o.delete && g.multi() != nil && len(g.multi().Health()) > 1 && !allHealthy(g) {
		return errors.New("sync --delete needs every source location: one is unavailable, so its objects would look removed")
	}
	dst, err := g.openSyncDest(ctx, o)
	if err != nil {
		return err
	}
	defer dst.Close()
	if err := sameRepository(ctx, hdr, dst); err != nil {
		return err
	}
	return g.syncTo(ctx, src, dst, o)
}

func allHealthy(g *globalOptions) bool {
	for _, s := range g.multi().Health() {
		if s.Enabled && !s.Healthy {
			return false
		}
	}
	return true
}

// openSyncDest opens --to, creating the folder or bucket it needs.
func (g *globalOptions) openSyncDest(ctx context.Context, o syncOptions) (backend.Backend, error) {
	be, err := g.acc.BackendAt(ctx, o.to, false, false)
	if errors.Is(err, repo.ErrNoRepository) {
		be, err = g.acc.BackendAt(ctx, o.to, true, o.createBucket)
	}
	if err != nil {
		return nil, fmt.Errorf("sync destination %s: %w", o.to, err)
	}
	return be, nil
}

// sameRepository refuses a destination that holds another repository.
func sameRepository(ctx context.Context, src repo.ConfigHeader, dst backend.Backend) error {
	h, err := repo.ReadHeader(ctx, dst)
	switch {
	case errors.Is(err, repo.ErrNoRepository):
		return nil // empty, or an interrupted first sync: it becomes a copy
	case err != nil:
		return err
	case h.ID != src.ID:
		return fmt.Errorf("%s holds another repository (%s, not %s); sync copies one repository to more places: use `cairn copy` to copy snapshots between repositories", dst.Location(), h.ID.Short(), src.ID.Short())
	}
	return nil
}

// syncTo copies src's objects to dst and reports.
func (g *globalOptions) syncTo(ctx context.Context, src, dst backend.Backend, o syncOptions) error {
	prog := &mirror.Progress{}
	p := g.startProgress(func() progressState {
		return progressState{
			Files: uint64(prog.Objects.Load()), TotalFiles: uint64(prog.TotalObjects.Load()),
			Bytes: uint64(prog.Bytes.Load()), TotalBytes: uint64(prog.TotalBytes.Load()),
		}
	})
	res, err := mirror.Sync(ctx, src, dst, mirror.Options{
		Parallel: o.parallel, Delete: o.delete, DryRun: o.dryRun, Progress: prog,
		Logger: g.logger,
	})
	p.stop()
	g.reportSync(src, dst, res, o, err)
	return err
}

func (g *globalOptions) reportSync(src, dst backend.Backend, res mirror.Result, o syncOptions, err error) {
	req := g.requests()
	if g.json {
		out := map[string]any{"message_type": "summary", "from": src.Location(), "to": dst.Location(), "result": res, "requests": req}
		if err != nil {
			out["error"] = err.Error()
		}
		g.printJSON(out)
		return
	}
	verb := "copied"
	if o.dryRun {
		verb = "would copy"
	}
	g.printf("sync %s → %s\n", src.Location(), dst.Location())
	g.printf("%s %d object(s) (%s); %d already there\n", verb, res.Copied, formatBytes(uint64(res.CopiedBytes)), res.Present)
	switch {
	case o.delete:
		g.printf("removed %d object(s) (%s) that the source does not have\n", res.Deleted, formatBytes(uint64(res.DeletedBytes)))
	case res.Extra > 0:
		g.printf("kept %d object(s) that the source does not have (--delete removes them)\n", res.Extra)
	}
	for _, h := range res.Damaged {
		g.warnf("%s at %s is damaged (its bytes do not match its name) and was not copied", h, src.Location())
	}
	g.printf("storage: %s\n", req)
}

// catchUp brings every enabled, reachable location of a multi-location
// repository up to the union of them all.
func (g *globalOptions) catchUp(ctx context.Context, src backend.Backend, o syncOptions) error {
	if g.multi() == nil {
		return errors.New("sync needs --to DEST (or a repository with several locations, to bring them up to date)")
	}
	if o.delete {
		return errors.New("--delete needs --to: between the locations of one repository, removals are caught up by prune")
	}
	// Removals first: copying the union would otherwise bring back what
	// was removed while a location was away.
	if err := g.applyPendingRemovals(ctx); err != nil {
		return err
	}
	var errs []error
	for i, l := range g.multi().Locations() {
		st := g.multi().Health()[i]
		if !l.Enabled || !st.Healthy {
			g.warnf("skipping %s: %s", l.Name, unavailableReason(st.Enabled, st.LastErr))
			continue
		}
		if err := g.syncTo(ctx, src, l.Backend, o); err != nil {
			errs = append(errs, fmt.Errorf("sync %s: %w", l.Name, err))
		}
	}
	return errors.Join(errs...)
}

func unavailableReason(enabled bool, err error) string {
	if !enabled {
		return "disabled"
	}
	return fmt.Sprintf("unavailable: %v", err)
}
