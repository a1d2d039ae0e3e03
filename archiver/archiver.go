// Package archiver takes snapshots: it walks source paths, reuses the
// content of files unchanged since a parent snapshot, cuts the rest into
// chunks that a pool of workers hashes, compresses, seals and packs, and
// builds the trees bottom-up. Memory is bounded by a budget of chunk bytes in
// flight, whatever the size of the sources.
package archiver

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/sync/semaphore"

	"github.com/cairnbackup/cairn/chunk"
	"github.com/cairnbackup/cairn/pattern"
	"github.com/cairnbackup/cairn/repo"
)

// Repo is what the archiver needs from a repository.
type Repo interface {
	Config() repo.Config
	BlobID(plain []byte) repo.ID
	NewBlobHasher() repo.BlobHasher
	SaveBlobWithID(ctx context.Context, t repo.BlobType, id repo.ID, plain []byte) (int, error)
	LoadTree(ctx context.Context, id repo.ID) (*repo.Tree, error)
	SaveSnapshot(ctx context.Context, s *repo.Snapshot) (repo.ID, error)
	HasBlob(t repo.BlobType, id repo.ID) (bool, error)
	SetCompression(level string) error
}

// checkpointer is implemented by repositories that can index the packs
// uploaded so far (*repo.Repository).
type checkpointer interface {
	Checkpoint(ctx context.Context) error
}

// Options describe one snapshot.
type Options struct {
	Paths         []string       // sources; made absolute and cleaned
	Filter        pattern.Filter // include/exclude patterns on absolute paths
	ExcludeCaches bool           // skip the contents of folders holding a valid CACHEDIR.TAG
	OneFileSystem bool           // do not cross into other file systems below a source
	// ExcludeIfPresent skips the contents of folders holding a file of one
	// of these names (the file itself is kept), as ExcludeCaches does.
	ExcludeIfPresent  []string
	ExcludeLargerThan int64 // leave out files larger than this many bytes; 0: none

	// Compression is the level of the blobs this snapshot adds (one of
	// repo.CompressionLevels); "" or auto keeps the repository's.
	Compression string
	// DryRun reads the sources and looks up their blobs, but stores
	// nothing: no blob, no tree, no snapshot. The result says what would
	// have been added.
	DryRun bool
	// SkipIfUnchanged writes no snapshot when the root tree is the
	// parent's: nothing changed.
	SkipIfUnchanged bool

	Host, User, Job string
	Tags            []string
	Parent          *repo.Snapshot // for change detection; nil takes every file as new
	Time            time.Time      // the snapshot's time; zero means now
	ProgramVersion  string

	// Stdin, when set, is stored as the single file StdinName instead of
	// walking Paths.
	Stdin     io.Reader
	StdinName string

	// Missing are sources that were given but do not exist (see
	// CleanSources); each is told to Warn and counted as unreadable.
	Missing []*fs.PathError

	// Warn is told about each file or folder that could not be read and was
	// left out of the snapshot.
	Warn func(path string, err error)
	// Notice is told about anything else worth knowing (a file that changed
	// while it was read).
	Notice func(path, msg string)
	// Progress, when set, is updated as the snapshot runs.
	Progress *Progress

	// ReadAll chunks every new or changed file in full (snapshot --force):
	// nothing is taken from a grown file's old content or from the
	// content index.
	ReadAll bool

	// ReadThread, when set, is called on the OS thread of each goroutine
	// that reads the sources (the walker and the file workers). The
	// goroutine stays locked to that thread, which ends with it, so the
	// function may set the thread's I/O priority or niceness without
	// touching the rest of the process. An error is a notice; the snapshot
	// goes on.
	ReadThread func() error

	// FileWorkers is how many files are read at once; 0 means 4. At most
	// two of them (or FileWorkers, if fewer) read files that are cut into
	// chunks (a chunk or more, or sparse), each with a chunker of the two:
	// small files wait mostly on system calls and want more in flight (a
	// million of them: 14.8 s with two workers, 12.5 s with four), large
	// ones use a core each and hold buffers, and a disk serves two streams
	// better than four.
	FileWorkers int
	BlobWorkers int   // chunks hashed, compressed and sealed at once; 0 means GOMAXPROCS
	MemoryLimit int64 // chunk bytes in flight; 0 means 16 MiB (two chunks of the largest size), never less than one
}

// Progress holds live counters, safe to read while a snapshot runs. Files
// counts regular files and Dirs folders, as Scan's Totals do.
type Progress struct {
	Files, Dirs, Errors atomic.Uint64
	BytesDone           atomic.Uint64 // bytes of files processed (read or reused)
	BytesRead           atomic.Uint64
	BytesChunked        atomic.Uint64 // read and cut into chunks
	BytesHashedOnly     atomic.Uint64 // read and hashed only (grown, renamed, copied files)
	BytesAdded          atomic.Uint64
	mu                  sync.Mutex
	current             []string
}

