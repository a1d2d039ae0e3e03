package main

import (
	"encoding/json"
	"fmt"
	"strings"

	"github.com/urfave/cli/v2"

	"github.com/cairnbackup/cairn/repo"
)

func newCatCommand(g *globalOptions) *cli.Command {
	return &cli.Command{
		Name:      "cat",
		Usage:     "print one repository object, decrypted and decoded (for debugging)",
		ArgsUsage: strings.Join(repo.CatKinds, "|") + " [ID]",
		Description: `Prints an object of the repository as JSON, decrypted and decoded:

   cairn cat config              the repository's settings (no key material)
   cairn cat snapshot ID|latest  a snapshot object, as stored
   cairn cat tree ID|SNAP[:PATH] a tree blob: a folder's entries
   cairn cat index ID            an index segment: packs, their blobs, condemnations
   cairn cat pack ID             a pack's header: its blobs' ids, types, offsets, lengths

IDs may be abbreviated to a unique prefix of at least 4 hex digits, except
a tree's, which is given in full (or named by its snapshot and folder). The
output is indented; with --json it is one line. Key files are never shown:
"cairn key list" describes them.`,
		Action: func(c *cli.Context) error {
			if c.NArg() < 1 || c.NArg() > 2 || (c.Args().First() == "config") != (c.NArg() == 1) {
				return fmt.Errorf("usage: cairn cat %s", c.Command.ArgsUsage)
			}
			r, err := g.openRepo(c.Context)
			if err != nil {
				return err
			}
			defer r.Close()
			kind, name := c.Args().Get(0), c.Args().Get(1)
			v, err := r.CatObject(c.Context, kind, name)
			if err != nil {
				if kind == "snapshot" {
					err = about("snapshot", name, err)
				}
				return err
			}
			if g.json {
				return g.printJSON(v)
			}
			b, err := json.MarshalIndent(v, "", "  ")
			if err != nil {
				return err
			}
			_, err = fmt.Fprintf(g.stdout, "%s\n", b)
			return err
		},
	}
}
