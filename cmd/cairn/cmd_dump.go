package main

import (
	"bufio"
	"errors"
	"fmt"

	"github.com/urfave/cli/v2"

	"github.com/cairnbackup/cairn/pattern"
	"github.com/cairnbackup/cairn/restorer"
)

func newDumpCommand(g *globalOptions) *cli.Command {
	var filter snapshotFilter // selects what "latest" is
	return &cli.Command{
		Name:      "dump",
		Usage:     "write one file (or a folder, as tar) from a snapshot to standard output",
		ArgsUsage: "SNAP PATH",
		Description: `Writes the file at PATH in the snapshot to standard output, reading only the
trees on its path and its own data. A folder is written as a tar stream.
"latest" is the newest snapshot that holds PATH, whichever job wrote it.
With -v the request counts go to standard error.`,
		Flags: filter.flags(),
		Action: func(c *cli.Context) error {
			if c.NArg() != 2 {
				return errors.New("dump takes a snapshot and a path: cairn dump latest /var/log/app/service.log")
			}
			r, err := g.openReadRepo(c.Context)
			if err != nil {
				return err
			}
			defer r.Close()
			sa, err := resolveSnapshot(c.Context, r, c.Args().Get(0)+":"+c.Args().Get(1), &filter, pattern.Filter{})
			if err != nil {
				return err
			}
			w := bufio.NewWriterSize(g.stdout, 1<<20)
			if err := restorer.Dump(c.Context, r, sa.node, w); err != nil {
				return err
			}
			if err := w.Flush(); err != nil {
				return err
			}
			if g.verbose {
				fmt.Fprintf(g.stderr, "storage: %s\n", g.requests())
			}
			return nil
		},
	}
}
