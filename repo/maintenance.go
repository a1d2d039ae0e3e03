package repo

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/cairnbackup/cairn/backend"
	"github.com/cairnbackup/cairn/index"
)

// This file holds what garbage collection (package repo/prune) needs from
// a repository beyond saving and loading: a disk-backed set to mark the
// blobs snapshots use, a walk of every blob of the index merged with it,
// the condemnations, packing blobs that are already sealed, and removing
// index segments and packs.

// BlobSet is a disk-backed set of blobs; see index.BlobSet.
type BlobSet = index.BlobSet

// JoinedBlob is one blob with its copies and its mark; see Repository.JoinBlobs.
type JoinedBlob = index.JoinedBlob

// BlobCopy is one copy of a blob, in a pack that may be condemned.
type BlobCopy = index.BlobCopy

// Now returns the repository's clock (Options.Now, or the system's).
func (r *Repository) Now() time.Time { return r.now() }

// NewBlobSet returns an empty disk-backed blob set whose files live next to
// the index cache, sized for about expected blobs. Close it when done.
func (r *Repository) NewBlobSet(expected int) *BlobSet { return r.cache.NewBlobSet(expected) }

// JoinBlobs calls fn for every blob the local index knows, with all its
// copies, and for every blob of marks the index lacks, in blob order,
// saying for each whether marks holds it. marks must be sealed (or nil).
func (r *Repository) JoinBlobs(ctx context.Context, marks *BlobSet, fn func(*JoinedBlob) error) error {
	if err := r.cache.JoinBlobs(ctx, marks, fn); err != nil {
		return fmt.Errorf("walk the index: %w", err)
	}
	return nil
}

// ForEachCondemnation calls fn for every pack the index's segments condemn
// (whether or not a segment also lists its blobs), with the latest time.
func (r *Repository) ForEachCondemnation(ctx context.Context, fn func(Condemnation) error) error {
	return r.cache.ForEachCondemnation(func(cd index.Condemnation) error {
		if err := ctx.Err(); err != nil {
			return err
		}
		return fn(cd)
	})
}

// ForEachIndexedPackContents calls fn for every pack the local index
// knows, condemned ones included, with its blob entries.
func (r *Repository) ForEachIndexedPackContents(ctx context.Context, fn func(IndexedPack, PackContents) error) error {
	return r.cache.ForEachPackInfo(func(info index.PackInfo, p index.PackSummary) error {
		if err := ctx.Err(); err != nil {
			return err
		}
		return fn(p, info)
	})
}

// CachedIndexSegments returns the ids of the index segments the local
// cache holds: those in storage at the last SyncIndex, and those this
// process wrote since.
func (r *Repository) CachedIndexSegments() ([]ID, error) {
	return r.cache.Segments()
}

// SaveSealedBlob packs a blob that is already sealed (read from another
// pack, whose sealing binds only the blob's type and id), without looking
// it up or reserving it: prune copies each used blob out of sparse packs
// once, and nothing in the session reads it back before Flush (readers find
// the copy it came from). The caller has verified the bytes. Like SaveBlob,
// the blob is durable after Flush.
func (r *Repository) SaveSealedBlob(ctx context.Context, e BlobEntry, sealedBytes []byte) error {
	if len(sealedBytes) != int(e.Length) {
		return fmt.Errorf("save sealed blob %s: %d bytes, entry says %d", e.ID.Short(), len(sealedBytes), e.Length)
	}
	return r.packer.add(ctx, sealed{t: e.Type, id: e.ID, bytes: sealedBytes, rawLen: e.RawLength})
}

// RemoveIndexSegment removes an index segment from storage. The local
// cache forgets it at the next SyncIndex. A segment already gone is not an
// error.
func (r *Repository) RemoveIndexSegment(ctx context.Context, id ID) error {
	err := r.be.Remove(ctx, backend.Handle{Type: backend.IndexFile, Name: id.String()})
	if err != nil && !errors.Is(err, backend.ErrNotFound) {
		return fmt.Errorf("remove index segment %s: %w", id.Short(), err)
	}
	return nil
}

// RemovePack removes a pack from storage. A pack already gone is not an
// error.
func (r *Repository) RemovePack(ctx context.Context, id ID) error {
	err := r.be.Remove(ctx, backend.Handle{Type: backend.PackFile, Name: id.String()})
	if err != nil && !errors.Is(err, backend.ErrNotFound) {
		return fmt.Errorf("remove pack %s: %w", PackPath(id), err)
	}
	return nil
}
