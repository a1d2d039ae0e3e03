package prune

import (
	"sync"
	"sync/atomic"
)

// Progress is what a running prune has done, for a progress display. The
// counters are safe to read at any time; a nil *Progress ignores updates.
type Progress struct {
	mu    sync.Mutex
	phase string

	Trees        atomic.Int64 // trees marked
	Blobs        atomic.Int64 // blobs of the index looked at
	RepackPacks  atomic.Int64 // packs whose used blobs were copied
	RepackBytes  atomic.Int64 // bytes copied so far
	RepackTotal  atomic.Int64 // bytes to copy
	DeletedPacks atomic.Int64 // packs deleted so far
	DeleteTotal  atomic.Int64 // packs to delete
}

// Phase returns what the prune is doing: "mark", "plan", "repack",
// "index", "delete" (or "" before it starts).
func (p *Progress) Phase() string {
	if p == nil {
		return ""
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.phase
}

func (p *Progress) setPhase(s string) {
	if p == nil {
		return
	}
	p.mu.Lock()
	p.phase = s
	p.mu.Unlock()
}

func (p *Progress) addTree() {
	if p != nil {
		p.Trees.Add(1)
	}
}

func (p *Progress) addBlob() {
	if p != nil {
		p.Blobs.Add(1)
	}
}

func (p *Progress) repacked(bytes int64) {
	if p != nil {
		p.RepackBytes.Add(bytes)
	}
}

func (p *Progress) packDone() {
	if p != nil {
		p.RepackPacks.Add(1)
	}
}

func (p *Progress) deleted() {
	if p != nil {
		p.DeletedPacks.Add(1)
	}
}
