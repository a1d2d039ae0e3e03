package prune

import (
	"bytes"
	"cmp"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/cairnbackup/cairn/repo"
)

// repackCandidate is a pack worth repacking, with its priority.
type repackCandidate struct {
	ps    *packState
	rank  int     // 0 damaged, 1 sparse, 2 small
	share float64 // unused share
}

// decide turns the counts into the plan's lists.
func (p *Plan) decide(r Repo, packs map[repo.ID]*packState, sessions []repo.LockInfo, opts Options) {
	ids := make([]repo.ID, 0, len(packs))
	for id := range packs {
		ids = append(ids, id)
	}
	sortIDs(ids)
	blocking := map[repo.ID]bool{}
	var cands []repackCandidate
	small := map[string][]*packState{}
	for _, id := range ids {
		ps := packs[id]
		p.addStats(ps)
		if ps.condemned {
			p.decideCondemned(ps, sessions, opts, blocking)
			continue
		}
		unused := ps.UnusedBytes + ps.DuplicateBytes
		share := float64(unused) / float64(max(ps.Size, 1))
		switch {
		case ps.UsedBlobs == 0:
			ps.Reason = "no snapshot uses it"
			p.Condemn = append(p.Condemn, ps.PackPlan)
		case ps.damaged:
			ps.Reason = "holds damaged blobs that no snapshot uses"
			cands = append(cands, repackCandidate{ps: ps, rank: 0, share: share})
		case share > opts.MaxUnused:
			ps.Reason = fmt.Sprintf("%.0f%% unused", 100*share)
			cands = append(cands, repackCandidate{ps: ps, rank: 1, share: share})
		case opts.RepackSmall && float64(ps.Size) < SmallPackShare*float64(r.Config().PackSize):
			small[ps.Type] = append(small[ps.Type], ps)
		}
	}
	for _, l := range small {
		if len(l) < 2 {
			continue // repacking one small pack makes another
		}
		for _, ps := range l {
			ps.Reason = "small"
			cands = append(cands, repackCandidate{ps: ps, rank: 2})
		}
	}
	p.chooseRepacks(cands, opts)
	p.decideUnindexed(packs, sessions, opts, blocking)
	p.holdIfPartial()
	for _, s := range sessions {
		if blocking[s.ID] {
			p.Sessions = append(p.Sessions, s)
		}
	}
	if p.InstantDelete {
		for _, l := range [][]PackPlan{p.Repack, p.Condemn} {
			for _, pp := range l {
				p.deleting[pp.ID] = true
			}
		}
	}
	for _, pp := range p.Delete {
		p.deleting[pp.ID] = true
	}
}

// holdIfPartial keeps everything that would be deleted, or dropped from
// the index, when the view of storage is not whole: a location that cannot
// be reached may hold a snapshot that uses it (that location's copy of a
// pack missing here, too).
func (p *Plan) holdIfPartial() {
	if p.partial == nil {
		return
	}
	why := fmt.Sprintf("deleting waits until every location is reachable (%v)", p.partial)
	for _, pp := range p.Delete {
		pp.Reason = why
		p.Waiting = append(p.Waiting, pp)
	}
	slices.SortFunc(p.Waiting, func(a, b PackPlan) int { return bytes.Compare(a.ID[:], b.ID[:]) })
	p.Delete = nil
	clear(p.dropped)
	p.InstantDelete = false
	p.Warnings = append(p.Warnings, "nothing is deleted: "+why)
}

// addStats adds an indexed pack to the storage statistics.
func (p *Plan) addStats(ps *packState) {
	if !ps.present {
		return
	}
	if ps.condemned {
		p.Stats.CondemnedPacks++
		p.Stats.CondemnedBytes += ps.Size
		return
	}
	p.Stats.UsedBlobs += ps.UsedBlobs
	p.Stats.UsedBytes += ps.UsedBytes
	p.Stats.UnusedBlobs += ps.UnusedBlobs
	p.Stats.UnusedBytes += ps.UnusedBytes
	p.Stats.DuplicateBlobs += ps.DuplicateBlobs
	p.Stats.DuplicateBytes += ps.DuplicateBytes
	p.Stats.HeaderBytes += ps.Size - ps.UsedBytes - ps.UnusedBytes - ps.DuplicateBytes
}

