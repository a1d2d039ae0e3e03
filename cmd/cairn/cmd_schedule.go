package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"github.com/urfave/cli/v2"

	"github.com/cairnbackup/cairn/config"
	"github.com/cairnbackup/cairn/timers"
)

// noSystemctlEnv, set to 1, makes `schedule systemd --install` write the
// units without running systemctl. It is for the command's tests only.
const noSystemctlEnv = "CAIRN_TEST_NO_SYSTEMCTL"

type scheduleOptions struct {
	user    bool
	install bool
	dir     string
}

// newScheduleCommand builds "cairn schedule".
func newScheduleCommand(g *globalOptions) *cli.Command {
	var opts scheduleOptions
	return &cli.Command{
		Name:  "schedule",
		Usage: "run the configured jobs from systemd timers or cron",
		Description: `Writes what runs the configuration's jobs on their schedules without
cairn daemon: "cairn run JOB" for each job with a schedule and
"cairn run --check JOB" for each check block, with the configuration file
named by its absolute path.`,
		Subcommands: []*cli.Command{
			{
				Name:  "systemd",
				Usage: "print systemd timer and service units for the jobs, or install them",
				Description: `Prints each unit after a "# FILE NAME" line. With --install, writes them
to /etc/systemd/system (with --user, ~/.config/systemd/user) or --dir, then
runs systemctl daemon-reload and enables and starts each timer.`,
				Flags: []cli.Flag{
					&cli.BoolFlag{Name: "user", Destination: &opts.user, Usage: "units for your own service manager (systemctl --user), without the root sandbox"},
					&cli.BoolFlag{Name: "install", Destination: &opts.install, Usage: "write the units and enable their timers"},
					&cli.StringFlag{Name: "dir", Destination: &opts.dir, Usage: "with --install, write the units to `DIR`"},
				},
				Action: func(c *cli.Context) error {
					if c.NArg() > 0 {
						return errors.New("schedule systemd takes no arguments")
					}
					return runScheduleSystemd(c.Context, g, opts)
				},
			},
			{
				Name:  "cron",
				Usage: "print crontab lines for the jobs",
				Description: `Prints a crontab: "cairn schedule cron | crontab -" replaces yours with it,
"(crontab -l; cairn schedule cron) | crontab -" adds it to yours.`,
				Action: func(c *cli.Context) error {
					if c.NArg() > 0 {
						return errors.New("schedule cron takes no arguments")
					}
					return runScheduleCron(g)
				},
			},
		},
	}
}

// timerOptions returns the loaded configuration and how the units run
// cairn: this binary, with the configuration file's absolute path.
func (g *globalOptions) timerOptions(user bool) (*config.Config, timers.Options, error) {
	if g.config == nil {
		msg := "cairn schedule needs a configuration file naming the jobs: give --config FILE (or set CAIRN_CONFIG)"
		if p := config.DefaultPath(os.Getenv, os.Geteuid()); p != "" {
			msg += ", or write " + p
		}
		return nil, timers.Options{}, errors.New(msg)
	}
	cfg, err := filepath.Abs(g.configFile)
	if err != nil {
		return nil, timers.Options{}, fmt.Errorf("configuration file: %w", err)
	}
	bin, err := os.Executable()
	if err != nil {
		return nil, timers.Options{}, fmt.Errorf("find the cairn binary: %w", err)
	}
	return g.config, timers.Options{Binary: bin, ConfigFile: cfg, User: user}, nil
}

func runScheduleSystemd(ctx context.Context, g *globalOptions, opts scheduleOptions) error {
	if opts.dir != "" && !opts.install {
		return errors.New("--dir goes with --install")
	}
	c, o, err := g.timerOptions(opts.user)
	if err != nil {
		return err
	}
	units, err := timers.Systemd(c, o)
	if err != nil {
		return err
	}
	if opts.install {
		return installUnits(ctx, g, units, opts)
	}
	if g.json {
		type unit struct {
			Name string `json:"name"`
			Text string `json:"text"`
		}
		out := make([]unit, len(units))
		for i, u := range units {
			out[i] = unit(u)
		}
		return g.printJSON(out)
	}
	for i, u := range units {
		if i > 0 {
			fmt.Fprintln(g.stdout)
		}
		fmt.Fprintf(g.stdout, "# FILE %s\n%s", u.Name, u.Text)
	}
	return nil
}

// installUnits writes the units and enables their timers.
func installUnits(ctx context.Context, g *globalOptions, units []timers.Unit, opts scheduleOptions) error {
	dir := opts.dir
	if dir == "" {
		d, err := timers.DefaultDir(opts.user)
		if err != nil {
			return err
		}
		dir = d
	}
	var err error
	if os.Getenv(noSystemctlEnv) == "1" {
		err = timers.WriteUnits(units, dir)
	} else {
		err = timers.Install(ctx, units, dir, opts.user)
	}
	if errors.Is(err, os.ErrPermission) && !opts.user {
		return fmt.Errorf("%w (run it as root, or make units for yourself with --user)", err)
	}
	if err != nil {
		return err
	}
	var paths []string
	for _, u := range units {
		paths = append(paths, filepath.Join(dir, u.Name))
		g.printf("wrote %s\n", filepath.Join(dir, u.Name))
	}
	user := ""
	if opts.user {
		user = " --user"
	}
	if os.Getenv(noSystemctlEnv) == "1" {
		g.printf("systemctl was not run (%s=1)\n", noSystemctlEnv)
	} else {
		g.printf("enabled and started the timers; see them with: systemctl%s list-timers 'cairn-*'\n", user)
	}
	if g.json {
		return g.printJSON(map[string]any{"dir": dir, "units": paths})
	}
	return nil
}

func runScheduleCron(g *globalOptions) error {
	c, o, err := g.timerOptions(false)
	if err != nil {
		return err
	}
	tab, err := timers.Crontab(c, o)
	if err != nil {
		return err
	}
	if g.json {
		return g.printJSON(map[string]string{"crontab": tab})
	}
	_, err = fmt.Fprint(g.stdout, tab)
	return err
}
