package mirror

import (
	"bytes"
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"io"

	"github.com/zeebo/blake3"

	"github.com/cairnbackup/cairn/backend"
)

// errSourceDamaged marks a source object whose bytes do not hash to its
// name. It wraps backend.ErrCorrupt.
var errSourceDamaged = fmt.Errorf("mirror: source copy damaged: %w", backend.ErrCorrupt)

// errNoRewind: a streamed source can be replayed only before its first byte.
var errNoRewind = errors.New("mirror: a streamed copy cannot be rewound midway")

// attempts is how often one object is tried when its stream breaks.
const attempts = 3

// CopyObject copies one object from src to dst, streaming: the bytes are
// hashed as they are uploaded, and a copy whose bytes do not hash to its
// name fails before its last byte reaches dst, so dst never stores it. The
// config, which is not named by its hash, is copied whole. size is the
// object's size as listed.
func CopyObject(ctx context.Context, src, dst backend.Backend, h backend.Handle, size int64) error {
	return copyObject(ctx, src, dst, h, size)
}

func copyObject(ctx context.Context, src, dst backend.Backend, h backend.Handle, size int64) error {
	once := func() error { return copyConfig(ctx, src, dst, h, size) }
	if h.Type != backend.ConfigFile {
		var want [32]byte
		if n, err := hex.Decode(want[:], []byte(h.Name)); err != nil || n != len(want) {
			return fmt.Errorf("%w: %s is not named by a hash", backend.ErrInvalidHandle, h)
		}
		once = func() error { return streamOnce(ctx, src, dst, h, size, want) }
	}
	var err error
	for range attempts {
		err = once()
		if err == nil || ctx.Err() != nil || !(backend.IsTransient(err) || errors.Is(err, errNoRewind)) {
			return err
		}
	}
	return err
}

// copyConfig copies the config, which no hash names, whole. Without the
// key, its length and a second read are all that can check it: bytes that
// stop short of the listed size, or two reads that differ, are a transient
// failure, never a config saved at dst.
func copyConfig(ctx context.Context, src, dst backend.Backend, h backend.Handle, size int64) error {
	b, err := backend.LoadAll(ctx, src, h)
	if err != nil {
		return fmt.Errorf("read from %s: %w", src.Location(), err)
	}
	if int64(len(b)) != size {
		return fmt.Errorf("read from %s: %w: %w: %s: %d bytes arrived, the listing says %d",
			src.Location(), backend.ErrTransient, backend.ErrShortRead, h, len(b), size)
	}
	again, err := backend.LoadAll(ctx, src, h)
	if err != nil {
		return fmt.Errorf("read from %s: %w", src.Location(), err)
	}
	if !bytes.Equal(b, again) {
		return fmt.Errorf("read from %s: %w: %w: two reads of %s differ",
			src.Location(), backend.ErrTransient, backend.ErrCorrupt, h)
	}
	if err := dst.Save(ctx, h, backend.NewByteReader(b)); err != nil {
		return fmt.Errorf("write to %s: %w", dst.Location(), err)
	}
	return nil
}

// streamOnce pipes one read of h at src into one Save at dst.
func streamOnce(ctx context.Context, src, dst backend.Backend, h backend.Handle, size int64, want [32]byte) error {
	var saveErr error
	err := src.Load(ctx, h, 0, 0, func(rd io.Reader) error {
		vs := &verifyingSource{r: rd, size: size, want: want, h: h}
		saveErr = dst.Save(ctx, h, vs)
		if vs.err != nil {
			return vs.err // the source's fault, not the destination's
		}
		return saveErr
	})
	switch {
	case err == nil:
		return nil
	case saveErr != nil && errors.Is(err, saveErr):
		return fmt.Errorf("write to %s: %w", dst.Location(), err)
	}
	return fmt.Errorf("read from %s: %w", src.Location(), err)
}

// verifyingSource is an upload source reading a download stream once,
// hashing it; the read that would deliver the last byte fails instead when
// the hash does not match the name, so the upload never completes.
type verifyingSource struct {
	r    io.Reader
	size int64
	want [32]byte
	h    backend.Handle

	pos    int64
	hasher *blake3.Hasher
	err    error // the source's failure, if any
}

func (v *verifyingSource) Read(p []byte) (int, error) {
	if v.err != nil {
		return 0, v.err
	}
	if v.hasher == nil {
		v.hasher = blake3.New()
	}
	if rest := v.size - v.pos; int64(len(p)) > rest {
		p = p[:rest]
	}
	if len(p) == 0 {
		return v.atEnd()
	}
	n, err := v.r.Read(p)
	v.hasher.Write(p[:n])
	v.pos += n64(n)
	if err == io.EOF && v.pos < v.size {
		v.err = fmt.Errorf("%w: %s ended after %d of %d bytes", backend.ErrShortRead, v.h, v.pos, v.size)
		return 0, v.err
	}
	if err != nil && err != io.EOF {
		v.err = err
		return 0, err
	}
	if v.pos == v.size {
		if _, err := v.atEnd(); err != io.EOF {
			return 0, err
		}
	}
	return n, nil
}

func n64(n int) int64 { return int64(n) }

// atEnd checks the hash once every byte was read.
func (v *verifyingSource) atEnd() (int, error) {
	var got [32]byte
	v.hasher.Sum(got[:0])
	if got != v.want {
		v.err = fmt.Errorf("%w: %s hashes to %x…, not to its name", errSourceDamaged, v.h, got[:4])
		return 0, v.err
	}
	return 0, io.EOF
}

// Rewind implements backend.RewindReader: only before the first byte.
func (v *verifyingSource) Rewind() error {
	if v.pos != 0 {
		return errNoRewind
	}
	return nil
}

// Length implements backend.RewindReader.
func (v *verifyingSource) Length() int64 { return v.size }
