package policy

import (
	"fmt"
	"strconv"
	"time"
)

// Rule names, as Reason.Rule reports them.
const (
	RuleLast          = "last"
	RuleHourly        = "hourly"
	RuleDaily         = "daily"
	RuleWeekly        = "weekly"
	RuleMonthly       = "monthly"
	RuleYearly        = "yearly"
	RuleWithin        = "within"
	RuleWithinHourly  = "within-hourly"
	RuleWithinDaily   = "within-daily"
	RuleWithinWeekly  = "within-weekly"
	RuleWithinMonthly = "within-monthly"
	RuleWithinYearly  = "within-yearly"
	RuleTag           = "tag"
)

// period is one way of cutting time into buckets. label names the bucket of
// a snapshot, given its time and its position among the group's snapshots
// (newest first); two snapshots share a bucket exactly when their labels are
// equal.
type period struct {
	name       string // word used in summaries: "daily"
	rule       string // the counted rule that uses the period
	withinRule string // the within-* rule that uses it ("" for last)
	label      func(t time.Time, pos int) string
}

// periods lists the periods in the order rules are evaluated: the counted
// rules use all of them, the within-* rules all but the first.
var periods = [...]period{
	{"last", RuleLast, "", func(_ time.Time, pos int) string { return "#" + strconv.Itoa(pos+1) }},
	{"hourly", RuleHourly, RuleWithinHourly, func(t time.Time, _ int) string { return t.Format("2006-01-02 15h") }},
	{"daily", RuleDaily, RuleWithinDaily, func(t time.Time, _ int) string { return t.Format("2006-01-02") }},
	{"weekly", RuleWeekly, RuleWithinWeekly, isoWeek},
	{"monthly", RuleMonthly, RuleWithinMonthly, func(t time.Time, _ int) string { return t.Format("2006-01") }},
	{"yearly", RuleYearly, RuleWithinYearly, func(t time.Time, _ int) string { return t.Format("2006") }},
}

// isoWeek labels the ISO 8601 week of t, counted in its ISO year: 29
// December 2014 is "2015-W01", 3 January 2016 is "2015-W53".
func isoWeek(t time.Time, _ int) string {
	year, week := t.ISOWeek()
	return fmt.Sprintf("%04d-W%02d", year, week)
}

// bucketRule is the running state of one counted or within-* rule while
// Apply walks a group from newest to oldest.
type bucketRule struct {
	rule   string
	label  func(time.Time, int) string
	left   int       // snapshots it may still keep; Unlimited never runs out
	cutoff time.Time // within-* only: it looks only at snapshots after this
	within bool
	last   string // label of the bucket it kept last; "" before the first
}

// take offers the snapshot at position pos (taken at t) to the rule and
// returns the reason when the rule keeps it: when the snapshot opens a new
// bucket, or is the group's oldest and the rule still has room.
func (b *bucketRule) take(t time.Time, pos int, oldest bool) (Reason, bool) {
	if b.left == 0 || (b.within && !t.After(b.cutoff)) {
		return Reason{}, false
	}
	label := b.label(t, pos)
	repeat := label == b.last
	if repeat && !oldest {
		return Reason{}, false
	}
	b.last = label
	if b.left > 0 {
		b.left--
	}
	return Reason{Rule: b.rule, Detail: label, Oldest: repeat}, true
}
