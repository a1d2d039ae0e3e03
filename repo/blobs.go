package repo

import (
	"context"
	"fmt"
	"io"
	"slices"
	"time"

	"github.com/cairnbackup/cairn/backend"
	"github.com/cairnbackup/cairn/crypto"
	"github.com/cairnbackup/cairn/index"
	"github.com/cairnbackup/cairn/pack"
)

// BlobID returns the id plain would be stored under.
func (r *Repository) BlobID(plain []byte) ID { return r.key.BlobID(plain) }

// BlobHasher names bytes streamed through it: Sum appends the id BlobID
// gives for all the bytes written so far, and writing may go on after.
type BlobHasher interface {
	io.Writer
	Sum(b []byte) []byte
}

// NewBlobHasher returns a streaming BlobID.
func (r *Repository) NewBlobHasher() BlobHasher { return r.key.NewBlobHasher() }

// SaveBlob stores plain as a blob of type t unless the repository already
// has it, and returns its id and the number of bytes it added to a pack
// (0 when the blob was known). A blob that lives only in condemned packs
// counts as absent and is stored again. Concurrent calls with the same
// bytes store them once. The blob is durable only after Flush.
func (r *Repository) SaveBlob(ctx context.Context, t BlobType, plain []byte) (ID, int, error) {
	id := r.key.BlobID(plain)
	n, err := r.SaveBlobWithID(ctx, t, id, plain)
	return id, n, err
}

// SaveBlobWithID is SaveBlob for a caller that has already computed id
// with BlobID.
func (r *Repository) SaveBlobWithID(ctx context.Context, t BlobType, id ID, plain []byte) (int, error) {
	if len(plain) > MaxBlobSize {
		return 0, fmt.Errorf("save blob %s: %d bytes exceeds the limit of %d", id.Short(), len(plain), MaxBlobSize)
	}
	known, err := r.reserve(t, id)
	if err != nil || known {
		return 0, err
	}
	s, err := r.codec.seal(t, id, plain)
	n := len(s.bytes)
	if err == nil {
		err = r.packer.add(ctx, s)
		r.codec.release(&s)
	}
	if err != nil {
		r.mu.Lock()
		delete(r.pending, blobKey{t, id})
		r.mu.Unlock()
		return 0, err
	}
	return n, nil
}

// reserve reports whether the blob is known; if not, it marks it as being
// stored so that concurrent savers of the same bytes skip it.
func (r *Repository) reserve(t BlobType, id ID) (bool, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	k := blobKey{t, id}
	if _, ok := r.pending[k]; ok || r.recorded.has(k) {
		return true, nil
	}
	if r.onlyOurs != nil && !r.onlyOurs.mayHave(k) {
		r.addPending(k)
		return false, nil
	}
	_, ok, err := r.cache.Lookup(t, id)
	if err != nil {
		return false, fmt.Errorf("look up blob %s: %w", id.Short(), err)
	}
	if ok {
		return true, nil
	}
	r.addPending(k)
	return false, nil
}

// addPending reserves a blob; r.mu is held.
func (r *Repository) addPending(k blobKey) {
	r.pending[k] = struct{}{}
	r.pendingHigh = max(r.pendingHigh, len(r.pending))
}

// shrinkPending rebuilds the pending map once it holds far fewer blobs than
// it once did: a Go map keeps its largest size, and a snapshot of a million
// small files passes hundreds of thousands of blobs through it. r.mu is held.
func (r *Repository) shrinkPending() {
	if r.pendingHigh < 4096 || len(r.pending) > r.pendingHigh/4 {
		return
	}
	m := make(map[blobKey]struct{}, len(r.pending))
	for k := range r.pending {
		m[k] = struct{}{}
	}
	r.pending, r.pendingHigh = m, len(m)
}

// unindexedLocation finds a blob in the uploaded packs that no segment
// names yet; r.mu is held. It scans them: only a reader of blobs it has
// just saved asks.
func (r *Repository) unindexedLocation(t BlobType, id ID) (BlobLocation, bool) {
	for _, p := range r.unindexed {
		for _, e := range p.Blobs {
			if e.Type == t && e.ID == id {
				return index.Location{Pack: p.ID, Entry: e}, true
			}
		}
	}
	return BlobLocation{}, false
}

