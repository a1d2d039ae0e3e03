package repo

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/cairnbackup/cairn/backend"
)

// snapshotVersion is the version of the snapshot encoding.
const snapshotVersion = 1

// Snapshot records one backup: when, of what, from where, and its root tree.
type Snapshot struct {
	Version        int       `json:"version"`
	Time           time.Time `json:"time"`
	Tree           ID        `json:"tree"`
	Paths          []string  `json:"paths"`
	Hostname       string    `json:"hostname"`
	Username       string    `json:"username,omitempty"`
	UID            uint32    `json:"uid"`
	GID            uint32    `json:"gid"`
	Tags           []string  `json:"tags,omitempty"`
	Job            string    `json:"job,omitempty"`
	Parent         *ID       `json:"parent,omitempty"`
	Original       *ID       `json:"original,omitempty"` // set on snapshots rewritten by repair
	Repaired       bool      `json:"repaired,omitempty"`
	ProgramVersion string    `json:"program_version,omitempty"`
	Summary        *Summary  `json:"summary,omitempty"`

	id ID
}

// Summary is what a snapshot run did, stored in the snapshot.
type Summary struct {
	Start          time.Time `json:"start"`
	End            time.Time `json:"end"`
	FilesNew       uint64    `json:"files_new"`
	FilesChanged   uint64    `json:"files_changed"`
	FilesUnchanged uint64    `json:"files_unchanged"`
	Dirs           uint64    `json:"dirs"`
	Others         uint64    `json:"others,omitempty"`
	Errors         uint64    `json:"errors"`
	BytesRead      uint64    `json:"bytes_read"`
	TotalSize      uint64    `json:"total_size"`
	BlobsAdded     uint64    `json:"blobs_added"`
	BytesAdded     uint64    `json:"bytes_added"`        // plaintext of new blobs
	BytesStored    uint64    `json:"bytes_added_stored"` // after compression and sealing
	// FilesGrown counts changed files that kept their old content as a
	// prefix (only the rest was chunked), and FilesMatched new or changed
	// files found whole in the parent or the content index (renamed,
	// rotated, copied: hashed, not chunked).
	FilesGrown   uint64 `json:"files_grown"`
	FilesMatched uint64 `json:"files_matched"`
	// BytesHashedOnly were read and hashed but not chunked; BytesChunked
	// were cut into chunks (and hashed, compressed and sealed when new).
	// BytesRead counts both. All four are there when zero, as the
	// progress lines have them, for whatever reads the --json summary.
	BytesHashedOnly uint64 `json:"bytes_hashed_only"`
	BytesChunked    uint64 `json:"bytes_chunked"`
}

// ID returns the snapshot's id (zero until saved or loaded).
func (s *Snapshot) ID() ID { return s.id }

// HasTag reports whether the snapshot carries tag.
func (s *Snapshot) HasTag(tag string) bool { return slices.Contains(s.Tags, tag) }

// maxSnapshotSize bounds a snapshot object's plaintext.
const maxSnapshotSize = 16 << 20

func decodeSnapshot(b []byte) (*Snapshot, error) {
	if len(b) > maxSnapshotSize {
		return nil, fmt.Errorf("%w: snapshot of %d bytes", ErrMalformed, len(b))
	}
	var s Snapshot
	if err := json.Unmarshal(b, &s); err != nil {
		return nil, fmt.Errorf("%w: snapshot: %v", ErrMalformed, err)
	}
	if s.Version != snapshotVersion {
		return nil, fmt.Errorf("%w: snapshot version %d (this cairn reads %d)", ErrMalformed, s.Version, snapshotVersion)
	}
	if s.Tree.IsNull() {
		return nil, fmt.Errorf("%w: snapshot has no tree", ErrMalformed)
	}
	return &s, nil
}

// SaveSnapshot flushes pending blobs (so that every blob the snapshot needs
// is durable and indexed first: the snapshot object is the commit point)
// and stores s.
func (r *Repository) SaveSnapshot(ctx context.Context, s *Snapshot) (ID, error) {
	if err := r.Flush(ctx); err != nil {
		return ID{}, err
	}
	s.Version = snapshotVersion
	b, err := json.Marshal(s)
	if err != nil {
		return ID{}, err
	}
	id, err := r.saveObject(ctx, backend.SnapshotFile, b)
	if err != nil {
		return id, err
	}
	s.id = id
	return id, nil
}

// LoadSnapshot reads one snapshot (from the local cache when it was read
// before: snapshot objects never change).
func (r *Repository) LoadSnapshot(ctx context.Context, id ID) (*Snapshot, error) {
	if b := r.snapCache.get(id); b != nil {
		if s, err := decodeSnapshot(b); err == nil {
			s.id = id
			return s, nil
		}
	}
	s, b, err := r.loadSnapshotObject(ctx, id)
	if err != nil {
		return nil, err
	}
	r.snapCache.put(id, b)
	return s, nil
}

// loadSnapshotObject reads and decodes a snapshot from storage and returns
// its plaintext too.
func (r *Repository) loadSnapshotObject(ctx context.Context, id ID) (*Snapshot, []byte, error) {
	b, err := r.loadObject(ctx, backend.SnapshotFile, id)
	if err != nil {
		return nil, nil, err
	}
	s, err := decodeSnapshot(b)
	if err != nil {
		return nil, nil, fmt.Errorf("snapshots/%s: %w", id, err)
	}
	s.id = id
	return s, b, nil
}

