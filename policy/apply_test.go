package policy

import (
	"fmt"
	"math/rand/v2"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"
)

// snapAt makes a snapshot with id at a UTC time given as "2006-01-02 15:04:05".
func snapAt(id, at string, tags ...string) Snapshot {
	t, err := time.Parse(time.DateTime, at)
	if err != nil {
		panic(err)
	}
	return Snapshot{ID: id, Time: t, Host: "h", Paths: []string{"/p"}, Tags: tags}
}

// summary renders keep as "id:reason+reason" words and remove as ids, for
// compact comparisons.
func summary(keep []Kept, remove []Snapshot) string {
	var words []string
	for _, k := range keep {
		var rs []string
		for _, r := range k.Reasons {
			rs = append(rs, r.String())
		}
		words = append(words, k.Snapshot.ID+":"+strings.Join(rs, "+"))
	}
	words = append(words, "|")
	for _, s := range remove {
		words = append(words, s.ID)
	}
	return strings.Join(words, " ")
}

func TestApplyEmptyRulesKeepsAll(t *testing.T) {
	snaps := []Snapshot{snapAt("a", "2016-01-01 00:00:00"), snapAt("b", "2016-01-02 00:00:00")}
	keep, remove := Apply(snaps, Rules{}, time.Time{})
	if got := summary(keep, remove); got != "b: a: |" {
		t.Errorf("got %q", got)
	}
	keep, remove = Apply(nil, Rules{Last: 1}, time.Time{})
	if keep != nil || remove != nil {
		t.Errorf("no snapshots: got %v, %v", keep, remove)
	}
}

func TestApplyEveryReasonInOrder(t *testing.T) {
	snaps := []Snapshot{
		snapAt("new", "2016-04-10 12:00:00", "x"),
		snapAt("old", "2016-04-10 11:00:00"),
	}
	r := Rules{Last: 1, Hourly: 1, Daily: 1, Weekly: 1, Monthly: 1, Yearly: 1,
		Within: Duration{Hours: 1}, WithinDaily: Duration{Days: 1}, Tags: [][]string{{"x"}, {"y"}, {"x"}}}
	keep, remove := Apply(snaps, r, time.Time{})
	want := "new:tag x+tag x+within 1h+last #1+hourly 2016-04-10 12h+daily 2016-04-10+weekly 2016-W14+" +
		"monthly 2016-04+yearly 2016+within-daily 2016-04-10 " +
		"old:oldest within-daily 2016-04-10 |"
	if got := summary(keep, remove); got != want {
		t.Errorf("got  %q\nwant %q", got, want)
	}
}

func TestApplyInputOrderDoesNotMatter(t *testing.T) {
	var snaps []Snapshot
	start := time.Date(2016, 1, 1, 0, 0, 0, 0, time.UTC)
	for i := range 200 {
		at := start.Add(time.Duration(i*i%97) * 7 * time.Hour)
		snaps = append(snaps, Snapshot{ID: fmt.Sprintf("s%03d", i), Time: at})
	}
	r := Rules{Last: 3, Daily: 5, Weekly: Unlimited, Within: Duration{Days: 2}, WithinHourly: Duration{Hours: 30}}
	keep, remove := Apply(snaps, r, time.Time{})
	want := summary(keep, remove)
	rng := rand.New(rand.NewPCG(1, 2))
	for range 20 {
		rng.Shuffle(len(snaps), func(i, j int) { snaps[i], snaps[j] = snaps[j], snaps[i] })
		if got := summary(Apply(snaps, r, time.Time{})); got != want {
			t.Fatalf("order changed the result:\n%s\n%s", got, want)
		}
	}
	if len(keep)+len(remove) != len(snaps) {
		t.Errorf("%d kept + %d removed != %d", len(keep), len(remove), len(snaps))
	}
}

func TestApplyTiesGoByID(t *testing.T) {
	snaps := []Snapshot{snapAt("b", "2016-01-01 10:00:00"), snapAt("a", "2016-01-01 10:00:00"),
		snapAt("c", "2016-01-01 09:00:00")}
	got := summary(Apply(snaps, Rules{Last: 1, Daily: 1}, time.Time{}))
	if want := "a:last #1+daily 2016-01-01 | b c"; got != want {
		t.Errorf("got %q, want %q", got, want)
	}
}

