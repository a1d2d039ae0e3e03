package main

import (
	"context"
	"errors"
	"fmt"

	"github.com/urfave/cli/v2"

	"github.com/cairnbackup/cairn/access"
	"github.com/cairnbackup/cairn/copier"
	"github.com/cairnbackup/cairn/repo"
)

type copyOptions struct {
	to       string
	creds    access.Secret
	parallel int
}

func newCopyCommand(g *globalOptions) *cli.Command {
	var o copyOptions
	return &cli.Command{
		Name:      "copy",
		Usage:     "copy snapshots into another repository (other keys)",
		ArgsUsage: "[SNAP...]",
		Description: `Copies snapshots of the repository (-r) into the repository --to, which has
its own keys and chunker: only the data the destination lacks is sent,
encrypted with its keys. Without SNAP arguments every snapshot not copied
yet is copied; running copy again copies nothing new. A copy records its
original's id. The destination's password or key comes from --to-password-file,
--to-password-command or --to-key-file (or CAIRN_TO_PASSWORD_FILE,
CAIRN_TO_PASSWORD_COMMAND, CAIRN_TO_KEY_FILE), else a prompt.`,
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "to", Required: true, EnvVars: []string{"CAIRN_TO_REPOSITORY"}, Destination: &o.to, Usage: "destination repository `LOCATION`"},
			&cli.StringFlag{Name: "to-password-file", EnvVars: []string{"CAIRN_TO_PASSWORD_FILE"}, Destination: &o.creds.PasswordFile, Usage: "read the destination's password from `FILE`"},
			&cli.StringFlag{Name: "to-password-command", EnvVars: []string{"CAIRN_TO_PASSWORD_COMMAND"}, Destination: &o.creds.PasswordCommand, Usage: "run `COMMAND` for the destination's password"},
			&cli.StringFlag{Name: "to-key-file", EnvVars: []string{"CAIRN_TO_KEY_FILE"}, Destination: &o.creds.KeyFile, Usage: "`FILE` holding the destination's key (64 hex digits)"},
			&cli.IntFlag{Name: "parallel", Value: copier.DefaultParallel, Destination: &o.parallel, Usage: "copy `N` blobs at once"},
		},
		Action: func(c *cli.Context) error {
			return runCopy(c.Context, g, o, c.Args().Slice())
		},
	}
}

func runCopy(ctx context.Context, g *globalOptions, o copyOptions, args []string) error {
	src, err := g.openRepo(ctx)
	if err != nil {
		return err
	}
	defer src.Close()
	dst, err := g.openCopyDest(ctx, o)
	if err != nil {
		return err
	}
	defer dst.Close()
	if src.Config().ID == dst.Config().ID {
		return fmt.Errorf("%w: %s; use `cairn sync` to copy a repository to another location", copier.ErrSameRepository, o.to)
	}
	for _, r := range []*repo.Repository{src, dst} {
		lock, err := r.Lock(ctx, repo.SessionLock)
		if err != nil {
			return err
		}
		defer lock.Release(context.WithoutCancel(ctx))
		ctx = lock.Context()
	}
	todo, err := snapshotsToCopy(ctx, src, dst, args)
	if err != nil {
		return err
	}
	prog := &copier.Progress{}
	c := copier.New(src, dst, copier.Options{Parallel: o.parallel, Progress: prog,
		Logger: g.logger})
	defer c.Close()
	p := g.startProgress(func() progressState {
		return progressState{Files: uint64(prog.Blobs.Load() + prog.Known.Load()), Bytes: uint64(prog.Bytes.Load())}
	})
	var results []copier.Result
	for _, s := range todo {
		res, err := c.Copy(ctx, s)
		if err != nil {
			p.stop()
			g.reportCopy(results)
			return err
		}
		results = append(results, res)
	}
	p.stop()
	g.reportCopy(results)
	return nil
}

// openCopyDest opens and unlocks the destination repository.
func (g *globalOptions) openCopyDest(ctx context.Context, o copyOptions) (*repo.Repository, error) {
	be, err := g.acc.BackendAt(ctx, o.to, false, false)
	if err != nil {
		return nil, fmt.Errorf("copy destination: %w", err)
	}
	r, err := g.acc.OpenOn(ctx, be, func() (repo.Credentials, error) {
		creds, err := g.acc.CredentialsFor(o.creds, o.to)
		if errors.Is(err, access.ErrNoCredentials) {
			err = errors.New("no password for the destination: use --to-password-file, --to-password-command or --to-key-file")
		}
		return creds, err
	}, access.OpenOptions{})
	if err != nil {
		return nil, fmt.Errorf("copy destination %s: %w", o.to, err)
	}
	return r, nil
}

// snapshotsToCopy resolves the arguments, or picks every snapshot without
// a copy in dst.
func snapshotsToCopy(ctx context.Context, src, dst *repo.Repository, args []string) ([]*repo.Snapshot, error) {
	srcSnaps, err := src.Snapshots(ctx, nil)
	if err != nil {
		return nil, err
	}
	dstSnaps, err := dst.Snapshots(ctx, nil)
	if err != nil {
		return nil, err
	}
	pending := copier.Pending(srcSnaps, dstSnaps)
	if len(args) == 0 {
		return pending, nil
	}
	isPending := map[repo.ID]bool{}
	for _, s := range pending {
		isPending[s.ID()] = true
	}
	var out []*repo.Snapshot
	for _, a := range args {
		s, err := repo.FindSnapshot(srcSnaps, a)
		if err != nil {
			return nil, err
		}
		if isPending[s.ID()] {
			out = append(out, s)
			delete(isPending, s.ID())
		}
	}
	return out, nil
}

func (g *globalOptions) reportCopy(results []copier.Result) {
	req := g.requests()
	if g.json {
		g.printJSON(map[string]any{"message_type": "summary", "copied": results, "requests": req})
		return
	}
	var blobs, known int64
	var bytes uint64
	for _, r := range results {
		g.printf("snapshot %s copied as %s\n", r.Source.Short(), r.Copy.Short())
		blobs += r.Blobs
		known += r.Known
		bytes += uint64(r.Bytes)
	}
	g.printf("copied %d snapshot(s): %d blob(s) sent (%s), %d the destination already had\n", len(results), blobs, formatBytes(bytes), known)
	g.printf("storage: %s\n", req)
}
