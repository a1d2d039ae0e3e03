package check

import (
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/cairnbackup/cairn/backend"
	"github.com/cairnbackup/cairn/repo"
)

// Report is what a check found. It is also the JSON form of the result.
type Report struct {
	Repository   string         `json:"repository"`
	RepositoryID repo.ID        `json:"repository_id"`
	Start        time.Time      `json:"start"`
	End          time.Time      `json:"end"`
	Interrupted  bool           `json:"interrupted,omitempty"`
	Structure    StructureStats `json:"structure"`
	ReadData     *ReadDataStats `json:"read_data,omitempty"`
	Drills       []DrillResult  `json:"drills,omitempty"`
	Garbage      GarbageStats   `json:"garbage"`
	Problems     []*Problem     `json:"problems"`
	Notes        []string       `json:"notes,omitempty"`
	// Record is the history record that keeps this check's summary, and
	// RecordError why it could not be saved.
	Record      repo.ID `json:"record,omitzero"`
	RecordError string  `json:"record_error,omitempty"`
}

// Damaged reports whether the check found anything wrong.
func (r *Report) Damaged() bool { return len(r.Problems) > 0 }

// StructureStats counts what the structure check looked at.
type StructureStats struct {
	KeyFiles       int   `json:"key_files"`
	IndexSegments  int   `json:"index_segments"`
	Packs          int   `json:"packs"` // packs the index names
	PackBytes      int64 `json:"pack_bytes"`
	CondemnedPacks int   `json:"condemned_packs"`
	Snapshots      int   `json:"snapshots"`
	Trees          int   `json:"trees"`
	DataBlobRefs   int64 `json:"data_blob_refs"`
	HeadersChecked int   `json:"headers_checked"`
}

// GarbageStats counts packs in storage that no index names: left by an
// interrupted snapshot, or waiting for a writer's index segment. They are
// not damage; prune removes them.
type GarbageStats struct {
	Packs int       `json:"packs"`
	Bytes int64     `json:"bytes"`
	IDs   []repo.ID `json:"ids,omitempty"` // the first maxListed
}

// ReadDataStats says what the read-data pass read.
type ReadDataStats struct {
	Subset   string  `json:"subset"`
	Packs    int     `json:"packs"`       // packs read in this run
	Eligible int     `json:"packs_total"` // packs the subset chose from
	Resumed  int     `json:"resumed"`     // skipped: verified by the interrupted run this one resumes
	Bytes    int64   `json:"bytes"`
	Blobs    int64   `json:"blobs"`
	Damaged  int     `json:"damaged_packs"`
	Seconds  float64 `json:"seconds"`
}

// Kind classifies a problem.
type Kind string

// Problem kinds.
const (
	KindKeyFile       Kind = "key-file"       // a key file does not parse or hash to its name
	KindIndexSegment  Kind = "index-segment"  // an index segment is missing, damaged or does not decode
	KindPackMissing   Kind = "pack-missing"   // the index names a pack storage lacks
	KindPackSize      Kind = "pack-size"      // a pack's size differs from the index (truncated)
	KindPackDamaged   Kind = "pack-damaged"   // a pack's bytes do not hash to its name, its header or blobs fail
	KindIndexMismatch Kind = "index-mismatch" // a pack's header and the index disagree
	KindSnapshot      Kind = "snapshot"       // a snapshot object does not open or decode
	KindTreeDamaged   Kind = "tree-damaged"   // a tree blob cannot be loaded
	KindBlobMissing   Kind = "blob-missing"   // snapshots reference blobs that no index holds
	KindDrill         Kind = "drill"          // a restore drill produced a file that differs from the snapshot
)

// maxListed bounds the ids, blobs and affected files a problem lists; the
// totals count all of them.
const maxListed = 100

// Problem is one damaged object: what it is, what is wrong, the files it
// takes away, and what to do.
type Problem struct {
	Kind          Kind       `json:"kind"`
	Object        string     `json:"object"` // "data/3f/3f09…", "index/…", "tree 3f09…", …
	ID            repo.ID    `json:"id,omitzero"`
	Faults        []string   `json:"faults"`
	Fix           string     `json:"fix"`
	Blobs         []BlobRef  `json:"blobs,omitempty"` // damaged or lost blobs (the first maxListed)
	BlobsTotal    int        `json:"blobs_total,omitempty"`
	Affected      []Affected `json:"affected,omitempty"` // the first maxListed
	AffectedTotal int        `json:"affected_total"`
	GoodCopy      string     `json:"good_copy,omitempty"` // another location holding a sound copy

	handle  *backend.Handle // the stored object, when the problem is one
	blobSet map[blobKey]bool
}