func TestApplyOldestKeptWhileRoomLeft(t *testing.T) {
	snaps := []Snapshot{
		snapAt("d2", "2016-01-02 10:00:00"),
		snapAt("d1b", "2016-01-01 10:00:00"),
		snapAt("d1a", "2016-01-01 09:00:00"),
	}
	for _, c := range []struct {
		daily int
		want  string
	}{
		{1, "d2:daily 2016-01-02 | d1b d1a"},
		{2, "d2:daily 2016-01-02 d1b:daily 2016-01-01 | d1a"},
		{3, "d2:daily 2016-01-02 d1b:daily 2016-01-01 d1a:oldest daily 2016-01-01 |"},
		{Unlimited, "d2:daily 2016-01-02 d1b:daily 2016-01-01 d1a:oldest daily 2016-01-01 |"},
	} {
		if got := summary(Apply(snaps, Rules{Daily: c.daily}, time.Time{})); got != c.want {
			t.Errorf("daily %d: got %q, want %q", c.daily, got, c.want)
		}
	}
	// last never has an "oldest": each snapshot is a bucket of its own.
	if got := summary(Apply(snaps, Rules{Last: 5}, time.Time{})); got != "d2:last #1 d1b:last #2 d1a:last #3 |" {
		t.Errorf("last 5: got %q", got)
	}
}

func TestApplyWithinCountsFromNewestNotNow(t *testing.T) {
	snaps := []Snapshot{
		snapAt("future", "2099-01-01 00:00:00"),
		snapAt("newest", "2016-04-10 12:00:00"),
		snapAt("edge", "2016-04-09 12:00:00"),
		snapAt("inside", "2016-04-09 12:00:01"),
	}
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	got := summary(Apply(snaps, Rules{Within: Duration{Days: 1}}, now))
	if want := "future:within 1d newest:within 1d inside:within 1d | edge"; got != want {
		t.Errorf("got %q, want %q", got, want)
	}
	// Without a clock the future snapshot is the newest.
	got = summary(Apply(snaps, Rules{Within: Duration{Days: 1}}, time.Time{}))
	if want := "future:within 1d | newest inside edge"; got != want {
		t.Errorf("zero now: got %q, want %q", got, want)
	}
	// All in the future: durations count from the zero time, so all are within.
	got = summary(Apply(snaps[:1], Rules{Within: Duration{Hours: 1}}, now.AddDate(-100, 0, 0)))
	if want := "future:within 1h |"; got != want {
		t.Errorf("all future: got %q, want %q", got, want)
	}
}

func TestApplyBucketsUseTheSnapshotsOwnZone(t *testing.T) {
	east := time.FixedZone("east", 2*3600)
	at := time.Date(2016, 1, 1, 1, 0, 0, 0, east) // 2015-12-31 23:00 UTC
	snaps := []Snapshot{{ID: "east", Time: at}, {ID: "utc", Time: at.Add(-time.Minute).UTC()}}
	got := summary(Apply(snaps, Rules{Daily: Unlimited, Yearly: Unlimited}, time.Time{}))
	want := "east:daily 2016-01-01+yearly 2016 utc:daily 2015-12-31+yearly 2015 |"
	if got != want {
		t.Errorf("got %q, want %q", got, want)
	}
}

func TestApplyISOWeeks(t *testing.T) {
	for at, week := range map[string]string{
		"2014-12-28 23:59:59": "2014-W52",
		"2014-12-29 00:00:00": "2015-W01",
		"2016-01-03 23:59:59": "2015-W53",
		"2016-01-04 00:00:00": "2016-W01",
		"2016-02-29 12:00:00": "2016-W09",
	} {
		keep, _ := Apply([]Snapshot{snapAt("s", at)}, Rules{Weekly: 1}, time.Time{})
		if got := keep[0].Reasons[0].Detail; got != week {
			t.Errorf("%s: week %s, want %s", at, got, week)
		}
	}
}

