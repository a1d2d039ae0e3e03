package prune

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/cairnbackup/cairn/backend"
	"github.com/cairnbackup/cairn/repo"
)

// PackPlan is what a prune does with one pack, and why.
type PackPlan struct {
	ID             repo.ID   `json:"id"`
	Size           int64     `json:"size"`
	Type           string    `json:"type,omitempty"` // "data" or "tree"; empty for a pack no index names
	UsedBlobs      int       `json:"used_blobs"`
	UsedBytes      int64     `json:"used_bytes"`
	UnusedBlobs    int       `json:"unused_blobs"`
	UnusedBytes    int64     `json:"unused_bytes"`
	DuplicateBlobs int       `json:"duplicate_blobs,omitempty"`
	DuplicateBytes int64     `json:"duplicate_bytes,omitempty"`
	CondemnedAt    time.Time `json:"condemned_at,omitzero"`
	Reason         string    `json:"reason"`
}

// Stats describe what the packs in storage hold, as a prune sees it.
// Packs = used + unused + duplicates + headers + condemned + garbage.
type Stats struct {
	Packs          int   `json:"packs"`        // pack objects in storage
	PackBytes      int64 `json:"pack_bytes"`   // their size
	UsedBlobs      int   `json:"used_blobs"`   // blobs snapshots use (one copy each)
	UsedBytes      int64 `json:"used_bytes"`   // their stored size
	UnusedBlobs    int   `json:"unused_blobs"` // in packs not condemned, used by no snapshot
	UnusedBytes    int64 `json:"unused_bytes"`
	DuplicateBlobs int   `json:"duplicate_blobs"` // second copies of used blobs
	DuplicateBytes int64 `json:"duplicate_bytes"`
	HeaderBytes    int64 `json:"header_bytes"`    // pack headers of indexed packs
	CondemnedPacks int   `json:"condemned_packs"` // condemned, still in storage
	CondemnedBytes int64 `json:"condemned_bytes"`
	GarbagePacks   int   `json:"garbage_packs"` // in storage, in no index, not condemned yet
	GarbageBytes   int64 `json:"garbage_bytes"`
}

// Plan is what a prune will do. Its lists are sorted by pack id.
type Plan struct {
	Time      time.Time `json:"time"` // the repository's clock when planned
	Snapshots int       `json:"snapshots"`
	Trees     int       `json:"trees"`
	Stats     Stats     `json:"stats"`

	Repack  []PackPlan `json:"repack"`  // used blobs copied out, then condemned
	Condemn []PackPlan `json:"condemn"` // nothing used: condemned (deleted by a later prune)
	Revive  []PackPlan `json:"revive"`  // condemned, but a snapshot uses them again
	Delete  []PackPlan `json:"delete"`  // condemned long enough, and no session holds them
	Waiting []PackPlan `json:"waiting"` // condemned, in their grace period or held by a session
	// Deferred are packs worth repacking that --max-repack-size left for a later run.
	Deferred []PackPlan `json:"deferred,omitempty"`
	// Sessions are the live sessions that keep condemned packs waiting.
	Sessions []repo.LockInfo `json:"sessions,omitempty"`
	// Segments is how many index segments the compacted index replaces.
	Segments int `json:"segments"`
	// Warnings name damage prune works around (damaged blobs that snapshots use).
	Warnings []string `json:"warnings,omitempty"`
	// InstantDelete says the packs condemned by this run are deleted in it.
	InstantDelete bool `json:"instant_delete,omitempty"`

	partial  error                 // why the view of storage is not whole (nil: it is)
	copies   map[repo.ID][]uint32  // offsets of the used blobs to copy out of each repacked pack
	segments []repo.ID             // the index segments the plan was made from
	compact  int                   // at most how many segments a compacted index of this size has
	conds    map[repo.ID]time.Time // condemnations of the index, by pack
	dropped  map[repo.ID]bool      // condemnations of packs neither indexed nor stored
	deleting map[repo.ID]bool      // packs Execute deletes
	stored   map[repo.ID]int64     // packs in storage and their sizes
}

