package multi_test

import (
	"bytes"
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/zeebo/blake3"

	"github.com/cairnbackup/cairn/backend"
	"github.com/cairnbackup/cairn/backend/backendtest"
	"github.com/cairnbackup/cairn/backend/faulty"
	"github.com/cairnbackup/cairn/backend/mem"
	"github.com/cairnbackup/cairn/backend/multi"
)

func TestConformance(t *testing.T) {
	for _, c := range []struct{ n, min, max int }{
		{1, 1, 1}, {2, 1, 2}, {2, 2, 2}, {2, 1, 1}, {3, 1, 3}, {3, 2, 3}, {3, 2, 2}, {3, 3, 3},
	} {
		t.Run(fmt.Sprintf("locations=%d,min=%d,max=%d", c.n, c.min, c.max), func(t *testing.T) {
			backendtest.Run(t, func(t *testing.T) backend.Backend {
				var locs []multi.Location
				for i := range c.n {
					locs = append(locs, multi.Location{Name: fmt.Sprintf("mem%d", i), Backend: mem.New(), Priority: i, Enabled: true})
				}
				be, err := multi.New(locs, multi.Options{MinCopies: c.min, MaxCopies: c.max, SkipHashCheck: true})
				if err != nil {
					t.Fatal(err)
				}
				return be
			})
		})
	}
}

// fixture is a multi backend over faulty in-memory locations.
type fixture struct {
	*multi.Backend
	mems   []*mem.Backend
	faults []*faulty.Backend
	clock  *clock

	mu    sync.Mutex
	heals []multi.Heal
	lags  []multi.Lag
}

type clock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *clock) Add(d time.Duration) {
	c.mu.Lock()
	c.now = c.now.Add(d)
	c.mu.Unlock()
}

func newFixture(t *testing.T, n int, opts multi.Options) *fixture {
	t.Helper()
	f := &fixture{clock: &clock{now: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)}}
	var locs []multi.Location
	for i := range n {
		m := mem.New()
		fb := faulty.New(m)
		f.mems = append(f.mems, m)
		f.faults = append(f.faults, fb)
		locs = append(locs, multi.Location{Name: fmt.Sprintf("loc%d", i), Backend: fb, Priority: i, Enabled: true})
	}
	opts.Now = f.clock.Now
	opts.OnHeal = func(h multi.Heal) { f.mu.Lock(); f.heals = append(f.heals, h); f.mu.Unlock() }
	opts.OnLag = func(l multi.Lag) { f.mu.Lock(); f.lags = append(f.lags, l); f.mu.Unlock() }
	be, err := multi.New(locs, opts)
	if err != nil {
		t.Fatal(err)
	}
	f.Backend = be
	return f
}

// object returns bytes and the handle naming them as cairn does.
func object(typ backend.FileType, s string) ([]byte, backend.Handle) {
	b := []byte(s)
	sum := blake3.Sum256(b)
	return b, backend.Handle{Type: typ, Name: hex.EncodeToString(sum[:])}
}

func has(t *testing.T, be backend.Backend, h backend.Handle) bool {
	t.Helper()
	_, err := be.Stat(context.Background(), h)
	if err != nil && !errors.Is(err, backend.ErrNotFound) {
		t.Fatalf("stat %v at %s: %v", h, be.Location(), err)
	}
	return err == nil
}

func TestSaveBelowMinCopiesFailsAndKeepsNothing(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t, 2, multi.Options{MinCopies: 2})
	f.faults[1].Inject(faulty.Fault{Op: faulty.OpSave, Times: -1})
	data, h := object(backend.SnapshotFile, "snapshot")
	err := f.Save(ctx, h, backend.NewByteReader(data))
	if err == nil {
		t.Fatal("save with one of two required locations down succeeded")
	}
	if !strings.Contains(err.Error(), "loc1") || !strings.Contains(err.Error(), "1 of the 2 copies") {
		t.Errorf("error does not name the failed location and the count: %v", err)
	}
	if !errors.Is(err, backend.ErrTransient) {
		t.Errorf("error does not wrap the location's error: %v", err)
	}
	if has(t, f.mems[0], h) || has(t, f.mems[1], h) {
		t.Error("a failed save left a copy under the real name")
	}
}