func TestApplyTagLists(t *testing.T) {
	snaps := []Snapshot{
		snapAt("ab", "2016-01-05 00:00:00", "a", "b"),
		snapAt("a", "2016-01-04 00:00:00", "a"),
		snapAt("none", "2016-01-03 00:00:00"),
	}
	for _, c := range []struct {
		lists [][]string
		want  string
	}{
		{[][]string{{"a"}}, "ab:tag a a:tag a | none"},
		{[][]string{{"a", "b"}}, "ab:tag a,b | a none"},
		{[][]string{{"b"}, {"a"}}, "ab:tag b+tag a a:tag a | none"},
		{[][]string{{""}}, `none:tag "" | ab a`},
		{[][]string{{"", "a"}}, "none:tag ,a | ab a"},
		{[][]string{{"a", ""}}, "| ab a none"},
		{[][]string{{}}, `ab:tag "" a:tag "" none:tag "" |`},
		{[][]string{{"c"}}, "| ab a none"},
	} {
		if got := summary(Apply(snaps, Rules{Tags: c.lists}, time.Time{})); got != c.want {
			t.Errorf("%q: got %q, want %q", c.lists, got, c.want)
		}
	}
}

// TestApplyCountSweep keeps n daily snapshots out of days with two snapshots
// each, for n around the number of days: min(n, days) days plus, while room
// is left, the oldest snapshot.
func TestApplyCountSweep(t *testing.T) {
	const days = 5
	var snaps []Snapshot
	for d := range days {
		for h := range 2 {
			at := time.Date(2016, 1, 1+d, 10+h, 0, 0, 0, time.UTC)
			snaps = append(snaps, Snapshot{ID: fmt.Sprintf("d%dh%d", d, h), Time: at})
		}
	}
	for _, n := range []int{0, 1, days - 1, days, days + 1, days + 2, Unlimited} {
		keep, remove := Apply(snaps, Rules{Daily: n}, time.Time{})
		want := min(n, days)
		if n == 0 {
			want = len(snaps) // empty rules keep all
		} else if n > days || n == Unlimited {
			want = days + 1
		}
		if len(keep) != want || len(keep)+len(remove) != len(snaps) {
			t.Errorf("daily %d: kept %d, removed %d, want %d kept", n, len(keep), len(remove), want)
		}
	}
}

// TestApplyWithinSweep moves a snapshot across the keep-within cutoff.
func TestApplyWithinSweep(t *testing.T) {
	newest := time.Date(2016, 3, 31, 12, 0, 0, 0, time.UTC)
	cutoff := time.Date(2016, 3, 2, 12, 0, 0, 0, time.UTC) // a month before 31 March is 2 March
	for _, c := range []struct {
		delta time.Duration
		kept  bool
	}{{-time.Second, false}, {0, false}, {time.Nanosecond, true}, {time.Second, true}} {
		snaps := []Snapshot{{ID: "new", Time: newest}, {ID: "x", Time: cutoff.Add(c.delta)}}
		keep, _ := Apply(snaps, Rules{Within: Duration{Months: 1}}, time.Time{})
		if got := len(keep) == 2; got != c.kept {
			t.Errorf("cutoff%+v: kept %v, want %v", c.delta, got, c.kept)
		}
	}
}

func TestApplyWithinBucketsStopAtCutoff(t *testing.T) {
	var snaps []Snapshot
	for d := 1; d <= 10; d++ {
		snaps = append(snaps, snapAt(fmt.Sprintf("d%02d", d), fmt.Sprintf("2016-01-%02d 12:00:00", d)))
	}
	keep, remove := Apply(snaps, Rules{WithinDaily: Duration{Days: 3}}, time.Time{})
	got := summary(keep, remove)
	want := "d10:within-daily 2016-01-10 d09:within-daily 2016-01-09 d08:within-daily 2016-01-08 | d07 d06 d05 d04 d03 d02 d01"
	if got != want {
		t.Errorf("got  %q\nwant %q", got, want)
	}
}

func TestApplyDoesNotTouchInput(t *testing.T) {
	snaps := []Snapshot{snapAt("a", "2016-01-01 00:00:00"), snapAt("b", "2016-01-02 00:00:00")}
	before := slices.Clone(snaps)
	Apply(snaps, Rules{Last: 1}, time.Time{})
	if !reflect.DeepEqual(snaps, before) {
		t.Error("Apply reordered its input")
	}
}
