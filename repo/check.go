package repo

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"slices"
	"sync"

	"github.com/cairnbackup/cairn/backend"
	"github.com/cairnbackup/cairn/crypto"
	"github.com/cairnbackup/cairn/index"
	"github.com/cairnbackup/cairn/pack"
)

// This file holds what integrity checking (package check) needs from a
// repository beyond saving and loading: the packs in storage and in the
// index, the index segments one by one, pack headers, a read-and-verify
// pass over a whole pack, and the local key/value store for check results.

// BlobEntry describes one sealed blob in a pack, as the pack's header and
// the index record it.
type BlobEntry = pack.Entry

// IndexedPack summarises a pack the local index knows: its id, size, blob
// count, and whether (and since when) prune condemned it.
type IndexedPack = index.PackSummary

// PackContents is a pack's size and blob entries as the index records them.
type PackContents = index.PackInfo

// IndexSegment is the decoded content of one index segment.
type IndexSegment = index.Segment

// Condemnation records that prune found a pack dead, and when.
type Condemnation = index.Condemnation

// StoredPack is a pack object found in storage.
type StoredPack struct {
	ID   ID
	Size int64
}

// PackPath returns a pack's object path, "data/3f/3f09…", for messages.
func PackPath(id ID) string {
	return backend.Path(backend.Handle{Type: backend.PackFile, Name: id.String()})
}

// ListPacks calls fn for every pack in storage, with its size. Names that
// are not object ids are logged and skipped.
func (r *Repository) ListPacks(ctx context.Context, fn func(StoredPack) error) error {
	err := r.be.List(ctx, backend.PackFile, func(fi backend.FileInfo) error {
		id, err := crypto.ParseID(fi.Name)
		if err != nil {
			r.logf("ignoring data/%s: not an object name", fi.Name)
			return nil
		}
		return fn(StoredPack{ID: id, Size: fi.Size})
	})
	if err != nil {
		return fmt.Errorf("list packs: %w", err)
	}
	return nil
}

// ForEachIndexedPack calls fn for every pack the local index knows,
// condemned ones included, in no particular order. It stops when ctx is
// cancelled.
func (r *Repository) ForEachIndexedPack(ctx context.Context, fn func(IndexedPack) error) error {
	return r.cache.ForEachPack(func(p index.PackSummary) error {
		if err := ctx.Err(); err != nil {
			return err
		}
		return fn(p)
	})
}

// IndexedPackContents returns the size and blob entries the index records
// for a pack, and false when the index does not know the pack.
func (r *Repository) IndexedPackContents(id ID) (PackContents, bool, error) {
	p, ok, err := r.cache.Pack(id)
	if err != nil {
		return p, false, fmt.Errorf("look up pack %s in the index: %w", id.Short(), err)
	}
	return p, ok, nil
}

// BlobLocations returns every location of a blob the index knows,
// condemned packs included.
func (r *Repository) BlobLocations(t BlobType, id ID) ([]BlobLocation, error) {
	locs, err := r.cache.Locations(t, id)
	if err != nil {
		return nil, fmt.Errorf("look up %s blob %s: %w", t, id.Short(), err)
	}
	return locs, nil
}

// IndexSegmentIDs lists the index segments in storage.
func (r *Repository) IndexSegmentIDs(ctx context.Context) ([]ID, error) {
	return r.listIDs(ctx, backend.IndexFile)
}

// LoadIndexSegment reads one index segment from storage, checks that its
// bytes hash to its name, opens and decodes it. Errors name the segment and
// wrap ErrCorrupt or ErrMalformed for damage.
func (r *Repository) LoadIndexSegment(ctx context.Context, id ID) (*IndexSegment, error) {
	return r.loadSegment(ctx, id)
}

// loadSegmentTolerant is loadSegment for Options.SkipDamagedIndex: a
// damaged segment is logged and skipped instead of failing the sync.
func (r *Repository) loadSegmentTolerant(ctx context.Context, id crypto.ID) (*index.Segment, error) {
	seg, err := r.loadSegment(ctx, id)
	if err != nil && (errors.Is(err, ErrCorrupt) || errors.Is(err, ErrMalformed) || errors.Is(err, backend.ErrNotFound)) {
		r.logf("skipping damaged index segment %s: %v", id.Short(), err)
		return nil, fmt.Errorf("%w: %v", index.ErrSkipSegment, err)
	}
	return seg, err
}

// segmentLoader returns the loader SyncIndex uses.
func (r *Repository) segmentLoader() func(context.Context, crypto.ID) (*index.Segment, error) {
	if r.opts.SkipDamagedIndex {
		return r.loadSegmentTolerant
	}
	return r.loadSegment
}

