// Package faulty is a backend decorator for tests that injects failures:
// errors before or after a call reaches the wrapped backend, sources and
// readers that break midway, corrupted bytes and delays, each on chosen
// calls of chosen methods. Without faults it passes every call through.
//
//	fb := faulty.New(mem.New())
//	fb.Inject(faulty.Fault{Op: faulty.OpSave, Nth: 2})            // 2nd Save fails (transient)
//	fb.Inject(faulty.Fault{Op: faulty.OpLoad, Kind: faulty.Corrupt, Offset: 10, Times: -1})
package faulty

import (
	"context"
	"fmt"
	"io"
	"sync"
	"time"

	"github.com/cairnbackup/cairn/backend"
)

// ErrInjected is the default injected error. It wraps backend.ErrTransient,
// so decorators treat it as worth retrying.
var ErrInjected = fmt.Errorf("faulty: injected fault: %w", backend.ErrTransient)

// Op names a backend method.
type Op string

// The methods faults can be attached to.
const (
	OpSave   Op = "save"
	OpLoad   Op = "load"
	OpStat   Op = "stat"
	OpList   Op = "list"
	OpRemove Op = "remove"
	// OpAny matches every method, counting all calls together: a fault
	// with Op OpAny, Nth N and Times -1 models a process that crashed
	// after N-1 calls (nothing more reaches storage).
	OpAny Op = "any"
)

// Kind is what a fault does.
type Kind int

const (
	// Fail returns Err without calling the wrapped backend.
	Fail Kind = iota
	// FailAfter calls the wrapped backend and, if that succeeded, returns
	// Err anyway: the effect happened but its answer was lost.
	FailAfter
	// FailMidStream breaks a stream after Offset bytes with Err: the source
	// that Save reads, the reader that Load lends fn; for List, the listing
	// fails after Offset objects were reported.
	FailMidStream
	// Corrupt flips the lowest bit of the byte at Offset of the stream:
	// of the source Save stores, or of the range Load reads. On other
	// methods it does nothing.
	Corrupt
	// Delay only waits Delay (as every kind does first), then passes the
	// call through.
	Delay
	// MissList leaves the object at Offset out of a listing, silently, as
	// an eventually consistent store may.
	MissList
)

// Fault describes one injected failure.
type Fault struct {
	Op   Op
	Kind Kind
	// Nth is the first matching call that faults, counting from 1 (0 means
	// 1). Calls are counted per fault, from when it was injected.
	Nth int
	// Times is how many consecutive matching calls fault (0 means 1;
	// negative means every call from the Nth on).
	Times int
	// Match restricts the fault to some handles (List passes Handle{Type: t});
	// nil matches every call.
	Match func(backend.Handle) bool
	// Err is the error injected (default ErrInjected).
	Err error
	// Offset is where FailMidStream breaks and Corrupt flips a bit.
	Offset int64
	// Delay is waited before the call, for every kind; a cancelled context
	// ends the wait with its error.
	Delay time.Duration
}

type fault struct {
	Fault
	seen int
}

// Backend injects faults into calls to the backend it wraps. It is safe for
// concurrent use.
type Backend struct {
	backend.Backend
	mu     sync.Mutex
	faults []*fault
	calls  map[Op]int
	random *random
}

var (
	_ backend.Backend   = (*Backend)(nil)
	_ backend.Unwrapper = (*Backend)(nil)
)

// New wraps be, with no faults yet.
func New(be backend.Backend) *Backend {
	return &Backend{Backend: be, calls: make(map[Op]int)}
}

// Unwrap implements backend.Unwrapper.
func (b *Backend) Unwrap() backend.Backend { return b.Backend }

// Inject adds a fault.
func (b *Backend) Inject(f Fault) {
	if f.Nth <= 0 {
		f.Nth = 1
	}
	if f.Times == 0 {
		f.Times = 1
	}
	if f.Err == nil {
		f.Err = ErrInjected
	}
	b.mu.Lock()
	b.faults = append(b.faults, &fault{Fault: f})
	b.mu.Unlock()
}

// Clear removes every fault; call counts are kept.
func (b *Backend) Clear() {
	b.mu.Lock()
	b.faults = nil
	b.mu.Unlock()
}

// Calls returns how many times op was called, faulty or not.
func (b *Backend) Calls(op Op) int {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.calls[op]
}

// pick counts a call and returns the fault that fires on it, if any (the
// earliest injected one when several do), after waiting its delay.
func (b *Backend) pick(ctx context.Context, op Op, h backend.Handle) (*Fault, error) {
	b.mu.Lock()
	b.calls[op]++
	var fired *Fault
	for _, f := range b.faults {
		if (f.Op != op && f.Op != OpAny) || (f.Match != nil && !f.Match(h)) {
			continue
		}
		f.seen++
		if fired == nil && f.seen >= f.Nth && (f.Times < 0 || f.seen < f.Nth+f.Times) {
			c := f.Fault
			fired = &c
		}
	}
	if fired == nil {
		fired = b.draw(op)
	}
	b.mu.Unlock()
	if fired == nil || fired.Delay <= 0 {
		return fired, nil
	}
	t := time.NewTimer(fired.Delay)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return nil, ctx.Err()
	case <-t.C:
		return fired, nil
	}
}

