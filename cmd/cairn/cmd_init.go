package main

import (
	"context"
	"fmt"

	"github.com/urfave/cli/v2"

	"github.com/cairnbackup/cairn/repo"
)

type initOptions struct {
	compression  string
	packSizeMiB  int
	createBucket bool
}

func newInitCommand(g *globalOptions) *cli.Command {
	var opts initOptions
	return &cli.Command{
		Name:  "init",
		Usage: "create a repository (refuses to overwrite anything)",
		Description: `Creates a repository at the location given with -r (a folder that is empty or
does not exist yet, or an S3 bucket/prefix). Without -r it creates the default
local repository and a key file for it. On a terminal the password is asked
twice.`,
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "compression", Value: repo.NewRepositoryCompression, Destination: &opts.compression,
				Usage: "blob compression (zstd level): off, fastest, default or better; fastest compresses logs as well as default, 1.7x faster"},
			&cli.IntFlag{Name: "pack-size", Value: repo.DefaultPackSize >> 20, Destination: &opts.packSizeMiB,
				Usage: "target pack size in `MiB`"},
			&cli.BoolFlag{Name: "create-bucket", Destination: &opts.createBucket, Usage: "create the S3 bucket if it does not exist"},
		},
		Action: func(c *cli.Context) error {
			if c.NArg() > 0 {
				return fmt.Errorf("init takes no arguments (name the repository with -r)")
			}
			loc, err := g.location()
			if err != nil {
				return err
			}
			g.createBucket = opts.createBucket
			r, err := g.initRepo(c.Context, loc, opts)
			if err != nil {
				return err
			}
			return r.Close()
		},
	}
}

// initRepo creates a repository at loc and reports it.
func (g *globalOptions) initRepo(ctx context.Context, loc location, opts initOptions) (*repo.Repository, error) {
	if err := g.refuseExisting(ctx, loc); err != nil {
		return nil, err
	}
	createdKey := false
	if loc.isDefault && g.keyFile == "" && g.passwordFile == "" && g.passwordCommand == "" {
		var err error
		if createdKey, err = ensureKeyFile(loc.keyFile); err != nil {
			return nil, err
		}
	} else {
		loc.keyFile = ""
	}
	creds, err := g.credentials(loc, true)
	if err != nil {
		return nil, err
	}
	be, err := g.openRepoBackend(ctx, true)
	if err != nil {
		return nil, err
	}
	r, err := repo.Init(ctx, be, creds, repo.InitOptions{
		PackSize:    opts.packSizeMiB << 20,
		Compression: opts.compression,
	}, g.repoOptions())
	if err != nil {
		be.Close()
		return nil, err
	}
	g.reportInit(r, loc, createdKey)
	return r, nil
}

func (g *globalOptions) reportInit(r *repo.Repository, loc location, createdKey bool) {
	if g.json {
		g.printJSON(map[string]any{"message_type": "init", "id": r.Config().ID, "location": loc.addr, "key_file": loc.keyFile})
		return
	}
	g.printf("created repository %s at %s\n", r.Config().ID.Short(), loc.addr)
	if loc.keyFile != "" {
		what := "the key"
		if createdKey {
			what = "a new key, generated"
		}
		g.printf("it uses %s in %s\n", what, loc.keyFile)
		g.printf("keep a copy of that key somewhere safe: without it nobody can read these backups\n")
	}
}
