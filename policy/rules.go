package policy

import (
	"errors"
	"fmt"
	"slices"
	"strings"
)

// Unlimited as a count makes a counted rule keep one snapshot in every bucket
// it meets (restic's "unlimited", stored there as -1 too).
const Unlimited = -1

// Rules are the keep-* rules of one policy. A snapshot is kept when any rule
// keeps it.
//
// Count fields keep that many snapshots: 0 means the rule is not used and
// [Unlimited] (-1) means no limit. Duration fields are not used when zero.
type Rules struct {
	Last    int // the newest Last snapshots (--keep-last)
	Hourly  int // the newest snapshot of each of the newest Hourly hours that have one
	Daily   int // likewise for days
	Weekly  int // likewise for ISO weeks (Monday to Sunday)
	Monthly int // likewise for months
	Yearly  int // likewise for years

	Within        Duration // every snapshot within this of the newest (--keep-within)
	WithinHourly  Duration // the newest snapshot of every hour within this of the newest snapshot
	WithinDaily   Duration // likewise for days
	WithinWeekly  Duration // likewise for ISO weeks
	WithinMonthly Duration // likewise for months
	WithinYearly  Duration // likewise for years

	// Tags keeps snapshots that carry every tag of at least one of the
	// lists (--keep-tag "a,b" is the list {"a", "b"}; see ParseTagList).
	// An empty tag stands for "no tags at all", so {""} keeps the untagged
	// snapshots, as restic's --keep-tag '' does.
	Tags [][]string
}

// counts returns the counted rules in the order they are evaluated.
func (r Rules) counts() []int {
	return []int{r.Last, r.Hourly, r.Daily, r.Weekly, r.Monthly, r.Yearly}
}

// withins returns the within-* durations in the order they are evaluated.
func (r Rules) withins() []Duration {
	return []Duration{r.WithinHourly, r.WithinDaily, r.WithinWeekly, r.WithinMonthly, r.WithinYearly}
}

// Empty reports whether no rule is used. Apply keeps every snapshot under
// empty rules; a command should refuse to forget with them, as restic does.
func (r Rules) Empty() bool {
	for _, n := range r.counts() {
		if n != 0 {
			return false
		}
	}
	for _, d := range append(r.withins(), r.Within) {
		if !d.Zero() {
			return false
		}
	}
	return len(r.Tags) == 0
}

// Validate reports rules that restic's forget would refuse: counts below -1
// and durations with a negative field.
func (r Rules) Validate() error {
	for _, n := range r.counts() {
		if n < Unlimited {
			return fmt.Errorf("policy: count %d is negative (use %d for unlimited)", n, Unlimited)
		}
	}
	for _, d := range append(r.withins(), r.Within) {
		if d.negative() {
			return errors.New("policy: a keep-within duration is negative")
		}
	}
	return nil
}

// String summarizes the rules for people, e.g.
// "keep last 3, 7 daily, 4 weekly, within 90d, daily within 1m, tag a,b or c".
func (r Rules) String() string {
	var parts []string
	for i, n := range r.counts() {
		if n != 0 {
			parts = append(parts, countPhrase(periods[i].rule, n))
		}
	}
	if !r.Within.Zero() {
		parts = append(parts, "within "+r.Within.String())
	}
	for i, d := range r.withins() {
		if !d.Zero() {
			parts = append(parts, periods[i+1].name+" within "+d.String())
		}
	}
	if len(r.Tags) > 0 {
		parts = append(parts, "tag "+tagListsPhrase(r.Tags))
	}
	if len(parts) == 0 {
		return "no rules (keep everything)"
	}
	return "keep " + strings.Join(parts, ", ")
}

// countPhrase words one counted rule: "last 3", "7 daily", "all weekly".
func countPhrase(rule string, n int) string {
	switch {
	case rule == RuleLast && n == Unlimited:
		return "all"
	case rule == RuleLast:
		return fmt.Sprintf("last %d", n)
	case n == Unlimited:
		return "all " + rule
	}
	return fmt.Sprintf("%d %s", n, rule)
}

// tagListsPhrase words keep-tag lists: "a,b or c".
func tagListsPhrase(lists [][]string) string {
	words := make([]string, len(lists))
	for i, l := range lists {
		words[i] = strings.Join(l, ",")
		if words[i] == "" {
			words[i] = "(none)"
		}
	}
	return strings.Join(words, " or ")
}

// ParseTagList splits one --keep-tag value into its tags as restic does: at
// commas, with spaces around each tag removed ("a, b" is {"a", "b"}; "" is
// {""}, which matches untagged snapshots).
func ParseTagList(s string) []string {
	tags := strings.Split(s, ",")
	for i, t := range tags {
		tags[i] = strings.TrimSpace(t)
	}
	return tags
}

// hasTags reports whether tags satisfy one keep-tag list: every tag of the
// list is present, where an empty tag, met before any missing one, is
// satisfied by a snapshot without tags (restic reads the list the same way).
func hasTags(tags, list []string) bool {
	for _, want := range list {
		if want == "" && len(tags) == 0 {
			return true
		}
		if !slices.Contains(tags, want) {
			return false
		}
	}
	return true
}
