package index

import (
	"context"
	"errors"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/cairnbackup/cairn/crypto"
)

// Segments are loaded several at once, never more than segmentsAhead, and
// ingested as if one by one.
func TestSyncLoadsAheadBounded(t *testing.T) {
	c, _ := newTestCache(t)
	r := repo{}
	for i := range 40 {
		r[testID("seg", i)] = sizedSegment(i*3, 3, 2)
	}
	var inFlight, peak atomic.Int32
	// Each load waits until segmentsAhead loads are running (or all the
	// rest are), so a loader that ran them one by one would never finish.
	var mu sync.Mutex
	started := 0
	gate := make(chan struct{})
	load := func(ctx context.Context, id crypto.ID) (*Segment, error) {
		n := inFlight.Add(1)
		defer inFlight.Add(-1)
		for p := peak.Load(); n > p && !peak.CompareAndSwap(p, n); p = peak.Load() {
		}
		mu.Lock()
		if started++; started == segmentsAhead {
			close(gate)
		}
		mu.Unlock()
		<-gate
		return r.load(ctx, id)
	}
	st, err := c.Sync(context.Background(), r.ids(), load)
	if err != nil || st.Ingested != 40 {
		t.Fatalf("Sync: %+v, %v", st, err)
	}
	if p := peak.Load(); p > segmentsAhead {
		t.Errorf("%d loads ran at once; the bound is %d", p, segmentsAhead)
	}
	checkCache(t, c, r)
}

// A load that fails stops the sync with its segment named, and cancels
// the loads ahead of it; the next sync finishes the job.
func TestSyncLoadFailureCancelsTheRest(t *testing.T) {
	c, _ := newTestCache(t)
	r := repo{}
	for i := range 30 {
		r[testID("seg", i)] = sizedSegment(i*3, 3, 2)
	}
	ids := r.ids()
	bad := ids[5]
	boom := errors.New("connection reset")
	load := func(ctx context.Context, id crypto.ID) (*Segment, error) {
		if id == bad {
			return nil, boom
		}
		return r.load(ctx, id)
	}
	_, err := c.Sync(context.Background(), ids, load)
	if !errors.Is(err, boom) || !strings.Contains(err.Error(), bad.Short()) {
		t.Fatalf("Sync: %v, want %v naming segment %s", err, boom, bad.Short())
	}
	// The next sync finishes the job.
	mustSync(t, c, r)
	checkCache(t, c, r)
}
