package pack

import (
	"encoding/binary"
	"fmt"
	"hash"
	"io"

	"github.com/cairnbackup/cairn/crypto"
)

// Writer appends sealed blobs to a pack and finishes it with a header,
// hashing everything it writes so the pack's name is known at the end.
// It is not safe for concurrent use.
type Writer struct {
	w       io.Writer
	hasher  hash.Hash
	size    int64
	entries []Entry
}

// Info describes a finished pack.
type Info struct {
	ID      crypto.ID
	Size    int64
	Entries []Entry
}

// NewWriter returns a Writer that writes the pack to w.
func NewWriter(w io.Writer) *Writer {
	return &Writer{w: w, hasher: crypto.NewHasher()}
}

// Add appends one sealed blob.
func (p *Writer) Add(t BlobType, id crypto.ID, sealed []byte, rawLength uint32) error {
	if !t.Valid() {
		return fmt.Errorf("pack: add blob %s: unknown type %d", id.Short(), t)
	}
	if len(sealed) < crypto.Overhead {
		return fmt.Errorf("pack: add blob %s: %d sealed bytes is too short", id.Short(), len(sealed))
	}
	if p.size+int64(len(sealed)) > MaxSize/2 {
		return fmt.Errorf("pack: add blob %s: %w", id.Short(), ErrTooLarge)
	}
	if err := p.write(sealed); err != nil {
		return err
	}
	p.entries = append(p.entries, Entry{Type: t, Offset: uint32(p.size), Length: uint32(len(sealed)), RawLength: rawLength, ID: id})
	p.size += int64(len(sealed))
	return nil
}

// Size returns the number of bytes written so far.
func (p *Writer) Size() int64 { return p.size }

// Count returns the number of blobs added.
func (p *Writer) Count() int { return len(p.entries) }

// Finish seals and writes the header and its length and returns the pack's
// id (the hash of all its bytes), size and entries.
func (p *Writer) Finish(k *crypto.Key) (Info, error) {
	sealed := k.Seal(nil, EncodeHeader(p.entries), headerAD)
	sealed = binary.LittleEndian.AppendUint32(sealed, uint32(len(sealed)))
	if err := p.write(sealed); err != nil {
		return Info{}, err
	}
	total := p.size + int64(len(sealed))
	return Info{ID: crypto.IDFromHasher(p.hasher), Size: total, Entries: p.entries}, nil
}

func (p *Writer) write(b []byte) error {
	if _, err := p.w.Write(b); err != nil {
		return fmt.Errorf("pack: write: %w", err)
	}
	p.hasher.Write(b)
	return nil
}
