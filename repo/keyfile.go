package repo

import (
	"encoding/json"
	"fmt"
	"time"

	"github.com/cairnbackup/cairn/crypto"
)

// KDF names in key files.
const (
	KDFArgon2id = "argon2id" // a password, stretched
	KDFNone     = "none"     // 64 hex digits used directly (CAIRN_KEY_FILE)
)

// KeyFile is the stored form of one key: the master key sealed with a key
// derived from a password (or given directly).
type KeyFile struct {
	Version int               `json:"version"`
	Created time.Time         `json:"created"`
	Host    string            `json:"host,omitempty"`
	User    string            `json:"user,omitempty"`
	KDF     string            `json:"kdf"`
	Params  *crypto.KDFParams `json:"params,omitempty"`
	Salt    []byte            `json:"salt,omitempty"`
	Sealed  []byte            `json:"data"`
	id      crypto.ID
}

// ID returns the key file's name.
func (k *KeyFile) ID() crypto.ID { return k.id }

// maxKeyFileSize bounds what we parse.
const maxKeyFileSize = 64 << 10

// keyAD binds a sealed master key to its role. It does not bind the
// repository id: a key file moved to another repository opens a master key
// that fails on that repository's config, and a damaged config header is
// then reported as a damaged config rather than as a wrong password.
func keyAD() []byte { return []byte("cairn key v1") }

// decodeKeyFile parses a key file's bytes and checks its fields.
func decodeKeyFile(b []byte) (*KeyFile, error) {
	if len(b) > maxKeyFileSize {
		return nil, fmt.Errorf("%w: key file of %d bytes is too large", ErrMalformed, len(b))
	}
	var k KeyFile
	if err := json.Unmarshal(b, &k); err != nil {
		return nil, fmt.Errorf("%w: key file: %v", ErrMalformed, err)
	}
	if k.Version != 1 {
		return nil, fmt.Errorf("%w: key file version %d", ErrMalformed, k.Version)
	}
	switch k.KDF {
	case KDFArgon2id:
		if k.Params == nil {
			return nil, fmt.Errorf("%w: key file: argon2id without parameters", ErrMalformed)
		}
		if err := k.Params.Validate(); err != nil {
			return nil, fmt.Errorf("%w: key file: %v", ErrMalformed, err)
		}
		if len(k.Salt) < 16 || len(k.Salt) > 64 {
			return nil, fmt.Errorf("%w: key file: salt of %d bytes", ErrMalformed, len(k.Salt))
		}
	case KDFNone:
		if k.Params != nil || len(k.Salt) != 0 {
			return nil, fmt.Errorf("%w: key file: kdf none with parameters or salt", ErrMalformed)
		}
	default:
		return nil, fmt.Errorf("%w: key file: unknown kdf %q", ErrMalformed, k.KDF)
	}
	if len(k.Sealed) != crypto.MasterKeySize+crypto.Overhead {
		return nil, fmt.Errorf("%w: key file: sealed master key of %d bytes, want %d", ErrMalformed, len(k.Sealed), crypto.MasterKeySize+crypto.Overhead)
	}
	return &k, nil
}

// Credentials are what a user gives to open a repository: a password or a
// key-encryption key of 64 hex digits. They never appear in errors or logs.
type Credentials struct {
	Password []byte
	KEK      *crypto.Key
}

func (c Credentials) kdf() string {
	if c.KEK != nil {
		return KDFNone
	}
	return KDFArgon2id
}

// unwrapKey derives the key-encryption key for k from creds (if k's kind
// matches) and opens the master key.
func (k *KeyFile) unwrap(creds Credentials) (*crypto.MasterKey, bool, error) {
	if k.KDF != creds.kdf() {
		return nil, false, nil
	}
	kek := creds.KEK
	if kek == nil {
		var err error
		if kek, err = crypto.DeriveKey(creds.Password, k.Salt, *k.Params); err != nil {
			return nil, false, err
		}
	}
	plain, err := kek.Open(nil, k.Sealed, keyAD())
	if err != nil {
		return nil, false, nil
	}
	defer clear(plain)
	mk, err := crypto.UnmarshalMasterKey(plain)
	if err != nil {
		return nil, false, fmt.Errorf("%w: key file %s: %v", ErrMalformed, k.id.Short(), err)
	}
	return mk, true, nil
}

// newKeyFile wraps mk for creds.
func newKeyFile(mk *crypto.MasterKey, creds Credentials, params crypto.KDFParams, now time.Time, host, user string) (*KeyFile, error) {
	k := &KeyFile{Version: 1, Created: now.UTC(), Host: host, User: user, KDF: creds.kdf()}
	kek := creds.KEK
	if kek == nil {
		if len(creds.Password) == 0 {
			return nil, fmt.Errorf("an empty password is not allowed")
		}
		k.Params = &params
		k.Salt = crypto.RandomBytes(crypto.SaltSize)
		var err error
		if kek, err = crypto.DeriveKey(creds.Password, k.Salt, params); err != nil {
			return nil, err
		}
	}
	plain := mk.Marshal()
	defer clear(plain)
	k.Sealed = kek.Seal(nil, plain, keyAD())
	return k, nil
}

// KeyCredentials reads the text of a key file, 64 hex digits used as the
// key-encryption key without stretching. Errors never quote the text.
func KeyCredentials(text string) (Credentials, error) {
	kek, err := crypto.ParseKEK(text)
	if err != nil {
		return Credentials{}, err
	}
	return Credentials{KEK: kek}, nil
}

// NewKeyText returns a new random key of 64 hex digits, for a key file.
func NewKeyText() string { return crypto.NewKEKText() }
