package check_test

import (
	"context"
	"errors"
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	"github.com/cairnbackup/cairn/check"
	"github.com/cairnbackup/cairn/repo"
)

func TestParseSubset(t *testing.T) {
	for in, want := range map[string]check.Subset{
		"all":   {Kind: check.SubsetAll},
		"1/4":   {Kind: check.SubsetModulo, N: 1, M: 4},
		"4/4":   {Kind: check.SubsetModulo, N: 4, M: 4},
		"10%":   {Kind: check.SubsetPercent, Percent: 10},
		"2.5%":  {Kind: check.SubsetPercent, Percent: 2.5},
		"100%":  {Kind: check.SubsetPercent, Percent: 100},
		" 1/1 ": {Kind: check.SubsetModulo, N: 1, M: 1},
	} {
		got, err := check.ParseSubset(in)
		if err != nil || got != want {
			t.Errorf("ParseSubset(%q) = %+v, %v; want %+v", in, got, err, want)
		}
		if again, _ := check.ParseSubset(got.String()); again != got {
			t.Errorf("%q does not survive String: %q", in, got.String())
		}
	}
	for _, bad := range []string{"", "0/4", "5/4", "1/0", "x/4", "0%", "101%", "-5%", "NaN%", "10", "1/2/3"} {
		if _, err := check.ParseSubset(bad); err == nil {
			t.Errorf("ParseSubset(%q) accepted", bad)
		}
	}
}

// manyPacks makes a repository with about n data packs.
func manyPacks(t *testing.T, n int) *fixture {
	f := newFixture(t)
	files := map[string][]byte{}
	for i := range n {
		files[fmt.Sprintf("/data/f%03d", i)] = content(uint64(100+i), 900<<10)
	}
	f.snapshot(files)
	return f
}

func TestModuloSubsetsCoverEveryPackOnce(t *testing.T) {
	f := manyPacks(t, 12)
	total := f.run(check.Options{}).Structure.Packs
	const m = 4
	sum := 0
	for n := 1; n <= m; n++ {
		rep := f.run(check.Options{ReadData: check.Subset{Kind: check.SubsetModulo, N: uint64(n), M: m}})
		clean(t, rep)
		sum += rep.ReadData.Packs
	}
	if sum != total {
		t.Errorf("parts 1..%d read %d packs in all; the repository has %d", m, sum, total)
	}
	vs, _ := check.Verification(context.Background(), f.r)
	if vs.Never != 0 {
		t.Errorf("%d packs never verified after all parts ran", vs.Never)
	}
}

func TestPercentSubsetReadsLeastRecentlyVerifiedFirst(t *testing.T) {
	f := manyPacks(t, 8)
	total := f.run(check.Options{}).Structure.Packs
	clock := time.Date(2026, 5, 1, 0, 0, 0, 0, time.UTC)
	now := func() time.Time { return clock }
	half := check.Options{ReadData: check.Subset{Kind: check.SubsetPercent, Percent: 50}, Now: now}
	ctx := context.Background()

	first := f.run(half)
	vs, _ := check.Verification(ctx, f.r)
	if vs.Never != total-first.ReadData.Packs {
		t.Fatalf("after one half: %d never verified, want %d", vs.Never, total-first.ReadData.Packs)
	}
	clock = clock.Add(7 * 24 * time.Hour)
	f.run(half)
	vs, _ = check.Verification(ctx, f.r)
	if vs.Never != 0 || !vs.Oldest.Equal(clock.Add(-7*24*time.Hour)) {
		t.Fatalf("after two halves: %+v", vs)
	}
	// New packs are read first, then the oldest verified: the packs still
	// at the first run's time, since the second run re-read only one of
	// the first run's packs.
	t1 := clock
	f.snapshot(map[string][]byte{"/new": content(500, 900<<10)})
	clock = clock.Add(7 * 24 * time.Hour)
	third := f.run(half)
	vs, _ = check.Verification(ctx, f.r)
	if vs.Never != 0 || !vs.Oldest.Equal(t1) {
		t.Errorf("after a third half (%d of %d packs): %+v; want every pack verified, the oldest at %v",
			third.ReadData.Packs, vs.Packs, vs, t1)
	}
}

// cancelAfter is a repository whose read-and-verify cancels the check
// after n packs, as an interrupted run would.
type cancelAfter struct {
	*repo.Repository
	n      int32
	cancel context.CancelFunc
	done   atomic.Int32
}

func (c *cancelAfter) VerifyPack(ctx context.Context, id repo.ID, size int64, e []repo.BlobEntry) (*repo.PackVerification, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	v, err := c.Repository.VerifyPack(ctx, id, size, e)
	if c.done.Add(1) == c.n {
		c.cancel()
	}
	return v, err
}

func TestInterruptedReadDataResumes(t *testing.T) {
	f := manyPacks(t, 10)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	wrapped := &cancelAfter{Repository: f.r, n: 3, cancel: cancel}
	rep, err := check.Run(ctx, wrapped, check.Options{ReadData: check.Subset{Kind: check.SubsetAll}, Workers: 1})
	if !errors.Is(err, context.Canceled) || !rep.Interrupted {
		t.Fatalf("interrupted run: %v, interrupted=%v", err, rep.Interrupted)
	}
	rep = f.run(check.Options{ReadData: check.Subset{Kind: check.SubsetAll}})
	clean(t, rep)
	if rep.ReadData.Resumed != 3 || rep.ReadData.Packs != rep.ReadData.Eligible-3 {
		t.Errorf("resumed run: %+v, want 3 packs skipped", rep.ReadData)
	}
	// Finished: the next full pass reads everything again.
	rep = f.run(check.Options{ReadData: check.Subset{Kind: check.SubsetAll}})
	if rep.ReadData.Resumed != 0 || rep.ReadData.Packs != rep.ReadData.Eligible {
		t.Errorf("pass after a finished one: %+v", rep.ReadData)
	}
}

func TestHistoryIsInTheRepository(t *testing.T) {
	f := newFixture(t)
	f.standard()
	clock := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	at := func() time.Time { return clock }
	f.run(check.Options{Now: at, Job: "etc", Host: "web1"})
	clock = clock.Add(time.Hour)
	sub, _ := check.ParseSubset("50%")
	rep := f.run(check.Options{Now: at, ReadData: sub})
	if rep.Record == (repo.ID{}) || rep.ReadData == nil || rep.ReadData.Packs == 0 {
		t.Fatalf("report %+v", rep)
	}
	read := rep.ReadData.Packs

	// Another cache, as on another host: the history is there, and the
	// verification times are rebuilt from it.
	f.reopen(true)
	hist, err := check.History(context.Background(), f.r)
	if err != nil || len(hist) != 2 || hist[0].Job != "etc" || hist[0].Host != "web1" || hist[1].ReadData != "50%" || !hist[1].OK {
		t.Fatalf("history from a new cache: %+v, %v", hist, err)
	}
	vs, err := check.Verification(context.Background(), f.r)
	if err != nil || vs.Packs-vs.Never != read || !vs.Oldest.Equal(clock) {
		t.Errorf("verification from a new cache: %+v (want %d packs dated %v), %v", vs, read, clock, err)
	}
	// The next 50% reads the other packs first.
	clock = clock.Add(time.Hour)
	rep = f.run(check.Options{Now: at, ReadData: sub})
	vs, _ = check.Verification(context.Background(), f.r)
	if vs.Never != 0 {
		t.Errorf("after a second 50%% pass from the new cache, %d pack(s) never verified (read %d)", vs.Never, rep.ReadData.Packs)
	}
}
