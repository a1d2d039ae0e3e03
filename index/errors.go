package index

import "errors"

// Errors of segment decoding. Decode wraps one of them with the detail
// (which pack, which blob, which value); test with errors.Is.
var (
	ErrVersion   = errors.New("index: unknown segment version")
	ErrTruncated = errors.New("index: segment truncated")
	ErrTrailing  = errors.New("index: trailing bytes after segment")
	ErrCount     = errors.New("index: count larger than the segment could hold")
	ErrVarint    = errors.New("index: malformed or non-canonical varint")
	ErrBlobType  = errors.New("index: invalid blob type")
	ErrOverflow  = errors.New("index: value overflows its field")
	ErrDuplicate = errors.New("index: duplicate pack in segment")
	ErrSize      = errors.New("index: impossible size")
	ErrTime      = errors.New("index: condemnation time out of range")
)

// Errors of the local cache.
var (
	// ErrCorrupt means the cache file is damaged. The file is marked so that
	// the next OpenCache discards and rebuilds it; close the cache and open
	// it again.
	ErrCorrupt = errors.New("index: cache file corrupt")

	// ErrLocked means another process holds the cache file open.
	ErrLocked = errors.New("index: cache file locked by another process")

	// ErrSkipSegment may be returned (wrapped) by Sync's load function for a
	// segment that can no longer be read, for example because a concurrent
	// prune removed it after it was listed. Sync then skips the segment and
	// counts it in SyncStats.Skipped; the next Sync tries it again.
	ErrSkipSegment = errors.New("index: segment skipped")

	// ErrInconsistent means the cache's own bookkeeping contradicts itself,
	// which only a bug or a damaged file can cause. Like ErrCorrupt, it marks
	// the file for rebuilding.
	ErrInconsistent = errors.New("index: cache bookkeeping inconsistent")
)
