package index

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"slices"
	"sync"

	bolt "go.etcd.io/bbolt"

	"github.com/cairnbackup/cairn/crypto"
)

// SyncStats reports what Sync or Add did.
type SyncStats struct {
	Ingested     int // segments ingested
	Forgotten    int // segments forgotten
	Skipped      int // segments whose load returned ErrSkipSegment
	PacksAdded   int // packs that became known
	PacksRemoved int // packs no longer named by any segment
	BlobsAdded   int // blob rows (one per blob and pack) written
	BlobsRemoved int // blob rows removed
}

// maxPacksPerTx bounds how many packs one transaction of an ingest records.
var maxPacksPerTx = 20_000

// Sync makes the cache hold exactly the segments listed in present. It
// first completes work an interrupted Sync left behind, then ingests each
// listed segment the cache lacks (calling load for it), then forgets every
// ingested segment no longer listed: a forgotten segment's packs lose their
// blob rows unless another ingested segment also names them.
//
// Work is split into bounded transactions, and ctx is checked between them.
// If Sync stops early (cancelled, load failed, or the process killed) the
// cache still answers truthfully: a pack's blob rows become visible only
// once all of them are written, and a forgotten pack's rows are hidden
// before they are removed; the next Sync or Add finishes what was started.
// A load error wrapping ErrSkipSegment skips that segment instead.
func (c *Cache) Sync(ctx context.Context, present []crypto.ID, load func(ctx context.Context, seg crypto.ID) (*Segment, error)) (SyncStats, error) {
	c.opMu.Lock()
	defer c.opMu.Unlock()
	var st SyncStats
	have, err := c.recoverWork(ctx, &st)
	if err != nil {
		return st, err
	}
	want := make(map[crypto.ID]bool, len(present))
	var todo []crypto.ID
	for _, id := range present {
		if want[id] {
			continue
		}
		want[id] = true
		if _, ok := have[id]; !ok {
			todo = append(todo, id)
		}
	}
	loads := loadAhead(ctx, todo, load)
	defer loads.stop()
	for i, id := range todo {
		s, err := loads.next(i)
		if errors.Is(err, ErrSkipSegment) {
			st.Skipped++
			continue
		}
		if err != nil {
			return st, fmt.Errorf("index: load segment %s: %w", id.Short(), err)
		}
		if err := c.ingest(ctx, id, s, &st); err != nil {
			return st, err
		}
	}
	if err := c.completeJob(ctx, &st); err != nil {
		return st, err
	}
	for _, id := range sortedIDs(have) {
		if !want[id] {
			if err := c.forget(ctx, id, &st); err != nil {
				return st, err
			}
		}
	}
	if err := c.collect(ctx, &st); err != nil {
		return st, err
	}
	return st, c.Flush()
}

// Add ingests a segment the caller has just written, so that its blobs are
// found without a Sync. Adding a segment the cache holds does nothing.
func (c *Cache) Add(seg crypto.ID, s *Segment) error {
	return c.add(seg, s, true)
}

// Record ingests a segment the caller has just written, as Add does, but
// leaves its blob rows for Complete to write: until then its blobs are not
// found, and the caller answers for them itself. A writer that stores many
// segments in one session records each and completes once, so that all
// their rows go into the blob tree in one pass in key order. Inserted
// segment by segment, each random blob id dirties a leaf page of its own
// in a tree much larger than the segment, and the cache rewrites most of
// the tree for every segment. A recorded segment is durable in the cache:
// if the process ends before Complete, the next Sync, Add or Complete
// writes its rows.
func (c *Cache) Record(seg crypto.ID, s *Segment) error {
	return c.add(seg, s, false)
}

// Complete writes the blob rows of every segment recorded so far and makes
// their blobs found.
func (c *Cache) Complete() error {
	c.opMu.Lock()
	defer c.opMu.Unlock()
	var st SyncStats
	if err := c.completeJob(context.Background(), &st); err != nil {
		return err
	}
	return c.Flush()
}

func (c *Cache) add(seg crypto.ID, s *Segment, complete bool) error {
	c.opMu.Lock()
	defer c.opMu.Unlock()
	ctx := context.Background()
	var st SyncStats
	have, err := c.recoverWork(ctx, &st)
	if err != nil {
		return err
	}
	if _, ok := have[seg]; !ok {
		if err := c.ingest(ctx, seg, s, &st); err != nil {
			return err
		}
	}
	if complete {
		if err := c.completeJob(ctx, &st); err != nil {
			return err
		}
	}
	return c.Flush()
}

// recoverWork finishes what an interrupted operation left: it forgets
// segments that were being forgotten or only partly recorded, and removes
// the rows of dead packs. It returns the remaining segments (loaded or live).
func (c *Cache) recoverWork(ctx context.Context, st *SyncStats) (map[crypto.ID]byte, error) {
	states, err := c.segmentStates()
	if err != nil {
		return nil, err
	}
	for _, id := range sortedIDs(states) {
		if s := states[id]; s == segLoading || s == segForgetting {
			if err := c.forget(ctx, id, st); err != nil {
				return nil, err
			}
			delete(states, id)
		}
	}
	return states, c.collect(ctx, st)
}