// Save implements backend.Backend.
func (b *Backend) Save(ctx context.Context, h backend.Handle, rd backend.RewindReader) error {
	f, err := b.pick(ctx, OpSave, h)
	if err != nil || f == nil {
		return orCall(err, func() error { return b.Backend.Save(ctx, h, rd) })
	}
	switch f.Kind {
	case Fail:
		return f.Err
	case FailMidStream, Corrupt:
		return b.Backend.Save(ctx, h, &faultSource{RewindReader: rd, r: newFaultReader(rd, f)})
	}
	return f.after(b.Backend.Save(ctx, h, rd))
}

// Load implements backend.Backend.
func (b *Backend) Load(ctx context.Context, h backend.Handle, length int, offset int64, fn func(io.Reader) error) error {
	f, err := b.pick(ctx, OpLoad, h)
	if err != nil || f == nil {
		return orCall(err, func() error { return b.Backend.Load(ctx, h, length, offset, fn) })
	}
	switch f.Kind {
	case Fail:
		return f.Err
	case FailMidStream, Corrupt:
		return b.Backend.Load(ctx, h, length, offset, func(rd io.Reader) error {
			return fn(newFaultReader(rd, f))
		})
	}
	return f.after(b.Backend.Load(ctx, h, length, offset, fn))
}

// Stat implements backend.Backend.
func (b *Backend) Stat(ctx context.Context, h backend.Handle) (backend.FileInfo, error) {
	f, err := b.pick(ctx, OpStat, h)
	if err != nil {
		return backend.FileInfo{}, err
	}
	if f != nil && f.Kind == Fail {
		return backend.FileInfo{}, f.Err
	}
	fi, err := b.Backend.Stat(ctx, h)
	if f != nil && f.Kind == FailAfter && err == nil {
		return backend.FileInfo{}, f.Err
	}
	return fi, err
}

// List implements backend.Backend.
func (b *Backend) List(ctx context.Context, t backend.FileType, fn func(backend.FileInfo) error) error {
	f, err := b.pick(ctx, OpList, backend.Handle{Type: t})
	if err != nil || f == nil {
		return orCall(err, func() error { return b.Backend.List(ctx, t, fn) })
	}
	switch f.Kind {
	case Fail:
		return f.Err
	case FailMidStream:
		var n int64
		return b.Backend.List(ctx, t, func(fi backend.FileInfo) error {
			if n >= f.Offset {
				return f.Err
			}
			n++
			return fn(fi)
		})
	case MissList:
		var n int64
		return b.Backend.List(ctx, t, func(fi backend.FileInfo) error {
			n++
			if n-1 == f.Offset {
				return nil
			}
			return fn(fi)
		})
	}
	return f.after(b.Backend.List(ctx, t, fn))
}

// Remove implements backend.Backend.
func (b *Backend) Remove(ctx context.Context, h backend.Handle) error {
	f, err := b.pick(ctx, OpRemove, h)
	if err != nil || f == nil {
		return orCall(err, func() error { return b.Backend.Remove(ctx, h) })
	}
	if f.Kind == Fail {
		return f.Err
	}
	return f.after(b.Backend.Remove(ctx, h))
}

// orCall returns err if set, else the result of call.
func orCall(err error, call func() error) error {
	if err != nil {
		return err
	}
	return call()
}

// after turns a successful call into f.Err for FailAfter.
func (f *Fault) after(err error) error {
	if err == nil && f.Kind == FailAfter {
		return f.Err
	}
	return err
}

// faultReader breaks or corrupts a stream at an offset.
type faultReader struct {
	r       io.Reader
	pos, at int64
	err     error
	corrupt bool
}

func newFaultReader(r io.Reader, f *Fault) *faultReader {
	return &faultReader{r: r, at: f.Offset, err: f.Err, corrupt: f.Kind == Corrupt}
}

func (r *faultReader) Read(p []byte) (int, error) {
	if !r.corrupt {
		if r.pos >= r.at {
			return 0, r.err
		}
		if int64(len(p)) > r.at-r.pos {
			p = p[:r.at-r.pos]
		}
	}
	n, err := r.r.Read(p)
	if r.corrupt && r.at >= r.pos && r.at < r.pos+int64(n) {
		p[r.at-r.pos] ^= 1
	}
	r.pos += int64(n)
	return n, err
}

// faultSource is a RewindReader whose reads go through a faultReader.
type faultSource struct {
	backend.RewindReader
	r *faultReader
}

func (s *faultSource) Read(p []byte) (int, error) { return s.r.Read(p) }

// Rewind implements backend.RewindReader.
func (s *faultSource) Rewind() error {
	s.r.pos = 0
	return s.RewindReader.Rewind()
}
