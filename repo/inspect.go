package repo

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"path"
	"slices"
	"strings"
	"time"

	"github.com/cairnbackup/cairn/backend"
	"github.com/cairnbackup/cairn/crypto"
)

// Inspection shows single objects decoded, for debugging (`cairn cat` and
// `cairn list`). Nothing it returns holds key material: the config's
// sealed settings, snapshots, trees, index segments and pack headers hold
// none, and key files are only listed by name.

// CatKinds are the kinds of object CatObject shows.
var CatKinds = []string{"config", "snapshot", "tree", "index", "pack"}

// ListKinds are the kinds of object ListObjects lists, by the names the
// command line uses, with their storage folders.
var ListKinds = map[string]backend.FileType{
	"packs":     backend.PackFile,
	"snapshots": backend.SnapshotFile,
	"index":     backend.IndexFile,
	"keys":      backend.KeyFile,
	"locks":     backend.LockFile,
}

// ErrUnknownKind is an object kind that cat or list does not know.
var ErrUnknownKind = errors.New("repo: unknown object kind")

// CatObject returns one object, opened and decoded, as a value that
// encodes to JSON:
//
//   - "config": the sealed settings (name is ignored; give "");
//   - "snapshot": the snapshot object as stored, for an id prefix or
//     "latest";
//   - "tree": a tree blob, for its full id, or for SNAP or SNAP:PATH (the
//     tree of the snapshot's root, or of a folder in it);
//   - "index": an index segment, for an id prefix;
//   - "pack": a pack's header entries, for an id prefix.
func (r *Repository) CatObject(ctx context.Context, kind, name string) (any, error) {
	if kind != "config" && name == "" {
		return nil, fmt.Errorf("name the %s to show (an id or a prefix of at least 4 hex digits)", kind)
	}
	switch kind {
	case "config":
		return r.cfg, nil
	case "snapshot":
		return r.catSnapshot(ctx, name)
	case "tree":
		return r.catTree(ctx, name)
	case "index":
		id, err := r.ResolveObject(ctx, backend.IndexFile, name)
		if err != nil {
			return nil, err
		}
		seg, err := r.LoadIndexSegment(ctx, id)
		if err != nil {
			return nil, err
		}
		return segmentView(id, seg), nil
	case "pack":
		return r.catPack(ctx, name)
	}
	return nil, fmt.Errorf("%w %q: cat shows %s", ErrUnknownKind, kind, strings.Join(CatKinds, ", "))
}

// ListObjects calls fn with the id of every object of a kind in storage
// ("packs", "snapshots", "index", "keys" or "locks"), in listing order.
func (r *Repository) ListObjects(ctx context.Context, kind string, fn func(ID) error) error {
	t, ok := ListKinds[kind]
	if !ok {
		names := make([]string, 0, len(ListKinds))
		for k := range ListKinds {
			names = append(names, k)
		}
		slices.Sort(names)
		return fmt.Errorf("%w %q: list shows %s", ErrUnknownKind, kind, strings.Join(names, ", "))
	}
	err := r.be.List(ctx, t, func(fi backend.FileInfo) error {
		id, err := crypto.ParseID(fi.Name)
		if err != nil {
			r.logf("ignoring %s/%s: not an object name", t, fi.Name)
			return nil
		}
		return fn(id)
	})
	if err != nil {
		return fmt.Errorf("list %s: %w", t, err)
	}
	return nil
}

// ResolveObject finds the one object of type t in storage whose id starts
// with prefix (at least 4 hex digits); ErrNotFound or ErrAmbiguous else.
func (r *Repository) ResolveObject(ctx context.Context, t backend.FileType, prefix string) (ID, error) {
	ids, err := r.listIDs(ctx, t)
	if err != nil {
		return ID{}, err
	}
	return resolvePrefix(ids, prefix, objectNoun(t))
}

func objectNoun(t backend.FileType) string {
	switch t {
	case backend.PackFile:
		return "pack"
	case backend.IndexFile:
		return "index segment"
	case backend.SnapshotFile:
		return "snapshot"
	case backend.KeyFile:
		return "key"
	case backend.LockFile:
		return "lock"
	}
	return string(t)
}

// catSnapshot returns the snapshot object's plaintext, as stored.
func (r *Repository) catSnapshot(ctx context.Context, name string) (json.RawMessage, error) {
	id, err := r.snapshotID(ctx, name)
	if err != nil {
		return nil, err
	}
	_, b, err := r.loadSnapshotObject(ctx, id)
	if err != nil {
		return nil, err
	}
	return json.RawMessage(b), nil
}