// decideCondemned revives, deletes or keeps waiting a condemned pack.
func (p *Plan) decideCondemned(ps *packState, sessions []repo.LockInfo, opts Options, blocking map[repo.ID]bool) {
	switch {
	case ps.UsedBlobs > 0:
		ps.Reason = fmt.Sprintf("snapshots use %d of its blobs again", ps.UsedBlobs)
		if !ps.present {
			return // cannot happen: primary skips packs not in storage
		}
		p.Revive = append(p.Revive, ps.PackPlan)
	case !ps.present:
		ps.Reason = "already gone from storage"
		p.Delete = append(p.Delete, ps.PackPlan)
	default:
		p.condemnedFate(ps.PackPlan, sessions, opts, blocking)
	}
}

// condemnedFate puts an unused condemned pack in Delete or Waiting.
func (p *Plan) condemnedFate(pp PackPlan, sessions []repo.LockInfo, opts Options, blocking map[repo.ID]bool) {
	if opts.InstantDelete {
		pp.Reason = "condemned; --instant-delete"
		p.Delete = append(p.Delete, pp)
		return
	}
	if due := pp.CondemnedAt.Add(opts.KeepDelete); p.Time.Before(due) {
		pp.Reason = fmt.Sprintf("grace period until %s", due.Local().Format(time.RFC3339))
		p.Waiting = append(p.Waiting, pp)
		return
	}
	var held []string
	for _, s := range sessions {
		if !s.Start.After(pp.CondemnedAt.Add(SessionMargin)) {
			blocking[s.ID] = true
			held = append(held, fmt.Sprintf("pid %d on %s since %s", s.PID, s.Host, s.Start.Local().Format(time.RFC3339)))
		}
	}
	if len(held) > 0 {
		pp.Reason = "a session older than its condemnation is still running (" + strings.Join(held, "; ") + ")"
		p.Waiting = append(p.Waiting, pp)
		return
	}
	pp.Reason = "condemned at " + pp.CondemnedAt.Local().Format(time.RFC3339) + "; nothing uses it"
	p.Delete = append(p.Delete, pp)
}

// decideUnindexed condemns the packs in storage that no index names, and
// decides the fate of the ones condemned before; condemnations of packs
// that are neither indexed nor stored are dropped.
func (p *Plan) decideUnindexed(packs map[repo.ID]*packState, sessions []repo.LockInfo, opts Options, blocking map[repo.ID]bool) {
	var ids []repo.ID
	for id := range p.stored {
		if packs[id] == nil {
			ids = append(ids, id)
		}
	}
	sortIDs(ids)
	for _, id := range ids {
		pp := PackPlan{ID: id, Size: p.stored[id]}
		at, condemned := p.conds[id]
		if !condemned {
			p.Stats.GarbagePacks++
			p.Stats.GarbageBytes += pp.Size
			pp.Reason = "in storage but in no index (left by an interrupted run, or being written now)"
			p.Condemn = append(p.Condemn, pp)
			continue
		}
		p.Stats.CondemnedPacks++
		p.Stats.CondemnedBytes += pp.Size
		pp.CondemnedAt = at
		p.condemnedFate(pp, sessions, opts, blocking)
	}
	for id := range p.conds {
		if _, stored := p.stored[id]; !stored && packs[id] == nil {
			p.dropped[id] = true
		}
	}
	slices.SortFunc(p.Delete, func(a, b PackPlan) int { return bytes.Compare(a.ID[:], b.ID[:]) })
	slices.SortFunc(p.Waiting, func(a, b PackPlan) int { return bytes.Compare(a.ID[:], b.ID[:]) })
	slices.SortFunc(p.Condemn, func(a, b PackPlan) int { return bytes.Compare(a.ID[:], b.ID[:]) })
}

// chooseRepacks orders the candidates (damaged first, then by unused
// share, then small ones) and takes them within MaxRepackBytes.
func (p *Plan) chooseRepacks(cands []repackCandidate, opts Options) {
	slices.SortStableFunc(cands, func(a, b repackCandidate) int {
		if a.rank != b.rank {
			return cmp.Compare(a.rank, b.rank)
		}
		return cmp.Compare(b.share, a.share)
	})
	var total int64
	for _, c := range cands {
		if opts.MaxRepackBytes > 0 && total+c.ps.UsedBytes > opts.MaxRepackBytes && c.rank > 0 {
			c.ps.Reason += "; deferred by --max-repack-size"
			p.Deferred = append(p.Deferred, c.ps.PackPlan)
			continue
		}
		total += c.ps.UsedBytes
		p.Repack = append(p.Repack, c.ps.PackPlan)
	}
	slices.SortFunc(p.Repack, func(a, b PackPlan) int { return bytes.Compare(a.ID[:], b.ID[:]) })
}