// Frees returns the bytes this run deletes, and the bytes it condemns
// (deleted by a prune after the grace period).
func (p *Plan) Frees() (now, later int64) {
	for _, pp := range p.Delete {
		if _, ok := p.stored[pp.ID]; ok {
			now += pp.Size
		}
	}
	for _, pp := range slices.Concat(p.Repack, p.Condemn) {
		if p.InstantDelete {
			now += pp.Size
		} else {
			later += pp.Size
		}
	}
	return now, later
}

// RepackBytes returns the bytes of used blobs the repack copies.
func (p *Plan) RepackBytes() int64 {
	var n int64
	for _, pp := range p.Repack {
		n += pp.UsedBytes
	}
	return n
}

// Changes reports whether executing the plan changes the repository. An
// index already as compact as writeIndex makes it is not written again:
// condemnations have segments of their own, so a repository in a grace
// period would otherwise have its index rewritten by every prune.
func (p *Plan) Changes() bool {
	return len(p.Repack)+len(p.Condemn)+len(p.Revive)+len(p.Delete)+len(p.dropped) > 0 || p.Segments > p.compact
}

// compactSegments bounds the segments writeIndex writes for an index of
// conds condemnations, packs packs and blobs blobs: each segment of packs
// but the last closes at segmentPacks packs or segmentBlobs blobs.
func compactSegments(conds, packs, blobs int) int {
	return ceilDiv(conds, segmentCondemned) + packs/segmentPacks + blobs/segmentBlobs + 1
}

func ceilDiv(a, b int) int { return (a + b - 1) / b }

// packState is one indexed pack while the plan is made.
type packState struct {
	PackPlan
	condemned bool
	present   bool
	damaged   bool // holds a damaged blob that no snapshot uses
}

// PlanPrune decides what a prune does. It changes nothing. The order of
// its reads matters: live sessions first, then the snapshots, then the
// index, so that every snapshot it reads has its blobs in the index it
// reads (the snapshot object is written after them), and every session
// that ended before the sessions were read has its snapshot among them.
func PlanPrune(ctx context.Context, r Repo, opts Options) (*Plan, error) {
	opts.Progress.setPhase("mark")
	p := &Plan{Time: r.Now(), InstantDelete: opts.InstantDelete, copies: map[repo.ID][]uint32{},
		conds: map[repo.ID]time.Time{}, dropped: map[repo.ID]bool{}, deleting: map[repo.ID]bool{}, stored: map[repo.ID]int64{}}
	sessions, err := r.LiveSessions(ctx)
	if err != nil {
		return nil, fmt.Errorf("read the sessions: %w", err)
	}
	snaps, err := loadSnapshots(ctx, r)
	if err != nil {
		return nil, err
	}
	p.Snapshots = len(snaps)
	if err := r.SyncIndex(ctx); err != nil {
		return nil, err
	}
	packs, err := p.readState(ctx, r, opts.CompleteView)
	if err != nil {
		return nil, err
	}
	npacks, blobs, err := r.IndexCounts()
	if err != nil {
		return nil, err
	}
	p.compact = compactSegments(len(p.conds), npacks, blobs)
	marks := r.NewBlobSet(blobs)
	defer marks.Close()
	if p.Trees, err = markUsed(ctx, r, snaps, marks, opts.Progress); err != nil {
		return nil, err
	}
	if err := marks.Seal(); err != nil {
		return nil, err
	}
	opts.Progress.setPhase("plan")
	if err := p.account(ctx, r, marks, packs, opts); err != nil {
		return nil, err
	}
	p.decide(r, packs, sessions, opts)
	if len(p.Repack) > 0 {
		if err := p.collectCopies(ctx, r, marks, packs, opts); err != nil {
			return nil, err
		}
	}
	return p, nil
}

