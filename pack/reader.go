package pack

import (
	"encoding/binary"
	"fmt"
	"io"
	"slices"

	"github.com/cairnbackup/cairn/crypto"
)

// TailReadSize is how much of a pack's end ReadHeader reads first. It holds
// the header of any pack with fewer than ~700 blobs, so data packs need one
// read and only large tree packs need a second.
const TailReadSize = 32 * 1024

// maxHeaderLen bounds a header: more entries than could fit in a
// MaxSize pack of minimal blobs is nonsense.
const maxHeaderLen = 1 + (MaxSize/crypto.Overhead)*EntrySize

// ReadHeader reads, opens and checks the header of a pack of the given size
// with at most two reads from r (more only for a header above 1 MiB).
func ReadHeader(r io.ReaderAt, size int64, k *crypto.Key) ([]Entry, error) {
	if size < 4+crypto.Overhead+1 {
		return nil, fmt.Errorf("%w: %d bytes", ErrTooShort, size)
	}
	if size > MaxSize {
		return nil, fmt.Errorf("%w: %d bytes", ErrTooLarge, size)
	}
	tailLen := min(size, TailReadSize)
	tail := make([]byte, tailLen)
	if err := readFull(r, tail, size-tailLen); err != nil {
		return nil, fmt.Errorf("pack: read last %d bytes: %w", tailLen, err)
	}
	hlen := int64(binary.LittleEndian.Uint32(tail[tailLen-4:]))
	if hlen < crypto.Overhead+1 || hlen+4 > size || hlen > maxHeaderLen {
		return nil, fmt.Errorf("%w: header length %d in a pack of %d bytes", ErrHeaderLength, hlen, size)
	}
	sealed := tail[:tailLen-4]
	if hlen <= int64(len(sealed)) {
		sealed = sealed[int64(len(sealed))-hlen:]
	} else {
		var err error
		if sealed, err = readGrowing(r, size-4-hlen, hlen); err != nil {
			return nil, fmt.Errorf("pack: read header of %d bytes: %w", hlen, err)
		}
	}
	return OpenHeader(sealed, size-4-hlen, k)
}

// headerPiece is the most readGrowing asks for at once.
const headerPiece = 1 << 20

// readGrowing reads n bytes at off in pieces of at most headerPiece, so
// that memory follows the bytes that actually arrive and never a length
// that a damaged or hostile pack (or a listing that lies about its size)
// merely claims. A header below headerPiece is still one read.
func readGrowing(r io.ReaderAt, off, n int64) ([]byte, error) {
	var b []byte
	for int64(len(b)) < n {
		k := int(min(n-int64(len(b)), headerPiece))
		b = slices.Grow(b, k)
		if err := readFull(r, b[len(b):len(b)+k], off+int64(len(b))); err != nil {
			return nil, err
		}
		b = b[:len(b)+k]
	}
	return b, nil
}

// readFull reads len(p) bytes at off. io.ReaderAt may report io.EOF along
// with a complete read that ends at the end of its input; that is success.
func readFull(r io.ReaderAt, p []byte, off int64) error {
	n, err := r.ReadAt(p, off)
	if n == len(p) && (err == nil || err == io.EOF) {
		return nil
	}
	if err == nil || err == io.EOF {
		err = io.ErrUnexpectedEOF
	}
	return err
}

// OpenHeader authenticates a sealed header and decodes it for a pack whose
// blobs fill dataLen bytes.
func OpenHeader(sealed []byte, dataLen int64, k *crypto.Key) ([]Entry, error) {
	plain, err := k.Open(nil, sealed, headerAD)
	if err != nil {
		return nil, ErrHeaderAuth
	}
	return DecodeHeader(plain, dataLen)
}

// ParseAll parses a complete pack held in memory.
func ParseAll(b []byte, k *crypto.Key) ([]Entry, error) {
	return ReadHeader(bytesReaderAt(b), int64(len(b)), k)
}

type bytesReaderAt []byte

func (b bytesReaderAt) ReadAt(p []byte, off int64) (int, error) {
	if off < 0 || off > int64(len(b)) {
		return 0, io.EOF
	}
	n := copy(p, b[off:])
	if n < len(p) {
		return n, io.EOF
	}
	return n, nil
}
