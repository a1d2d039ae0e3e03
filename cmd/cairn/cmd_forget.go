package main

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"text/tabwriter"

	"github.com/urfave/cli/v2"

	"github.com/cairnbackup/cairn/config"
	"github.com/cairnbackup/cairn/job"
	"github.com/cairnbackup/cairn/policy"
	"github.com/cairnbackup/cairn/retention"
)

// retentionFlags are forget's keep-* flags.
type retentionFlags struct {
	last, hourly, daily, weekly, monthly, yearly                                 int
	within, withinHourly, withinDaily, withinWeekly, withinMonthly, withinYearly string
	tags                                                                         repeatedFlag
}

func (o *retentionFlags) flags() []cli.Flag {
	count := func(name string, dst *int, what string) cli.Flag {
		return &cli.IntFlag{Name: "keep-" + name, Destination: dst, Usage: "keep " + what + " (-1: no limit)"}
	}
	within := func(name string, dst *string, what string) cli.Flag {
		return &cli.StringFlag{Name: "keep-" + name, Destination: dst, Usage: "keep " + what + " of the newest snapshot (such as 90d, 1y2m3d, 36h)"}
	}
	return []cli.Flag{
		count("last", &o.last, "the `N` newest snapshots"),
		count("hourly", &o.hourly, "the newest snapshot of each of the `N` newest hours that have one"),
		count("daily", &o.daily, "the newest snapshot of each of `N` days"),
		count("weekly", &o.weekly, "the newest snapshot of each of `N` ISO weeks"),
		count("monthly", &o.monthly, "the newest snapshot of each of `N` months"),
		count("yearly", &o.yearly, "the newest snapshot of each of `N` years"),
		within("within", &o.within, "every snapshot within `DURATION`"),
		within("within-hourly", &o.withinHourly, "the newest snapshot of each hour within `DURATION`"),
		within("within-daily", &o.withinDaily, "the newest snapshot of each day within `DURATION`"),
		within("within-weekly", &o.withinWeekly, "the newest snapshot of each week within `DURATION`"),
		within("within-monthly", &o.withinMonthly, "the newest snapshot of each month within `DURATION`"),
		within("within-yearly", &o.withinYearly, "the newest snapshot of each year within `DURATION`"),
		&cli.GenericFlag{Name: "keep-tag", Value: &o.tags, Usage: "keep snapshots carrying `TAG[,TAG...]` (all tags of one value; repeat for any of several)"},
	}
}

// rules turns the flags into policy rules.
func (o *retentionFlags) rules() (policy.Rules, error) {
	r, err := retention.Spec{Last: o.last, Hourly: o.hourly, Daily: o.daily, Weekly: o.weekly, Monthly: o.monthly, Yearly: o.yearly,
		Within: o.within, WithinHourly: o.withinHourly, WithinDaily: o.withinDaily, WithinWeekly: o.withinWeekly,
		WithinMonthly: o.withinMonthly, WithinYearly: o.withinYearly, Tags: o.tags}.Rules()
	if err != nil {
		return r, fmt.Errorf("--%w", err)
	}
	return r, nil
}

type forgetOptions struct {
	keep       retentionFlags
	groupBy    string
	filter     snapshotFilter
	dryRun     bool
	allowEmpty bool
	prune      bool
	job        string
	pruneFlags pruneFlags
}

func newForgetCommand(g *globalOptions) *cli.Command {
	var o forgetOptions
	flags := append(o.keep.flags(), o.filter.flags()...)
	flags = append(flags,
		&cli.StringFlag{Name: "group-by", Value: "host,paths", Destination: &o.groupBy, Usage: "apply the rules to each group of snapshots with the same `FIELDS` (host, paths, tags; \"\" for one group)"},
		&cli.BoolFlag{Name: "dry-run", Aliases: []string{"n"}, Destination: &o.dryRun, Usage: "only say what would be removed"},
		&cli.BoolFlag{Name: "allow-empty", Destination: &o.allowEmpty, Usage: "allow a policy to remove every snapshot of a group"},
		&cli.StringFlag{Name: "job", Destination: &o.job, Usage: "apply the retention block of job `NAME` from the configuration to that job's snapshots"},
		&cli.BoolFlag{Name: "prune", Destination: &o.prune, Usage: "run a prune afterwards (prune's flags apply)"},
	)
	flags = append(flags, o.pruneFlags.flags()...)
	return &cli.Command{
		Name:      "forget",
		Usage:     "remove snapshots by a retention policy (or by id); --prune then frees their storage",
		ArgsUsage: "[SNAP...]",
		Description: `Applies the keep-* rules to each group of snapshots (by default those of one
host and set of paths; --group-by changes that) and removes the snapshots
that no rule keeps. A snapshot is kept when any rule keeps it; the output
lists, for each kept snapshot, every rule that kept it. The rules mean what
restic's mean:
   --keep-last N            the N newest
   --keep-hourly/daily/weekly/monthly/yearly N
                            the newest snapshot of each of the N newest hours
                            (days, ISO weeks, months, years) that have one
   --keep-within D          every snapshot within D of the group's newest
                            (D such as 90d, 1y2m3d, 36h)
   --keep-within-hourly … -yearly D
                            the newest of each hour (…) within D of the newest
   --keep-tag TAG[,TAG]     snapshots that carry all those tags
N may be -1 for no limit. A typical 90-day policy for daily backups is
--keep-within 90d, or --keep-daily 7 --keep-weekly 4 --keep-monthly 12.

forget refuses to run without a rule, and refuses a policy that would remove
every snapshot of a group unless --allow-empty. "forget SNAP..." removes the
named snapshots instead. --job NAME applies the job's retention block from
the configuration to the snapshots of that job. Removing snapshots frees no
storage by itself: prune does, and --prune runs it afterwards.`,
		Flags: flags,
		Action: func(c *cli.Context) error {
			return g.audited(job.KindForget, func(res *job.Result) error {
				res.Job = o.job
				return runForget(c.Context, g, &o, c.Args().Slice(), res)
			})
		},
	}
}

