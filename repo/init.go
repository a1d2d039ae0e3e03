package repo

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/user"

	"github.com/cairnbackup/cairn/backend"
	"github.com/cairnbackup/cairn/chunk"
	"github.com/cairnbackup/cairn/crypto"
)

// InitOptions choose a new repository's settings. The zero value gives the
// defaults.
type InitOptions struct {
	KDF         crypto.KDFParams // zero means crypto.DefaultKDF
	PackSize    int              // zero means DefaultPackSize
	Compression string           // empty or CompressionAuto means NewRepositoryCompression
}

// Init creates a repository in an empty backend: a fresh master key and
// chunker polynomial, a key file for creds, and the config. It refuses a
// backend that already holds a config or any key.
func Init(ctx context.Context, be backend.Backend, creds Credentials, iopts InitOptions, opts Options) (*Repository, error) {
	if _, err := be.Stat(ctx, backend.Handle{Type: backend.ConfigFile}); err == nil {
		return nil, fmt.Errorf("%w at %s", ErrExists, be.Location())
	} else if !errors.Is(err, backend.ErrNotFound) {
		return nil, fmt.Errorf("check %s: %w", be.Location(), err)
	}
	kinds, err := strayObjects(ctx, be)
	if err != nil {
		return nil, fmt.Errorf("check %s: %w", be.Location(), err)
	}
	if len(kinds) > 0 {
		return nil, fmt.Errorf("%w: %s holds repository objects (%s) but no config; refusing to touch it (if a `cairn sync` to it stopped, run that sync again; otherwise choose another location)", ErrExists, be.Location(), kindList(kinds))
	}
	cfg, err := newConfig(iopts)
	if err != nil {
		return nil, err
	}
	r := &Repository{be: be, opts: opts, pending: make(map[blobKey]struct{}), cfg: cfg}
	r.key = crypto.NewMasterKey(cfg.Polynomial)
	kdf := iopts.KDF
	if kdf == (crypto.KDFParams{}) {
		kdf = crypto.DefaultKDF
	}
	if r.keyID, err = r.addKey(ctx, creds, kdf); err != nil {
		return nil, err
	}
	b, err := encodeConfig(&r.cfg, r.key.Sealer())
	if err != nil {
		return nil, err
	}
	if err := be.Save(ctx, backend.Handle{Type: backend.ConfigFile}, backend.NewByteReader(b)); err != nil {
		return nil, fmt.Errorf("save config: %w", err)
	}
	if err := r.start(ctx, nil); err != nil {
		return nil, err
	}
	return r, nil
}

func newConfig(iopts InitOptions) (Config, error) {
	pol, err := chunk.RandomPolynomial()
	if err != nil {
		return Config{}, err
	}
	cfg := Config{
		Version:     FormatVersion,
		ID:          crypto.ID(crypto.RandomBytes(crypto.IDSize)),
		Polynomial:  pol,
		PackSize:    iopts.PackSize,
		Compression: iopts.Compression,
	}
	if cfg.PackSize == 0 {
		cfg.PackSize = DefaultPackSize
	}
	if cfg.Compression != "" {
		if err := CheckCompression(cfg.Compression); err != nil {
			return Config{}, fmt.Errorf("init: %w", err)
		}
	}
	if cfg.Compression == "" || cfg.Compression == CompressionAuto {
		cfg.Compression = NewRepositoryCompression
	}
	cfg.Created = timeNow().UTC()
	if err := cfg.validate(); err != nil {
		return Config{}, fmt.Errorf("init: %w", err)
	}
	return cfg, nil
}

// hostUser names the machine and user recorded in key files and locks.
func hostUser() (host, name string) {
	host, _ = os.Hostname()
	if u, err := user.Current(); err == nil {
		name = u.Username
	}
	return host, name
}
