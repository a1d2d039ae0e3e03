package prune

import "errors"

// Errors. Each is wrapped with what was found and what to do.
var (
	// ErrUnusable: the repository is damaged in a way that makes it unsafe
	// to decide what is unused (a snapshot or tree cannot be read, blobs
	// that snapshots use are in no pack, a pack the index names is gone).
	// Nothing was changed.
	ErrUnusable = errors.New("prune: the repository needs repair first")
	// ErrRepack: a pack could not be read while its used blobs were copied
	// out. Nothing was deleted or condemned.
	ErrRepack = errors.New("prune: a pack could not be repacked")
)
