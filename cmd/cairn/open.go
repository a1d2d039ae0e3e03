package main

// Opening repositories is package access's job; this file gives it the
// command line's flags and configuration, its terminal and its messages.

import (
	"context"
	"fmt"
	"os"
	"os/user"
	"slices"
	"sync"

	"golang.org/x/term"

	"github.com/cairnbackup/cairn/access"
	"github.com/cairnbackup/cairn/backend/multi"
	"github.com/cairnbackup/cairn/config"
	"github.com/cairnbackup/cairn/repo"
)

// loadConfig reads the configuration file named by --config or
// CAIRN_CONFIG, or else the default one if it exists, and fills in what
// the flags left open: how to unlock the repository.
func (g *globalOptions) loadConfig() error {
	if g.configFile == "" {
		p := config.DefaultPath(os.Getenv, os.Geteuid())
		if _, err := os.Stat(p); p == "" || err != nil {
			return nil
		}
		g.configFile = p
	}
	c, err := config.Load(g.configFile)
	if err != nil {
		return about("path", g.configFile, err)
	}
	for _, w := range c.Warnings {
		g.warnf("%s", w)
	}
	g.config = c
	g.secretFlags = g.passwordFile != "" || g.passwordCommand != "" || g.keyFile != ""
	r := c.Repository
	if !g.secretFlags {
		g.passwordFile, g.passwordCommand, g.keyFile = r.PasswordFile, r.PasswordCommand, r.KeyFile
	}
	return nil
}

// newOpener builds the Opener of the repository the flags and the
// configuration file name.
func (g *globalOptions) newOpener() *access.Opener {
	return access.New(g.accessOptions(nil))
}

// accessOptions says how to open the repository the flags name, else job
// j's (its own repository block, or the configuration's), else the
// configuration's.
func (g *globalOptions) accessOptions(j *config.Job) access.Options {
	return g.accessOptionsIn(g.config, j)
}

// accessOptionsIn is accessOptions with configuration cfg (the daemon's,
// which a reload replaces).
func (g *globalOptions) accessOptionsIn(cfg *config.Config, j *config.Job) access.Options {
	var locs []access.Location
	minCopies, maxCopies := g.minCopies, g.maxCopies
	secret := access.Secret{KeyFile: g.keyFile, PasswordFile: g.passwordFile, PasswordCommand: g.passwordCommand}
	switch {
	case len(g.repos) > 0:
		for i, addr := range g.repos {
			locs = append(locs, access.Location{Addr: addr, Priority: i, Enabled: true})
		}
	case cfg != nil:
		r := cfg.Repository
		if j != nil && j.Repository != nil {
			r = *j.Repository
		}
		if own := (access.Secret{KeyFile: r.KeyFile, PasswordFile: r.PasswordFile, PasswordCommand: r.PasswordCommand}); !g.secretFlags && !own.IsZero() {
			secret = own
		}
		var cmin, cmax int
		locs, cmin, cmax = access.FromConfig(r)
		minCopies, maxCopies = cmpOr(minCopies, cmin), cmpOr(maxCopies, cmax)
	}
	return access.Options{
		Locations: locs, MinCopies: minCopies, MaxCopies: maxCopies, Secret: secret,
		CacheDir: g.cacheDir, Logger: g.logger, Now: repoClock(os.Getenv), LockRefresh: lockRefresh(os.Getenv),
		Prompt: g.terminalPrompt(), Warn: func(msg string) { g.warnf("%s", msg) },
		OnHeal: g.onHeal, OnLag: g.onLag, Stderr: g.stderr,
		UploadRate: g.limitUp, DownloadRate: g.limitDown,
		Wrap: crashHook(os.Getenv),
	}
}

func cmpOr(a, b int) int {
	if a != 0 {
		return a
	}
	return b
}

// terminalPrompt asks on the terminal without echo, or is nil when
// standard input is not a terminal.
func (g *globalOptions) terminalPrompt() func(string) ([]byte, error) {
	f, ok := g.stdin.(*os.File)
	if !ok || !term.IsTerminal(int(f.Fd())) {
		return nil
	}
	return func(prompt string) ([]byte, error) {
		fmt.Fprint(g.stderr, prompt)
		pw, err := term.ReadPassword(int(f.Fd()))
		fmt.Fprintln(g.stderr)
		return pw, err
	}
}

// openRepo opens the repository named by the global flags.
func (g *globalOptions) openRepo(ctx context.Context) (*repo.Repository, error) {
	return g.acc.Open(ctx, access.OpenOptions{})
}