func runForget(ctx context.Context, g *globalOptions, o *forgetOptions, names []string, audit *job.Result) error {
	pol, err := o.policy(g)
	if err != nil {
		return err
	}
	rules := pol.Rules
	if len(names) > 0 && !rules.Empty() {
		return errors.New("give snapshots to remove or keep-* rules, not both")
	}
	if len(names) == 0 && rules.Empty() {
		return errors.New("forget needs a rule (--keep-last, --keep-daily, --keep-within, --keep-tag …), a --job with a retention block, or snapshots to remove; refusing to remove every snapshot")
	}
	opts, err := o.pruneFlags.options()
	if err != nil {
		return err
	}
	r, err := g.openRepo(ctx)
	if err != nil {
		return err
	}
	defer r.Close()
	var groups []retention.Group
	sel, err := g.selectSnapshots(ctx, r, names, &o.filter)
	if err != nil {
		return err
	}
	if len(names) > 0 {
		groups = []retention.Group{{Remove: sel}}
	} else if groups, err = retention.Decide(sel, pol, r.Now()); err != nil {
		return err
	}
	removed := 0
	if !o.dryRun {
		removed, err = retention.Remove(ctx, r, groups)
	}
	g.reportForget(groups, rules, o.dryRun, removed)
	kept, _ := retention.Count(groups)
	audit.Repository, audit.Forget = r.Location(), &job.ForgetResult{Kept: kept, Removed: removed}
	if err != nil {
		return err
	}
	if o.prune || (o.job != "" && g.config != nil && jobPrunes(g.config, o.job)) {
		audit.Prune, err = runPrune(ctx, g, r, opts, o.dryRun)
		return err
	}
	return nil
}

func jobPrunes(c *config.Config, name string) bool {
	j, err := c.Job(name)
	return err == nil && j.Retention != nil && j.Retention.Prune
}

// policy returns the rules and grouping from the flags or the job.
func (o *forgetOptions) policy(g *globalOptions) (retention.Policy, error) {
	flagRules, err := o.keep.rules()
	if err != nil {
		return retention.Policy{}, err
	}
	if o.job == "" {
		by, err := policy.ParseGroupBy(o.groupBy)
		if err != nil {
			return retention.Policy{}, fmt.Errorf("--group-by: %w", err)
		}
		return retention.Policy{Rules: flagRules, GroupBy: by, AllowEmpty: o.allowEmpty}, nil
	}
	if g.config == nil {
		return retention.Policy{}, errors.New("--job needs a configuration file (--config or CAIRN_CONFIG)")
	}
	if !flagRules.Empty() {
		return retention.Policy{}, fmt.Errorf("--job %s takes its rules from the configuration: give no keep-* flags", o.job)
	}
	j, err := g.config.Job(o.job)
	if err != nil {
		return retention.Policy{}, err
	}
	p, err := retention.FromJob(j)
	p.AllowEmpty = o.allowEmpty
	return p, err
}

// reportForget prints each group's decision.
func (g *globalOptions) reportForget(groups []retention.Group, rules policy.Rules, dry bool, removed int) {
	if g.json {
		g.printJSON(map[string]any{"message_type": "summary", "groups": groups, "dry_run": dry, "removed": removed, "policy": rules.String()})
		return
	}
	if g.quiet {
		return
	}
	total := 0
	w := tabwriter.NewWriter(g.stdout, 0, 0, 2, ' ', 0)
	for _, grp := range groups {
		total += len(grp.Remove)
		if len(grp.Keep) > 0 {
			fmt.Fprintf(w, "%s: keep %d snapshot(s):\n", grp.Key.String(), len(grp.Keep))
			for _, k := range grp.Keep {
				fmt.Fprintf(w, "  %s\t%s\t%s\n", k.Snapshot.ID().Short(), k.Snapshot.Time.Local().Format(timeLayout), strings.Join(k.Reasons, ", "))
			}
		}
		if len(grp.Remove) > 0 {
			fmt.Fprintf(w, "%s: remove %d snapshot(s):\n", grp.Key.String(), len(grp.Remove))
			for _, s := range grp.Remove {
				fmt.Fprintf(w, "  %s\t%s\n", s.ID().Short(), s.Time.Local().Format(timeLayout))
			}
		}
	}
	w.Flush()
	switch {
	case dry:
		g.printf("would remove %d snapshot(s)\n", total)
	default:
		g.printf("removed %d snapshot(s)\n", removed)
	}
}
