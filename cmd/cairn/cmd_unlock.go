package main

import (
	"github.com/urfave/cli/v2"
)

func newUnlockCommand(g *globalOptions) *cli.Command {
	var all bool
	return &cli.Command{
		Name:  "unlock",
		Usage: "remove stale locks (held by processes that are gone or stopped refreshing)",
		Flags: []cli.Flag{
			&cli.BoolFlag{Name: "remove-all", Destination: &all, Usage: "remove every lock, also live ones (only when you know no cairn runs)"},
		},
		Action: func(c *cli.Context) error {
			r, err := g.openRepo(c.Context)
			if err != nil {
				return err
			}
			defer r.Close()
			n, err := r.RemoveLocks(c.Context, all)
			if err != nil {
				return err
			}
			if g.json {
				return g.printJSON(map[string]int{"removed": n})
			}
			g.printf("removed %d lock(s)\n", n)
			return nil
		},
	}
}
