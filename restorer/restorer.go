// Package restorer restores snapshots, or parts of them, into a folder:
// it walks only the trees it needs, reads only the blobs it needs, grouped
// by pack with coalesced ranged reads, writes files in parallel, and never
// writes outside its target.
package restorer

import (
	"context"
	"errors"
	"fmt"
	"io"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"

	"golang.org/x/sys/unix"

	"github.com/cairnbackup/cairn/pattern"
	"github.com/cairnbackup/cairn/repo"
)

// Repo is what the restorer needs from a repository.
type Repo interface {
	LoadTree(ctx context.Context, id repo.ID) (*repo.Tree, error)
	LookupBlob(t repo.BlobType, id repo.ID) (repo.BlobLocation, error)
	ReadPack(ctx context.Context, pack repo.ID, offset int64, length int, fn func(io.Reader) error) error
	OpenBlobAt(loc repo.BlobLocation, bufs *repo.OpenBuffers) ([]byte, error)
}

// Overwrite says what to do with files that already exist in the target.
type Overwrite string

// Overwrite policies.
const (
	OverwriteAlways    Overwrite = "always"     // replace them
	OverwriteIfChanged Overwrite = "if-changed" // replace them unless size and content hash match
	OverwriteNever     Overwrite = "never"      // keep them, and any other entry in the way (symlink, fifo, further hard link)
)

// ParseOverwrite checks a policy name.
func ParseOverwrite(s string) (Overwrite, error) {
	switch o := Overwrite(s); o {
	case OverwriteAlways, OverwriteIfChanged, OverwriteNever:
		return o, nil
	}
	return "", fmt.Errorf("unknown overwrite policy %q: use always, if-changed or never", s)
}

// Options describe a restore.
type Options struct {
	Target    string
	Filter    pattern.Filter // on absolute paths in the snapshot
	Overwrite Overwrite      // default OverwriteAlways
	Verify    bool           // re-read every restored file and check its content hash
	Owner     bool           // restore ownership (needs root)
	// Devices creates character and block device nodes (needs root).
	// Without it they are skipped with a warning: a device node that a
	// repository asks for, with the mode it asks for, can open a disk or
	// memory to whoever may enter the target.
	Devices bool
	Workers int // packs read at once; 0 means max(4, GOMAXPROCS, what the storage serves well)
	// Select, if set, is asked about every entry that is not a folder and
	// that Filter selects (with its absolute path in the snapshot); entries
	// it refuses are left out. Restore drills use it to sample files.
	Select func(path string, n *repo.Node) bool
	// Warn is told about each entry that could not be restored; the
	// restore goes on and counts it in Result.Errors. Calls come from
	// several workers but never two at once.
	Warn     func(path string, err error)
	Progress *Progress
	// Writing, when set, is called before each batch of files is filled,
	// with the batch's number of files and bytes, and the function it
	// returns once the batch is written: the command tunes the runtime
	// for writing large files there (the restorer changes nothing global).
	Writing func(files int, bytes uint64) (done func())
}

// Progress holds live counters.
type Progress struct {
	Files, Bytes atomic.Uint64
}

// Result counts what a restore did.
type Result struct {
	Files, Dirs, Links, Others uint64 `json:",omitempty"`
	Bytes                      uint64
	Skipped                    uint64 // existing files kept by the overwrite policy
	Verified                   uint64 // files whose content hash was checked
	Errors                     uint64
	// Incomplete are the files that could not be restored whole (a damaged
	// or missing blob), set aside under their name with IncompleteSuffix.
	Incomplete []IncompleteFile `json:",omitempty"`
}

type restorer struct {
	repo     Repo
	opts     Options
	root     *root
	res      Result
	errs     atomic.Uint64
	mu       sync.Mutex
	files    []*fileState // the files that failed (all of them with Verify)
	batch    []*fileState // planned, not yet created
	dirs     []dirMeta
	made     map[string]bool // folders created or checked
	links    map[[2]uint64]*fileState
	pending  []hardlink
	uses     map[repo.ID][]blobUse // data blob -> where it goes
	selected int                   // entries the filter selected
	// targetTimes are the target's access and modification times before a
	// full restore, given back to it at the end.
	targetTimes []unix.Timespec
	bufs        sync.Pool  // of *repo.OpenBuffers, one per pack reader
	warnMu      sync.Mutex // one Warn call at a time
}

// parallelism is how many requests at once r's storage serves well (0 when
// it does not say): a distant store needs more reads in flight than cores.
func parallelism(r Repo) int {
	if p, ok := r.(interface{ Parallelism() int }); ok {
		return p.Parallelism()
	}
	return 0
}

