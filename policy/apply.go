package policy

import (
	"slices"
	"strings"
	"time"
)

// Snapshot is what the rules look at.
//
// Time's location matters: buckets are the hour, day, week, month and year
// that Time shows in Time.Location(), and keep-within durations are
// subtracted in that location too. To decide as restic does, give each
// snapshot the offset it was recorded with (restic records the local offset of
// the machine that took it, and reads a time back in time.Local when the
// offsets agree and in a fixed zone otherwise); converting every time to UTC
// or to the local zone first moves snapshots between buckets.
type Snapshot struct {
	ID    string    // opaque; orders snapshots with equal times, and names them in output
	Time  time.Time // when the snapshot was taken, in the zone it was recorded in
	Host  string
	Paths []string
	Tags  []string
}

// Reason says which rule kept a snapshot.
type Reason struct {
	// Rule is one of the Rule* constants.
	Rule string
	// Detail says what the rule matched: the bucket for bucket rules
	// ("2016-04-10 08h", "2016-04-10", "2016-W14", "2016-04", "2016"), the
	// position for last ("#1" is the newest), the duration for within and the
	// comma-separated tag list for tag.
	Detail string
	// Oldest is set when a bucket rule kept the group's oldest snapshot in a
	// bucket it had already used, because it still had room (restic's
	// "oldest daily snapshot").
	Oldest bool
}

// String words the reason: "daily 2016-04-10", "oldest weekly 2015-W53",
// "last #2", "within 90d", "within-daily 2016-04-09", "tag a,b".
func (r Reason) String() string {
	detail := r.Detail
	if r.Rule == RuleTag && detail == "" {
		detail = `""`
	}
	s := r.Rule + " " + detail
	if r.Oldest {
		s = "oldest " + s
	}
	return s
}

// Kept is a snapshot that the rules keep, with every rule that keeps it in
// evaluation order: tags, within, last, hourly … yearly, within-hourly …
// within-yearly.
type Kept struct {
	Snapshot Snapshot
	Reasons  []Reason
}

// Apply decides which snapshots of one group to keep (see GroupSnapshots for
// making groups). The order of snaps does not matter: snapshots are taken
// newest first, and those with equal times in ascending ID order, as if the
// one with the smaller ID were newer (restic takes equal times in the order it
// happened to load them). Both results are in that order.
//
// now is the present: snapshots at or after it are in the future, so they
// never serve as the newest snapshot that durations count back from (they are
// still offered to every rule, and keep-within keeps them). With a zero now no
// snapshot is in the future.
//
// Under empty rules Apply keeps every snapshot, with no reasons. Under other
// rules keep may come out empty (keep-tag rules that no snapshot matches);
// restic's forget then fails without removing anything from any group, and
// callers should do the same.
// Rules should pass Validate; a count below -1 acts as unlimited.
func Apply(snaps []Snapshot, r Rules, now time.Time) (keep []Kept, remove []Snapshot) {
	sorted := newestFirst(snaps)
	if r.Empty() {
		for _, s := range sorted {
			keep = append(keep, Kept{Snapshot: s})
		}
		return keep, nil
	}
	e := newEvaluator(r, newestBefore(sorted, now))
	for i, s := range sorted {
		reasons := e.reasons(s, i, i == len(sorted)-1)
		if len(reasons) == 0 {
			remove = append(remove, s)
			continue
		}
		keep = append(keep, Kept{Snapshot: s, Reasons: reasons})
	}
	return keep, remove
}

// newestFirst returns a copy of snaps sorted newest first, equal times by
// ascending ID.
func newestFirst(snaps []Snapshot) []Snapshot {
	sorted := slices.Clone(snaps)
	slices.SortStableFunc(sorted, func(a, b Snapshot) int {
		if c := b.Time.Compare(a.Time); c != 0 {
			return c
		}
		return strings.Compare(a.ID, b.ID)
	})
	return sorted
}

// newestBefore returns the time of the newest snapshot before now (any
// snapshot when now is zero) and after the zero time, or the zero time when
// there is none. Durations count back from it.
func newestBefore(sorted []Snapshot, now time.Time) time.Time {
	for _, s := range sorted {
		if s.Time.After(time.Time{}) && (now.IsZero() || s.Time.Before(now)) {
			return s.Time
		}
	}
	return time.Time{}
}

// evaluator holds the state of every rule while Apply walks one group.
type evaluator struct {
	tags    [][]string
	within  Duration
	cutoff  time.Time // keep-within keeps snapshots after this
	buckets []*bucketRule
}

// newEvaluator prepares the rules; durations count back from newest.
func newEvaluator(r Rules, newest time.Time) *evaluator {
	e := &evaluator{tags: r.Tags, within: r.Within, cutoff: r.Within.before(newest)}
	for i, n := range r.counts() {
		if n != 0 {
			if n < 0 {
				n = Unlimited
			}
			p := periods[i]
			e.buckets = append(e.buckets, &bucketRule{rule: p.rule, label: p.label, left: n})
		}
	}
	for i, d := range r.withins() {
		if !d.Zero() {
			p := periods[i+1]
			e.buckets = append(e.buckets, &bucketRule{rule: p.withinRule, label: p.label,
				left: Unlimited, within: true, cutoff: d.before(newest)})
		}
	}
	return e
}

// reasons offers the snapshot at position pos to every rule, in order, and
// returns the reasons of those that keep it.
func (e *evaluator) reasons(s Snapshot, pos int, oldest bool) []Reason {
	var reasons []Reason
	for _, list := range e.tags {
		if hasTags(s.Tags, list) {
			reasons = append(reasons, Reason{Rule: RuleTag, Detail: strings.Join(list, ",")})
		}
	}
	if !e.within.Zero() && s.Time.After(e.cutoff) {
		reasons = append(reasons, Reason{Rule: RuleWithin, Detail: e.within.String()})
	}
	for _, b := range e.buckets {
		if reason, ok := b.take(s.Time, pos, oldest); ok {
			reasons = append(reasons, reason)
		}
	}
	return reasons
}