func TestSaveDownLocationLagsAndCoolsDown(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t, 2, multi.Options{MinCopies: 1, CoolDown: time.Minute})
	f.faults[0].Inject(faulty.Fault{Op: faulty.OpSave, Times: -1})
	data, h := object(backend.PackFile, "pack one")
	if err := f.Save(ctx, h, backend.NewByteReader(data)); err != nil {
		t.Fatalf("save with one of two locations down and min 1: %v", err)
	}
	if !has(t, f.mems[1], h) {
		t.Error("the healthy location has no copy")
	}
	if len(f.lags) != 1 || f.lags[0].Location != "loc0" || f.lags[0].Op != "save" {
		t.Errorf("lag reports %+v, want one save lag for loc0", f.lags)
	}
	if st := f.Health(); st[0].Healthy || !st[1].Healthy || st[0].LastErr == nil {
		t.Errorf("health after the failure: %+v", st)
	}
	// While cooling down the location is not tried again.
	data2, h2 := object(backend.PackFile, "pack two")
	if err := f.Save(ctx, h2, backend.NewByteReader(data2)); err != nil {
		t.Fatal(err)
	}
	if n := f.faults[0].Calls(faulty.OpSave); n != 1 {
		t.Errorf("the unhealthy location was called %d times, want 1", n)
	}
	// After the cool-down it is tried again, and is back.
	f.faults[0].Clear()
	f.clock.Add(time.Minute + time.Second)
	data3, h3 := object(backend.PackFile, "pack three")
	if err := f.Save(ctx, h3, backend.NewByteReader(data3)); err != nil {
		t.Fatal(err)
	}
	if !has(t, f.mems[0], h3) || !f.Health()[0].Healthy {
		t.Error("the location did not come back after its cool-down")
	}
}

func TestSaveUsesUnhealthyLocationToReachMinCopies(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t, 2, multi.Options{MinCopies: 2})
	data, h := object(backend.IndexFile, "segment")
	f.mems[0].Save(ctx, h, backend.NewByteReader(data))
	f.mems[1].Save(ctx, h, backend.NewByteReader(data))
	f.faults[0].Inject(faulty.Fault{Op: faulty.OpLoad})
	if _, err := backend.LoadAll(ctx, f, h); err != nil {
		t.Fatal(err)
	}
	if f.Health()[0].Healthy {
		t.Fatal("loc0 not marked unhealthy")
	}
	data2, h2 := object(backend.IndexFile, "segment two")
	if err := f.Save(ctx, h2, backend.NewByteReader(data2)); err != nil {
		t.Fatalf("save needing the unhealthy location: %v", err)
	}
	if !has(t, f.mems[0], h2) || !has(t, f.mems[1], h2) {
		t.Error("min copies 2 not honoured")
	}
}

func TestMaxCopiesAndPriority(t *testing.T) {
	ctx := context.Background()
	a, b, c := mem.New(), mem.New(), mem.New()
	be, err := multi.New([]multi.Location{
		{Name: "a", Backend: a, Priority: 3, Enabled: true},
		{Name: "b", Backend: b, Priority: 1, Enabled: true},
		{Name: "c", Backend: c, Priority: 2, Enabled: true},
	}, multi.Options{MaxCopies: 2})
	if err != nil {
		t.Fatal(err)
	}
	if got := be.Location(); got != "b + c + a" {
		t.Errorf("Location() = %q, want priority order", got)
	}
	data, h := object(backend.PackFile, "x")
	if err := be.Save(ctx, h, backend.NewByteReader(data)); err != nil {
		t.Fatal(err)
	}
	if !has(t, b, h) || !has(t, c, h) || has(t, a, h) {
		t.Error("max_copies 2 should write to the two best locations only")
	}
}

func TestDisabledLocationIsLeftAlone(t *testing.T) {
	ctx := context.Background()
	on, off := mem.New(), faulty.New(mem.New())
	be, err := multi.New([]multi.Location{
		{Name: "off", Backend: off, Priority: 0, Enabled: false},
		{Name: "on", Backend: on, Priority: 1, Enabled: true},
	}, multi.Options{})
	if err != nil {
		t.Fatal(err)
	}
	data, h := object(backend.PackFile, "x")
	if err := be.Save(ctx, h, backend.NewByteReader(data)); err != nil {
		t.Fatal(err)
	}
	backend.LoadAll(ctx, be, h)
	be.Remove(ctx, h)
	if n := off.Calls(faulty.OpSave) + off.Calls(faulty.OpLoad) + off.Calls(faulty.OpRemove); n != 0 {
		t.Errorf("disabled location called %d times", n)
	}
	if st := be.Health(); st[0].Enabled || !st[1].Enabled {
		t.Errorf("health %+v", st)
	}
	if _, err := multi.New([]multi.Location{{Name: "x", Backend: on, Enabled: true}}, multi.Options{MinCopies: 2}); err == nil {
		t.Error("min_copies above the number of locations accepted")
	}
}