// Current returns the files being read now.
func (p *Progress) Current() []string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return slices.Clone(p.current)
}

func (p *Progress) start(path string) {
	if p == nil {
		return
	}
	p.mu.Lock()
	p.current = append(p.current, path)
	p.mu.Unlock()
}

func (p *Progress) done(path string) {
	if p == nil {
		return
	}
	p.mu.Lock()
	if i := slices.Index(p.current, path); i >= 0 {
		p.current = slices.Delete(p.current, i, i+1)
	}
	p.mu.Unlock()
}

// Result is a finished snapshot. With DryRun, or when SkipIfUnchanged
// found nothing changed, Snapshot is the snapshot that was not saved.
type Result struct {
	Snapshot *repo.Snapshot
	ID       repo.ID // zero in a dry run; the parent's when Unchanged
	// DryRun: nothing was written.
	DryRun bool
	// Unchanged: the sources are as in the parent snapshot (same root
	// tree); with SkipIfUnchanged no snapshot was written.
	Unchanged bool
}

// ErrSourceMissing is returned when no source path exists; nothing is
// written then.
var ErrSourceMissing = errors.New("archiver: source path missing")

type archiver struct {
	repo  Repo
	opts  Options
	names *names
	mem   *semaphore.Weighted
	// chunkers are the chunkers of the files being read that need one
	// (a chunk or more, or sparse): at most maxLargeFiles at once.
	chunkers chan *chunk.Chunker
	blobs    chan blobJob
	files    chan fileJob
	prog     *Progress
	sum      summary
	failed   atomic.Pointer[error]
	cancel   context.CancelFunc
	// content is the repository's content index, when it has one.
	content ContentIndex

	readThreadErr sync.Once // the ReadThread notice is given once

	sources []sourceSlot // where each source's node ends up (set by the walker)
}

// summary counts what the run did; copied into the snapshot.
type summary struct {
	filesNew, filesChanged, filesUnchanged, dirs, others, errors atomic.Uint64
	filesGrown, filesMatched                                     atomic.Uint64
	bytesRead, totalSize, blobsAdded, bytesAdded, bytesStored    atomic.Uint64
	bytesHashedOnly, bytesChunked                                atomic.Uint64
}

// Snapshot walks the sources, stores what is new and writes the snapshot.
func Snapshot(ctx context.Context, r Repo, opts Options) (*Result, error) {
	start := time.Now()
	if opts.Time.IsZero() {
		opts.Time = start
	}
	paths, missing, err := CleanSources(opts.Paths, opts.Stdin != nil, opts.StdinName)
	if err != nil {
		return nil, err
	}
	opts.Paths, opts.Missing = paths, append(opts.Missing, missing...)
	if r, err = prepare(r, opts); err != nil {
		return nil, err
	}
	a := newArchiver(r, opts)
	for _, m := range opts.Missing {
		a.warn(m.Path, fmt.Errorf("source missing, not backed up: %w", m))
	}
	ctx, a.cancel = context.WithCancel(ctx)
	defer a.cancel()
	root, err := a.run(ctx)
	if err != nil {
		// Keep the packs uploaded so far: the next run deduplicates
		// against them instead of uploading them again.
		if cp, ok := r.(checkpointer); ok {
			if cerr := cp.Checkpoint(ctx); cerr != nil {
				a.notice("/", fmt.Sprintf("the packs uploaded before the snapshot stopped could not be indexed: %v", cerr))
			}
		}
		return nil, err
	}
	snap := a.snapshot(root, start)
	if res := a.unsaved(ctx, snap); res != nil {
		return res, nil
	}
	id, err := r.SaveSnapshot(ctx, snap)
	if err != nil {
		return nil, fmt.Errorf("save snapshot: %w", err)
	}
	return &Result{Snapshot: snap, ID: id}, nil
}

// maxLargeFiles is how many files of a chunk or more are read at once.
const maxLargeFiles = 2

// newChunkers returns a pool of n chunkers.
func newChunkers(n int, pol uint64) chan *chunk.Chunker {
	ch := make(chan *chunk.Chunker, n)
	for range n {
		ch <- chunk.New(pol)
	}
	return ch
}

func newArchiver(r Repo, opts Options) *archiver {
	if opts.FileWorkers <= 0 {
		opts.FileWorkers = 4
	}
	if opts.BlobWorkers <= 0 {
		opts.BlobWorkers = runtime.GOMAXPROCS(0)
	}
	if opts.MemoryLimit <= 0 {
		opts.MemoryLimit = 16 << 20
	}
	// A chunk larger than the budget would wait for it for ever.
	opts.MemoryLimit = max(opts.MemoryLimit, chunk.MaxSize)
	content, _ := r.(ContentIndex)
	return &archiver{
		repo: r, opts: opts, names: newNames(), prog: opts.Progress, content: content,
		mem:      semaphore.NewWeighted(opts.MemoryLimit),
		chunkers: newChunkers(min(opts.FileWorkers, maxLargeFiles), r.Config().Polynomial),
		blobs:    make(chan blobJob, opts.BlobWorkers),
		files:    make(chan fileJob, opts.FileWorkers),
	}
}

