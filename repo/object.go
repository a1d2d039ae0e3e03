package repo

import (
	"context"
	"errors"
	"fmt"

	"github.com/cairnbackup/cairn/backend"
	"github.com/cairnbackup/cairn/crypto"
)

// maxObjectSize bounds sealed objects read whole into memory (index
// segments, snapshots, locks, key files).
const maxObjectSize = 1 << 30

// objectAD binds a sealed object to its kind, so that a snapshot cannot be
// passed off as an index segment or a lock.
func objectAD(t backend.FileType) []byte {
	return []byte("cairn " + string(t) + " v1")
}

// saveObject seals plain and stores it under the hash of the sealed bytes.
func (r *Repository) saveObject(ctx context.Context, t backend.FileType, plain []byte) (crypto.ID, error) {
	b := r.key.Sealer().Seal(nil, plain, objectAD(t))
	return r.saveRaw(ctx, t, b)
}

// saveRaw stores b under its hash.
func (r *Repository) saveRaw(ctx context.Context, t backend.FileType, b []byte) (crypto.ID, error) {
	id := crypto.Hash(b)
	h := backend.Handle{Type: t, Name: id.String()}
	if err := r.be.Save(ctx, h, backend.NewByteReader(b)); err != nil {
		return id, fmt.Errorf("save %s: %w", h, err)
	}
	return id, nil
}

// loadRaw reads an object whole and checks that its bytes hash to its name.
func (r *Repository) loadRaw(ctx context.Context, t backend.FileType, id crypto.ID) ([]byte, error) {
	h := backend.Handle{Type: t, Name: id.String()}
	b, err := backend.LoadAll(ctx, r.be, h)
	if err != nil {
		if errors.Is(err, backend.ErrNotFound) {
			return nil, fmt.Errorf("load %s: %w", h, err)
		}
		return nil, fmt.Errorf("load %s: %w", h, err)
	}
	if len(b) > maxObjectSize {
		return nil, fmt.Errorf("%w: %s is %d bytes", ErrMalformed, h, len(b))
	}
	if got := crypto.Hash(b); got != id {
		return nil, fmt.Errorf("%w: %s: content hashes to %s (damaged in storage)", ErrCorrupt, h, got.Short())
	}
	return b, nil
}

// loadObject reads, verifies and opens a sealed object.
func (r *Repository) loadObject(ctx context.Context, t backend.FileType, id crypto.ID) ([]byte, error) {
	b, err := r.loadRaw(ctx, t, id)
	if err != nil {
		return nil, err
	}
	plain, err := r.key.Sealer().Open(nil, b, objectAD(t))
	if err != nil {
		return nil, fmt.Errorf("%w: %s/%s does not open with the repository key", ErrCorrupt, t, id)
	}
	return plain, nil
}

// listIDs returns the names of all objects of type t that parse as ids;
// other names are reported through the logger and skipped.
func (r *Repository) listIDs(ctx context.Context, t backend.FileType) ([]crypto.ID, error) {
	var ids []crypto.ID
	err := r.be.List(ctx, t, func(fi backend.FileInfo) error {
		id, err := crypto.ParseID(fi.Name)
		if err != nil {
			r.logf("ignoring %s/%s: not an object name", t, fi.Name)
			return nil
		}
		ids = append(ids, id)
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("list %s: %w", t, err)
	}
	return ids, nil
}
