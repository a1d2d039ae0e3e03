package crypto

import (
	"encoding/hex"
	"fmt"
	"hash"

	"github.com/zeebo/blake3"
)

// IDSize is the length in bytes of an ID.
const IDSize = 32

// ID names an object or a blob: the BLAKE3-256 hash of an object's stored
// bytes, or the keyed BLAKE3-256 hash of a blob's plaintext.
type ID [IDSize]byte

// Hash returns the unkeyed BLAKE3-256 hash of data. Object names are made
// this way so that any copy of a repository can be verified without a key.
func Hash(data []byte) ID {
	return blake3.Sum256(data)
}

// NewHasher returns a streaming BLAKE3-256 hasher that yields the same value
// as Hash; use IDFromHasher to read its result.
func NewHasher() hash.Hash {
	return blake3.New()
}

// IDFromHasher returns the current digest of h as an ID. h must produce
// 32-byte digests.
func IDFromHasher(h hash.Hash) ID {
	var id ID
	sum := h.Sum(id[:0])
	if len(sum) != IDSize {
		panic("crypto: hasher does not produce 32-byte digests")
	}
	return id
}

// ParseID parses a 64-digit hexadecimal string.
func ParseID(s string) (ID, error) {
	var id ID
	if len(s) != 2*IDSize {
		return id, fmt.Errorf("invalid id %q: want %d hex digits, got %d", s, 2*IDSize, len(s))
	}
	if _, err := hex.Decode(id[:], []byte(s)); err != nil {
		return id, fmt.Errorf("invalid id %q: %w", s, err)
	}
	if id.String() != s {
		// Names are written in lower case; accepting another spelling
		// would look the object up under a name it is not stored under.
		return ID{}, fmt.Errorf("invalid id %q: hex digits must be lower case", s)
	}
	return id, nil
}

// String returns the id as 64 hexadecimal digits.
func (id ID) String() string { return hex.EncodeToString(id[:]) }

// Short returns the first 8 hexadecimal digits, for messages and listings.
func (id ID) Short() string { return hex.EncodeToString(id[:4]) }

// IsNull reports whether id is all zeros (the zero value, never a real hash
// in practice).
func (id ID) IsNull() bool { return id == ID{} }

// MarshalText encodes the id as hexadecimal, for JSON.
func (id ID) MarshalText() ([]byte, error) {
	return []byte(id.String()), nil
}

// UnmarshalText decodes a hexadecimal id, for JSON.
func (id *ID) UnmarshalText(b []byte) error {
	v, err := ParseID(string(b))
	if err != nil {
		return err
	}
	*id = v
	return nil
}
