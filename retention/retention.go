// Package retention applies a retention policy to a repository's
// snapshots: it turns the rules people write (flags or a job's retention
// block) into package policy's rules, decides per group what to keep and
// why, and removes the rest. `cairn forget`, `cairn run` and the daemon
// share it.
package retention

import (
	"context"
	"fmt"
	"time"

	"github.com/cairnbackup/cairn/config"
	"github.com/cairnbackup/cairn/policy"
	"github.com/cairnbackup/cairn/repo"
)

// Spec is a policy as written: counts (-1 for no limit) and calendar
// durations such as 90d or 1y2m3d, named as forget's flags name them.
type Spec struct {
	Last, Hourly, Daily, Weekly, Monthly, Yearly                                 int
	Within, WithinHourly, WithinDaily, WithinWeekly, WithinMonthly, WithinYearly string
	// Tags are tag lists: "a,b" keeps snapshots with both tags.
	Tags []string
}

// Rules parses the spec. Errors name the rule ("keep-within: …").
func (s Spec) Rules() (policy.Rules, error) {
	r := policy.Rules{Last: s.Last, Hourly: s.Hourly, Daily: s.Daily, Weekly: s.Weekly, Monthly: s.Monthly, Yearly: s.Yearly}
	for _, d := range []struct {
		name, v string
		dst     *policy.Duration
	}{{"keep-within", s.Within, &r.Within}, {"keep-within-hourly", s.WithinHourly, &r.WithinHourly},
		{"keep-within-daily", s.WithinDaily, &r.WithinDaily}, {"keep-within-weekly", s.WithinWeekly, &r.WithinWeekly},
		{"keep-within-monthly", s.WithinMonthly, &r.WithinMonthly}, {"keep-within-yearly", s.WithinYearly, &r.WithinYearly}} {
		if d.v == "" {
			continue
		}
		v, err := policy.ParseDuration(d.v)
		if err != nil {
			return r, fmt.Errorf("%s: %w", d.name, err)
		}
		*d.dst = v
	}
	for _, t := range s.Tags {
		r.Tags = append(r.Tags, policy.ParseTagList(t))
	}
	return r, r.Validate()
}

// Policy is what a retention run applies.
type Policy struct {
	Rules   policy.Rules
	GroupBy policy.GroupBy
	// Job, when set, limits the policy to the snapshots of that job.
	Job string
	// AllowEmpty lets the rules remove every snapshot of a group.
	AllowEmpty bool
}

// FromJob returns the policy of a job's retention block.
func FromJob(j *config.Job) (Policy, error) {
	rt := j.Retention
	if rt == nil {
		return Policy{}, fmt.Errorf("job %q has no retention block in the configuration", j.Name)
	}
	s := Spec{Last: rt.KeepLast, Hourly: rt.KeepHourly, Daily: rt.KeepDaily, Weekly: rt.KeepWeekly,
		Monthly: rt.KeepMonthly, Yearly: rt.KeepYearly, Within: rt.KeepWithin, WithinHourly: rt.KeepWithinHourly,
		WithinDaily: rt.KeepWithinDaily, WithinWeekly: rt.KeepWithinWeekly, WithinMonthly: rt.KeepWithinMonthly,
		WithinYearly: rt.KeepWithinYearly, Tags: rt.KeepTags}
	rules, err := s.Rules()
	if err != nil {
		return Policy{}, fmt.Errorf("job %q: retention: %w", j.Name, err)
	}
	by := policy.DefaultGroupBy()
	if rt.GroupBy != nil {
		if by, err = policy.ParseGroupBy(*rt.GroupBy); err != nil {
			return Policy{}, fmt.Errorf("job %q: retention: %w", j.Name, err)
		}
	}
	return Policy{Rules: rules, GroupBy: by, Job: j.Name}, nil
}

// Group is the decision for one group of snapshots (also forget's JSON).
type Group struct {
	Key    policy.GroupKey  `json:"group"`
	Keep   []Kept           `json:"keep"`
	Remove []*repo.Snapshot `json:"remove"`
}

// Kept is a kept snapshot and every rule that kept it.
type Kept struct {
	Snapshot *repo.Snapshot `json:"snapshot"`
	Reasons  []string       `json:"reasons"`
}

// Decide applies the policy to each group of snaps at time now. It
// refuses (and decides nothing) when the rules would remove every
// snapshot of a group, unless the policy allows that.
func Decide(snaps []*repo.Snapshot, p Policy, now time.Time) ([]Group, error) {
	byID := map[string]*repo.Snapshot{}
	facts := make([]policy.Snapshot, 0, len(snaps))
	for _, s := range snaps {
		if p.Job != "" && s.Job != p.Job {
			continue
		}
		byID[s.ID().String()] = s
		facts = append(facts, policy.Snapshot{ID: s.ID().String(), Time: RecordedTime(s.Time), Host: s.Hostname, Paths: s.Paths, Tags: s.Tags})
	}
	var out []Group
	for _, grp := range policy.GroupSnapshots(facts, p.GroupBy) {
		keep, remove := policy.Apply(grp.Snapshots, p.Rules, now)
		g := Group{Key: grp.Key}
		for _, k := range keep {
			ks := Kept{Snapshot: byID[k.Snapshot.ID]}
			for _, reason := range k.Reasons {
				ks.Reasons = append(ks.Reasons, reason.String())
			}
			g.Keep = append(g.Keep, ks)
		}
		for _, s := range remove {
			g.Remove = append(g.Remove, byID[s.ID])
		}
		if len(g.Keep) == 0 && len(g.Remove) > 0 && !p.AllowEmpty {
			return nil, fmt.Errorf("the policy (%s) would remove all %d snapshot(s) of %s; nothing was removed: check the rules, or give --allow-empty", p.Rules, len(g.Remove), grp.Key)
		}
		out = append(out, g)
	}
	return out, nil
}

// RecordedTime returns a snapshot's time as restic reads one back: in the
// local zone when its recorded offset is the local one at that instant
// (so buckets follow the local calendar, daylight saving included), else
// in the offset it was recorded with.
func RecordedTime(t time.Time) time.Time {
	_, off := t.Zone()
	local := t.In(time.Local)
	if _, loff := local.Zone(); loff == off {
		return local
	}
	return t
}

// Remover removes snapshots; *repo.Repository is one.
type Remover interface {
	RemoveSnapshot(ctx context.Context, id repo.ID) error
}

// Remove removes every snapshot the groups name and returns how many it
// removed. On an error the rest are kept, and the error says so.
func Remove(ctx context.Context, r Remover, groups []Group) (int, error) {
	n := 0
	for _, grp := range groups {
		for _, s := range grp.Remove {
			if err := r.RemoveSnapshot(ctx, s.ID()); err != nil {
				return n, fmt.Errorf("%w; %d snapshot(s) were removed before it, the rest are kept: run forget again", err, n)
			}
			n++
		}
	}
	return n, nil
}

// Count returns how many snapshots the groups keep and remove.
func Count(groups []Group) (keep, remove int) {
	for _, g := range groups {
		keep += len(g.Keep)
		remove += len(g.Remove)
	}
	return keep, remove
}
