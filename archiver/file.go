package archiver

import (
	"context"
	"errors"
	"fmt"
	"hash"
	"io"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"golang.org/x/sys/unix"

	"github.com/cairnbackup/cairn/chunk"
	"github.com/cairnbackup/cairn/repo"
)

// fileJob asks a file worker to read one file.
type fileJob struct {
	dir   *dirState
	slot  int
	path  string
	node  repo.Node
	isNew bool // no node of this name in the parent snapshot
	// prev is the parent snapshot's node of this name, and siblings the
	// parent's tree of this folder: a grown file resumes after its old
	// content, a renamed one takes a sibling's chunk list.
	prev     *repo.Node
	siblings *repo.Tree
	// listed is the file's status when the walker listed it (nil if
	// unknown); a small file is read by it, without a status of its own
	// before the read.
	listed *syscall.Stat_t
}

// blobJob asks a blob worker to hash, compress, seal and pack one chunk.
type blobJob struct {
	buf *chunkBuf
	res *blobResult
	wg  *sync.WaitGroup
}

// chunkBuf is a copy of one chunk of a large file, shared by the blob
// worker that stores it and the file's hash lane; the last of the two to
// finish returns its bytes to the memory budget.
type chunkBuf struct {
	data []byte
	refs atomic.Int32
}

func (a *archiver) releaseChunk(b *chunkBuf) {
	if b.refs.Add(-1) == 0 {
		a.mem.Release(int64(len(b.data)))
	}
}

type blobResult struct {
	id     repo.ID
	length uint64
	hole   bool
	err    error
}

// repoError marks a failure of the repository (not of a source file): it
// stops the whole snapshot instead of skipping one file.
type repoError struct{ err error }

func (e *repoError) Error() string { return e.err.Error() }
func (e *repoError) Unwrap() error { return e.err }

func (a *archiver) fileWorker(ctx context.Context) {
	for job := range a.files {
		node, err := a.saveFile(ctx, job)
		var re *repoError
		switch {
		case errors.As(err, &re):
			a.fail(re.err)
			job.dir.skip(ctx, job.slot)
		case err != nil && ctx.Err() != nil:
			job.dir.skip(ctx, job.slot)
		case err != nil:
			a.warn(job.path, err)
			job.dir.skip(ctx, job.slot)
		default:
			job.dir.done(ctx, job.slot, node)
		}
	}
}

func (a *archiver) blobWorker(ctx context.Context) {
	for job := range a.blobs {
		a.saveChunk(ctx, job.buf.data, job.res)
		a.releaseChunk(job.buf)
		job.wg.Done()
	}
}

// saveChunk stores one chunk of file data.
func (a *archiver) saveChunk(ctx context.Context, data []byte, res *blobResult) {
	id := a.repo.BlobID(data)
	n, err := a.repo.SaveBlobWithID(ctx, repo.DataBlob, id, data)
	res.id, res.err = id, err
	if err != nil {
		res.err = &repoError{err}
		return
	}
	if n > 0 {
		a.sum.blobsAdded.Add(1)
		a.sum.bytesAdded.Add(uint64(len(data)))
		a.sum.bytesStored.Add(uint64(n))
		if a.prog != nil {
			a.prog.BytesAdded.Add(uint64(n))
		}
	}
}

// needsChunker reports whether a file of this status is cut into chunks:
// one of a chunk or more, or a sparse one. A smaller file is one chunk,
// read whole.
func needsChunker(st *syscall.Stat_t) bool {
	return st.Size >= chunk.MinSize || sparse(st)
}

// sparse reports whether a file has holes: fewer blocks than its size.
func sparse(st *syscall.Stat_t) bool {
	return st.Blocks*512 < st.Size
}