// KeyFileStatus lists the key files and the ones that cannot be parsed.
type KeyFileStatus struct {
	Good    int
	Damaged map[ID]error
}

// CheckKeyFiles reads every key file and reports those that are damaged
// (their bytes do not hash to their name, or they do not parse).
func (r *Repository) CheckKeyFiles(ctx context.Context) (KeyFileStatus, error) {
	ids, err := r.listIDs(ctx, backend.KeyFile)
	if err != nil {
		return KeyFileStatus{}, err
	}
	st := KeyFileStatus{Damaged: map[ID]error{}}
	raws, errs := r.readKeyFiles(ctx, ids)
	if ctx.Err() != nil {
		return st, ctx.Err()
	}
	for i, id := range ids {
		err := errs[i]
		if err == nil {
			_, err = decodeKeyFile(raws[i])
		}
		if err != nil {
			st.Damaged[id] = err
			continue
		}
		st.Good++
	}
	return st, nil
}

// packReaderAt reads ranges of a pack through the backend.
type packReaderAt struct {
	ctx context.Context
	be  backend.Backend
	h   backend.Handle
}

func (p packReaderAt) ReadAt(b []byte, off int64) (int, error) {
	err := p.be.Load(p.ctx, p.h, len(b), off, func(rd io.Reader) error {
		_, err := io.ReadFull(rd, b)
		return err
	})
	if err != nil {
		return 0, err
	}
	return len(b), nil
}

// ReadPackHeader reads, authenticates and parses the header of a pack of
// the given size, with at most two ranged reads.
func (r *Repository) ReadPackHeader(ctx context.Context, id ID, size int64) ([]BlobEntry, error) {
	h := backend.Handle{Type: backend.PackFile, Name: id.String()}
	entries, err := pack.ReadHeader(packReaderAt{ctx: ctx, be: r.be, h: h}, size, r.key.Sealer())
	if err != nil {
		return nil, fmt.Errorf("pack %s: header: %w", id.Short(), err)
	}
	return entries, nil
}

// BlobCheck is the outcome of opening one blob of a pack.
type BlobCheck struct {
	Entry BlobEntry
	Err   error // nil when the blob opened, decompressed and hashed to its id
}

// PackVerification is what reading a whole pack found.
type PackVerification struct {
	ID        ID
	Size      int64       // bytes read
	Hash      ID          // hash of the bytes read; equals ID for a sound pack
	Header    []BlobEntry // the pack's own header, when it opened
	HeaderErr error       // why the header could not be read, opened or parsed
	Blobs     []BlobCheck // every blob looked at, in pack order
}

// OK reports whether the pack is sound: its bytes hash to its name, its
// header opens and every blob verifies.
func (v *PackVerification) OK() bool {
	if v.Hash != v.ID || v.HeaderErr != nil {
		return false
	}
	for _, b := range v.Blobs {
		if b.Err != nil {
			return false
		}
	}
	return true
}

// DamagedBlobs returns the entries of the blobs that failed.
func (v *PackVerification) DamagedBlobs() []BlobEntry {
	var out []BlobEntry
	for _, b := range v.Blobs {
		if b.Err != nil {
			out = append(out, b.Entry)
		}
	}
	return out
}

// verifyBufs are the per-call buffers of VerifyPack, pooled because blobs
// are up to 8 MiB and a check reads every pack.
type verifyBufs struct {
	OpenBuffers
	tail []byte
}

var verifyPool = sync.Pool{New: func() any { return new(verifyBufs) }}

// VerifyPack reads a pack once from start to end, hashing every byte, and
// opens, decompresses and verifies every blob listed in entries (the
// index's view of the pack). The pack's own header, read from the end of
// the same stream, is returned for comparison. When entries is nil, or
// does not tile the pack, the header is read first and used instead. An
// error means the pack could not be read at all (missing, or the backend
// failed); damage is reported in the result.
func (r *Repository) VerifyPack(ctx context.Context, id ID, size int64, entries []BlobEntry) (*PackVerification, error) {
	entries = slices.Clone(entries)
	slices.SortFunc(entries, func(a, b BlobEntry) int { return int(int64(a.Offset) - int64(b.Offset)) })
	var headerErr error
	if !tiles(entries) {
		entries, headerErr = r.ReadPackHeader(ctx, id, size)
		if headerErr != nil && ctx.Err() != nil {
			return nil, ctx.Err()
		}
	}
	bufs := verifyPool.Get().(*verifyBufs)
	defer verifyPool.Put(bufs)
	var v *PackVerification
	h := backend.Handle{Type: backend.PackFile, Name: id.String()}
	err := r.be.Load(ctx, h, 0, 0, func(rd io.Reader) error {
		v = &PackVerification{ID: id}
		return r.verifyStream(ctx, v, rd, entries, bufs)
	})
	if err != nil {
		return nil, fmt.Errorf("read pack %s: %w", id.Short(), err)
	}
	if v.Hash == (ID{}) {
		// Not every byte was authenticated (a gap, a cut, a blob or the
		// header that did not open): the pack's hash tells whether its
		// bytes are the ones it was named for. A second read, for damage only.
		err := r.be.Load(ctx, h, 0, 0, func(rd io.Reader) error {
			hasher := crypto.NewHasher()
			if _, err := io.Copy(hasher, rd); err != nil {
				return err
			}
			v.Hash = crypto.IDFromHasher(hasher)
			return nil
		})
		if err != nil {
			return nil, fmt.Errorf("read pack %s again to hash it: %w", id.Short(), err)
		}
	}
	if v.HeaderErr == nil && headerErr != nil {
		v.HeaderErr = headerErr
	}
	return v, nil
}

