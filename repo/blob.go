package repo

import (
	"fmt"
	"runtime"
	"sync"
	"sync/atomic"

	"github.com/klauspost/compress/zstd"

	"github.com/cairnbackup/cairn/crypto"
	"github.com/cairnbackup/cairn/pack"
)

// MaxBlobSize bounds a blob's plaintext. Data blobs are at most 8 MiB;
// trees of huge directories can be larger.
const MaxBlobSize = 512 << 20

// minCompressSize: shorter blobs are stored raw, since zstd's frame
// overhead eats whatever they would save.
const minCompressSize = 64

// blobCodec turns plaintext into sealed blobs and back. Safe for concurrent use.
type blobCodec struct {
	key    *crypto.MasterKey
	enc    atomic.Pointer[zstd.Encoder] // nil when compression is off
	dec    *zstd.Decoder
	verify bool // decompress every compressed blob again before it is sealed

	scratch sync.Pool // of *scratch
}

func newBlobCodec(key *crypto.MasterKey, compression string, verify bool) (*blobCodec, error) {
	c := &blobCodec{key: key, verify: verify}
	var err error
	// WithDecodeAllCapLimit makes DecodeAll stop at the capacity of its
	// output, which open sets to the raw length the header promises: a
	// small payload can never inflate beyond what it claims.
	c.dec, err = zstd.NewReader(nil, zstd.WithDecoderConcurrency(runtime.GOMAXPROCS(0)),
		zstd.WithDecoderMaxMemory(MaxBlobSize), zstd.WithDecoderLowmem(true), zstd.WithDecodeAllCapLimit(true))
	if err != nil {
		return nil, err
	}
	if err := c.setLevel(compression); err != nil {
		return nil, err
	}
	return c, nil
}

// zstdLevels maps the compression names onto klauspost/compress's levels;
// off is absent.
var zstdLevels = map[string]zstd.EncoderLevel{
	CompressionFastest: zstd.SpeedFastest,
	CompressionDefault: zstd.SpeedDefault,
	CompressionBetter:  zstd.SpeedBetterCompression,
	CompressionMax:     zstd.SpeedBestCompression,
}

// newEncoder returns the encoder of a compression level, nil for off.
func newEncoder(level string) (*zstd.Encoder, error) {
	if level == CompressionOff {
		return nil, nil
	}
	zl, ok := zstdLevels[level]
	if !ok {
		return nil, fmt.Errorf("unknown compression level %q", level)
	}
	// Blobs average 1 MiB and never exceed 8 MiB: a 2 MiB window loses
	// almost nothing and keeps each encoder's history at 2 MiB, not 8.
	return zstd.NewWriter(nil, zstd.WithEncoderLevel(zl),
		zstd.WithEncoderConcurrency(runtime.GOMAXPROCS(0)), zstd.WithZeroFrames(true),
		zstd.WithEncoderCRC(false), zstd.WithWindowSize(2<<20))
}

// setLevel makes later seals compress at level. A seal already running
// finishes with the encoder it started with.
func (c *blobCodec) setLevel(level string) error {
	enc, err := newEncoder(level)
	if err != nil {
		return err
	}
	c.enc.Store(enc)
	return nil
}

// sealed is a blob ready for a pack. Its bytes may live in a reused
// buffer: once they are written, blobCodec.release takes it back.
type sealed struct {
	t       pack.BlobType
	id      crypto.ID
	bytes   []byte
	rawLen  uint32 // 0 = stored uncompressed
	scratch *scratch
}

// scratch is one sealing's working space, reused across blobs so that a
// snapshot does not allocate (and the runtime clear) megabytes per chunk.
type scratch struct{ comp, out, check []byte }

// release takes back the buffers of a blob from seal once its bytes are
// written; s.bytes must not be used afterwards.
func (c *blobCodec) release(s *sealed) {
	if s.scratch == nil {
		return
	}
	s.scratch.out = s.bytes[:0]
	c.scratch.Put(s.scratch)
	s.scratch, s.bytes = nil, nil
}

