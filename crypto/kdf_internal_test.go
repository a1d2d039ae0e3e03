package crypto

import (
	"runtime"
	"testing"
)

// prefault splits the pages over the cores; no size or core count may
// make a toucher run past the buffer or skip its end.
func TestPrefaultSizes(t *testing.T) {
	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(0))
	for _, procs := range []int{1, 2, 3, 4, 7} {
		runtime.GOMAXPROCS(procs)
		for _, n := range []int{0, 1, 4095, 4096, 8 << 10, 3*4096 + 17, 1 << 20} {
			prefault(n)
		}
	}
}
