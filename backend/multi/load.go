package multi

import (
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"io"

	"github.com/zeebo/blake3"

	"github.com/cairnbackup/cairn/backend"
)

// outcome classifies one location's answer to a Load.
type outcome int

const (
	loaded  outcome = iota // fn succeeded on good bytes
	final                  // an error to return as it is (fn's own, a bad range)
	missing                // the location does not have the object
	down                   // the location failed
	corrupt                // the bytes failed their hash, or fn found them corrupt
)

// Load implements backend.Backend. It reads from the healthy locations in
// priority order, then the unhealthy ones, until fn succeeds. fn is called
// again from the first byte for each location tried, as the backend
// contract allows. A whole-object read is hashed on the way and its sum
// compared with the name once fn returns (reading what fn left); a copy
// whose sum differs, or whose reading fn fails with an error wrapping
// backend.ErrCorrupt, is bad: the next location is read, and the bad copy
// is rewritten from the good one (see heal). fn's other errors are returned
// as they are.
func (b *Backend) Load(ctx context.Context, h backend.Handle, length int, offset int64, fn func(io.Reader) error) error {
	if err := h.Valid(); err != nil {
		return err
	}
	want := b.wantSum(h, length, offset)
	healthy, unhealthy := b.order()
	var bad []*loc
	var errs []error
	notFound := 0
	for _, l := range append(healthy, unhealthy...) {
		kind, err := b.loadOne(ctx, l, h, length, offset, want, fn)
		switch {
		case kind == loaded:
			if len(bad) > 0 {
				b.heal(ctx, h, bad, l)
			}
			return nil
		case ctx.Err() != nil:
			return ctx.Err()
		case kind == final:
			return err
		case kind == missing:
			notFound++
		case kind == down:
			b.observe(ctx, l, err)
		case kind == corrupt:
			bad = append(bad, l)
		}
		if len(healthy)+len(unhealthy) > 1 {
			b.logf("load %s from %s failed, trying the next location: %v", h, l.Name, err)
		}
		errs = append(errs, fmt.Errorf("%s: %w", l.Name, err))
	}
	for _, l := range bad {
		b.report(Heal{Handle: h, Bad: l.Name, Err: errors.New("no location holds a good copy")})
	}
	return combine("load", h, errs, notFound == len(errs))
}

// wantSum returns the hash a whole-object read of h must have, or nil when
// the read is not checked: a range, the config, or SkipHashCheck.
func (b *Backend) wantSum(h backend.Handle, length int, offset int64) *[32]byte {
	if length != 0 || offset != 0 || h.Type == backend.ConfigFile || b.opts.SkipHashCheck {
		return nil
	}
	return nameSum(h)
}

// nameSum decodes an object's name as the hash of its bytes.
func nameSum(h backend.Handle) *[32]byte {
	var sum [32]byte
	if n, err := hex.Decode(sum[:], []byte(h.Name)); err != nil || n != len(sum) {
		return nil
	}
	return &sum
}

// loadOne reads h from one location and classifies the answer.
func (b *Backend) loadOne(ctx context.Context, l *loc, h backend.Handle, length int, offset int64, want *[32]byte, fn func(io.Reader) error) (outcome, error) {
	var (
		tr    *backend.TrackingReader
		fnErr error
	)
	err := l.Backend.Load(ctx, h, length, offset, func(rd io.Reader) error {
		tr = &backend.TrackingReader{R: rd}
		var r io.Reader = tr
		var hasher *blake3.Hasher
		if want != nil {
			hasher = blake3.New()
			r = io.TeeReader(tr, hasher)
		}
		if fnErr = fn(r); fnErr != nil {
			return fnErr
		}
		if want == nil {
			return nil
		}
		if _, err := io.Copy(hasher, tr); err != nil {
			return err // the stream broke after fn was done
		}
		var got [32]byte
		hasher.Sum(got[:0])
		if got != *want {
			return fmt.Errorf("%w: %s at %s: its bytes hash to %x…, not to its name", backend.ErrCorrupt, h, l.Name, got[:4])
		}
		return nil
	})
	switch {
	case err == nil:
		return loaded, nil
	case tr != nil && tr.Err != nil && errors.Is(err, tr.Err):
		return classify(tr.Err), err // the stream broke under fn
	case fnErr != nil && errors.Is(err, fnErr) && !errors.Is(fnErr, backend.ErrCorrupt):
		return final, err // fn's own error
	case errors.Is(err, backend.ErrCorrupt):
		return corrupt, err
	}
	return classify(err), err
}

// classify sorts a location's own error.
func classify(err error) outcome {
	switch {
	case errors.Is(err, backend.ErrNotFound):
		return missing
	case errors.Is(err, backend.ErrCorrupt):
		return corrupt
	case IsDown(err):
		return down
	}
	return final
}

// heal rewrites the bad copies of h with the bytes at good, after checking
// that those hash to h's name, and reports each one to OnHeal.
func (b *Backend) heal(ctx context.Context, h backend.Handle, bad []*loc, good *loc) {
	buf, err := b.verifiedCopy(ctx, h, good)
	for _, l := range bad {
		herr := err
		if herr == nil {
			if herr = l.Backend.Save(ctx, h, backend.NewByteReader(buf)); herr != nil {
				herr = fmt.Errorf("rewrite at %s: %w", l.Name, herr)
			}
		}
		b.report(Heal{Handle: h, Bad: l.Name, Good: good.Name, Err: herr})
	}
}

// verifiedCopy reads h whole from l and checks its hash.
func (b *Backend) verifiedCopy(ctx context.Context, h backend.Handle, l *loc) ([]byte, error) {
	want := nameSum(h)
	if h.Type == backend.ConfigFile || b.opts.SkipHashCheck || want == nil {
		return nil, fmt.Errorf("not rewritten: %s cannot be checked against its name", h)
	}
	buf, err := backend.LoadAll(ctx, l.Backend, h)
	if err != nil {
		return nil, fmt.Errorf("read the good copy at %s: %w", l.Name, err)
	}
	if blake3.Sum256(buf) != *want {
		return nil, fmt.Errorf("%w: the copy at %s does not hash to its name either", backend.ErrCorrupt, l.Name)
	}
	return buf, nil
}

func (b *Backend) report(hl Heal) {
	if hl.Err == nil {
		b.logf("healed %s at %s: its copy was bad; rewrote it from %s", hl.Handle, hl.Bad, hl.Good)
	} else {
		b.logf("%s at %s is bad and was not healed: %v", hl.Handle, hl.Bad, hl.Err)
	}
	if b.opts.OnHeal != nil {
		b.opts.OnHeal(hl)
	}
}