func TestLoadFallsBackWhenDown(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t, 2, multi.Options{})
	data, h := object(backend.SnapshotFile, "s")
	if err := f.Save(ctx, h, backend.NewByteReader(data)); err != nil {
		t.Fatal(err)
	}
	f.faults[0].Inject(faulty.Fault{Op: faulty.OpLoad, Times: -1})
	for range 3 {
		got, err := backend.LoadAll(ctx, f, h)
		if err != nil || !bytes.Equal(got, data) {
			t.Fatalf("load with the first location down: %v", err)
		}
	}
	if n := f.faults[0].Calls(faulty.OpLoad); n != 1 {
		t.Errorf("down location tried %d times, want once", n)
	}
}

func TestLoadStreamBreaksMidway(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t, 2, multi.Options{})
	data, h := object(backend.PackFile, strings.Repeat("pack bytes ", 1000))
	if err := f.Save(ctx, h, backend.NewByteReader(data)); err != nil {
		t.Fatal(err)
	}
	f.faults[0].Inject(faulty.Fault{Op: faulty.OpLoad, Kind: faulty.FailMidStream, Offset: 100})
	got, err := backend.LoadRange(ctx, f, h, 5000, 10)
	if err != nil || !bytes.Equal(got, data[10:5010]) {
		t.Fatalf("ranged load broken midway at the first location: %v", err)
	}
}

func TestLoadMissingEverywhere(t *testing.T) {
	f := newFixture(t, 2, multi.Options{})
	_, h := object(backend.PackFile, "nothing")
	err := f.Load(context.Background(), h, 0, 0, func(io.Reader) error { return nil })
	if !errors.Is(err, backend.ErrNotFound) {
		t.Errorf("got %v, want ErrNotFound", err)
	}
}

func TestCallbackErrorIsFinal(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t, 2, multi.Options{})
	data, h := object(backend.KeyFile, "key")
	f.Save(ctx, h, backend.NewByteReader(data))
	boom := errors.New("boom")
	calls := 0
	err := f.Load(ctx, h, 0, 0, func(io.Reader) error { calls++; return boom })
	if !errors.Is(err, boom) || calls != 1 {
		t.Errorf("fn error: %v after %d calls, want boom after 1", err, calls)
	}
}

func TestWholeReadHealsBadCopy(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t, 2, multi.Options{})
	data, h := object(backend.IndexFile, "an index segment")
	if err := f.Save(ctx, h, backend.NewByteReader(data)); err != nil {
		t.Fatal(err)
	}
	f.mems[0].Corrupt(h, func(b []byte) []byte { b[3] ^= 1; return b })
	got, err := backend.LoadAll(ctx, f, h)
	if err != nil || !bytes.Equal(got, data) {
		t.Fatalf("load with a bad first copy: %q, %v", got, err)
	}
	if len(f.heals) != 1 || f.heals[0].Bad != "loc0" || f.heals[0].Good != "loc1" || f.heals[0].Err != nil {
		t.Fatalf("heals %+v, want loc0 healed from loc1", f.heals)
	}
	fixed, _ := backend.LoadAll(ctx, f.mems[0], h)
	if !bytes.Equal(fixed, data) {
		t.Error("the bad copy was not rewritten")
	}
}

func TestRangedReadHealsWhenCallbackFindsCorruption(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t, 3, multi.Options{})
	data, h := object(backend.PackFile, strings.Repeat("0123456789", 100))
	if err := f.Save(ctx, h, backend.NewByteReader(data)); err != nil {
		t.Fatal(err)
	}
	for _, m := range f.mems[:2] {
		m.Corrupt(h, func(b []byte) []byte { b[500] ^= 1; return b })
	}
	check := func(rd io.Reader) error {
		b, err := io.ReadAll(rd)
		if err != nil {
			return err
		}
		if !bytes.Equal(b, data[490:510]) {
			return fmt.Errorf("blob does not authenticate: %w", backend.ErrCorrupt)
		}
		return nil
	}
	if err := f.Load(ctx, h, 20, 490, check); err != nil {
		t.Fatalf("ranged load with two bad copies of three: %v", err)
	}
	if len(f.heals) != 2 {
		t.Fatalf("heals %+v, want two", f.heals)
	}
	for _, m := range f.mems {
		if got, _ := backend.LoadAll(ctx, m, h); !bytes.Equal(got, data) {
			t.Errorf("%s still bad", m.Location())
		}
	}
}

func TestNoGoodCopy(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t, 2, multi.Options{})
	data, h := object(backend.SnapshotFile, "snap")
	f.Save(ctx, h, backend.NewByteReader(data))
	for _, m := range f.mems {
		m.Corrupt(h, func(b []byte) []byte { b[0] ^= 1; return b })
	}
	_, err := backend.LoadAll(ctx, f, h)
	if !errors.Is(err, backend.ErrCorrupt) || !strings.Contains(err.Error(), "loc0") || !strings.Contains(err.Error(), "loc1") {
		t.Errorf("got %v, want ErrCorrupt naming both locations", err)
	}
	if len(f.heals) != 2 || f.heals[0].Err == nil {
		t.Errorf("heals %+v, want two failures reported", f.heals)
	}
}