// Snapshots loads every snapshot, oldest first. Unreadable ones are
// passed to onError (which may stop the listing by returning an error).
func (r *Repository) Snapshots(ctx context.Context, onError func(ID, error) error) ([]*Snapshot, error) {
	var ids []ID
	listed := false
	if ready := r.takeSnapshotPrefetch(); ready != nil {
		if l := <-ready; l.err == nil {
			ids, listed = l.ids, true
			r.snapCache.forget(idSet(ids))
		}
	}
	if !listed {
		var err error
		if ids, err = r.listCachedIDs(ctx, backend.SnapshotFile, r.snapCache); err != nil {
			return nil, err
		}
	}
	defer r.snapCache.flush()
	return collectSnapshots(ctx, ids, r.LoadSnapshot, onError)
}

// prefetchSnapshots waits for the snapshot listing l, reads the snapshots
// it names into the local cache (errors are left for Snapshots to meet
// again), and hands the listing to the first Snapshots call on ready.
func (r *Repository) prefetchSnapshots(ctx context.Context, l <-chan idListing, ready chan<- idListing) {
	got := <-l
	if got.err == nil {
		collectSnapshots(ctx, got.ids, r.LoadSnapshot, func(ID, error) error { return nil })
	}
	ready <- got
}

// takeSnapshotPrefetch returns the channel of the snapshot prefetch, once.
func (r *Repository) takeSnapshotPrefetch() chan idListing {
	r.mu.Lock()
	defer r.mu.Unlock()
	ready := r.snapsReady
	r.snapsReady = nil
	return ready
}

// snapshotLoads bounds the snapshots read at once: on a distant store each
// read is a round trip, and a repository kept for 90 days holds hundreds.
const snapshotLoads = 16

// collectSnapshots loads the snapshots ids with load, several at once,
// and sorts them by time (then id); onError decides about unreadable
// ones, in the order of ids.
func collectSnapshots(ctx context.Context, ids []ID, load func(context.Context, ID) (*Snapshot, error), onError func(ID, error) error) ([]*Snapshot, error) {
	loaded, errs := make([]*Snapshot, len(ids)), make([]error, len(ids))
	var g errgroup.Group // each snapshot's error is its own, for onError
	g.SetLimit(snapshotLoads)
	for i, id := range ids {
		g.Go(func() error {
			loaded[i], errs[i] = load(ctx, id)
			return nil
		})
	}
	g.Wait()
	var out []*Snapshot
	for i, id := range ids {
		s, err := loaded[i], errs[i]
		if err != nil {
			if ctx.Err() != nil {
				return nil, ctx.Err()
			}
			if onError == nil {
				return nil, err
			}
			if err := onError(id, err); err != nil {
				return nil, err
			}
			continue
		}
		out = append(out, s)
	}
	slices.SortStableFunc(out, func(a, b *Snapshot) int {
		if c := a.Time.Compare(b.Time); c != 0 {
			return c
		}
		return slices.Compare(a.id[:], b.id[:])
	})
	return out, nil
}

// FindSnapshot resolves "latest" or a unique id prefix of at least 4 hex
// digits among snaps (as returned by Snapshots).
func FindSnapshot(snaps []*Snapshot, name string) (*Snapshot, error) {
	if name == "latest" {
		if len(snaps) == 0 {
			return nil, fmt.Errorf("%w: the repository has no snapshots", ErrNotFound)
		}
		return snaps[len(snaps)-1], nil
	}
	ids := make([]ID, len(snaps))
	for i, s := range snaps {
		ids[i] = s.id
	}
	id, err := resolvePrefix(ids, name, "snapshot")
	if err != nil {
		return nil, err
	}
	for _, s := range snaps {
		if s.id == id {
			return s, nil
		}
	}
	return nil, errors.New("unreachable")
}

// RemoveSnapshot deletes a snapshot object.
func (r *Repository) RemoveSnapshot(ctx context.Context, id ID) error {
	if err := r.be.Remove(ctx, backend.Handle{Type: backend.SnapshotFile, Name: id.String()}); err != nil {
		return fmt.Errorf("remove snapshot %s: %w", id.Short(), err)
	}
	return nil
}

// SaveTree encodes and stores a tree blob.
func (r *Repository) SaveTree(ctx context.Context, t *Tree) (ID, error) {
	b, err := EncodeTree(t)
	if err != nil {
		return ID{}, fmt.Errorf("encode tree: %w", err)
	}
	id, _, err := r.SaveBlob(ctx, TreeBlob, b)
	return id, err
}

// LoadTree reads and decodes a tree blob (from the local cache when it was
// read before: a tree's id is the hash of its bytes). A tree read from
// storage brings its neighbours in the pack into the cache (treeWindow).
func (r *Repository) LoadTree(ctx context.Context, id ID) (*Tree, error) {
	if b := r.treeCache.get(id); b != nil {
		if t, err := DecodeTree(b); err == nil {
			return t, nil
		}
	}
	t, b, ok := r.loadTreeWindow(ctx, id, cacheStore{r.treeCache})
	if !ok {
		var err error
		if t, b, err = r.loadTreeBlob(ctx, id); err != nil {
			return nil, err
		}
	}
	r.treeCache.put(id, b)
	return t, nil
}

// loadTreeBlob reads and decodes a tree blob from storage and returns its
// plaintext too.
func (r *Repository) loadTreeBlob(ctx context.Context, id ID) (*Tree, []byte, error) {
	b, err := r.LoadBlob(ctx, TreeBlob, id, nil)
	if err != nil {
		return nil, nil, fmt.Errorf("load tree %s: %w", id.Short(), err)
	}
	t, err := DecodeTree(b)
	if err != nil {
		return nil, nil, fmt.Errorf("tree %s: %w", id.Short(), err)
	}
	return t, b, nil
}