// HasBlob reports whether the repository holds the blob outside condemned
// packs, or it was saved in this session.
func (r *Repository) HasBlob(t BlobType, id ID) (bool, error) {
	k := blobKey{t, id}
	r.mu.Lock()
	_, ok := r.pending[k]
	ok = ok || r.recorded.has(k)
	r.mu.Unlock()
	if ok {
		return true, nil
	}
	_, ok, err := r.cache.Lookup(t, id)
	return ok, err
}

// BlobLocation says where a blob is stored.
type BlobLocation = index.Location

// LookupBlob returns where to read a blob: a copy in a pack that no prune
// condemned if there is one, else a copy in a condemned pack, which stays
// readable until a prune deletes it (a snapshot that deduplicated against
// the pack before its condemnation restores meanwhile, and the next prune
// revives the pack). Writers never use condemned copies: see SaveBlob.
func (r *Repository) LookupBlob(t BlobType, id ID) (BlobLocation, error) {
	k := blobKey{t, id}
	r.mu.Lock()
	_, ok := r.pending[k]
	var uploaded BlobLocation
	var found bool
	if ok {
		uploaded, found = r.unindexedLocation(t, id)
	}
	recorded := !ok && r.recorded.has(k)
	r.mu.Unlock()
	if found {
		return uploaded, nil
	}
	if ok {
		return index.Location{}, fmt.Errorf("%w: %s blob %s is not flushed yet", ErrBlobNotFound, t, id.Short())
	}
	if recorded {
		// Its segment is recorded but its row not written: write the
		// session's rows now (a reader of blobs it has just saved).
		if err := r.completeRecorded(); err != nil {
			return index.Location{}, fmt.Errorf("look up %s blob %s: %w", t, id.Short(), err)
		}
	}
	loc, ok, err := r.cache.Lookup(t, id)
	if err != nil {
		return loc, fmt.Errorf("look up %s blob %s: %w", t, id.Short(), err)
	}
	if ok {
		return loc, nil
	}
	locs, err := r.cache.Locations(t, id)
	if err != nil {
		return loc, fmt.Errorf("look up %s blob %s: %w", t, id.Short(), err)
	}
	if len(locs) == 0 {
		return loc, fmt.Errorf("%w: %s blob %s", ErrBlobNotFound, t, id.Short())
	}
	return locs[0], nil
}

// LoadBlob reads, opens and verifies a blob, appending its plaintext to
// buf's storage when it fits.
func (r *Repository) LoadBlob(ctx context.Context, t BlobType, id ID, buf []byte) ([]byte, error) {
	loc, err := r.LookupBlob(t, id)
	if err != nil {
		return nil, err
	}
	return r.LoadBlobAt(ctx, loc, buf)
}

