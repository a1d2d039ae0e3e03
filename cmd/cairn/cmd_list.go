package main

import (
	"fmt"
	"slices"
	"strings"

	"github.com/urfave/cli/v2"

	"github.com/cairnbackup/cairn/repo"
)

func newListCommand(g *globalOptions) *cli.Command {
	kinds := make([]string, 0, len(repo.ListKinds))
	for k := range repo.ListKinds {
		kinds = append(kinds, k)
	}
	slices.Sort(kinds)
	return &cli.Command{
		Name:      "list",
		Usage:     "list the ids of one kind of repository object (for debugging)",
		ArgsUsage: strings.Join(kinds, "|"),
		Description: `Prints the id of every object of a kind in storage, one a line, in the
order the storage lists them: packs (data/), snapshots, index segments,
key files or locks. With --json, one JSON array of ids. "cairn cat" shows
an object.`,
		Action: func(c *cli.Context) error {
			if c.NArg() != 1 {
				return fmt.Errorf("usage: cairn list %s", c.Command.ArgsUsage)
			}
			r, err := g.openRepo(c.Context)
			if err != nil {
				return err
			}
			defer r.Close()
			ids := []repo.ID{}
			err = r.ListObjects(c.Context, c.Args().First(), func(id repo.ID) error {
				if g.json {
					ids = append(ids, id)
					return nil
				}
				_, err := fmt.Fprintln(g.stdout, id)
				return err
			})
			if err != nil || !g.json {
				return err
			}
			return g.printJSON(ids)
		},
	}
}