// saveFile reads a file and returns its node with content. A file that
// changes while it is read is read once more.
func (a *archiver) saveFile(ctx context.Context, job fileJob) (repo.Node, error) {
	f, err := openSource(job.path)
	if err != nil {
		return job.node, err
	}
	defer f.Close()
	node := job.node
	// A small file is read by the status it was listed with: the status
	// after the read tells whether it is still that file, unchanged (a
	// system call less for each of a million small files). A large one
	// is read by its status once open, so that a log written to since it
	// was listed is not read twice.
	st, listed := job.listed, true
	if st == nil || needsChunker(st) {
		if st, err = f.stat(); err != nil {
			return node, err
		}
		listed = false
	}
	// A file that needs a chunker waits for one of the few there are; a
	// small one (most of a million configuration files) reads past.
	var ch *chunk.Chunker
	defer func() {
		if ch != nil {
			a.chunkers <- ch
		}
	}()
	var c content
	reading := false
	for changes := 0; ; {
		if st.Mode&syscall.S_IFMT != syscall.S_IFREG {
			return node, fmt.Errorf("no longer a regular file")
		}
		if ch == nil && needsChunker(st) {
			select {
			case ch = <-a.chunkers:
			case <-ctx.Done():
				return node, ctx.Err()
			}
		}
		// The progress line lists the file from here, not while it
		// waits for a chunker: it names what is being read.
		if !reading {
			reading = true
			a.prog.start(job.path)
			defer a.prog.done(job.path)
		}
		if c, err = a.readFile(ctx, ch, f, st, &job); err != nil {
			if listed && ctx.Err() == nil {
				// Not the file it was listed as (a fifo cannot be read
				// by offset): judge it by what it is now.
				if now, serr := f.stat(); serr == nil && !sameStat(st, now) {
					st, listed = now, false
					continue
				}
			}
			return node, err
		}
		after, err := f.stat()
		if err != nil {
			return node, err
		}
		if sameStat(st, after) {
			break
		}
		st = after
		if listed {
			// It changed (or was replaced) between the listing and the
			// open: read it as it is now, as if its status had been
			// taken once open.
			listed = false
			continue
		}
		if changes++; changes == 2 {
			a.notice(job.path, "changed again while being read: the snapshot holds what was read the second time")
			break
		}
		a.notice(job.path, "changed while being read: reading it again")
	}
	node.Size, node.Content, node.Hash = c.size, c.extents, c.hash
	if c.chunked && a.content != nil && c.size >= chunk.MinSize {
		a.content.RememberContent(c.size, c.hash, c.extents)
	}
	node.ModTime = time.Unix(st.Mtim.Sec, st.Mtim.Nsec).UTC()
	node.ChangeTime = time.Unix(st.Ctim.Sec, st.Ctim.Nsec).UTC()
	node.Inode, node.Mode = st.Ino, uint32(st.Mode&0o7777)
	if job.isNew {
		a.sum.filesNew.Add(1)
	} else {
		a.sum.filesChanged.Add(1)
	}
	return node, nil
}

func sameStat(a, b *syscall.Stat_t) bool {
	return a.Size == b.Size && a.Mtim == b.Mtim && a.Ctim == b.Ctim && a.Ino == b.Ino
}

// content is what readContent found.
type content struct {
	size    uint64
	extents []repo.Extent
	hash    repo.ID
	chunked bool // its last part at least was chunked (not taken whole from another file)
}

// fileReader gathers one file's chunks, in order, as workers store them.
type fileReader struct {
	a      *archiver
	ch     *chunk.Chunker
	hasher hash.Hash
	parts  []*blobResult
	wg     sync.WaitGroup
	inline bool // small file: store chunks in this goroutine
	size   uint64

	// lane feeds a large file's chunks and holes, in order, to a goroutine
	// that computes the content hash, so that hashing overlaps chunking
	// instead of following it on the file worker (one big file otherwise
	// leaves a core idle). nil for small files, hashed inline.
	lane     chan laneItem
	laneDone chan struct{}

	// hashSkip is how many bytes of the chunks to come the hasher has
	// already seen (a grown file's re-chunked last old chunk).
	hashSkip uint64
}