// LoadBlobAt reads one blob from a known location. The blob is opened
// inside the backend's read, so that a copy that fails to open (an error
// wrapping backend.ErrCorrupt) lets a multi-location backend read another.
func (r *Repository) LoadBlobAt(ctx context.Context, loc BlobLocation, buf []byte) ([]byte, error) {
	h := backend.Handle{Type: backend.PackFile, Name: loc.Pack.String()}
	var plain []byte
	sealedBytes := make([]byte, loc.Length)
	err := r.be.Load(ctx, h, int(loc.Length), int64(loc.Offset), func(rd io.Reader) error {
		if _, err := io.ReadFull(rd, sealedBytes); err != nil {
			if err == io.ErrUnexpectedEOF || err == io.EOF {
				return fmt.Errorf("%w: %v", backend.ErrShortRead, err)
			}
			return err
		}
		var err error
		plain, err = r.OpenBlob(loc.Entry, sealedBytes, buf)
		if err != nil {
			return fmt.Errorf("pack %s: %w", loc.Pack.Short(), err)
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("load %s blob %s from pack %s: %w", loc.Type, loc.ID.Short(), loc.Pack.Short(), err)
	}
	return plain, nil
}

// OpenBlob authenticates, decompresses and verifies the sealed bytes of
// one blob described by e.
func (r *Repository) OpenBlob(e pack.Entry, sealedBytes, buf []byte) ([]byte, error) {
	return r.codec.open(e, sealedBytes, buf)
}

// Flush uploads every open pack and writes the index segment naming them.
// After Flush returns, every blob saved before it is durable and indexed.
func (r *Repository) Flush(ctx context.Context) error {
	if err := r.packer.flush(ctx); err != nil {
		return err
	}
	if err := r.writeSegment(ctx); err != nil {
		return err
	}
	return r.completeRecorded()
}

// packUploaded records a durable pack and writes a segment when enough
// packs wait for one.
func (r *Repository) packUploaded(ctx context.Context, info index.PackInfo) error {
	r.mu.Lock()
	if len(r.unindexed) == 0 {
		r.unindexedAt = time.Now()
	}
	r.unindexed = append(r.unindexed, info)
	n, blobs := len(r.unindexed), 0
	for _, p := range r.unindexed {
		blobs += len(p.Blobs)
	}
	age := time.Since(r.unindexedAt)
	r.mu.Unlock()
	if n >= segmentPacks || blobs >= segmentBlobs || age >= segmentAge {
		return r.writeSegment(ctx)
	}
	return nil
}

// checkpointTimeout bounds Checkpoint, which runs after an interruption.
const checkpointTimeout = 30 * time.Second

// Checkpoint writes an index segment for the packs already uploaded, so
// that an interrupted snapshot keeps its work: the next run deduplicates
// against them. Open packs are not finished. It runs even when ctx is
// cancelled (an interruption is why it is called), within 30 s.
func (r *Repository) Checkpoint(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), checkpointTimeout)
	defer cancel()
	return r.writeSegment(ctx)
}

// writeSegment stores an index segment for the uploaded packs not yet in
// one and adds it to the cache, or, in a large cache, records it there:
// its blobs then move from the pending set to the recorded one, whose rows
// are written once enough wait (see deferAbove).
func (r *Repository) writeSegment(ctx context.Context) error {
	r.segMu.Lock()
	defer r.segMu.Unlock()
	r.mu.Lock()
	packs := r.unindexed
	r.unindexed = nil
	r.mu.Unlock()
	if len(packs) == 0 {
		return nil
	}
	seg := &index.Segment{Packs: packs}
	add := r.cache.Add
	_, cached, err := r.cache.Counts()
	deferRows := err == nil && cached >= deferAbove
	if deferRows {
		add = r.cache.Record
	}
	id, err := r.saveIndexSegment(ctx, seg, add)
	if err != nil {
		r.mu.Lock()
		r.unindexed = append(packs, r.unindexed...)
		r.mu.Unlock()
		return err
	}
	r.mu.Lock()
	for _, p := range packs {
		for _, e := range p.Blobs {
			k := blobKey{e.Type, e.ID}
			if r.onlyOurs != nil {
				r.onlyOurs.add(k)
			}
			delete(r.pending, k)
			if deferRows {
				r.recorded.add(k)
			}
		}
	}
	if !deferRows {
		r.recorded.reset() // Add wrote the rows of every recorded segment too
	}
	r.shrinkPending()
	full := r.recorded.len() >= recordedBlobs
	r.mu.Unlock()
	if deferRows {
		r.logf("wrote index segment %s for %d packs (its cache rows wait for the end of the session)", id.Short(), len(packs))
	} else {
		r.logf("wrote index segment %s for %d packs", id.Short(), len(packs))
	}
	if full {
		return r.completeRecordedLocked()
	}
	return nil
}

// completeRecorded writes the cache rows of the recorded segments.
func (r *Repository) completeRecorded() error {
	r.segMu.Lock()
	defer r.segMu.Unlock()
	return r.completeRecordedLocked()
}

