package policy

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"
	_ "time/tzdata" // the goldens name zones; do not depend on the machine's zoneinfo
)

// The goldens in testdata/golden are restic 0.19.1's own decisions, recorded
// by policy/internal/gengolden (see its doc comment to regenerate them). This
// test replays every recorded forget run through GroupSnapshots and Apply and
// wants restic's groups, kept snapshots, reasons and removed snapshots.

// goldenFile is the layout gengolden writes.
type goldenFile struct {
	Restic    string `json:"restic"`
	BackupTZ  string `json:"backup_tz"`
	ForgetTZ  string `json:"forget_tz"`
	Now       string `json:"now"`
	Snapshots []struct {
		ID    string   `json:"id"`
		Time  string   `json:"time"`
		Host  string   `json:"host"`
		Paths []string `json:"paths"`
		Tags  []string `json:"tags"`
	} `json:"snapshots"`
	Cases []goldenCase `json:"cases"`
}

type goldenCase struct {
	Name    string        `json:"name"`
	Args    []string      `json:"args"`
	GroupBy *string       `json:"group_by"`
	Error   string        `json:"error"`
	Groups  []goldenGroup `json:"groups"`
}

type goldenGroup struct {
	Host  string   `json:"host"`
	Paths []string `json:"paths"`
	Tags  []string `json:"tags"`
	Keep  []struct {
		ID      string   `json:"id"`
		Matches []string `json:"matches"`
	} `json:"keep"`
	Remove []string `json:"remove"`
}

func TestGolden(t *testing.T) {
	files, err := filepath.Glob(filepath.Join("testdata", "golden", "*.json"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no golden files: %v", err)
	}
	cases := 0
	for _, file := range files {
		g := loadGolden(t, file)
		snaps, byID := goldenSnapshots(t, g)
		now, err := time.Parse(time.RFC3339, g.Now)
		if err != nil {
			t.Fatal(err)
		}
		for _, c := range g.Cases {
			name := strings.TrimSuffix(filepath.Base(file), ".json") + "/" + c.Name
			t.Run(name, func(t *testing.T) { checkGoldenCase(t, c, snaps, byID, now) })
			cases++
		}
	}
	t.Logf("%d golden cases from %d files", cases, len(files))
}

func loadGolden(t *testing.T, file string) *goldenFile {
	t.Helper()
	b, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	var g goldenFile
	if err := json.Unmarshal(b, &g); err != nil {
		t.Fatalf("%s: %v", file, err)
	}
	if len(g.Snapshots) == 0 || len(g.Cases) == 0 {
		t.Fatalf("%s: no snapshots or no cases", file)
	}
	return &g
}

// goldenSnapshots returns the file's snapshots with their times decoded as
// restic decoded them when forget ran (see resticTime).
func goldenSnapshots(t *testing.T, g *goldenFile) ([]Snapshot, map[string]Snapshot) {
	t.Helper()
	loc, err := time.LoadLocation(g.ForgetTZ)
	if err != nil {
		t.Fatal(err)
	}
	var snaps []Snapshot
	byID := map[string]Snapshot{}
	for _, s := range g.Snapshots {
		at, err := resticTime(s.Time, loc)
		if err != nil {
			t.Fatal(err)
		}
		snap := Snapshot{ID: s.ID, Time: at, Host: s.Host, Paths: s.Paths, Tags: s.Tags}
		snaps = append(snaps, snap)
		byID[s.ID] = snap
	}
	return snaps, byID
}

// resticTime decodes a snapshot time as Go's JSON decoding did in restic,
// whose local zone was local: in local when the recorded offset is local's
// offset at that instant, else in a fixed zone of the recorded offset.
func resticTime(s string, local *time.Location) (time.Time, error) {
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		return t, err
	}
	_, offset := t.Zone()
	if _, localOffset := t.In(local).Zone(); localOffset == offset {
		return t.In(local), nil
	}
	return t.In(time.FixedZone("", offset)), nil
}

func checkGoldenCase(t *testing.T, c goldenCase, snaps []Snapshot, byID map[string]Snapshot, now time.Time) {
	rules, by := resticFlags(t, c.Args, c.GroupBy)
	groups := GroupSnapshots(snaps, by)
	if c.Error != "" {
		checkRefusal(t, c.Error, groups, rules, now)
		return
	}
	if len(groups) != len(c.Groups) {
		t.Fatalf("%d groups, restic made %d", len(groups), len(c.Groups))
	}
	for _, g := range groups {
		i := slices.IndexFunc(c.Groups, func(w goldenGroup) bool {
			return g.Key.compare(GroupKey{Host: w.Host, Paths: w.Paths, Tags: w.Tags}) == 0
		})
		if i < 0 {
			t.Fatalf("restic made no group %q", g.Key)
		}
		keep, remove := Apply(g.Snapshots, rules, now)
		got := describe(keep, remove, rules)
		if want := describeGolden(t, c.Groups[i], byID); got != want {
			t.Errorf("group %s differs from restic:\n got: %s\nwant: %s", g.Key, got, want)
		}
	}
}

// checkRefusal checks a run that restic refused because a group would keep
// nothing: some group of ours keeps nothing too.
func checkRefusal(t *testing.T, msg string, groups []Group, rules Rules, now time.Time) {
	if !strings.Contains(msg, "refusing to delete last snapshot") {
		t.Fatalf("unexpected restic error %q", msg)
	}
	for _, g := range groups {
		if keep, _ := Apply(g.Snapshots, rules, now); len(keep) == 0 {
			return
		}
	}
	t.Errorf("restic refused (%s), but every group keeps something", msg)
}