// laneItem is a chunk to hash (less its first skip bytes), or (buf nil)
// a hole of zeros bytes.
type laneItem struct {
	buf   *chunkBuf
	skip  uint64
	zeros uint64
}

func (fr *fileReader) startLane() {
	fr.lane, fr.laneDone = make(chan laneItem, 8), make(chan struct{})
	go func() {
		defer close(fr.laneDone)
		for it := range fr.lane {
			if it.buf == nil {
				hashZeros(fr.hasher, it.zeros)
				continue
			}
			fr.hasher.Write(it.buf.data[it.skip:])
			fr.a.releaseChunk(it.buf)
		}
	}()
}

// wait waits for the blob workers and the hash lane to finish the file.
func (fr *fileReader) wait() {
	fr.wg.Wait()
	if fr.lane != nil {
		close(fr.lane)
		<-fr.laneDone
		fr.lane = nil
	}
}

// readContent reads a whole file, up to the size st gives it. Sparse
// files are read by their data regions only; their holes are recorded,
// not stored.
func (a *archiver) readContent(ctx context.Context, ch *chunk.Chunker, f *sourceFile, st *syscall.Stat_t) (content, error) {
	// Every read below says where it reads (pread): the file's offset,
	// which a first attempt or a prefix hash may have moved, plays no part.
	fr := &fileReader{a: a, ch: ch, hasher: repo.GetContentHasher(), inline: st.Size < chunk.MinSize}
	defer repo.PutContentHasher(fr.hasher)
	if !fr.inline {
		fr.startLane()
	}
	var err error
	switch {
	case sparse(st):
		err = fr.readSparse(ctx, f, st.Size)
	case fr.inline:
		err = fr.readSmall(ctx, f, st.Size)
	default:
		// No further than the size it had: a file written to faster than
		// it is read would otherwise never end. saveFile sees the growth
		// and reads it once more.
		err = fr.chunkRegion(ctx, io.NewSectionReader(f, 0, st.Size))
	}
	fr.wait()
	if err != nil {
		return content{}, err
	}
	return fr.result()
}

// readStream reads a stream (standard input) as one file.
func (a *archiver) readStream(ctx context.Context, r io.Reader) (content, error) {
	fr := &fileReader{a: a, ch: chunk.New(a.repo.Config().Polynomial), hasher: repo.GetContentHasher()}
	defer repo.PutContentHasher(fr.hasher)
	fr.startLane()
	err := fr.chunkRegion(ctx, r)
	fr.wait()
	if err != nil {
		return content{}, err
	}
	return fr.result()
}

func (fr *fileReader) result() (content, error) {
	c := content{size: fr.size, hash: repo.IDFromHasher(fr.hasher), chunked: true}
	for _, p := range fr.parts {
		if p.err != nil {
			return content{}, p.err
		}
		if p.hole && len(c.extents) > 0 && c.extents[len(c.extents)-1].Hole {
			c.extents[len(c.extents)-1].Length += p.length
			continue
		}
		c.extents = append(c.extents, repo.Extent{Blob: p.id, Length: p.length, Hole: p.hole})
	}
	return c, nil
}