func (c *blobCodec) getScratch() *scratch {
	if sc, ok := c.scratch.Get().(*scratch); ok {
		return sc
	}
	return &scratch{}
}

// seal compresses plain (when that saves space) and seals it, binding the
// blob's type and id. With verify set, a compressed payload is
// decompressed again and must hash to id before it is sealed, so neither a
// compressor fault nor a bit flipped in memory on the way reaches storage
// unnoticed.
func (c *blobCodec) seal(t pack.BlobType, id crypto.ID, plain []byte) (sealed, error) {
	sc := c.getScratch()
	payload, rawLen := plain, uint32(0)
	if enc := c.enc.Load(); enc != nil && len(plain) >= minCompressSize {
		comp := enc.EncodeAll(plain, sc.comp[:0])
		sc.comp = comp[:0]
		if len(comp) < len(plain) {
			payload, rawLen = comp, uint32(len(plain))
		}
	}
	if c.verify && rawLen != 0 {
		check := sc.check[:0]
		if cap(check) < len(plain) {
			check = make([]byte, 0, len(plain))
		}
		sc.check = check
		e := pack.Entry{Type: t, RawLength: rawLen, ID: id}
		if _, err := c.plaintext(e, payload, check); err != nil {
			c.scratch.Put(sc)
			return sealed{}, fmt.Errorf("verify compressed blob %s before packing: %w", id.Short(), err)
		}
	}
	s := sealed{t: t, id: id, rawLen: rawLen, scratch: sc}
	s.bytes = c.key.Sealer().Seal(sc.out[:0], payload, pack.BlobAD(t, id))
	return s, nil
}

// open authenticates, decompresses and verifies one sealed blob, appending
// the plaintext to dst.
func (c *blobCodec) open(e pack.Entry, b []byte, dst []byte) ([]byte, error) {
	if len(b) != int(e.Length) {
		return nil, fmt.Errorf("%w: blob %s: %d sealed bytes, index says %d", ErrCorrupt, e.ID.Short(), len(b), e.Length)
	}
	var payloadBuf []byte
	if e.RawLength == 0 {
		payloadBuf = dst[:0] // the payload is the plaintext
	}
	payload, err := c.key.Sealer().Open(payloadBuf, b, pack.BlobAD(e.Type, e.ID))
	if err != nil {
		return nil, errNotAuthentic(e)
	}
	return c.plaintext(e, payload, dst)
}

func errNotAuthentic(e pack.Entry) error {
	return fmt.Errorf("%w: %s blob %s does not authenticate (damaged, or stored under another id or type)", ErrCorrupt, e.Type, e.ID.Short())
}

// plaintext decompresses an opened payload (into dst's storage when it
// fits) and checks that it hashes to the blob's id.
func (c *blobCodec) plaintext(e pack.Entry, payload, dst []byte) ([]byte, error) {
	var err error
	plain := payload
	if e.RawLength != 0 {
		if e.RawLength > MaxBlobSize {
			return nil, fmt.Errorf("%w: blob %s: raw length %d too large", ErrCorrupt, e.ID.Short(), e.RawLength)
		}
		out := dst[:0:cap(dst)]
		if cap(out) < int(e.RawLength) {
			out = make([]byte, 0, e.RawLength)
		}
		plain, err = c.dec.DecodeAll(payload, out[:0:e.RawLength])
		if err != nil {
			return nil, fmt.Errorf("%w: blob %s: decompress: %v", ErrCorrupt, e.ID.Short(), err)
		}
		if len(plain) != int(e.RawLength) {
			return nil, fmt.Errorf("%w: blob %s: decompressed to %d bytes, want %d", ErrCorrupt, e.ID.Short(), len(plain), e.RawLength)
		}
	}
	if got := c.key.BlobID(plain); got != e.ID {
		return nil, fmt.Errorf("%w: blob %s: plaintext hashes to %s", ErrCorrupt, e.ID.Short(), got.Short())
	}
	return plain, nil
}
