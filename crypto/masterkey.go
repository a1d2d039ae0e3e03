package crypto

import (
	"encoding/binary"
	"fmt"
	"sync"

	"github.com/zeebo/blake3"
)

// MasterKeySize is the encoded length of a MasterKey.
const MasterKeySize = KeySize + KeySize + 8

// MasterKey holds a repository's secrets. Every key file wraps the same
// MasterKey, so changing a password never re-encrypts data.
type MasterKey struct {
	data       [KeySize]byte // AES-256-GCM key for everything sealed in the repository
	id         [KeySize]byte // BLAKE3 key that names blobs
	polynomial uint64        // the repository's chunker polynomial

	sealer  *Key
	hasher  *blake3.Hasher // keyed, never written to: the template of hashers
	hashers sync.Pool      // keyed hashers for BlobID, reset between uses
}

// NewMasterKey makes a master key from the CSPRNG, with the given chunker
// polynomial (which the caller draws from the CSPRNG as well; see package chunk).
func NewMasterKey(polynomial uint64) *MasterKey {
	var b [MasterKeySize]byte
	copy(b[:], RandomBytes(2*KeySize))
	binary.LittleEndian.PutUint64(b[2*KeySize:], polynomial)
	m, err := UnmarshalMasterKey(b[:])
	if err != nil {
		panic("crypto: " + err.Error())
	}
	return m
}

// UnmarshalMasterKey decodes the 72 bytes written by Marshal:
// data key ‖ id key ‖ polynomial (uint64, little endian).
func UnmarshalMasterKey(b []byte) (*MasterKey, error) {
	if len(b) != MasterKeySize {
		return nil, fmt.Errorf("%w: master key must be %d bytes, got %d", ErrBadKey, MasterKeySize, len(b))
	}
	m := &MasterKey{}
	copy(m.data[:], b[:KeySize])
	copy(m.id[:], b[KeySize:2*KeySize])
	m.polynomial = binary.LittleEndian.Uint64(b[2*KeySize:])
	if m.polynomial == 0 {
		return nil, fmt.Errorf("%w: chunker polynomial is zero", ErrBadKey)
	}
	var err error
	if m.sealer, err = NewKey(m.data[:]); err != nil {
		return nil, err
	}
	if m.hasher, err = blake3.NewKeyed(m.id[:]); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrBadKey, err)
	}
	return m, nil
}

// Marshal returns the 72-byte encoding of m. The result is secret.
func (m *MasterKey) Marshal() []byte {
	b := make([]byte, MasterKeySize)
	copy(b, m.data[:])
	copy(b[KeySize:], m.id[:])
	binary.LittleEndian.PutUint64(b[2*KeySize:], m.polynomial)
	return b
}

// Sealer returns the AES-256-GCM key for the repository's data.
func (m *MasterKey) Sealer() *Key { return m.sealer }

// Polynomial returns the chunker polynomial.
func (m *MasterKey) Polynomial() uint64 { return m.polynomial }

// BlobID returns the keyed BLAKE3-256 hash of plaintext. It is keyed so that
// a repository does not reveal whether it holds a file an attacker knows.
// Safe for concurrent use.
func (m *MasterKey) BlobID(plaintext []byte) ID {
	// A hasher holds about 2 KiB of state: pooling them spares an
	// allocation per blob (a snapshot of a million small files names a
	// million blobs).
	h, _ := m.hashers.Get().(*blake3.Hasher)
	if h == nil {
		h = m.hasher.Clone()
	} else {
		h.Reset() // back to the keyed initial state
	}
	_, _ = h.Write(plaintext)
	var id ID
	h.Sum(id[:0]) // on the concrete type, so that id stays on the stack
	m.hashers.Put(h)
	return id
}

// NewBlobHasher returns a streaming keyed hasher giving the same result as BlobID.
func (m *MasterKey) NewBlobHasher() *blake3.Hasher { return m.hasher.Clone() }
