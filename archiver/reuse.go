package archiver

import (
	"context"
	"errors"
	"fmt"
	"io"
	"slices"
	"sync"
	"syscall"

	"github.com/cairnbackup/cairn/chunk"
	"github.com/cairnbackup/cairn/repo"
)

// ContentIndex is implemented by repositories that remember large files'
// chunk lists by size and content hash (*repo.Repository): a file renamed
// or copied since an earlier snapshot is then hashed, not chunked. It is
// optional.
type ContentIndex interface {
	ContentStartsOfSize(size uint64) (starts []repo.Extent, complete bool)
	KnownContent(size uint64, hash repo.ID) ([]repo.Extent, bool)
	RememberContent(size uint64, hash repo.ID, ext []repo.Extent)
}

// readFile reads a new or changed file, doing as little work as the
// parent snapshot allows:
//
//   - a file that grew (its parent node, of the same name, is shorter) is
//     read and hashed up to its old size; when that prefix hashes to the
//     old content hash, the old chunk list stands for it but for its last
//     chunk, and chunking resumes at the start of that chunk. The chunker
//     restarts at every cut, so the cuts are those of a full re-chunk;
//   - a large file whose size equals a file of the parent's folder, or a
//     file the content index knows (renamed, rotated, copied), is hashed;
//     when the hash matches, it takes that file's chunk list;
//   - anything else, and a sparse file, is chunked in full.
//
// While a prefix or a whole file is hashed, its first bytes are also named
// as each candidate's first chunk (startCheck): equal bytes start with an
// equal first chunk, so a file that starts like neither the old content
// nor any file of its size stops being hashed there and is chunked: read
// twice for one chunk's length, not in full.
func (a *archiver) readFile(ctx context.Context, ch *chunk.Chunker, f *sourceFile, st *syscall.Stat_t, job *fileJob) (content, error) {
	size := uint64(st.Size)
	if !a.opts.ReadAll && !sparse(st) {
		if prev := growable(job.prev, size); prev != nil {
			c, ok, err := a.readGrown(ctx, ch, f, st, prev)
			if err != nil || ok {
				return c, err
			}
		}
		if size >= chunk.MinSize {
			c, ok, err := a.readKnown(f, st, job)
			if err != nil || ok {
				return c, err
			}
		}
	}
	return a.readContent(ctx, ch, f, st)
}

// growable returns the parent's node when the file may have grown from
// it: a regular file without holes, shorter than size now, of two chunks
// or more (the last old chunk is chunked again, so one would save
// nothing).
func growable(pn *repo.Node, size uint64) *repo.Node {
	if pn == nil || pn.Type != repo.NodeFile || pn.Size == 0 || pn.Size >= size || len(pn.Content) < 2 || pn.Hash == (repo.ID{}) {
		return nil
	}
	for _, e := range pn.Content {
		if e.Hole {
			return nil
		}
	}
	return pn
}

// hashBufs are the buffers prefixes and whole files are hashed through.
var hashBufs = sync.Pool{New: func() any { b := make([]byte, 1<<20); return &b }}

// hashPrefix hashes the first n bytes of f into h and returns how many it
// read. With starts (the first extents of the files f may equal), it stops
// early, with errNoStart, once f's first bytes are none of them.
func (a *archiver) hashPrefix(f *sourceFile, h io.Writer, n int64, starts []repo.Extent) (int64, error) {
	buf := hashBufs.Get().(*[]byte)
	defer hashBufs.Put(buf)
	w := h
	if sc := a.newStartCheck(starts); sc != nil {
		w = io.MultiWriter(sc, h)
	}
	got, err := io.CopyBuffer(w, io.NewSectionReader(f, 0, n), *buf)
	a.sum.bytesRead.Add(uint64(got))
	if a.prog != nil {
		a.prog.BytesRead.Add(uint64(got))
		a.prog.BytesHashedOnly.Add(uint64(got))
	}
	if errors.Is(err, errNoStart) {
		return got, err
	}
	if err != nil {
		return got, fmt.Errorf("read: %w", err)
	}
	return got, nil
}

// errNoStart stops a hash: the file starts like none of the files it was
// hashed to be compared with.
var errNoStart = errors.New("starts like no candidate")

// startCheck names a file's first bytes as the blob each candidate's
// first extent is, while they are hashed: equal bytes start with an equal
// first chunk (the chunker's first cut depends on the first bytes alone),
// so a file none of whose candidates' first chunks it starts with equals
// none of them, and need not be read further. It costs one keyed hash of
// the first chunk's bytes, and no read.
type startCheck struct {
	h     repo.BlobHasher
	ends  []uint64 // the candidates' first-extent lengths, ascending, distinct
	ids   map[repo.ID]uint64
	n     uint64 // bytes seen
	found bool
	sum   []byte
}

// newStartCheck returns a check against starts, or nil when none can rule
// anything out (no candidates, or one starting with a hole).
func (a *archiver) newStartCheck(starts []repo.Extent) *startCheck {
	if len(starts) == 0 {
		return nil
	}
	sc := &startCheck{h: a.repo.NewBlobHasher(), ids: make(map[repo.ID]uint64, len(starts))}
	for _, e := range starts {
		if e.Hole || e.Length == 0 {
			return nil
		}
		sc.ids[e.Blob] = e.Length
		sc.ends = append(sc.ends, e.Length)
	}
	slices.Sort(sc.ends)
	sc.ends = slices.Compact(sc.ends)
	return sc
}

