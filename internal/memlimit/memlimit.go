// Package memlimit keeps the Go runtime's soft memory limit above what a
// run really holds.
//
// A fixed soft limit keeps the heap of a small run small, but once the
// live heap itself nears it (the index of a large repository being merged,
// a snapshot of millions of files), the collector runs back to back, up to
// half the CPU, and frees almost nothing. Keep raises the limit with the
// live heap instead, so that the collector then paces by GOGC alone.
package memlimit

import (
	"runtime/debug"
	"runtime/metrics"
	"time"
)

// Headroom is how far above the live heap the limit is kept: the heap
// grows to (1 + GOGC/100) times the live heap between collections, which
// is 1.5 at cairn's GOGC of 50, so 2 leaves the limit out of the way.
const Headroom = 2

// For returns the limit for a live heap of live bytes: base, or Headroom
// times live if that is more.
func For(base, live int64) int64 {
	return max(base, Headroom*live)
}

// interval is how often Keep reads the live heap.
const interval = 100 * time.Millisecond

// Keep sets the soft memory limit to base and then, every 100 ms until
// stop is called, to For(base, live heap). It returns stop.
func Keep(base int64) (stop func()) {
	debug.SetMemoryLimit(base)
	done := make(chan struct{})
	go func() {
		t := time.NewTicker(interval)
		defer t.Stop()
		sample := []metrics.Sample{{Name: "/gc/heap/live:bytes"}}
		last := base
		for {
			select {
			case <-done:
				return
			case <-t.C:
			}
			metrics.Read(sample)
			if sample[0].Value.Kind() != metrics.KindUint64 {
				return // not measured by this runtime: keep the base
			}
			if l := For(base, int64(sample[0].Value.Uint64())); l != last {
				debug.SetMemoryLimit(l)
				last = l
			}
		}
	}()
	return func() { close(done) }
}