// tiles reports whether sorted entries could describe a pack: at least
// one, and none overlapping the one before. (Entries past the pack's end
// are allowed: VerifyPack reports those blobs as cut off.)
func tiles(entries []BlobEntry) bool {
	if len(entries) == 0 {
		return false
	}
	var next int64
	for _, e := range entries {
		if int64(e.Offset) < next {
			return false
		}
		next = int64(e.Offset) + int64(e.Length)
	}
	return true
}

// countingReader counts the bytes read through it.
type countingReader struct {
	r io.Reader
	n int64
}

func (cr *countingReader) Read(p []byte) (int, error) {
	n, err := cr.r.Read(p)
	cr.n += int64(n)
	return n, err
}

// verifyStream is VerifyPack's pass over the pack's bytes. When the blobs
// lie end to end from the pack's first byte, each opens (authenticated
// encryption, then its plaintext hashed to its id) and the header that
// opens fills the rest, every byte of the pack was authenticated: it is
// the pack its name was given to, and v.Hash is set to the name without
// hashing the bytes a second time. Otherwise v.Hash stays zero, and
// VerifyPack hashes the pack.
func (r *Repository) verifyStream(ctx context.Context, v *PackVerification, rd io.Reader, entries []BlobEntry, bufs *verifyBufs) error {
	hr := &countingReader{r: rd}
	truncated, gaps := false, false
	for _, e := range entries {
		if err := ctx.Err(); err != nil {
			return err
		}
		if truncated {
			v.Blobs = append(v.Blobs, BlobCheck{Entry: e, Err: fmt.Errorf("%w: blob %s: the pack ends at %d, before the blob's end at %d", ErrCorrupt, e.ID.Short(), hr.n, int64(e.Offset)+int64(e.Length))})
			continue
		}
		if skip := int64(e.Offset) - hr.n; skip > 0 {
			gaps = true
			if _, err := io.CopyN(io.Discard, hr, skip); err != nil {
				truncated = true
				v.Blobs = append(v.Blobs, BlobCheck{Entry: e, Err: fmt.Errorf("%w: blob %s: the pack ends before it", ErrCorrupt, e.ID.Short())})
				continue
			}
		}
		if _, err := io.ReadFull(hr, bufs.Sealed(int(e.Length))); err != nil {
			if !isShort(err) {
				return err
			}
			truncated = true
			v.Blobs = append(v.Blobs, BlobCheck{Entry: e, Err: fmt.Errorf("%w: blob %s: the pack ends at %d, before the blob's end at %d", ErrCorrupt, e.ID.Short(), hr.n, int64(e.Offset)+int64(e.Length))})
			continue
		}
		_, err := bufs.open(r.codec, e)
		v.Blobs = append(v.Blobs, BlobCheck{Entry: e, Err: err})
	}
	tail := bytesBuffer{b: bufs.tail[:0]}
	if _, err := io.Copy(&tail, hr); err != nil {
		return err
	}
	bufs.tail = tail.b[:0]
	v.Size = hr.n
	v.Header, v.HeaderErr = r.openTailHeader(tail.b, hr.n)
	if !gaps && !truncated && v.HeaderErr == nil && headerFills(tail.b) && len(v.Blobs) > 0 && v.DamagedBlobs() == nil {
		v.Hash = v.ID
	}
	return nil
}

// headerFills reports whether the bytes after a pack's last blob are its
// header and the header's length, nothing else.
func headerFills(tail []byte) bool {
	return len(tail) >= 4 && int64(binary.LittleEndian.Uint32(tail[len(tail)-4:]))+4 == int64(len(tail))
}

