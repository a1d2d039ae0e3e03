package crypto

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"fmt"
)

// KeySize is the length of an AES-256 key.
const KeySize = 32

// NonceSize is the length of the random nonce prepended to sealed bytes.
const NonceSize = 12

// TagSize is the length of the GCM authentication tag appended to sealed bytes.
const TagSize = 16

// Overhead is how many bytes sealing adds: a nonce in front, a tag behind.
const Overhead = NonceSize + TagSize

// Key seals and opens bytes with AES-256-GCM. It is safe for concurrent use.
type Key struct {
	aead cipher.AEAD
}

// NewKey returns a Key for 32 bytes of key material. The bytes are copied by
// the cipher's key schedule; the caller may reuse k afterwards.
func NewKey(k []byte) (*Key, error) {
	if len(k) != KeySize {
		return nil, fmt.Errorf("%w: AES-256 key must be %d bytes, got %d", ErrBadKey, KeySize, len(k))
	}
	block, err := aes.NewCipher(k)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrBadKey, err)
	}
	aead, err := cipher.NewGCM(block)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrBadKey, err)
	}
	return &Key{aead: aead}, nil
}

// Seal appends nonce ‖ ciphertext ‖ tag to dst and returns the result.
//
// The nonce is 12 fresh bytes from the CSPRNG for every call. With random
// nonces GCM stays safe for about 2^32 messages per key; a repository of
// 16 MiB packs of 1 MiB blobs reaches that only after ~4 PiB, which is far
// beyond what a server backup holds. ad is authenticated but not stored: the
// caller binds what the bytes mean (a blob's type and id, an object's kind).
func (k *Key) Seal(dst, plaintext, ad []byte) []byte {
	need := len(dst) + Overhead + len(plaintext)
	if cap(dst) < need {
		grown := make([]byte, len(dst), need)
		copy(grown, dst)
		dst = grown
	}
	nonce := dst[len(dst) : len(dst)+NonceSize]
	if _, err := rand.Read(nonce); err != nil {
		panic("crypto: CSPRNG failed: " + err.Error())
	}
	return k.aead.Seal(dst[:len(dst)+NonceSize], nonce, plaintext, ad)
}

// Open authenticates and decrypts sealed bytes made by Seal with the same ad,
// appending the plaintext to dst. Any mismatch returns ErrAuth.
func (k *Key) Open(dst, sealed, ad []byte) ([]byte, error) {
	if len(sealed) < Overhead {
		return nil, ErrShort
	}
	out, err := k.aead.Open(dst, sealed[:NonceSize], sealed[NonceSize:], ad)
	if err != nil {
		return nil, ErrAuth
	}
	return out, nil
}

// RandomBytes returns n bytes from the CSPRNG.
func RandomBytes(n int) []byte {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		panic("crypto: CSPRNG failed: " + err.Error())
	}
	return b
}
