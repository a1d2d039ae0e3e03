package main

import (
	"errors"
	"os"

	"github.com/urfave/cli/v2"

	"github.com/cairnbackup/cairn/config"
)

func newConfigCommand(g *globalOptions) *cli.Command {
	return &cli.Command{
		Name:  "config",
		Usage: "check the configuration file",
		Subcommands: []*cli.Command{{
			Name:      "validate",
			Usage:     "check a configuration file: syntax, every value, schedules",
			ArgsUsage: "[FILE]",
			Description: `Reads FILE (default: --config, CAIRN_CONFIG, or the default path) and checks
every field: unknown keys, types, locations, retention rules, schedules,
hooks and limits. An error names the file, line and key and exits 1; a file
that others can read is a warning. Nothing else is touched.`,
			Action: func(c *cli.Context) error {
				if c.NArg() > 1 {
					return errors.New("config validate takes at most one file")
				}
				path := c.Args().First()
				if path == "" {
					path = g.configFile
				}
				if path == "" {
					path = config.DefaultPath(os.Getenv, os.Geteuid())
				}
				if path == "" {
					return errors.New("no configuration file: give one, or --config, or set CAIRN_CONFIG")
				}
				cfg, err := config.Load(path)
				if err != nil {
					return err
				}
				for _, w := range cfg.Warnings {
					g.warnf("%s", w)
				}
				scheduled := 0
				for _, j := range cfg.Jobs {
					if j.Schedule != "" {
						scheduled++
					}
				}
				g.printf("%s: valid: %d job(s), %d with a schedule, %d location(s)\n", path, len(cfg.Jobs), scheduled, len(cfg.Repository.Locations))
				return nil
			},
		}},
	}
}