// openReadRepo opens the repository for a command that only reads it
// (restore, dump, ls, find, diff, snapshots, stats): the snapshots are
// read while it opens.
func (g *globalOptions) openReadRepo(ctx context.Context) (*repo.Repository, error) {
	return g.acc.Open(ctx, access.OpenOptions{ReadOnly: true})
}

// openTolerantRepo opens the repository even when index segments are
// damaged (check and repair).
func (g *globalOptions) openTolerantRepo(ctx context.Context) (*repo.Repository, error) {
	return g.acc.Open(ctx, access.OpenOptions{TolerantIndex: true})
}

// openOrCreateRepo opens the repository, creating the default one on first
// use (and saying so).
func (g *globalOptions) openOrCreateRepo(ctx context.Context) (*repo.Repository, error) {
	r, made, err := g.acc.OpenOrCreate(ctx, access.InitOptions{Compression: repo.NewRepositoryCompression, PackSize: repo.DefaultPackSize})
	if err == nil && made != nil {
		g.reportInit(r, *made)
	}
	return r, err
}

// multi returns the multi-location backend of the repository opened, or nil.
func (g *globalOptions) multi() *multi.Backend { return g.acc.Multi() }

// currentUser returns the name of the user running cairn.
func currentUser() string {
	if u, err := user.Current(); err == nil {
		return u.Username
	}
	return ""
}

// lagCounter counts, per location, the objects that did not reach it
// (removals that missed one are also in the journal, which sync and prune
// apply).
type lagCounter struct {
	mu     sync.Mutex
	counts map[string]int
}

func (g *globalOptions) onLag(l multi.Lag) {
	g.lags.mu.Lock()
	defer g.lags.mu.Unlock()
	if g.lags.counts == nil {
		g.lags.counts = map[string]int{}
	}
	g.lags.counts[l.Location]++
}

func (g *globalOptions) onHeal(h multi.Heal) {
	if h.Err != nil {
		g.warnf("%s at %s is damaged and was not repaired: %v", h.Handle, h.Bad, h.Err)
		return
	}
	if !g.quiet {
		fmt.Fprintf(g.stderr, "cairn: healed %s at %s: its copy failed its hash check; rewrote it from %s\n", h.Handle, h.Bad, h.Good)
	}
}

// reportLag warns about locations that missed writes or removals, once at
// the end of a command.
func (g *globalOptions) reportLag() {
	g.lags.mu.Lock()
	defer g.lags.mu.Unlock()
	names := make([]string, 0, len(g.lags.counts))
	for name := range g.lags.counts {
		names = append(names, name)
	}
	slices.Sort(names)
	for _, name := range names {
		g.warnf("%d object write(s) or removal(s) did not reach %s; it lags until `cairn sync` (writes) or prune (removals) catches it up", g.lags.counts[name], name)
	}
}

// applyPendingRemovals makes the removals that missed a location, now that
// it can be reached (sync and prune do this first).
func (g *globalOptions) applyPendingRemovals(ctx context.Context) error {
	res, err := g.acc.ApplyJournal(ctx)
	g.reportJournal(res)
	return err
}

// reportJournal says what applying the journal of missed removals did.
func (g *globalOptions) reportJournal(res access.JournalResult) {
	if res.Applied > 0 {
		g.printf("applied %d removal(s) that had missed a location\n", res.Applied)
	}
	if res.Waiting > 0 {
		g.warnf("%d removal(s) still wait for an unavailable location; sync or prune applies them when it is back", res.Waiting)
	}
}

// printLocations writes the locations section of the status report.
func (g *globalOptions) printLocations(reps []access.LocationReport) {
	if len(reps) == 0 {
		return
	}
	g.printf("locations:\n")
	for _, r := range reps {
		state := "healthy"
		switch {
		case !r.Enabled:
			state = "disabled"
		case !r.Healthy:
			state = "UNHEALTHY: " + r.Error
			if r.Unremoved > 0 {
				state += fmt.Sprintf("; %d removal(s) missed wait for it (sync or prune applies them when it is back)", r.Unremoved)
			}
		case r.Missing > 0 || r.Unremoved > 0:
			state = fmt.Sprintf("LAGGING: %d object(s) missing, %d removal(s) missed; run `cairn sync`", r.Missing, r.Unremoved)
		}
		g.printf("  %d  %-50s %6d objects  %s\n", r.Priority, r.Name, r.Objects, state)
	}
}