// segmentStates returns every segment record's state.
func (c *Cache) segmentStates() (map[crypto.ID]byte, error) {
	m := make(map[crypto.ID]byte)
	err := c.view("list segments", func(tx *bolt.Tx, b *buckets) error {
		return b.segs().ForEach(func(k, v []byte) error {
			if len(k) != crypto.IDSize || len(v) != 5 {
				return fmt.Errorf("%w: segment record", ErrCorrupt)
			}
			m[crypto.ID(k)] = v[4]
			return nil
		})
	})
	return m, err
}

// ingest records one segment: its packs (new ones pending) and its
// condemnations, in transactions of bounded size. The segment stays in
// state loading until its last transaction, so an interruption is rolled
// back by recoverWork.
func (c *Cache) ingest(ctx context.Context, id crypto.ID, s *Segment, st *SyncStats) error {
	for i := range s.Packs {
		for j := range s.Packs[i].Blobs {
			if t := s.Packs[i].Blobs[j].Type; !t.Valid() {
				return fmt.Errorf("index: ingest segment %s: pack %s: %w: %d", id.Short(), s.Packs[i].ID.Short(), ErrBlobType, t)
			}
		}
	}
	g := &segIngest{c: c, id: id, s: s, order: make([]int, len(s.Packs))}
	for i := range g.order {
		g.order[i] = i
	}
	slices.SortFunc(g.order, func(a, b int) int { return bytes.Compare(s.Packs[a].ID[:], s.Packs[b].ID[:]) })
	for !g.done {
		if err := ctx.Err(); err != nil {
			return err
		}
		var added SyncStats
		err := c.update("ingest segment", func(tx *bolt.Tx, b *buckets) error {
			added = SyncStats{}
			return g.step(tx, b, &added)
		})
		if err != nil {
			return fmt.Errorf("index: ingest segment %s: %w", id.Short(), err)
		}
		st.PacksAdded += added.PacksAdded
		st.BlobsAdded += added.BlobsAdded
	}
	st.Ingested++
	return nil
}

// segIngest is the progress of one segment's ingest across transactions.
type segIngest struct {
	c              *Cache
	id             crypto.ID
	s              *Segment
	order          []int // pack indexes sorted by pack id
	segnum         uint32
	next, nextCond int // first pack and condemnation not yet recorded
	started, done  bool
}

// step records as much of the segment as one transaction may hold. The
// progress fields change only when the transaction commits.
func (g *segIngest) step(tx *bolt.Tx, b *buckets, added *SyncStats) error {
	state, err := b.state()
	if err != nil {
		return err
	}
	segnum := g.segnum
	if !g.started {
		if segnum, err = startSegment(b, &state, g.id); err != nil {
			return err
		}
	}
	i := g.next
	for ; i < len(g.order) && (i == g.next || i-g.next < maxPacksPerTx && nodeCount(tx) < g.c.maxTxNodes); i++ {
		if err := addPack(b, &state, segnum, &g.s.Packs[g.order[i]], added); err != nil {
			return err
		}
		g.c.pager.tick(tx)
	}
	j := g.nextCond
	for ; i == len(g.order) && j < len(g.s.Condemned) && j-g.nextCond < maxPacksPerTx; j++ {
		if err := addCondemnation(b, segnum, &g.s.Condemned[j]); err != nil {
			return err
		}
	}
	done := i == len(g.order) && j == len(g.s.Condemned)
	if done {
		if err := b.segs().Put(g.id[:], segRecord(segnum, segLoaded)); err != nil {
			return err
		}
	}
	if err := b.putState(state); err != nil {
		return err
	}
	g.segnum, g.started, g.next, g.nextCond, g.done = segnum, true, i, j, done
	return nil
}

func segRecord(segnum uint32, state byte) []byte {
	return append(num4(segnum), state)
}

// startSegment creates the segment's record and opens the ingest job.
func startSegment(b *buckets, state *cacheState, id crypto.ID) (uint32, error) {
	segnum := state.nextSeg
	if segnum == 0 || state.nextPack == 0 {
		return 0, fmt.Errorf("%w: numbering exhausted", ErrInconsistent)
	}
	state.nextSeg++
	if state.jobStart == 0 {
		state.jobStart = state.nextPack
	}
	return segnum, b.segs().Put(id[:], segRecord(segnum, segLoading))
}