// describe renders our decision as restic would: kept snapshots newest first
// as "time [matches]", then the removed times. Times rather than ids, since
// restic orders snapshots with equal times as it happened to load them.
func describe(keep []Kept, remove []Snapshot, rules Rules) string {
	var words []string
	for _, k := range keep {
		var matches []string
		for _, r := range k.Reasons {
			matches = append(matches, resticMatch(r, rules))
		}
		words = append(words, k.Snapshot.Time.Format(time.RFC3339)+" ["+strings.Join(matches, "; ")+"]")
	}
	words = append(words, "removed:")
	for _, s := range remove {
		words = append(words, s.Time.Format(time.RFC3339))
	}
	return strings.Join(words, "\n  ")
}

// describeGolden renders restic's decision like describe.
func describeGolden(t *testing.T, g goldenGroup, byID map[string]Snapshot) string {
	t.Helper()
	var words []string
	at := func(id string) string {
		s, ok := byID[id]
		if !ok {
			t.Fatalf("golden names unknown snapshot %q", id)
		}
		return s.Time.Format(time.RFC3339)
	}
	for _, k := range g.Keep {
		words = append(words, at(k.ID)+" ["+strings.Join(k.Matches, "; ")+"]")
	}
	words = append(words, "removed:")
	for _, id := range g.Remove {
		words = append(words, at(id))
	}
	return strings.Join(words, "\n  ")
}

// resticMatch words a reason as restic's forget --json does.
func resticMatch(r Reason, rules Rules) string {
	prefix := ""
	if r.Oldest {
		prefix = "oldest "
	}
	switch r.Rule {
	case RuleTag:
		return "has tags [" + strings.Join(strings.Split(r.Detail, ","), ", ") + "]"
	case RuleWithin:
		return "within " + r.Detail
	case RuleLast:
		return "last snapshot"
	}
	for i, p := range periods {
		switch r.Rule {
		case p.rule:
			return prefix + p.name + " snapshot"
		case p.withinRule:
			return prefix + p.name + " within " + rules.withins()[i-1].String()
		}
	}
	return "unknown rule " + r.Rule
}

// resticFlags reads restic forget's keep and group-by flags.
func resticFlags(t *testing.T, args []string, groupBy *string) (Rules, GroupBy) {
	t.Helper()
	var r Rules
	counts := map[string]*int{"--keep-last": &r.Last, "--keep-hourly": &r.Hourly, "--keep-daily": &r.Daily,
		"--keep-weekly": &r.Weekly, "--keep-monthly": &r.Monthly, "--keep-yearly": &r.Yearly}
	durations := map[string]*Duration{"--keep-within": &r.Within, "--keep-within-hourly": &r.WithinHourly,
		"--keep-within-daily": &r.WithinDaily, "--keep-within-weekly": &r.WithinWeekly,
		"--keep-within-monthly": &r.WithinMonthly, "--keep-within-yearly": &r.WithinYearly}
	for i := 0; i+1 < len(args); i += 2 {
		flag, value := args[i], args[i+1]
		var err error
		switch {
		case counts[flag] != nil:
			*counts[flag], err = resticCount(value)
		case durations[flag] != nil:
			*durations[flag], err = ParseDuration(value)
		case flag == "--keep-tag":
			r.Tags = append(r.Tags, ParseTagList(value))
		default:
			err = fmt.Errorf("unknown flag")
		}
		if err != nil {
			t.Fatalf("%s %q: %v", flag, value, err)
		}
	}
	by := DefaultGroupBy()
	if groupBy != nil {
		var err error
		if by, err = ParseGroupBy(*groupBy); err != nil {
			t.Fatal(err)
		}
	}
	if err := r.Validate(); err != nil || r.Empty() {
		t.Fatalf("rules %+v: empty or %v", r, err)
	}
	return r, by
}

// resticCount reads a --keep-* count: a number or "unlimited".
func resticCount(s string) (int, error) {
	if s == "unlimited" {
		return Unlimited, nil
	}
	return strconv.Atoi(s)
}

// TestGoldenCoversEveryRule makes sure regenerated goldens still exercise
// each rule and each grouping.
func TestGoldenCoversEveryRule(t *testing.T) {
	g := loadGolden(t, filepath.Join("testdata", "golden", "utc.json"))
	seen := map[string]bool{}
	for _, c := range g.Cases {
		for i := 0; i < len(c.Args); i += 2 {
			seen[c.Args[i]] = true
		}
		if c.GroupBy != nil {
			seen["--group-by "+*c.GroupBy] = true
		}
	}
	for _, want := range []string{"--keep-last", "--keep-hourly", "--keep-daily", "--keep-weekly", "--keep-monthly",
		"--keep-yearly", "--keep-within", "--keep-within-hourly", "--keep-within-daily", "--keep-within-weekly",
		"--keep-within-monthly", "--keep-within-yearly", "--keep-tag",
		"--group-by host", "--group-by host,paths", "--group-by tags", "--group-by "} {
		if !seen[want] {
			t.Errorf("no golden case uses %s", want)
		}
	}
	if !slices.ContainsFunc(g.Cases, func(c goldenCase) bool { return c.Error != "" }) {
		t.Error("no golden case records a refusal")
	}
}
