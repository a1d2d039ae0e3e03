package repo

import (
	"context"
	"io"
	"slices"
	"sync"

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

// treeStore is where a window puts the neighbours it brought along: the
// local object cache for LoadTree, a check's stash for LoadTreeUncached.
type treeStore interface {
	has(id ID) bool
	put(id ID, plain []byte)
}

// cacheStore puts a window's trees in the local object cache.
type cacheStore struct{ c *objCache }

func (s cacheStore) has(id ID) bool          { return s.c.get(id) != nil }
func (s cacheStore) put(id ID, plain []byte) { s.c.put(id, plain) }

// windowPlan is a ranged read of a tree pack: the tree wanted (target)
// and its neighbours (trees, in offset order, target among them).
type windowPlan struct {
	pack       ID
	start, end int64
	target     pack.Entry
	trees      []pack.Entry
}

// planTreeWindow finds the window around tree id. ok is false when none
// can be used (the pack is not indexed, or id has no neighbour): the
// caller then reads id alone, through the path that tries other copies.
func (r *Repository) planTreeWindow(id ID) (w windowPlan, ok bool) {
	loc, err := r.LookupBlob(TreeBlob, id)
	if err != nil {
		return w, false
	}
	info, found, err := r.cache.Pack(loc.Pack)
	if err != nil || !found {
		return w, false
	}
	win := windowAround(info.Blobs, loc.Entry, treeWindow)
	if len(win) < 2 {
		return w, false // no neighbour to bring along
	}
	last := win[len(win)-1]
	return windowPlan{pack: loc.Pack, start: int64(win[0].Offset), end: int64(last.Offset) + int64(last.Length), target: loc.Entry, trees: win}, true
}

// loadTreeWindow reads the tree blob id together with the tree blobs next
// to it in its pack (at most treeWindow bytes in all, one ranged read),
// puts every neighbour that opens and verifies in store, and returns id's
// tree and plaintext. It returns ok false when the window cannot be used
// (see planTreeWindow, or id did not open from it).
func (r *Repository) loadTreeWindow(ctx context.Context, id ID, store treeStore) (t *Tree, plain []byte, ok bool) {
	w, ok := r.planTreeWindow(id)
	if !ok {
		return nil, nil, false
	}
	return r.readTreeWindow(ctx, id, w, store)
}

// readTreeWindow reads the window w, which holds tree id.
func (r *Repository) readTreeWindow(ctx context.Context, id ID, w windowPlan, store treeStore) (t *Tree, plain []byte, ok bool) {
	h := backend.Handle{Type: backend.PackFile, Name: w.pack.String()}
	buf := make([]byte, w.end-w.start)
	err := r.be.Load(ctx, h, len(buf), w.start, func(rd io.Reader) error {
		_, err := io.ReadFull(rd, buf)
		return err
	})
	if err != nil {
		return nil, nil, false
	}
	for _, e := range w.trees {
		off := int64(e.Offset) - w.start
		if off+int64(e.Length) > int64(len(buf)) {
			continue // overlaps the window's end (only a hostile index does that)
		}
		if e.ID != id && store.has(e.ID) {
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
		store.put(e.ID, b)
	}
	return t, plain, t != nil
}

// stashBytes bounds the plaintext a treeStash holds: once full, further
// neighbours are dropped and read alone when the walk reaches them.
const stashBytes = 16 << 20

// treeStash holds the trees that windows brought along for a walk that
// must read storage, not the local cache (check): each is taken once,
// when the walk reaches it. It also knows which windows are being read,
// so that the many workers of a walk's level wait for the window that
// brings their tree rather than each read it again.
type treeStash struct {
	mu      sync.Mutex
	trees   map[ID][]byte
	bytes   int
	reading []*stashRead
}

// stashRead is a window being read.
type stashRead struct {
	pack       ID
	start, end int64
	done       chan struct{}
}

// closed is a channel that never blocks.
var closed = func() chan struct{} { c := make(chan struct{}); close(c); return c }()

func newTreeStash() *treeStash { return &treeStash{trees: map[ID][]byte{}} }

func (s *treeStash) has(id ID) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	_, ok := s.trees[id]
	return ok
}

func (s *treeStash) put(id ID, plain []byte) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.trees[id]; ok || s.bytes+len(plain) > stashBytes {
		return
	}
	s.trees[id] = plain
	s.bytes += len(plain)
}

// take removes tree id from the stash and returns its plaintext, or nil.
func (s *treeStash) take(id ID) []byte {
	s.mu.Lock()
	defer s.mu.Unlock()
	b, ok := s.trees[id]
	if ok {
		delete(s.trees, id)
		s.bytes -= len(b)
	}
	return b
}

// begin registers the window w as being read, unless its target is in
// the stash by now or a window being read covers it: then it returns a
// channel to wait on before taking the target from the stash.
func (s *treeStash) begin(w windowPlan) (wait <-chan struct{}, rd *stashRead) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.trees[w.target.ID]; ok {
		return closed, nil
	}
	off := int64(w.target.Offset)
	for _, o := range s.reading {
		if o.pack == w.pack && o.start <= off && off < o.end {
			return o.done, nil
		}
	}
	rd = &stashRead{pack: w.pack, start: w.start, end: w.end, done: make(chan struct{})}
	s.reading = append(s.reading, rd)
	return nil, rd
}

// end marks rd read; its trees are in the stash.
func (s *treeStash) end(rd *stashRead) {
	s.mu.Lock()
	s.reading = slices.DeleteFunc(s.reading, func(o *stashRead) bool { return o == rd })
	s.mu.Unlock()
	close(rd.done)
}

// loadTreeStashed reads tree id from storage for an uncached walk: from
// the stash when an earlier window brought it, else with a window of its
// own, after waiting once for a window being read that holds it; else
// alone.
func (r *Repository) loadTreeStashed(ctx context.Context, id ID) (*Tree, []byte, error) {
	s := r.treeStash
	for waited := false; ; waited = true {
		if b := s.take(id); b != nil {
			if t, err := DecodeTree(b); err == nil {
				return t, b, nil
			}
		}
		w, ok := r.planTreeWindow(id)
		if !ok {
			break
		}
		wait, rd := s.begin(w)
		if rd != nil {
			t, plain, ok := r.readTreeWindow(ctx, id, w, s)
			s.end(rd)
			if ok {
				return t, plain, nil
			}
			break
		}
		if waited {
			break // the window we waited for did not bring it: read it alone
		}
		select {
		case <-wait:
		case <-ctx.Done():
			return nil, nil, ctx.Err()
		}
	}
	return r.loadTreeBlob(ctx, id)
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
