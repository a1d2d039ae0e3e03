package check_test

import (
	"context"
	"maps"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/cairnbackup/cairn/backend"
	"github.com/cairnbackup/cairn/backend/mem"
	"github.com/cairnbackup/cairn/check"
	"github.com/cairnbackup/cairn/internal/repotest"
	"github.com/cairnbackup/cairn/repo"
)

var (
	pw    = repotest.Password
	mtime = time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
)

// pieceSize splits file contents into blobs of this size, so that a test
// knows which blobs a file has without running the chunker.
const pieceSize = 128 << 10

// nopClose keeps the shared backend open when a repository using it closes.
type nopClose struct{ backend.Backend }

func (nopClose) Close() error { return nil }

// fixture is a repository on a memory backend with snapshots of known files.
type fixture struct {
	t     *testing.T
	be    *mem.Backend
	r     *repo.Repository
	opts  repo.Options
	snaps []*repo.Snapshot
	when  time.Time
}

func newFixture(t *testing.T) *fixture {
	t.Helper()
	f := &fixture{t: t, be: mem.New(), opts: repo.Options{CacheDir: t.TempDir(), SkipDamagedIndex: true}, when: mtime}
	// The tests damage the repository on purpose, so the kit's check at
	// the end is off; f.r is closed here when a reopen replaced the first.
	first := repotest.New(t, repotest.WithBackend(nopClose{f.be}), repotest.WithPackSize(1<<20),
		repotest.WithCompression(repo.CompressionOff), repotest.WithOptions(f.opts), repotest.WithoutCheck())
	f.r = first
	t.Cleanup(func() {
		if f.r != first {
			f.r.Close()
		}
	})
	return f
}

// reopen opens the repository again, with a fresh cache when fresh is set.
func (f *fixture) reopen(fresh bool) {
	f.t.Helper()
	f.r.Close()
	if fresh {
		f.opts.CacheDir = f.t.TempDir()
	}
	r, err := repo.Open(context.Background(), nopClose{f.be}, pw, f.opts)
	if err != nil {
		f.t.Fatalf("open: %v", err)
	}
	f.r = r
}

// content returns n pseudo-random (incompressible) bytes.
func content(seed uint64, n int) []byte {
	rng := rand.New(rand.NewPCG(seed, 7))
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(rng.Uint32())
	}
	return b
}

// dirT is a folder being built.
type dirT struct {
	files map[string][]byte
	dirs  map[string]*dirT
}

// snapshot stores files (absolute paths) as a new snapshot.
func (f *fixture) snapshot(files map[string][]byte) *repo.Snapshot {
	f.t.Helper()
	root := &dirT{files: map[string][]byte{}, dirs: map[string]*dirT{}}
	for p, b := range files {
		parts := strings.Split(strings.Trim(p, "/"), "/")
		d := root
		for _, name := range parts[:len(parts)-1] {
			if d.dirs[name] == nil {
				d.dirs[name] = &dirT{files: map[string][]byte{}, dirs: map[string]*dirT{}}
			}
			d = d.dirs[name]
		}
		d.files[parts[len(parts)-1]] = b
	}
	ctx := context.Background()
	f.when = f.when.Add(time.Hour)
	var total uint64
	for _, b := range files {
		total += uint64(len(b))
	}
	s := &repo.Snapshot{Time: f.when, Tree: f.saveDir(root), Paths: []string{"/"}, Hostname: "test", Summary: &repo.Summary{TotalSize: total}}
	if _, err := f.r.SaveSnapshot(ctx, s); err != nil {
		f.t.Fatal(err)
	}
	f.snaps = append(f.snaps, s)
	return s
}

func (f *fixture) saveDir(d *dirT) repo.ID {
	ctx := context.Background()
	tree := &repo.Tree{}
	// Sorted, so that blobs land in packs in a known order.
	for _, name := range slices.Sorted(maps.Keys(d.dirs)) {
		sub := d.dirs[name]
		tree.Nodes = append(tree.Nodes, repo.Node{Name: name, Type: repo.NodeDir, Mode: 0o755, ModTime: mtime, Subtree: f.saveDir(sub)})
	}
	for _, name := range slices.Sorted(maps.Keys(d.files)) {
		b := d.files[name]
		n := repo.Node{Name: name, Type: repo.NodeFile, Mode: 0o640, ModTime: mtime, Size: uint64(len(b)), Hash: repo.ContentHashOf(b)}
		for off := 0; off < len(b); off += pieceSize {
			piece := b[off:min(off+pieceSize, len(b))]
			id, _, err := f.r.SaveBlob(ctx, repo.DataBlob, piece)
			if err != nil {
				f.t.Fatal(err)
			}
			n.Content = append(n.Content, repo.Extent{Blob: id, Length: uint64(len(piece))})
		}
		tree.Nodes = append(tree.Nodes, n)
	}
	tree.Sort()
	id, err := f.r.SaveTree(ctx, tree)
	if err != nil {
		f.t.Fatal(err)
	}
	return id
}

