package repo

import (
	"context"
	"errors"

	"github.com/cairnbackup/cairn/backend"
)

// SaveTestObject seals and stores an object as another process would.
func (r *Repository) SaveTestObject(ctx context.Context, t backend.FileType, plain []byte) (ID, error) {
	return r.saveObject(ctx, t, plain)
}

// PendingCounts returns how many blobs wait for an index segment and the
// most the pending set held since it was last rebuilt.
func (r *Repository) PendingCounts() (n, high int) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.pending), r.pendingHigh
}

// MaxPackBlobs is the most blobs a pack holds.
const MaxPackBlobs = maxPackBlobs

// DefaultCacheDirFor is DefaultCacheDir with its inputs given.
func DefaultCacheDirFor(env map[string]string, euid int, home string) (string, error) {
	return defaultCacheDir(func(k string) string { return env[k] }, euid, func() (string, error) {
		if home == "" {
			return "", errors.New("$HOME is not defined")
		}
		return home, nil
	})
}

// DecodeRecord decodes a history record's plaintext.
var DecodeRecord = decodeRecord

// NewEncoder is the encoder the repository uses at a compression level
// (nil for off).
var NewEncoder = newEncoder

// RecordedCount returns how many blobs are in segments recorded in the
// cache whose rows are not written yet.
func (r *Repository) RecordedCount() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.recorded.len()
}

// SessionFilterOn reports whether the session answers for absent blobs
// without asking the cache (it opened on an empty cache).
func (r *Repository) SessionFilterOn() bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.onlyOurs != nil
}
