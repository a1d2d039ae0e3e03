package faulty

import (
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"time"

	"github.com/cairnbackup/cairn/backend"
)

// RandomKind is a fault that random mode may draw.
type RandomKind string

// The faults of random mode.
const (
	// RandomError fails the call before it reaches storage (transient).
	RandomError RandomKind = "error"
	// RandomTimeout waits, then fails as a timed-out request (transient).
	RandomTimeout RandomKind = "timeout"
	// RandomShortRead ends a Load's reader early.
	RandomShortRead RandomKind = "short-read"
	// RandomFlip flips one bit of the bytes a Load reads.
	RandomFlip RandomKind = "flip"
	// RandomMissList leaves one object out of a listing, silently.
	RandomMissList RandomKind = "miss-list"
	// RandomSlow delays the call, then passes it through.
	RandomSlow RandomKind = "slow"
)

// AllRandomKinds lists every fault random mode knows.
var AllRandomKinds = []RandomKind{RandomError, RandomTimeout, RandomShortRead, RandomFlip, RandomMissList, RandomSlow}

// ErrTimeout is what a RandomTimeout fault returns: a deadline passed, worth
// retrying.
var ErrTimeout = fmt.Errorf("faulty: injected timeout: %w: %w", os.ErrDeadlineExceeded, backend.ErrTransient)

// Random drives faults from a seed: each call faults with probability Rate,
// with a kind drawn from Kinds that applies to the call (short reads and
// flips to Load, missed objects to List). The same seed and the same
// sequence of calls give the same faults.
type Random struct {
	Seed uint64
	Rate float64
	// Kinds are the faults to draw from (nil: AllRandomKinds).
	Kinds []RandomKind
	// Slow is the delay of timeouts and slow calls (default 1ms).
	Slow time.Duration
}

type random struct {
	Random
	rng      *rand.Rand
	injected map[RandomKind]int
}

// Randomize turns random mode on (a zero Rate turns it off). Faults added
// with Inject still fire first.
func (b *Backend) Randomize(r Random) {
	if len(r.Kinds) == 0 {
		r.Kinds = AllRandomKinds
	}
	if r.Slow <= 0 {
		r.Slow = time.Millisecond
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	if r.Rate <= 0 {
		b.random = nil
		return
	}
	b.random = &random{Random: r, rng: rand.New(rand.NewPCG(r.Seed, r.Seed^0x9e3779b97f4a7c15)), injected: map[RandomKind]int{}}
}

// Injected returns how many faults of each kind random mode injected.
func (b *Backend) Injected() map[RandomKind]int {
	b.mu.Lock()
	defer b.mu.Unlock()
	out := map[RandomKind]int{}
	if b.random != nil {
		for k, n := range b.random.injected {
			out[k] = n
		}
	}
	return out
}

// applies reports whether kind k can hit a call of op.
func applies(k RandomKind, op Op) bool {
	switch k {
	case RandomShortRead, RandomFlip:
		return op == OpLoad
	case RandomMissList:
		return op == OpList
	}
	return true
}

// draw decides a random fault for a call of op, returning it as a Fault
// (nil: none). Called with b.mu held.
func (b *Backend) draw(op Op) *Fault {
	r := b.random
	if r == nil || r.rng.Float64() >= r.Rate {
		return nil
	}
	var kinds []RandomKind
	for _, k := range r.Kinds {
		if applies(k, op) {
			kinds = append(kinds, k)
		}
	}
	if len(kinds) == 0 {
		return nil
	}
	k := kinds[r.rng.IntN(len(kinds))]
	r.injected[k]++
	f := &Fault{Op: op, Err: ErrInjected}
	switch k {
	case RandomError:
		f.Kind = Fail
	case RandomTimeout:
		f.Kind, f.Delay, f.Err = Fail, r.Slow, ErrTimeout
	case RandomShortRead:
		f.Kind, f.Offset, f.Err = FailMidStream, r.rng.Int64N(64), io.EOF
	case RandomFlip:
		f.Kind, f.Offset = Corrupt, r.rng.Int64N(64)
	case RandomMissList:
		f.Kind, f.Offset = MissList, r.rng.Int64N(8)
	case RandomSlow:
		f.Kind, f.Delay = Delay, r.Slow
	}
	return f
}
