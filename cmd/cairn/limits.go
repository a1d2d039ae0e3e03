package main

import (
	"fmt"

	"github.com/urfave/cli/v2"
)

// loadLimits reads --limit-upload and --limit-download (KiB/s, as restic
// takes them) into bytes per second.
func (g *globalOptions) loadLimits(c *cli.Context) error {
	for _, l := range []struct {
		name string
		dst  *int64
	}{{"limit-upload", &g.limitUp}, {"limit-download", &g.limitDown}} {
		kib := c.Int(l.name)
		if kib < 0 {
			return fmt.Errorf("--%s %d: give a rate in KiB/s, or 0 for no limit", l.name, kib)
		}
		*l.dst = int64(kib) << 10
	}
	return nil
}
