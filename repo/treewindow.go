package repo

import (
	"context"
	"io"
	"slices"

	"github.com/cairnbackup/cairn/backend"
	"github.com/cairnbackup/cairn/pack"
)

// treeWindow bounds the bytes of a tree pack read at once when a tree is
// not in the local cache. A walk from the root to one file (dump, restore
// --include, ls of a path) needs one tree per level, each known only from
// the one before: one round trip each. Trees of one snapshot lie together
// in tree packs, so the neighbours that one ranged read brings along are
// likely the next levels, and the walk costs one round trip instead of
// one per level. 1 MiB is a few milliseconds on any link cairn is meant
// for, and holds thousands of small folders' trees.
const treeWindow = 1 << 20

// loadTreeWindow reads the tree blob id together with the tree blobs next
// to it in its pack (at most treeWindow bytes in all, one ranged read),
// caches every neighbour that opens and verifies, and returns id's tree
// and plaintext. It returns ok false when the window cannot be used (the
// pack is not indexed, or id did not open from it): the caller then reads
// id alone, through the path that tries other copies.
func (r *Repository) loadTreeWindow(ctx context.Context, id ID) (t *Tree, plain []byte, ok bool) {
	loc, err := r.LookupBlob(TreeBlob, id)
	if err != nil {
		return nil, nil, false
	}
	info, found, err := r.cache.Pack(loc.Pack)
	if err != nil || !found {
		return nil, nil, false
	}
	win := windowAround(info.Blobs, loc.Entry, treeWindow)
	if len(win) < 2 {
		return nil, nil, false // no neighbour to bring along
	}
	start := int64(win[0].Offset)
	end := int64(win[len(win)-1].Offset) + int64(win[len(win)-1].Length)
	h := backend.Handle{Type: backend.PackFile, Name: loc.Pack.String()}
	buf := make([]byte, end-start)
	err = r.be.Load(ctx, h, len(buf), start, func(rd io.Reader) error {
		_, err := io.ReadFull(rd, buf)
		return err
	})
	if err != nil {
		return nil, nil, false
	}
	for _, e := range win {
		off := int64(e.Offset) - start
		if off+int64(e.Length) > int64(len(buf)) {
			continue // overlaps the window's end (only a hostile index does that)
		}
		if e.ID != id && r.treeCache.get(e.ID) != nil {
			continue // an earlier window brought it
		}
		b, err := r.OpenBlob(e, buf[off:off+int64(e.Length)], nil)
		if err != nil {
			continue // a neighbour that does not open is read when needed
		}
		if e.ID == id {
			if t, err = DecodeTree(b); err != nil {
				return nil, nil, false
			}
			plain = b
			continue
		}
		r.treeCache.put(e.ID, b)
	}
	return t, plain, t != nil
}

// windowAround returns the tree entries of a pack next to target (itself
// among them), in offset order, spanning at most limit bytes from the
// first's offset to the last's end. It grows the window one neighbour at
// a time on either side while the span allows.
func windowAround(entries []pack.Entry, target pack.Entry, limit int64) []pack.Entry {
	trees := make([]pack.Entry, 0, len(entries))
	for _, e := range entries {
		if e.Type == TreeBlob {
			trees = append(trees, e)
		}
	}
	slices.SortFunc(trees, func(a, b pack.Entry) int { return int(int64(a.Offset) - int64(b.Offset)) })
	i := slices.IndexFunc(trees, func(e pack.Entry) bool { return e.ID == target.ID && e.Offset == target.Offset })
	if i < 0 {
		return nil
	}
	span := func(lo, hi int) int64 {
		return int64(trees[hi].Offset) + int64(trees[hi].Length) - int64(trees[lo].Offset)
	}
	lo, hi := i, i
	for grown := true; grown; {
		grown = false
		if lo > 0 && span(lo-1, hi) <= limit {
			lo, grown = lo-1, true
		}
		if hi+1 < len(trees) && span(lo, hi+1) <= limit {
			hi, grown = hi+1, true
		}
	}
	return trees[lo : hi+1]
}