// Write feeds the keyed hasher up to the longest first extent, checking
// at each candidate length; it fails with errNoStart once past them all
// without a match.
func (sc *startCheck) Write(p []byte) (int, error) {
	if sc.found {
		return len(p), nil
	}
	for rest := p; len(rest) > 0 && len(sc.ends) > 0; {
		k := min(uint64(len(rest)), sc.ends[0]-sc.n)
		sc.h.Write(rest[:k])
		sc.n += k
		rest = rest[k:]
		if sc.n < sc.ends[0] {
			break
		}
		sc.sum = sc.h.Sum(sc.sum[:0])
		if l, ok := sc.ids[repo.ID(sc.sum)]; ok && l == sc.n {
			sc.found = true
			return len(p), nil
		}
		sc.ends = sc.ends[1:]
	}
	if len(sc.ends) == 0 {
		return len(p), errNoStart // all of p was read: count it
	}
	return len(p), nil
}

// readGrown reads a file that may have grown from prev; ok is false when
// its first prev.Size bytes are not prev's content.
func (a *archiver) readGrown(ctx context.Context, ch *chunk.Chunker, f *sourceFile, st *syscall.Stat_t, prev *repo.Node) (content, bool, error) {
	h := repo.GetContentHasher()
	defer repo.PutContentHasher(h)
	n, err := a.hashPrefix(f, h, int64(prev.Size), prev.Content[:1])
	if errors.Is(err, errNoStart) {
		a.sum.bytesHashedOnly.Add(uint64(n))
		return content{}, false, nil // changed in its first chunk: chunk it all
	}
	if err != nil {
		return content{}, false, err
	}
	last := prev.Content[len(prev.Content)-1]
	start := prev.Size - last.Length
	if uint64(n) != prev.Size || repo.IDFromHasher(h) != prev.Hash {
		a.sum.bytesHashedOnly.Add(uint64(n))
		return content{}, false, nil // changed in place: chunk it all
	}
	a.sum.bytesHashedOnly.Add(start)
	a.sum.filesGrown.Add(1)
	if a.prog != nil {
		a.prog.BytesDone.Add(start)
	}
	fr := &fileReader{a: a, ch: ch, hasher: h, inline: st.Size < chunk.MinSize, hashSkip: last.Length, size: start}
	for _, e := range prev.Content[:len(prev.Content)-1] {
		fr.parts = append(fr.parts, &blobResult{id: e.Blob, length: e.Length})
	}
	if !fr.inline {
		fr.startLane()
	}
	err = fr.chunkRegion(ctx, io.NewSectionReader(f, int64(start), st.Size-int64(start))) // no further than st.Size, as readContent
	fr.wait()
	if err != nil {
		return content{}, false, err
	}
	c, err := fr.result()
	return c, true, err
}

// readKnown hashes a large file whose size matches a file of the parent's
// folder or of the content index, and takes that file's chunk list when
// the hash matches too; ok is false otherwise.
func (a *archiver) readKnown(f *sourceFile, st *syscall.Stat_t, job *fileJob) (content, bool, error) {
	size := uint64(st.Size)
	var cands []*repo.Node
	var starts []repo.Extent
	if job.siblings != nil {
		for i := range job.siblings.Nodes {
			n := &job.siblings.Nodes[i]
			if n.Type == repo.NodeFile && n.Size == size && len(n.Content) > 0 && n.Hash != (repo.ID{}) {
				cands = append(cands, n)
				starts = append(starts, n.Content[0])
			}
		}
	}
	indexed, complete := false, true
	if a.content != nil {
		more, ok := a.content.ContentStartsOfSize(size)
		indexed, complete = len(more) > 0 || !ok, ok
		starts = append(starts, more...)
	}
	if len(cands) == 0 && !indexed {
		return content{}, false, nil
	}
	if !complete {
		starts = nil // too many files of its size to rule any out
	}
	h := repo.GetContentHasher()
	defer repo.PutContentHasher(h)
	n, err := a.hashPrefix(f, h, st.Size, starts)
	if errors.Is(err, errNoStart) {
		a.sum.bytesHashedOnly.Add(uint64(n))
		return content{}, false, nil // starts like no file of its size
	}
	if err != nil {
		return content{}, false, err
	}
	a.sum.bytesHashedOnly.Add(uint64(n))
	if uint64(n) != size {
		return content{}, false, nil // it changed: the full read finds out
	}
	hash := repo.IDFromHasher(h)
	var ext []repo.Extent
	for _, c := range cands {
		if c.Hash == hash {
			ext = c.Content
			break
		}
	}
	if ext == nil && indexed {
		ext, _ = a.content.KnownContent(size, hash)
	}
	if ext == nil {
		return content{}, false, nil
	}
	a.sum.filesMatched.Add(1)
	if a.prog != nil {
		a.prog.BytesDone.Add(size)
	}
	return content{size: size, extents: slices.Clone(ext), hash: hash}, true, nil
}
