package main

import (
	"fmt"

	"github.com/urfave/cli/v2"

	"github.com/cairnbackup/cairn/access"
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
			&cli.StringFlag{Name: "compression", Value: repo.CompressionAuto, Destination: &opts.compression,
				Usage: "the repository's blob compression (zstd level): auto (" + repo.NewRepositoryCompression + "), off, fastest, default, better or max; snapshots may choose another"},
			&cli.IntFlag{Name: "pack-size", Value: repo.DefaultPackSize >> 20, Destination: &opts.packSizeMiB,
				Usage: "target pack size in `MiB`"},
			&cli.BoolFlag{Name: "create-bucket", Destination: &opts.createBucket, Usage: "create the S3 bucket if it does not exist"},
		},
		Action: func(c *cli.Context) error {
			if c.NArg() > 0 {
				return fmt.Errorf("init takes no arguments (name the repository with -r)")
			}
			r, made, err := g.acc.Init(c.Context, access.InitOptions{
				Compression: opts.compression, PackSize: opts.packSizeMiB << 20, CreateBucket: opts.createBucket,
			})
			if err != nil {
				return err
			}
			g.reportInit(r, made)
			return r.Close()
		},
	}
}

func (g *globalOptions) reportInit(r *repo.Repository, made access.Created) {
	if g.json {
		g.printJSON(map[string]any{"message_type": "init", "id": r.Config().ID, "location": made.Addr, "key_file": made.KeyFile})
		return
	}
	g.printf("created repository %s at %s\n", r.Config().ID.Short(), made.Addr)
	if made.KeyFile != "" {
		what := "the key"
		if made.CreatedKey {
			what = "a new key, generated"
		}
		g.printf("it uses %s in %s\n", what, made.KeyFile)
		g.printf("keep a copy of that key somewhere safe: without it nobody can read these backups\n")
	}
}