// loadSnapshots reads every snapshot; one that cannot be read stops the
// prune, since what it uses is unknown. The snapshots are listed twice and
// the two listings joined: a snapshot that a listing left out (a store
// whose listings can miss objects, or a location that lags) would have its
// data pruned from under it, and two listings that miss the same object
// are far less likely. Both listings come before the index is read, so
// every snapshot found has its blobs in that index.
func loadSnapshots(ctx context.Context, r Repo) ([]*repo.Snapshot, error) {
	var bad []string
	onError := func(id repo.ID, err error) error {
		if errors.Is(err, backend.ErrNotFound) {
			return nil // forgotten since it was listed
		}
		bad = append(bad, fmt.Sprintf("%s (%v)", id.Short(), err))
		return nil
	}
	snaps, err := r.Snapshots(ctx, onError)
	if err != nil {
		return nil, fmt.Errorf("list snapshots: %w", err)
	}
	again, err := r.Snapshots(ctx, onError)
	if err != nil {
		return nil, fmt.Errorf("list snapshots: %w", err)
	}
	seen := make(map[repo.ID]bool, len(snaps))
	for _, s := range snaps {
		seen[s.ID()] = true
	}
	for _, s := range again {
		if !seen[s.ID()] {
			seen[s.ID()] = true
			snaps = append(snaps, s)
		}
	}
	slices.Sort(bad)
	bad = slices.Compact(bad)
	if len(bad) > 0 {
		return nil, fmt.Errorf("%w: %d snapshot(s) cannot be read: %s; prune changed nothing: run `cairn check`, and remove a snapshot damaged beyond repair with `cairn forget ID`",
			ErrUnusable, len(bad), strings.Join(bad, ", "))
	}
	return snaps, nil
}