// completeRecordedLocked is completeRecorded with r.segMu held, so that no
// segment is recorded meanwhile: the recorded set answers for its blobs
// until the cache does.
func (r *Repository) completeRecordedLocked() error {
	r.mu.Lock()
	n := r.recorded.len()
	r.mu.Unlock()
	if n == 0 {
		return nil
	}
	if err := r.cache.Complete(); err != nil {
		return fmt.Errorf("write the index rows of this session's segments to the cache: %w", err)
	}
	r.mu.Lock()
	r.recorded.reset()
	r.mu.Unlock()
	return nil
}

// SaveIndexSegment stores seg as a new index segment and adds it to the
// local cache. Callers must only name packs that are already durable.
func (r *Repository) SaveIndexSegment(ctx context.Context, seg *index.Segment) (ID, error) {
	r.notOnlyOurs()
	return r.saveIndexSegment(ctx, seg, r.cache.Add)
}

// saveIndexSegment stores seg and hands it to the cache with add (Add, or
// Record for a segment whose rows wait).
func (r *Repository) saveIndexSegment(ctx context.Context, seg *index.Segment, add func(crypto.ID, *index.Segment) error) (ID, error) {
	seg.Packs = slices.Clone(seg.Packs)
	id, err := r.saveObject(ctx, backend.IndexFile, seg.Encode())
	if err != nil {
		return id, fmt.Errorf("write index segment: %w", err)
	}
	if err := add(id, seg); err != nil {
		return id, fmt.Errorf("add index segment %s to the cache: %w", id.Short(), err)
	}
	return id, nil
}

// notOnlyOurs drops the session filter: the cache is about to gain rows
// this session did not hand it.
func (r *Repository) notOnlyOurs() {
	r.mu.Lock()
	r.onlyOurs = nil
	r.mu.Unlock()
}

// IndexCounts returns how many packs and blob entries the local index holds.
func (r *Repository) IndexCounts() (packs, blobs int, err error) {
	return r.cache.Counts()
}

// OpenBuffers hold one blob at a time for a caller that reads many blobs
// itself (restore, dump, check): the sealed bytes and, for a compressed
// blob, its plaintext. They are reused from blob to blob, so reading
// gigabytes allocates (and faults in) nothing per blob. The zero value is
// ready; not safe for concurrent use.
type OpenBuffers struct{ sealed, plain []byte }

// Sealed returns room for n sealed bytes, to be filled before the blob is
// opened. It replaces whatever the buffers held.
func (b *OpenBuffers) Sealed(n int) []byte {
	b.sealed = slices.Grow(b.sealed[:0], n)[:n]
	return b.sealed
}

// open opens the bytes in b.Sealed as the blob e, decrypting them where
// they lie. The plaintext is in b's storage, valid until b is used again.
func (b *OpenBuffers) open(c *blobCodec, e pack.Entry) ([]byte, error) {
	plain, err := c.openInPlace(e, b.sealed, b.plain[:0])
	if err == nil && e.RawLength != 0 && cap(plain) > cap(b.plain) {
		b.plain = plain[:0] // decompressed into a new, larger buffer: keep it
	}
	return plain, err
}

// OpenBlobAt opens the blob at loc, whose sealed bytes the caller read into
// bufs.Sealed (for example from a coalesced range of its pack). The
// plaintext lives in bufs, valid until bufs is used again.
func (r *Repository) OpenBlobAt(loc BlobLocation, bufs *OpenBuffers) ([]byte, error) {
	plain, err := bufs.open(r.codec, loc.Entry)
	if err != nil {
		return nil, fmt.Errorf("pack %s: %w", loc.Pack.Short(), err)
	}
	return plain, nil
}

// ReadPack calls fn with a reader of length bytes of a pack from offset.
func (r *Repository) ReadPack(ctx context.Context, id ID, offset int64, length int, fn func(io.Reader) error) error {
	h := backend.Handle{Type: backend.PackFile, Name: id.String()}
	if err := r.be.Load(ctx, h, length, offset, fn); err != nil {
		return fmt.Errorf("read pack %s: %w", id.Short(), err)
	}
	return nil
}