// openInPlace is blobCodec.open for sealed bytes that are not needed
// afterwards: it decrypts them where they lie, so that reading a whole
// repository allocates nothing per blob.
func (c *blobCodec) openInPlace(e pack.Entry, b, dst []byte) ([]byte, error) {
	if len(b) != int(e.Length) || len(b) < crypto.Overhead {
		return c.open(e, b, dst) // reports the length mismatch
	}
	payload, err := c.key.Sealer().Open(b[crypto.NonceSize:crypto.NonceSize], b, pack.BlobAD(e.Type, e.ID))
	if err != nil {
		return nil, errNotAuthentic(e)
	}
	return c.plaintext(e, payload, dst)
}

func isShort(err error) bool {
	return errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, io.EOF) || errors.Is(err, backend.ErrShortRead)
}

// bytesBuffer is a minimal append-only writer that reuses its slice.
type bytesBuffer struct{ b []byte }

func (w *bytesBuffer) Write(p []byte) (int, error) {
	w.b = append(w.b, p...)
	return len(p), nil
}

// openTailHeader opens the header at the end of a pack of total bytes,
// given the bytes after the last blob.
func (r *Repository) openTailHeader(tail []byte, total int64) ([]BlobEntry, error) {
	if len(tail) < 4 {
		return nil, fmt.Errorf("%w: %d bytes after the last blob", pack.ErrTooShort, len(tail))
	}
	hlen := int64(binary.LittleEndian.Uint32(tail[len(tail)-4:]))
	if hlen < crypto.Overhead+1 || hlen+4 > int64(len(tail)) {
		return nil, fmt.Errorf("%w: header length %d with %d bytes after the last blob", pack.ErrHeaderLength, hlen, len(tail))
	}
	sealed := tail[int64(len(tail))-4-hlen : len(tail)-4]
	return pack.OpenHeader(sealed, total-4-hlen, r.key.Sealer())
}

// SameEntries reports whether two descriptions of a pack's blobs agree,
// in any order.
func SameEntries(a, b []BlobEntry) bool {
	if len(a) != len(b) {
		return false
	}
	byOffset := func(x, y BlobEntry) int { return int(int64(x.Offset) - int64(y.Offset)) }
	a, b = slices.Clone(a), slices.Clone(b)
	slices.SortFunc(a, byOffset)
	slices.SortFunc(b, byOffset)
	return slices.Equal(a, b)
}

// LoadTreeUncached reads and decodes a tree blob from storage, never from
// the local object cache: a check must see what storage holds. A tree
// read brings its neighbours in the pack along (one ranged read, as
// LoadTree does), each verified, and keeps them in memory until the walk
// asks for them: a walk of many levels costs a round trip for each
// window, not for each tree.
func (r *Repository) LoadTreeUncached(ctx context.Context, id ID) (*Tree, error) {
	t, _, err := r.loadTreeStashed(ctx, id)
	return t, err
}

// SnapshotsUncached is Snapshots reading every snapshot object from
// storage, never from the local object cache.
func (r *Repository) SnapshotsUncached(ctx context.Context, onError func(ID, error) error) ([]*Snapshot, error) {
	ids, err := r.listIDs(ctx, backend.SnapshotFile)
	if err != nil {
		return nil, err
	}
	return collectSnapshots(ctx, ids, func(ctx context.Context, id ID) (*Snapshot, error) {
		s, _, err := r.loadSnapshotObject(ctx, id)
		return s, err
	}, onError)
}

// PutMeta stores value under key in a bucket of the local cache's
// key/value area (which check uses for its results). The area lives and
// dies with the cache; writes are durable after FlushMeta or Close.
func (r *Repository) PutMeta(bucket string, key, value []byte) error {
	return r.cache.PutMeta(bucket, key, value)
}

// GetMeta returns a copy of the value under key, or nil.
func (r *Repository) GetMeta(bucket string, key []byte) ([]byte, error) {
	return r.cache.GetMeta(bucket, key)
}

// DeleteMeta removes key; a missing key is not an error.
func (r *Repository) DeleteMeta(bucket string, key []byte) error {
	return r.cache.DeleteMeta(bucket, key)
}

// ForEachMeta calls fn for every key of a bucket in key order.
func (r *Repository) ForEachMeta(bucket string, fn func(key, value []byte) error) error {
	return r.cache.ForEachMeta(bucket, fn)
}

// FlushMeta makes the meta writes so far durable.
func (r *Repository) FlushMeta() error { return r.cache.Flush() }

// SharedCache reports whether this process uses the shared local cache.
// When another cairn process holds it, this one works on a private cache
// that Close removes, so meta written now (check results) is not kept.
func (r *Repository) SharedCache() bool { return r.privateCache == "" }

// Location describes where the repository lives (a path or s3: address).
func (r *Repository) Location() string { return r.be.Location() }
