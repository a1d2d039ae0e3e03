package memlimit

import (
	"math"
	"runtime"
	"runtime/debug"
	"testing"
	"time"
)

func TestFor(t *testing.T) {
	for _, c := range []struct{ base, live, want int64 }{
		{80 << 20, 0, 80 << 20},
		{80 << 20, 30 << 20, 80 << 20},
		{80 << 20, 40 << 20, 80 << 20},
		{80 << 20, 60 << 20, 120 << 20},
		{80 << 20, 1 << 30, 2 << 30},
	} {
		if got := For(c.base, c.live); got != c.want {
			t.Errorf("For(%d, %d) = %d, want %d", c.base, c.live, got, c.want)
		}
	}
}

// TestKeepRaisesTheLimit holds a live heap above the base and waits for
// the limit to follow it, then lets it go and waits for the base again.
func TestKeepRaisesTheLimit(t *testing.T) {
	defer debug.SetMemoryLimit(debug.SetMemoryLimit(-1))
	const base = 16 << 20
	stop := Keep(base)
	defer stop()
	if got := debug.SetMemoryLimit(-1); got != base {
		t.Fatalf("limit %d after Keep, want the base %d", got, base)
	}
	live := make([][]byte, 48)
	for i := range live {
		live[i] = make([]byte, 1<<20)
		live[i][0] = 1
	}
	waitFor := func(what string, ok func(int64) bool) {
		t.Helper()
		deadline := time.Now().Add(5 * time.Second)
		for {
			runtime.GC()
			if l := debug.SetMemoryLimit(-1); ok(l) {
				return
			} else if time.Now().After(deadline) {
				t.Fatalf("%s: limit %d", what, l)
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
	waitFor("48 MiB live", func(l int64) bool { return l >= 2*48<<20 && l != math.MaxInt64 })
	runtime.KeepAlive(live)
	live = nil
	waitFor("nothing live", func(l int64) bool { return l == base })
}