// CleanPaths is CleanSources without the missing sources.
func CleanPaths(paths []string, stdin bool, stdinName string) ([]string, error) {
	kept, _, err := CleanSources(paths, stdin, stdinName)
	return kept, err
}

// CleanSources makes sources absolute, sorts them and drops any that lie
// inside another. Sources that do not exist (or cannot be looked at) are
// left out and returned in missing, for Options.Missing: the snapshot is
// taken of the rest. Only when none exists does it fail, with
// ErrSourceMissing, before anything is written.
func CleanSources(paths []string, stdin bool, stdinName string) (kept []string, missing []*fs.PathError, err error) {
	if stdin {
		name := strings.Trim(filepath.ToSlash(stdinName), "/")
		if name == "" {
			name = "stdin"
		}
		for _, part := range strings.Split(name, "/") {
			if err := repo.ValidName(part); err != nil {
				return nil, nil, fmt.Errorf("stdin file name %q: %w", stdinName, err)
			}
		}
		return []string{"/" + name}, nil, nil
	}
	if len(paths) == 0 {
		return nil, nil, errors.New("nothing to back up: name at least one path")
	}
	var out []string
	var msgs []string
	for _, p := range paths {
		abs, err := filepath.Abs(p)
		if err != nil {
			return nil, nil, fmt.Errorf("source %s: %w", p, err)
		}
		if _, err := os.Lstat(abs); err != nil {
			var pe *fs.PathError
			if !errors.As(err, &pe) {
				pe = &fs.PathError{Op: "lstat", Path: abs, Err: err}
			}
			missing = append(missing, pe)
			msgs = append(msgs, err.Error())
			continue
		}
		out = append(out, abs)
	}
	if len(out) == 0 {
		return nil, missing, fmt.Errorf("%w: none of the sources exists, nothing was backed up: %s", ErrSourceMissing, strings.Join(msgs, "; "))
	}
	slices.Sort(out)
	out = slices.Compact(out)
	kept = out[:0]
	for _, p := range out {
		if len(kept) > 0 && within(p, kept[len(kept)-1]) {
			continue
		}
		kept = append(kept, p)
	}
	return kept, missing, nil
}

// within reports whether p is dir or lies below it.
func within(p, dir string) bool {
	return p == dir || dir == "/" || strings.HasPrefix(p, dir+"/")
}

func (a *archiver) warn(path string, err error) {
	a.sum.errors.Add(1)
	if a.prog != nil {
		a.prog.Errors.Add(1)
	}
	if a.opts.Warn != nil {
		a.opts.Warn(path, err)
	}
}

func (a *archiver) notice(path, msg string) {
	if a.opts.Notice != nil {
		a.opts.Notice(path, msg)
	}
}

// fail records a fatal error (a repository failure) and stops the run.
func (a *archiver) fail(err error) {
	a.failed.CompareAndSwap(nil, &err)
	a.cancel()
}

func (a *archiver) snapshot(root repo.ID, start time.Time) *repo.Snapshot {
	s := &repo.Snapshot{
		Time: a.opts.Time, Tree: root, Paths: a.opts.Paths, Hostname: a.opts.Host,
		Username: a.opts.User, UID: uint32(os.Getuid()), GID: uint32(os.Getgid()),
		Tags: a.opts.Tags, Job: a.opts.Job, ProgramVersion: a.opts.ProgramVersion,
	}
	if a.opts.Parent != nil {
		pid := a.opts.Parent.ID()
		s.Parent = &pid
	}
	s.Summary = &repo.Summary{
		Start: start.UTC(), End: time.Now().UTC(),
		FilesNew: a.sum.filesNew.Load(), FilesChanged: a.sum.filesChanged.Load(),
		FilesUnchanged: a.sum.filesUnchanged.Load(), Dirs: a.sum.dirs.Load(), Others: a.sum.others.Load(),
		Errors: a.sum.errors.Load(), BytesRead: a.sum.bytesRead.Load(), TotalSize: a.sum.totalSize.Load(),
		BlobsAdded: a.sum.blobsAdded.Load(), BytesAdded: a.sum.bytesAdded.Load(), BytesStored: a.sum.bytesStored.Load(),
		FilesGrown: a.sum.filesGrown.Load(), FilesMatched: a.sum.filesMatched.Load(),
		BytesHashedOnly: a.sum.bytesHashedOnly.Load(), BytesChunked: a.sum.bytesChunked.Load(),
	}
	return s
}