// readState reads the packs in storage, the condemnations and the packs
// the index knows, and refuses an index that names packs storage lacks.
func (p *Plan) readState(ctx context.Context, r Repo, complete func() error) (map[repo.ID]*packState, error) {
	var err error
	if p.segments, err = r.CachedIndexSegments(); err != nil {
		return nil, err
	}
	p.Segments = len(p.segments)
	if err := r.ListPacks(ctx, func(sp repo.StoredPack) error {
		p.stored[sp.ID] = sp.Size
		p.Stats.Packs++
		p.Stats.PackBytes += sp.Size
		return nil
	}); err != nil {
		return nil, err
	}
	if complete != nil {
		p.partial = complete() // asked after listing, which finds unavailable locations
	}
	if err := r.ForEachCondemnation(ctx, func(cd repo.Condemnation) error {
		p.conds[cd.Pack] = cd.Time
		return nil
	}); err != nil {
		return nil, err
	}
	packs := map[repo.ID]*packState{}
	var missing, resized []string
	err = r.ForEachIndexedPack(ctx, func(ip repo.IndexedPack) error {
		size, present := p.stored[ip.ID]
		ps := &packState{PackPlan: PackPlan{ID: ip.ID, Size: ip.Size, CondemnedAt: ip.CondemnedAt}, condemned: ip.Condemned, present: present}
		packs[ip.ID] = ps
		switch {
		case ip.Condemned:
		case !present:
			missing = append(missing, repo.PackPath(ip.ID))
		case size != ip.Size:
			resized = append(resized, fmt.Sprintf("%s (%d bytes, the index says %d)", repo.PackPath(ip.ID), size, ip.Size))
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	if len(missing) > 0 && p.partial != nil {
		return nil, fmt.Errorf("%w: %d pack(s) the index names are in no reachable location (%v); prune changed nothing: run it again when every location is reachable",
			ErrUnusable, len(missing), p.partial)
	}
	if len(missing)+len(resized) > 0 {
		slices.Sort(missing)
		slices.Sort(resized)
		return nil, fmt.Errorf("%w: %s; prune changed nothing: run `cairn check` and `cairn repair index`",
			ErrUnusable, strings.Join(append(listed("pack(s) the index names are missing from storage", missing), listed("pack(s) differ in size from the index", resized)...), "; "))
	}
	return packs, nil
}

// listed formats a count and the first few names, or nothing.
func listed(what string, names []string) []string {
	if len(names) == 0 {
		return nil
	}
	shown := names[:min(len(names), 5)]
	more := ""
	if len(names) > len(shown) {
		more = fmt.Sprintf(" and %d more", len(names)-len(shown))
	}
	return []string{fmt.Sprintf("%d %s: %s%s", len(names), what, strings.Join(shown, ", "), more)}
}

// primary picks the copy of a used blob that stays: one in a pack that is
// not condemned if there is one, else one in a condemned pack still in
// storage (which is then revived); among those a copy not known to be
// damaged, then the copy in the largest pack (the least likely to be
// repacked), then the lowest pack id. It returns -1 when no copy is in
// storage. The choice depends only on the copies, the packs and the damage
// record, so both passes over the index make the same one.
func primary(jb *repo.JoinedBlob, packs map[repo.ID]*packState, damaged func(repo.ID, repo.BlobType, repo.ID) bool) int {
	bad := func(i int) bool { return damaged != nil && damaged(jb.Copies[i].Pack, jb.Type, jb.ID) }
	best := -1
	better := func(i int) bool {
		a, b := packs[jb.Copies[i].Pack], packs[jb.Copies[best].Pack]
		if a.condemned != b.condemned {
			return !a.condemned
		}
		if bi, bb := bad(i), bad(best); bi != bb {
			return !bi
		}
		if a.Size != b.Size {
			return a.Size > b.Size
		}
		return bytes.Compare(a.ID[:], b.ID[:]) < 0
	}
	for i, c := range jb.Copies {
		if ps := packs[c.Pack]; ps == nil || !ps.present {
			continue
		}
		if best < 0 || better(i) {
			best = i
		}
	}
	return best
}

// account is the first pass over the index: it counts, for every pack,
// the bytes of the blobs snapshots use (one copy each), of those none
// uses, and of second copies.
func (p *Plan) account(ctx context.Context, r Repo, marks *repo.BlobSet, packs map[repo.ID]*packState, opts Options) error {
	var missing []string
	nmissing := 0
	err := r.JoinBlobs(ctx, marks, func(jb *repo.JoinedBlob) error {
		opts.Progress.addBlob()
		if !jb.Marked {
			for _, c := range jb.Copies {
				if ps := packs[c.Pack]; ps != nil {
					ps.UnusedBlobs++
					ps.UnusedBytes += int64(c.Length)
					if opts.Damaged != nil && opts.Damaged(c.Pack, jb.Type, jb.ID) {
						ps.damaged = true
					}
				}
			}
			return nil
		}
		keep := primary(jb, packs, opts.Damaged)
		if keep < 0 {
			if nmissing++; len(missing) < 5 {
				missing = append(missing, fmt.Sprintf("%s %s", jb.Type, jb.ID.Short()))
			}
			return nil
		}
		for i, c := range jb.Copies {
			ps := packs[c.Pack]
			switch {
			case ps == nil:
			case i == keep:
				ps.UsedBlobs++
				ps.UsedBytes += int64(c.Length)
				if opts.Damaged != nil && opts.Damaged(c.Pack, jb.Type, jb.ID) {
					p.Warnings = append(p.Warnings, fmt.Sprintf("%s blob %s in %s is damaged and a snapshot uses it: run `cairn repair snapshots`", jb.Type, jb.ID.Short(), repo.PackPath(c.Pack)))
				}
			case !c.Condemned:
				ps.DuplicateBlobs++
				ps.DuplicateBytes += int64(c.Length)
				if opts.Damaged != nil && opts.Damaged(c.Pack, jb.Type, jb.ID) {
					ps.damaged = true
				}
			default:
				ps.UnusedBlobs++
				ps.UnusedBytes += int64(c.Length)
			}
			if ps != nil && ps.Type == "" {
				ps.Type = jb.Type.String()
			}
		}
		return nil
	})
	if err != nil {
		return err
	}
	if nmissing > 0 {
		more := ""
		if nmissing > len(missing) {
			more = fmt.Sprintf(" and %d more", nmissing-len(missing))
		}
		return fmt.Errorf("%w: %d blob(s) that snapshots use are in no pack in storage (%s%s); prune changed nothing: run `cairn repair index` if packs hold them, then `cairn check`, and `cairn repair snapshots` to drop what is lost",
			ErrUnusable, nmissing, strings.Join(missing, ", "), more)
	}
	return nil
}

// collectCopies is the second pass over the index: it lists, for every
// pack to repack, the offsets of the used blobs whose kept copy is there.
func (p *Plan) collectCopies(ctx context.Context, r Repo, marks *repo.BlobSet, packs map[repo.ID]*packState, opts Options) error {
	repack := map[repo.ID]bool{}
	for _, pp := range p.Repack {
		repack[pp.ID] = true
	}
	return r.JoinBlobs(ctx, marks, func(jb *repo.JoinedBlob) error {
		if !jb.Marked {
			return nil
		}
		if keep := primary(jb, packs, opts.Damaged); keep >= 0 && repack[jb.Copies[keep].Pack] {
			c := jb.Copies[keep]
			p.copies[c.Pack] = append(p.copies[c.Pack], c.Offset)
		}
		return nil
	})
}
