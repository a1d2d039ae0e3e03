package crypto

import "errors"

// ErrAuth is returned when sealed bytes fail authentication. It deliberately
// says nothing about why: a wrong key, a flipped bit and a swapped blob look
// the same to an attacker and to us.
var ErrAuth = errors.New("crypto: authentication failed (wrong key or damaged data)")

// ErrShort is returned when sealed bytes are too short to hold a nonce and a tag.
var ErrShort = errors.New("crypto: sealed data too short")

// ErrBadKey is returned for key material of the wrong length or format.
var ErrBadKey = errors.New("crypto: malformed key")
