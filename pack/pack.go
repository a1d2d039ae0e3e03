// Package pack lays out pack files: sealed blobs one after another, then a
// sealed header listing them, then the header's length.
//
//	pack   = blob_0 ‖ … ‖ blob_n-1 ‖ sealed header ‖ header length (uint32 LE)
//	header = version (1 byte, 1) ‖ entry_0 ‖ … ‖ entry_n-1
//	entry  = type (1) ‖ offset (uint32 LE) ‖ length (uint32 LE) ‖ raw length (uint32 LE) ‖ id (32)
//
// The package knows nothing of backends or indexes: it writes to an
// io.Writer and reads from an io.ReaderAt.
package pack

import (
	"encoding/binary"
	"fmt"

	"github.com/cairnbackup/cairn/crypto"
)

// BlobType says what a blob holds.
type BlobType uint8

// Blob types. Tree blobs go in packs of their own.
const (
	DataBlob BlobType = 1
	TreeBlob BlobType = 2
)

// String returns "data" or "tree".
func (t BlobType) String() string {
	switch t {
	case DataBlob:
		return "data"
	case TreeBlob:
		return "tree"
	}
	return fmt.Sprintf("blobtype(%d)", uint8(t))
}

// Valid reports whether t is a known type.
func (t BlobType) Valid() bool { return t == DataBlob || t == TreeBlob }

// EntrySize is the encoded size of a header entry.
const EntrySize = 1 + 4 + 4 + 4 + crypto.IDSize

// headerVersion is the first byte of a header's plaintext.
const headerVersion = 1

// MaxSize bounds a pack: offsets are 32-bit.
const MaxSize = 1<<32 - 1

// headerAD binds a header's ciphertext to its role, so a sealed blob can
// never be passed off as a header or the other way round.
var headerAD = []byte("cairn pack header v1")

// Entry describes one sealed blob in a pack.
type Entry struct {
	Type      BlobType
	Offset    uint32    // where the sealed blob starts in the pack
	Length    uint32    // sealed length (nonce + ciphertext + tag)
	RawLength uint32    // plaintext length before compression; 0 = stored uncompressed
	ID        crypto.ID // keyed hash of the plaintext
}

// PlainLength returns the length of the blob's plaintext.
func (e Entry) PlainLength() uint32 {
	if e.RawLength != 0 {
		return e.RawLength
	}
	return e.Length - crypto.Overhead
}

// BlobAD returns the additional data sealed with a blob: its type and its id.
// A blob moved to another id or type, or swapped in a pack, fails to open.
func BlobAD(t BlobType, id crypto.ID) []byte {
	ad := make([]byte, 1+crypto.IDSize)
	ad[0] = byte(t)
	copy(ad[1:], id[:])
	return ad
}

// EncodeHeader returns the plaintext of a header.
func EncodeHeader(entries []Entry) []byte {
	b := make([]byte, 1, 1+len(entries)*EntrySize)
	b[0] = headerVersion
	for _, e := range entries {
		b = append(b, byte(e.Type))
		b = binary.LittleEndian.AppendUint32(b, e.Offset)
		b = binary.LittleEndian.AppendUint32(b, e.Length)
		b = binary.LittleEndian.AppendUint32(b, e.RawLength)
		b = append(b, e.ID[:]...)
	}
	return b
}

// DecodeHeader parses a header's plaintext and checks that its entries tile
// exactly the first dataLen bytes of the pack, in order.
func DecodeHeader(b []byte, dataLen int64) ([]Entry, error) {
	if len(b) < 1 {
		return nil, fmt.Errorf("%w: empty", ErrHeaderFormat)
	}
	if b[0] != headerVersion {
		return nil, fmt.Errorf("%w: version %d, want %d", ErrHeaderFormat, b[0], headerVersion)
	}
	body := b[1:]
	if len(body)%EntrySize != 0 {
		return nil, fmt.Errorf("%w: %d bytes of entries is not a multiple of %d", ErrHeaderFormat, len(body), EntrySize)
	}
	n := len(body) / EntrySize
	entries := make([]Entry, n)
	var next int64
	for i := range entries {
		p := body[i*EntrySize:]
		e := Entry{
			Type:      BlobType(p[0]),
			Offset:    binary.LittleEndian.Uint32(p[1:]),
			Length:    binary.LittleEndian.Uint32(p[5:]),
			RawLength: binary.LittleEndian.Uint32(p[9:]),
		}
		copy(e.ID[:], p[13:13+crypto.IDSize])
		switch {
		case !e.Type.Valid():
			return nil, fmt.Errorf("%w: entry %d has unknown type %d", ErrHeaderFormat, i, p[0])
		case int64(e.Offset) != next:
			return nil, fmt.Errorf("%w: entry %d starts at %d, want %d", ErrLayout, i, e.Offset, next)
		case e.Length < crypto.Overhead:
			return nil, fmt.Errorf("%w: entry %d length %d shorter than sealing overhead", ErrHeaderFormat, i, e.Length)
		}
		next += int64(e.Length)
		entries[i] = e
	}
	if next != dataLen {
		return nil, fmt.Errorf("%w: blobs cover %d bytes, pack holds %d before its header", ErrLayout, next, dataLen)
	}
	return entries, nil
}
