package main

import (
	"math"
	"runtime/debug"
	"testing"
)

// TestTuneRuntime: cairn's memory defaults apply unless the environment
// sets GOMEMLIMIT or GOGC.
func TestTuneRuntime(t *testing.T) {
	origGC, origLimit := debug.SetGCPercent(100), debug.SetMemoryLimit(-1)
	t.Cleanup(func() {
		debug.SetGCPercent(origGC)
		debug.SetMemoryLimit(origLimit)
	})

	debug.SetMemoryLimit(math.MaxInt64)
	stop := tuneRuntime(func(string) string { return "" })
	stop()
	if got := debug.SetGCPercent(100); got != gcPercent {
		t.Errorf("GC percent %d, want %d", got, gcPercent)
	}
	if got := debug.SetMemoryLimit(math.MaxInt64); got != softMemoryLimit {
		t.Errorf("memory limit %d, want %d", got, softMemoryLimit)
	}

	tuneRuntime(func(string) string { return "set" })()
	if got := debug.SetGCPercent(100); got != 100 {
		t.Errorf("with GOGC set: GC percent %d, want it left at 100", got)
	}
	if got := debug.SetMemoryLimit(-1); got != math.MaxInt64 {
		t.Errorf("with GOMEMLIMIT set: memory limit %d, want it left alone", got)
	}
}
