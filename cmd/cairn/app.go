package main

import (
	"context"
	"io"
	"log/slog"

	"github.com/urfave/cli/v2"

	"github.com/cairnbackup/cairn/access"
	"github.com/cairnbackup/cairn/config"
)

// version is set at build time with -ldflags "-X main.version=...".
var version = "dev"

// run builds the application, runs it on args and returns the exit code.
func run(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	g := &globalOptions{stdin: stdin, stdout: stdout, stderr: stderr}
	app := newApp(g)
	err := app.RunContext(ctx, permuteArgs(app, args))
	g.reportLag()
	if err != nil {
		g.printError(ctx, err, args)
	}
	return exitCode(ctx, err)
}

func newApp(g *globalOptions) *cli.App {
	// -v means --verbose here, so --version has no short form.
	cli.VersionFlag = &cli.BoolFlag{Name: "version", Usage: "print the version"}
	app := &cli.App{
		Name:                  "cairn",
		Usage:                 "compressed, encrypted, deduplicated backups of servers",
		Version:               version,
		Reader:                g.stdin,
		Writer:                g.stdout,
		ErrWriter:             g.stderr,
		EnableBashCompletion:  true,
		Suggest:               true,
		Flags:                 g.flags(),
		CustomAppHelpTemplate: cli.AppHelpTemplate + "\n" + exitCodesHelp + "\n",
		Before: func(c *cli.Context) error {
			return g.load(c)
		},
		ExitErrHandler: func(*cli.Context, error) {}, // main maps errors to exit codes
		Commands: []*cli.Command{
			newInitCommand(g),
			newKeyCommand(g),
			newUnlockCommand(g),
			newSnapshotCommand(g),
			newRestoreCommand(g),
			newDumpCommand(g),
			newSnapshotsCommand(g),
			newLsCommand(g),
			newFindCommand(g),
			newDiffCommand(g),
			newStatsCommand(g),
			newSyncCommand(g),
			newCopyCommand(g),
			newCheckCommand(g),
			newRepairCommand(g),
			newTagCommand(g),
			newRewriteCommand(g),
			newForgetCommand(g),
			newPruneCommand(g),
			newStatusCommand(g),
			newRunCommand(g),
			newConfigCommand(g),
			newScheduleCommand(g),
			newDaemonCommand(g),
			newVersionCommand(g),
			newCompletionCommand(g),
			newCompleteCommand(g),
			newManCommand(g),
			newCatCommand(g),
			newListCommand(g),
		},
	}
	return app
}

// globalOptions hold the flags every command shares, and where output goes.
type globalOptions struct {
	repos           []string
	passwordFile    string
	passwordCommand string
	keyFile         string
	configFile      string
	cacheDir        string
	json            bool
	quiet           bool
	verbose         bool
	debug           bool

	minCopies, maxCopies int            // multi-location repositories
	limitUp, limitDown   int64          // bytes per second to and from each location; 0: unlimited
	config               *config.Config // the --config file, if any
	secretFlags          bool           // the secret came from flags, not the configuration
	acc                  *access.Opener // opens the repository the flags name
	lags                 lagCounter     // writes and removals that missed a location

	stdin          io.Reader
	stdout, stderr io.Writer
	logger         *slog.Logger
}

func (g *globalOptions) flags() []cli.Flag {
	return []cli.Flag{
		&cli.StringSliceFlag{Name: "repo", Aliases: []string{"r"}, EnvVars: []string{"CAIRN_REPOSITORY"},
			Usage: "repository `LOCATION`: a path, s3:http(s)://HOST[:PORT]/BUCKET[/PREFIX], azure:ACCOUNT/CONTAINER[/PREFIX] or gs:BUCKET[/PREFIX] (default: a local repository in your data folder)"},
		&cli.StringFlag{Name: "password-file", EnvVars: []string{"CAIRN_PASSWORD_FILE"}, Usage: "read the password from `FILE`"},
		&cli.StringFlag{Name: "password-command", EnvVars: []string{"CAIRN_PASSWORD_COMMAND"}, Usage: "run `COMMAND` (with sh -c) and use its output as the password"},
		&cli.StringFlag{Name: "key-file", EnvVars: []string{"CAIRN_KEY_FILE"}, Usage: "`FILE` holding a key of 64 hex digits, used instead of a password"},
		&cli.StringFlag{Name: "config", EnvVars: []string{"CAIRN_CONFIG"}, Usage: "configuration `FILE` describing jobs and locations (default: /etc/cairn/cairn.yaml for root, $XDG_CONFIG_HOME/cairn/cairn.yaml for others, when it exists)"},
		&cli.IntFlag{Name: "min-copies", EnvVars: []string{"CAIRN_MIN_COPIES"}, Usage: "with several locations: a write must reach `N` of them (default 1, or the configuration's min_copies)"},
		&cli.IntFlag{Name: "max-copies", EnvVars: []string{"CAIRN_MAX_COPIES"}, Usage: "with several locations: write to at most `N` of them (default all, or the configuration's max_copies)"},
		&cli.IntFlag{Name: "limit-upload", EnvVars: []string{"CAIRN_LIMIT_UPLOAD"}, Usage: "write at most `KiB` per second to each location (default: unlimited)"},
		&cli.IntFlag{Name: "limit-download", EnvVars: []string{"CAIRN_LIMIT_DOWNLOAD"}, Usage: "read at most `KiB` per second from each location (default: unlimited)"},
		&cli.StringFlag{Name: "cache-dir", EnvVars: []string{"CAIRN_CACHE_DIR"}, Usage: "`DIR` for the local index cache (default: your cache folder)"},
		&cli.BoolFlag{Name: "json", Usage: "print machine-readable JSON instead of text"},
		&cli.BoolFlag{Name: "quiet", Aliases: []string{"q"}, Usage: "print only errors"},
		&cli.BoolFlag{Name: "verbose", Aliases: []string{"v"}, Usage: "print more detail"},
		&cli.BoolFlag{Name: "debug", EnvVars: []string{"CAIRN_DEBUG"}, Usage: "log every storage request (kind, object, bytes, time taken) to stderr"},
	}
}

// load copies the parsed global flags.
func (g *globalOptions) load(c *cli.Context) error {
	g.repos = c.StringSlice("repo")
	g.passwordFile = c.String("password-file")
	g.passwordCommand = c.String("password-command")
	g.keyFile = c.String("key-file")
	g.configFile = c.String("config")
	g.cacheDir = c.String("cache-dir")
	g.json = c.Bool("json")
	g.quiet = c.Bool("quiet")
	g.verbose = c.Bool("verbose")
	g.debug = c.Bool("debug")
	g.minCopies, g.maxCopies = c.Int("min-copies"), c.Int("max-copies")
	if err := g.loadLimits(c); err != nil {
		return err
	}
	level := slog.LevelWarn
	if g.verbose {
		level = slog.LevelInfo
	}
	if g.debug {
		level = slog.LevelDebug
	}
	g.logger = slog.New(slog.NewTextHandler(g.stderr, &slog.HandlerOptions{Level: level}))
	// `config validate` reads the file itself, and reports its errors.
	if c.Args().First() != "config" {
		if err := g.loadConfig(); err != nil {
			return err
		}
	}
	g.acc = g.newOpener()
	return nil
}