// Restore restores node (a folder, whose contents go into the target, or a
// file), found at path in the snapshot.
func Restore(ctx context.Context, r Repo, node *repo.Node, path string, opts Options) (Result, error) {
	if opts.Overwrite == "" {
		opts.Overwrite = OverwriteAlways
	}
	if opts.Workers <= 0 {
		opts.Workers = max(4, runtime.GOMAXPROCS(0), parallelism(r))
	}
	rt, err := openRoot(opts.Target)
	if err != nil {
		return Result{}, err
	}
	defer rt.close()
	rs := &restorer{repo: r, opts: opts, root: rt, made: map[string]bool{"": true}, links: map[[2]uint64]*fileState{}, uses: map[repo.ID][]blobUse{}}
	if err := rs.plan(ctx, node, path); err != nil {
		return rs.result(), err
	}
	if rs.selected == 0 && hasPatterns(opts.Filter) {
		return rs.result(), fmt.Errorf("%w the patterns (%s) below %s", ErrNothingMatched, describePatterns(opts.Filter), path)
	}
	if err := rs.runBatch(ctx); err != nil {
		return rs.result(), err
	}
	rs.finishLinks()
	rs.setAsideIncomplete()
	rs.finishDirs()
	if opts.Verify {
		if err := rs.verify(ctx); err != nil {
			return rs.result(), err
		}
	}
	return rs.result(), nil
}

func (rs *restorer) result() Result {
	r := rs.res
	r.Errors = rs.errs.Load()
	return r
}

// warn records a problem with one entry.
func (rs *restorer) warn(rel string, err error) {
	rs.errs.Add(1)
	if rs.opts.Warn != nil {
		rs.warnMu.Lock()
		defer rs.warnMu.Unlock()
		rs.opts.Warn(rs.display(rel), err)
	}
}

func (rs *restorer) display(rel string) string {
	if rel == "" {
		return rs.opts.Target
	}
	return strings.TrimSuffix(rs.opts.Target, "/") + "/" + rel
}

// plan walks the trees, creates folders and non-file entries, creates the
// files to fill, and records which blobs go where. The target takes the
// metadata of a folder restored into it by name; the snapshot's root "/"
// has none of its own (no mode, no times), so a full restore gives the
// target back the times it had before (see finishDirs) and leaves its
// mode as it is.
func (rs *restorer) plan(ctx context.Context, node *repo.Node, path string) error {
	if node.Type != repo.NodeDir {
		return rs.entry(ctx, node, "", parentOf(path))
	}
	if path == "/" {
		var st unix.Stat_t
		if err := unix.Fstat(int(rs.root.dir.Fd()), &st); err != nil {
			return fmt.Errorf("target %s: %w", rs.opts.Target, err)
		}
		rs.targetTimes = []unix.Timespec{st.Atim, st.Mtim}
	} else {
		rs.dirs = append(rs.dirs, dirMeta{rel: "", node: *node})
	}
	return rs.walk(ctx, node.Subtree, "", path)
}

func parentOf(p string) string {
	if i := strings.LastIndexByte(p, '/'); i > 0 {
		return p[:i]
	}
	return "/"
}

func joinRel(dir, name string) string {
	if dir == "" {
		return name
	}
	return dir + "/" + name
}

func joinAbs(dir, name string) string {
	if dir == "/" {
		return "/" + name
	}
	return dir + "/" + name
}

// walk restores the entries of one tree into the folder rel.
func (rs *restorer) walk(ctx context.Context, id repo.ID, rel, abs string) error {
	tree, err := rs.repo.LoadTree(ctx, id)
	if err != nil {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		rs.warn(rel, fmt.Errorf("folder contents lost: %w", err))
		return nil
	}
	for i := range tree.Nodes {
		if err := ctx.Err(); err != nil {
			return err
		}
		if err := rs.entry(ctx, &tree.Nodes[i], rel, abs); err != nil {
			return err
		}
	}
	return nil
}

// entry restores one node into the folder rel.
func (rs *restorer) entry(ctx context.Context, n *repo.Node, dirRel, dirAbs string) error {
	if err := repo.ValidName(n.Name); err != nil {
		rs.warn(joinRel(dirRel, "?"), fmt.Errorf("%w: %v", ErrUnsafePath, err))
		return nil
	}
	rel, abs := joinRel(dirRel, n.Name), joinAbs(dirAbs, n.Name)
	selected := rs.opts.Filter.Selected(abs)
	if selected {
		rs.selected++
	}
	if n.Type == repo.NodeDir {
		if !selected && !rs.opts.Filter.Descend(abs) {
			return nil
		}
		if selected {
			if err := rs.ensureDir(rel); err != nil {
				rs.warn(rel, err)
				return nil
			}
		}
		// Metadata goes on every folder that ends up created, also those
		// made only to hold selected files.
		rs.dirs = append(rs.dirs, dirMeta{rel: rel, node: *n})
		return rs.walk(ctx, n.Subtree, rel, abs)
	}
	if !selected || (rs.opts.Select != nil && !rs.opts.Select(abs, n)) {
		return nil
	}
	if err := rs.ensureDir(dirRel); err != nil {
		rs.warn(rel, err)
		return nil
	}
	if n.Type == repo.NodeFile {
		return rs.planFile(ctx, n, rel)
	}
	if err := rs.special(n, rel); err != nil {
		rs.warn(rel, err)
	}
	return nil
}

// ensureDir creates rel and its parents inside the target as needed.
func (rs *restorer) ensureDir(rel string) error {
	if rs.made[rel] {
		return nil
	}
	if i := strings.LastIndexByte(rel, '/'); i >= 0 {
		if err := rs.ensureDir(rel[:i]); err != nil {
			return err
		}
	}
	if err := rs.root.mkdir(rel); err != nil {
		return err
	}
	rs.made[rel] = true
	return nil
}

// errMissing wraps a blob that the index does not know.
var errMissing = errors.New("content missing from the repository")