// chunkRegion cuts r into chunks and hands each to the blob workers.
func (fr *fileReader) chunkRegion(ctx context.Context, r io.Reader) error {
	fr.ch.Reset(r)
	for {
		data, err := fr.ch.Next()
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return fmt.Errorf("read: %w", err)
		}
		fr.size += uint64(len(data))
		fr.a.sum.bytesRead.Add(uint64(len(data)))
		fr.a.sum.bytesChunked.Add(uint64(len(data)))
		skip := min(fr.hashSkip, uint64(len(data)))
		fr.hashSkip -= skip
		if fr.a.prog != nil {
			fr.a.prog.BytesRead.Add(uint64(len(data)))
			fr.a.prog.BytesChunked.Add(uint64(len(data)))
			fr.a.prog.BytesDone.Add(uint64(len(data)))
		}
		res := &blobResult{length: uint64(len(data))}
		fr.parts = append(fr.parts, res)
		if fr.lane == nil {
			fr.hasher.Write(data[skip:])
			fr.a.saveChunk(ctx, data, res)
			continue
		}
		if err := fr.a.mem.Acquire(ctx, int64(len(data))); err != nil {
			return err
		}
		buf := &chunkBuf{data: make([]byte, len(data))}
		copy(buf.data, data)
		buf.refs.Store(2)
		fr.lane <- laneItem{buf: buf, skip: skip}
		fr.wg.Add(1)
		select {
		case fr.a.blobs <- blobJob{buf: buf, res: res, wg: &fr.wg}:
		case <-ctx.Done():
			fr.a.releaseChunk(buf)
			fr.wg.Done()
			return ctx.Err()
		}
	}
}

// smallBufs hold a small file while it is stored.
var smallBufs = sync.Pool{New: func() any { b := make([]byte, chunk.MinSize); return &b }}

// readSmall stores a file smaller than the smallest chunk, which is one
// chunk whatever its bytes: one read of its size, where the chunker
// would read until end of file (a second read system call per file). A
// file that grew or shrank meanwhile is read again: saveFile compares its
// status before and after.
func (fr *fileReader) readSmall(ctx context.Context, f *sourceFile, size int64) error {
	if size == 0 {
		return nil
	}
	buf := smallBufs.Get().(*[]byte)
	defer smallBufs.Put(buf)
	b := (*buf)[:size]
	n, err := io.ReadFull(io.NewSectionReader(f, 0, size), b)
	if err != nil && err != io.ErrUnexpectedEOF {
		return fmt.Errorf("read: %w", err)
	}
	b = b[:n]
	if n == 0 {
		return nil
	}
	fr.size += uint64(n)
	fr.a.sum.bytesRead.Add(uint64(n))
	fr.a.sum.bytesChunked.Add(uint64(n))
	if fr.a.prog != nil {
		fr.a.prog.BytesRead.Add(uint64(n))
		fr.a.prog.BytesChunked.Add(uint64(n))
		fr.a.prog.BytesDone.Add(uint64(n))
	}
	res := &blobResult{length: uint64(n)}
	fr.parts = append(fr.parts, res)
	fr.hasher.Write(b)
	fr.a.saveChunk(ctx, b, res)
	return nil
}

// zeros feeds holes to the content hash.
var zeros = make([]byte, 1<<20)

func (fr *fileReader) hole(n uint64) {
	fr.parts = append(fr.parts, &blobResult{length: n, hole: true})
	fr.size += n
	if fr.a.prog != nil {
		fr.a.prog.BytesDone.Add(n)
	}
	if fr.lane != nil {
		fr.lane <- laneItem{zeros: n}
		return
	}
	hashZeros(fr.hasher, n)
}

func hashZeros(h hash.Hash, n uint64) {
	for n > 0 {
		k := min(n, uint64(len(zeros)))
		h.Write(zeros[:k])
		n -= k
	}
}

// readSparse walks a file's data regions with SEEK_DATA and SEEK_HOLE.
func (fr *fileReader) readSparse(ctx context.Context, f *sourceFile, size int64) error {
	fd := f.fd
	var off int64
	for off < size {
		data, err := unix.Seek(fd, off, unix.SEEK_DATA)
		if errors.Is(err, unix.ENXIO) {
			data = size
		} else if err != nil {
			return fmt.Errorf("find data: %w", err)
		}
		data = min(data, size)
		if data > off {
			fr.hole(uint64(data - off))
			off = data
		}
		if off >= size {
			break
		}
		end, err := unix.Seek(fd, off, unix.SEEK_HOLE)
		if err != nil {
			end = size
		}
		end = min(end, size)
		if err := fr.chunkRegion(ctx, io.NewSectionReader(f, off, end-off)); err != nil {
			return err
		}
		off = end
	}
	return nil
}