// addPack records that segment segnum names pack p: a new pack gets a
// number, its entries and the pending flag; a known one one more reference.
func addPack(b *buckets, state *cacheState, segnum uint32, p *PackInfo, st *SyncStats) error {
	if v := b.packids().Get(p.ID[:]); v != nil {
		pn := bytes.Clone(v)
		link := append(num4(segnum), pn...)
		if hasKey(b.segpacks(), link) {
			return nil // named twice by one segment
		}
		rec, ok, err := b.pack(pn)
		if err == nil && (!ok || rec.flags&packDead != 0) {
			err = fmt.Errorf("%w: pack %s is known but not live", ErrInconsistent, p.ID.Short())
		}
		if err != nil {
			return err
		}
		rec.refs++
		if err := b.putPack(pn, &rec); err != nil {
			return err
		}
		return b.segpacks().Put(link, nil)
	}
	pnum := state.nextPack
	if state.nextPack++; state.nextPack == 0 {
		return fmt.Errorf("%w: pack numbers exhausted", ErrInconsistent)
	}
	pn := num4(pnum)
	rec := packRec{id: p.ID, flags: packPending, refs: 1, size: uint64(p.Size), nblobs: uint64(len(p.Blobs))}
	if k, _ := b.condemned().Cursor().Seek(p.ID[:]); k != nil && bytes.HasPrefix(k, p.ID[:]) {
		rec.flags |= packCondemned
	}
	if err := b.putPack(pn, &rec); err != nil {
		return err
	}
	if err := b.entries().Put(pn, encodeEntries(p.Blobs)); err != nil {
		return fmt.Errorf("index: save entries of pack %s: %w", p.ID.Short(), err)
	}
	if err := b.packids().Put(p.ID[:], pn); err != nil {
		return err
	}
	st.PacksAdded++
	st.BlobsAdded += len(p.Blobs)
	return b.segpacks().Put(append(num4(segnum), pn...), nil)
}

// addCondemnation records that segment segnum condemns a pack.
func addCondemnation(b *buckets, segnum uint32, cd *Condemnation) error {
	key := append(bytes.Clone(cd.Pack[:]), num4(segnum)...)
	if err := b.condemned().Put(key, binary.BigEndian.AppendUint64(nil, uint64(cd.Time.Unix()))); err != nil {
		return fmt.Errorf("index: save condemnation: %w", err)
	}
	if err := b.segconds().Put(append(num4(segnum), cd.Pack[:]...), nil); err != nil {
		return err
	}
	return setCondemnedFlag(b, cd.Pack, true)
}

// setCondemnedFlag updates the condemned flag of a known pack.
func setCondemnedFlag(b *buckets, id crypto.ID, on bool) error {
	v := b.packids().Get(id[:])
	if v == nil {
		return nil
	}
	pn := bytes.Clone(v)
	rec, ok, err := b.pack(pn)
	if err != nil || !ok {
		return err
	}
	flags := rec.flags &^ packCondemned
	if on {
		flags |= packCondemned
	}
	if flags == rec.flags {
		return nil
	}
	rec.flags = flags
	return b.putPack(pn, &rec)
}

func sortedIDs[V any](m map[crypto.ID]V) []crypto.ID {
	ids := make([]crypto.ID, 0, len(m))
	for id := range m {
		ids = append(ids, id)
	}
	slices.SortFunc(ids, func(a, b crypto.ID) int { return bytes.Compare(a[:], b[:]) })
	return ids
}

// segmentsAhead bounds the segments loaded at once ahead of the one being
// ingested. Against a distant store a load is mostly round trips, and
// ingesting is local work, so loads overlap each other and the ingest;
// memory stays bounded by this many decoded segments.
const segmentsAhead = 8

// segmentLoads loads segments in parallel and hands them out in order.
type segmentLoads struct {
	slots  []loadedSegment
	permit chan struct{}
	cancel context.CancelFunc
	wg     sync.WaitGroup
}

type loadedSegment struct {
	seg  *Segment
	err  error
	done chan struct{}
}

// loadAhead starts loading ids, at most segmentsAhead not yet taken by next.
func loadAhead(ctx context.Context, ids []crypto.ID, load func(context.Context, crypto.ID) (*Segment, error)) *segmentLoads {
	ctx, cancel := context.WithCancel(ctx)
	l := &segmentLoads{slots: make([]loadedSegment, len(ids)), permit: make(chan struct{}, segmentsAhead), cancel: cancel}
	for i := range l.slots {
		l.slots[i].done = make(chan struct{})
	}
	l.wg.Add(1)
	go func() {
		defer l.wg.Done()
		for i, id := range ids {
			select {
			case l.permit <- struct{}{}:
			case <-ctx.Done():
				for j := i; j < len(ids); j++ {
					l.slots[j].err = ctx.Err()
					close(l.slots[j].done)
				}
				return
			}
			l.wg.Add(1)
			go func() {
				defer l.wg.Done()
				sl := &l.slots[i]
				if sl.err = ctx.Err(); sl.err == nil {
					sl.seg, sl.err = load(ctx, id)
				}
				close(sl.done)
			}()
		}
	}()
	return l
}

// next waits for the i-th segment, and lets one more load start.
func (l *segmentLoads) next(i int) (*Segment, error) {
	sl := &l.slots[i]
	<-sl.done
	seg, err := sl.seg, sl.err
	sl.seg = nil
	select {
	case <-l.permit:
	default: // cancelled before its load started: it took no permit
	}
	return seg, err
}

// stop cancels the loads not yet taken and waits for all of them.
func (l *segmentLoads) stop() {
	l.cancel()
	l.wg.Wait()
}