// snapshotID resolves "latest" or an id prefix.
func (r *Repository) snapshotID(ctx context.Context, name string) (ID, error) {
	if name != "latest" {
		return r.ResolveObject(ctx, backend.SnapshotFile, name)
	}
	snaps, err := r.Snapshots(ctx, func(ID, error) error { return nil })
	if err != nil {
		return ID{}, err
	}
	s, err := FindSnapshot(snaps, name)
	if err != nil {
		return ID{}, err
	}
	return s.ID(), nil
}

// catTree returns a tree, named by its id or by SNAP[:PATH].
func (r *Repository) catTree(ctx context.Context, name string) (*Tree, error) {
	if id, err := crypto.ParseID(name); err == nil {
		return r.LoadTree(ctx, id)
	}
	snap, dir, _ := strings.Cut(name, ":")
	sid, err := r.snapshotID(ctx, snap)
	if err != nil {
		return nil, fmt.Errorf("tree %q: give a full tree id (64 hex digits) or SNAP[:PATH]: %w", name, err)
	}
	s, err := r.LoadSnapshot(ctx, sid)
	if err != nil {
		return nil, err
	}
	t, err := r.LoadTree(ctx, s.Tree)
	if err != nil {
		return nil, err
	}
	walked := "/"
	for _, part := range strings.Split(strings.Trim(path.Clean("/"+dir), "/"), "/") {
		if part == "" {
			continue
		}
		walked = path.Join(walked, part)
		n := t.Find(part)
		if n == nil {
			return nil, fmt.Errorf("%w: snapshot %s has no %s", ErrNotFound, sid.Short(), walked)
		}
		if n.Type != NodeDir {
			return nil, fmt.Errorf("%s in snapshot %s is a %s, not a folder: only folders have trees", walked, sid.Short(), n.Type)
		}
		if t, err = r.LoadTree(ctx, n.Subtree); err != nil {
			return nil, err
		}
	}
	return t, nil
}

// PackHeaderView is a pack's header, for showing.
type PackHeaderView struct {
	ID    ID         `json:"id"`
	Size  int64      `json:"size"`
	Blobs []BlobView `json:"blobs"`
}

// BlobView is one header or index entry, for showing.
type BlobView struct {
	ID        ID     `json:"id"`
	Type      string `json:"type"`
	Offset    uint32 `json:"offset"`
	Length    uint32 `json:"length"`               // sealed length in the pack
	RawLength uint32 `json:"raw_length,omitempty"` // before compression; 0 = stored raw
}

func blobViews(entries []BlobEntry) []BlobView {
	out := make([]BlobView, len(entries))
	for i, e := range entries {
		out[i] = BlobView{ID: e.ID, Type: e.Type.String(), Offset: e.Offset, Length: e.Length, RawLength: e.RawLength}
	}
	return out
}

// catPack reads and opens a pack's header.
func (r *Repository) catPack(ctx context.Context, name string) (PackHeaderView, error) {
	id, err := r.ResolveObject(ctx, backend.PackFile, name)
	if err != nil {
		return PackHeaderView{}, err
	}
	fi, err := r.be.Stat(ctx, backend.Handle{Type: backend.PackFile, Name: id.String()})
	if err != nil {
		return PackHeaderView{}, fmt.Errorf("pack %s: %w", id.Short(), err)
	}
	entries, err := r.ReadPackHeader(ctx, id, fi.Size)
	if err != nil {
		return PackHeaderView{}, err
	}
	return PackHeaderView{ID: id, Size: fi.Size, Blobs: blobViews(entries)}, nil
}

// IndexSegmentView is an index segment, for showing.
type IndexSegmentView struct {
	ID        ID                 `json:"id"`
	Packs     []PackHeaderView   `json:"packs"`
	Condemned []CondemnationView `json:"condemned,omitempty"`
}

// CondemnationView is a pack a prune condemned, and when.
type CondemnationView struct {
	Pack ID        `json:"pack"`
	Time time.Time `json:"time"`
}

func segmentView(id ID, seg *IndexSegment) IndexSegmentView {
	v := IndexSegmentView{ID: id, Packs: make([]PackHeaderView, len(seg.Packs))}
	for i, p := range seg.Packs {
		v.Packs[i] = PackHeaderView{ID: p.ID, Size: p.Size, Blobs: blobViews(p.Blobs)}
	}
	for _, c := range seg.Condemned {
		v.Condemned = append(v.Condemned, CondemnationView{Pack: c.Pack, Time: c.Time})
	}
	return v
}