func TestCorruptReadIsNotHealedFromAnotherBadCopy(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t, 2, multi.Options{})
	data, h := object(backend.PackFile, "pack")
	f.Save(ctx, h, backend.NewByteReader(data))
	// loc0's copy reads bad once (a flaky disk); the read of loc1 is good.
	f.faults[0].Inject(faulty.Fault{Op: faulty.OpLoad, Kind: faulty.Corrupt, Offset: 1})
	got, err := backend.LoadAll(ctx, f, h)
	if err != nil || !bytes.Equal(got, data) {
		t.Fatal(err)
	}
	if len(f.heals) != 1 || f.heals[0].Err != nil {
		t.Errorf("heals %+v", f.heals)
	}
}

func TestRemoveEverywhereAndLag(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t, 3, multi.Options{})
	data, h := object(backend.SnapshotFile, "old")
	f.Save(ctx, h, backend.NewByteReader(data))
	f.faults[2].Inject(faulty.Fault{Op: faulty.OpRemove})
	if err := f.Remove(ctx, h); err != nil {
		t.Fatalf("remove with one location down: %v", err)
	}
	if has(t, f.mems[0], h) || has(t, f.mems[1], h) || !has(t, f.mems[2], h) {
		t.Error("remove should reach the healthy locations only")
	}
	if len(f.lags) != 1 || f.lags[0].Location != "loc2" || f.lags[0].Op != "remove" {
		t.Errorf("lags %+v", f.lags)
	}
	// The lagging object still shows in the union listing.
	n := 0
	f.List(ctx, backend.SnapshotFile, func(backend.FileInfo) error { n++; return nil })
	if n != 1 {
		t.Errorf("listed %d snapshots, want the lagging one", n)
	}
}

func TestListUnionAndDownLocation(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t, 2, multi.Options{MaxCopies: 1})
	want := map[string]bool{}
	for i := range 5 {
		data, h := object(backend.PackFile, fmt.Sprint(i))
		f.mems[i%2].Save(ctx, h, backend.NewByteReader(data))
		want[h.Name] = true
	}
	data, h := object(backend.PackFile, "both")
	f.mems[0].Save(ctx, h, backend.NewByteReader(data))
	f.mems[1].Save(ctx, h, backend.NewByteReader(data))
	want[h.Name] = true
	got := map[string]bool{}
	err := f.List(ctx, backend.PackFile, func(fi backend.FileInfo) error {
		if got[fi.Name] {
			return fmt.Errorf("%s twice", fi.Name)
		}
		got[fi.Name] = true
		return nil
	})
	if err != nil || len(got) != len(want) {
		t.Fatalf("union listing: %d names, %v; want %d", len(got), err, len(want))
	}
	f.faults[1].Inject(faulty.Fault{Op: faulty.OpList})
	n := 0
	if err := f.List(ctx, backend.PackFile, func(backend.FileInfo) error { n++; return nil }); err != nil || n != 4 {
		t.Errorf("listing with one location down: %d names, %v; want loc0's 4", n, err)
	}
}

func TestUnavailable(t *testing.T) {
	ctx := context.Background()
	good := mem.New()
	be, err := multi.New([]multi.Location{
		{Name: "s3", Backend: multi.Unavailable("s3:http://x/b", errors.New("connection refused")), Enabled: true},
		{Name: "disk", Backend: good, Priority: 1, Enabled: true},
	}, multi.Options{})
	if err != nil {
		t.Fatal(err)
	}
	data, h := object(backend.PackFile, "p")
	if err := be.Save(ctx, h, backend.NewByteReader(data)); err != nil {
		t.Fatal(err)
	}
	if st := be.Health(); st[0].Healthy || !strings.Contains(st[0].LastErr.Error(), "connection refused") {
		t.Errorf("health %+v", st)
	}
	if _, err := backend.LoadAll(ctx, be, h); err != nil {
		t.Fatal(err)
	}
}

func TestConcurrentHealthIsRaceFree(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t, 2, multi.Options{})
	f.faults[0].Inject(faulty.Fault{Op: faulty.OpSave, Times: -1})
	var wg sync.WaitGroup
	for i := range 16 {
		wg.Go(func() {
			data, h := object(backend.PackFile, fmt.Sprint("c", i))
			if err := f.Save(ctx, h, backend.NewByteReader(data)); err != nil {
				t.Error(err)
			}
			backend.LoadAll(ctx, f, h)
			f.Health()
		})
	}
	wg.Wait()
}