// standard makes two snapshots of a small tree: the second changes one
// file and adds one.
func (f *fixture) standard() {
	f.snapshot(map[string][]byte{
		"/srv/app/a.log":      content(1, 300<<10),
		"/srv/app/b.log":      content(2, 200<<10),
		"/srv/app/conf/x.cfg": content(3, 1000),
		"/etc/hosts":          content(4, 100),
	})
	f.snapshot(map[string][]byte{
		"/srv/app/a.log":      content(1, 300<<10),
		"/srv/app/b.log":      content(5, 250<<10),
		"/srv/app/conf/x.cfg": content(3, 1000),
		"/srv/app/c.bin":      content(6, 500<<10),
		"/etc/hosts":          content(4, 100),
	})
}

// fileBlobs returns the data blobs of a file in a snapshot.
func (f *fixture) fileBlobs(s *repo.Snapshot, path string) []repo.ID {
	f.t.Helper()
	ctx := context.Background()
	id := s.Tree
	parts := strings.Split(strings.Trim(path, "/"), "/")
	for i, name := range parts {
		tree, err := f.r.LoadTree(ctx, id)
		if err != nil {
			f.t.Fatal(err)
		}
		n := tree.Find(name)
		if n == nil {
			f.t.Fatalf("%s: no %s", path, name)
		}
		if i == len(parts)-1 {
			var out []repo.ID
			for _, e := range n.Content {
				out = append(out, e.Blob)
			}
			return out
		}
		id = n.Subtree
	}
	return nil
}

// loc returns where a blob is stored.
func (f *fixture) loc(t repo.BlobType, id repo.ID) repo.BlobLocation {
	f.t.Helper()
	l, err := f.r.LookupBlob(t, id)
	if err != nil {
		f.t.Fatal(err)
	}
	return l
}

func packHandle(id repo.ID) backend.Handle {
	return backend.Handle{Type: backend.PackFile, Name: id.String()}
}

// run checks the repository and fails the test if the check cannot run.
func (f *fixture) run(opts check.Options) *check.Report {
	f.t.Helper()
	rep, err := check.Run(context.Background(), f.r, opts)
	if err != nil {
		f.t.Fatalf("check: %v", err)
	}
	return rep
}

// find returns the one problem of kind about object, failing otherwise.
func find(t *testing.T, rep *check.Report, kind check.Kind, object string) *check.Problem {
	t.Helper()
	var found *check.Problem
	for _, p := range rep.Problems {
		if p.Kind == kind && p.Object == object {
			if found != nil {
				t.Fatalf("two %s problems for %s", kind, object)
			}
			found = p
		}
	}
	if found == nil {
		t.Fatalf("no %s problem for %s; problems: %s", kind, object, describe(rep))
	}
	return found
}

func describe(rep *check.Report) string {
	var lines []string
	for _, p := range rep.Problems {
		lines = append(lines, p.String())
	}
	return "[" + strings.Join(lines, " | ") + "]"
}

// affected returns "SNAPSHOT-SHORT:PATH" for each affected entry, sorted.
func affected(p *check.Problem) []string {
	var out []string
	for _, a := range p.Affected {
		s := a.Snapshot.Short() + ":" + a.Path
		if a.Folder && a.Path != "/" {
			s += "/"
		}
		out = append(out, s)
	}
	slices.Sort(out)
	return out
}

func wantAffected(t *testing.T, p *check.Problem, want ...string) {
	t.Helper()
	slices.Sort(want)
	if got := affected(p); !slices.Equal(got, want) {
		t.Errorf("%s affects %q, want %q", p.Object, got, want)
	}
}

func clean(t *testing.T, rep *check.Report) {
	t.Helper()
	if rep.Damaged() {
		t.Fatalf("check found damage in a sound repository: %s", describe(rep))
	}
}

// flip inverts one byte of an object.
func flip(at func(b []byte) int) func([]byte) []byte {
	return func(b []byte) []byte {
		b[at(b)] ^= 0x40
		return b
	}
}
