package main

import (
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/cairnbackup/cairn/policy"
)

// logTree is a server's log folder as it is on a given day: two logs that
// grow every day and are rotated by logrotate (app.log every 7 days,
// access.log every 3), keeping 4 rotations; older ones are deleted. The
// content is a function of the day, so any day can be made again.
func logTree(day int) map[string][]byte {
	files := map[string][]byte{}
	for _, l := range []struct {
		name  string
		every int
		size  int
	}{{"app.log", 7, 24 << 10}, {"access.log", 3, 40 << 10}} {
		start := day - day%l.every // first day of the current log
		files[l.name] = logDays(l.name, start, day, l.size)
		for r := 1; r <= 4; r++ {
			from := start - r*l.every
			if from < 0 {
				break
			}
			files[fmt.Sprintf("%s.%d", l.name, r)] = logDays(l.name, from, from+l.every-1, l.size)
		}
	}
	files["app.conf"] = []byte("level = info\nrotate = 4\n")
	return files
}

// logDays returns the lines a log gained from day from to day to.
func logDays(name string, from, to, perDay int) []byte {
	var b []byte
	words := []string{"GET", "POST", "/api/v1/items", "/health", "200", "404", "503", "user=", "took", "ms", "cache", "miss", "hit"}
	for d := from; d <= to; d++ {
		rng := rand.New(rand.NewPCG(uint64(d), uint64(len(name))))
		for n := 0; n < perDay; {
			line := fmt.Sprintf("2026-%03d %s %s %d %s %d\n", d, words[rng.IntN(len(words))], words[rng.IntN(len(words))],
				rng.IntN(100000), words[rng.IntN(len(words))], rng.Uint64())
			b = append(b, line...)
			n += len(line)
		}
	}
	return b
}

// TestNinetyDays takes 150 daily snapshots of a growing, rotating log
// folder on a fake clock, each followed by forget --keep-within 90d
// --prune. Exactly the snapshots the policy names remain, the repository's
// size levels off, and the oldest kept snapshot restores byte for byte.
func TestNinetyDays(t *testing.T) {
	const days = 150
	p := newProcRepo(t)
	src := filepath.Join(p.dir, "logs")
	first := time.Date(2026, 1, 1, 3, 0, 0, 0, time.Local)
	var all []policy.Snapshot
	sizes := map[int]int64{}
	for day := range days {
		os.RemoveAll(src)
		writeFiles(t, src, logTree(day))
		when := first.AddDate(0, 0, day)
		id := p.snapshot("", "--time", when.Format(time.DateTime), src)
		all = append(all, policy.Snapshot{ID: id, Time: when, Host: "h", Paths: []string{src}})
		// The repository's clock runs a day (and an hour) per day, so the
		// packs condemned yesterday are deleted today.
		p.setClock(time.Duration(day)*25*time.Hour + time.Hour)
		p.mustRun("", "forget", "--keep-within", "90d", "--prune")
		sizes[day] = dataSize(t, p.repo)
	}
	var series []string
	for day := 0; day < days; day += 10 {
		series = append(series, fmt.Sprintf("day %d: %s", day, formatBytes(uint64(sizes[day]))))
	}
	t.Logf("repository size over time: %s", strings.Join(series, ", "))

	within, _ := policy.ParseDuration("90d")
	keep, _ := policy.Apply(all, policy.Rules{Within: within}, time.Time{})
	var want []string
	for _, k := range keep {
		want = append(want, k.Snapshot.ID)
	}
	got := p.snapshotIDs()
	slices.Sort(want)
	slices.Sort(got)
	if !slices.Equal(got, want) {
		t.Fatalf("%d snapshots remain, the policy keeps %d:\n got %v\nwant %v", len(got), len(want), got, want)
	}
	if len(got) < 85 || len(got) > 95 {
		t.Fatalf("%d snapshots within 90 days of daily snapshots", len(got))
	}
	// Levelled off: the last 40 days grew by little (only what a day adds
	// over what a day forgets).
	if sizes[days-1] > sizes[days-41]*11/10 {
		t.Errorf("repository still growing: %d bytes on day %d, %d on day %d", sizes[days-1], days-1, sizes[days-41], days-41)
	}
	// The oldest kept snapshot restores byte for byte.
	oldest := keep[len(keep)-1].Snapshot
	day := int(oldest.Time.Sub(first).Hours()/24 + 0.5)
	p.verifyRestore(oldest.ID, src, logTree(day))
	if out := p.mustRun("", "check", "--read-data"); !strings.Contains(out, "no damage found") {
		t.Fatalf("check:\n%s", out)
	}
	var st struct {
		Plan struct {
			Stats struct {
				Unused int64 `json:"unused_bytes"`
			} `json:"stats"`
		} `json:"plan"`
	}
	if err := json.Unmarshal([]byte(p.mustRun("", "prune", "--dry-run", "--json")), &st); err != nil {
		t.Fatal(err)
	}
	t.Logf("unused bytes left in packs below --max-unused: %d", st.Plan.Stats.Unused)
}

// dataSize sums the sizes of a local repository's packs.
func dataSize(t *testing.T, repo string) int64 {
	t.Helper()
	var n int64
	err := filepath.WalkDir(filepath.Join(repo, "data"), func(_ string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		fi, err := d.Info()
		if err == nil {
			n += fi.Size()
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return n
}