// BlobRef names a blob.
type BlobRef struct {
	Type string  `json:"type"`
	ID   repo.ID `json:"id"`
}

// Affected is a file or folder that a problem takes away from a snapshot.
type Affected struct {
	Snapshot repo.ID   `json:"snapshot"`
	Time     time.Time `json:"time"`
	Path     string    `json:"path"`
	Folder   bool      `json:"folder,omitempty"` // the folder's contents are lost
}

// String is a one-line summary: "pack-damaged data/3f/3f09…: fault; fault".
func (p *Problem) String() string {
	return fmt.Sprintf("%s %s: %s", p.Kind, p.Object, strings.Join(p.Faults, "; "))
}

func (p *Problem) fault(format string, args ...any) {
	f := fmt.Sprintf(format, args...)
	if !slices.Contains(p.Faults, f) {
		p.Faults = append(p.Faults, f)
	}
}

func (p *Problem) addBlob(k blobKey) bool {
	if p.blobSet == nil {
		p.blobSet = map[blobKey]bool{}
	}
	if p.blobSet[k] {
		return false
	}
	p.blobSet[k] = true
	p.BlobsTotal++
	if len(p.Blobs) < maxListed {
		p.Blobs = append(p.Blobs, BlobRef{Type: k.t.String(), ID: k.id})
	}
	return true
}

func (p *Problem) addAffected(a Affected) {
	p.AffectedTotal++
	if len(p.Affected) < maxListed {
		p.Affected = append(p.Affected, a)
	}
}

// Fixes, said once per kind of damage.
const (
	fixRepairIndex = "run `cairn repair index` to rebuild the index from the pack headers"
	fixPack        = "restore the pack from another copy of the repository; if there is none, run `cairn repair index` and then `cairn repair snapshots` to drop the files that need it"
	fixPackData    = "restore the pack from another copy of the repository; if there is none, run `cairn repair snapshots` to drop the damaged files"
	fixHeaderOnly  = "restore the pack from another copy of the repository; its blobs all verify, so restores still work, but `cairn repair index --read-all-packs` would drop it"
	fixSnapshot    = "restore the snapshot object from another copy, or remove it (it cannot be read)"
	fixTree        = "restore the pack holding the tree from another copy; if there is none, run `cairn repair snapshots`"
	fixMissing     = "run `cairn repair index` (the blobs may be in packs that no index segment names); blobs still missing after that are lost: run `cairn repair snapshots`"
	fixKeyFile     = "remove the damaged key file with `cairn key remove` (other keys still open the repository)"
	fixDrill       = "run `cairn check --read-data` to find the damaged pack"
	fixUnused      = "no snapshot uses the damaged blobs: run `cairn prune`, which copies the sound blobs out of the pack and removes it (or restore the pack from another copy)"
)

// problem adds a new problem to the report.
func (c *checker) problem(kind Kind, object string, id repo.ID, fix string) *Problem {
	p := &Problem{Kind: kind, Object: object, ID: id, Fix: fix}
	c.rep.Problems = append(c.rep.Problems, p)
	c.opts.Progress.fault()
	return p
}

// packProblem returns the problem of a pack, creating it with kind.
// The caller holds c.mu.
func (c *checker) packProblem(id repo.ID, kind Kind, fix string) *Problem {
	if p, ok := c.packProbs[id]; ok {
		return p
	}
	p := c.problem(kind, repo.PackPath(id), id, fix)
	p.handle = &backend.Handle{Type: backend.PackFile, Name: id.String()}
	c.packProbs[id] = p
	return p
}

// markDamaged records that blob k is lost to problem p. The caller holds c.mu.
func (c *checker) markDamaged(p *Problem, k blobKey) {
	if p.addBlob(k) {
		c.damaged[k] = append(c.damaged[k], p)
	}
}

// addGarbage counts an unreferenced pack.
func (c *checker) addGarbage(id repo.ID, size int64) {
	g := &c.rep.Garbage
	g.Packs++
	g.Bytes += size
	if len(g.IDs) < maxListed {
		g.IDs = append(g.IDs, id)
	}
}
