package prune_test

import (
	"bytes"
	"context"
	"fmt"
	"maps"
	"math/rand/v2"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/cairnbackup/cairn/backend"
	"github.com/cairnbackup/cairn/backend/mem"
	"github.com/cairnbackup/cairn/internal/kdftest"
	"github.com/cairnbackup/cairn/internal/repotest"
	"github.com/cairnbackup/cairn/repo"
	"github.com/cairnbackup/cairn/repo/prune"
)

var ctx = context.Background()

// clock is a fake clock that every repository of a test shares.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func newClock() *clock { return &clock{t: time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)} }

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) Advance(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

// env is a repository in memory that several clients open.
type env struct {
	t   *testing.T
	be  *mem.Backend
	clk *clock
}

func newEnv(t *testing.T) *env {
	t.Helper()
	e := &env{t: t, be: mem.New(), clk: newClock()}
	r, err := repo.Init(ctx, e.be, repotest.Password, repo.InitOptions{KDF: kdftest.Cheap, PackSize: 1 << 20}, e.opts())
	if err != nil {
		t.Fatal(err)
	}
	r.Close()
	return e
}

func (e *env) opts() repo.Options {
	return repo.Options{CacheDir: e.t.TempDir(), Now: e.clk.Now, LockRefresh: 5 * time.Millisecond}
}

// open opens a client of the repository over be (e.be when nil), with a
// cache of its own.
func (e *env) open(be backend.Backend) *repo.Repository {
	e.t.Helper()
	if be == nil {
		be = e.be
	}
	r, err := repo.Open(ctx, be, repotest.Password, e.opts())
	if err != nil {
		e.t.Fatal(err)
	}
	e.t.Cleanup(func() { r.Close() })
	return r
}

// content returns n pseudo-random bytes for a name (incompressible, so
// stored sizes are predictable).
func content(name string, n int) []byte {
	var seed [32]byte
	copy(seed[:], name)
	b := make([]byte, n)
	rand.NewChaCha8(seed).Read(b)
	return b
}

// chunkSize cuts test files into blobs of this size.
const chunkSize = 4096

// snapshot stores files (name → content) as one snapshot whose root tree
// holds them, and returns its id.
func snapshot(t *testing.T, r *repo.Repository, files map[string][]byte) repo.ID {
	t.Helper()
	tree := &repo.Tree{}
	for _, name := range slices.Sorted(maps.Keys(files)) {
		data := files[name]
		n := repo.Node{Name: name, Type: repo.NodeFile, Mode: 0o644, Size: uint64(len(data)), Hash: repo.ContentHashOf(data)}
		for off := 0; off < len(data); off += chunkSize {
			chunk := data[off:min(off+chunkSize, len(data))]
			id, _, err := r.SaveBlob(ctx, repo.DataBlob, chunk)
			if err != nil {
				t.Fatal(err)
			}
			n.Content = append(n.Content, repo.Extent{Blob: id, Length: uint64(len(chunk))})
		}
		tree.Nodes = append(tree.Nodes, n)
	}
	root, err := r.SaveTree(ctx, tree)
	if err != nil {
		t.Fatal(err)
	}
	id, err := r.SaveSnapshot(ctx, &repo.Snapshot{Time: r.Now(), Tree: root, Paths: []string{"/"}, Hostname: "test"})
	if err != nil {
		t.Fatal(err)
	}
	return id
}

// restore reads every file of a snapshot back and compares it with want.
func restore(t *testing.T, r *repo.Repository, id repo.ID, want map[string][]byte) {
	t.Helper()
	s, err := r.LoadSnapshot(ctx, id)
	if err != nil {
		t.Fatalf("load snapshot %s: %v", id.Short(), err)
	}
	tree, err := r.LoadTree(ctx, s.Tree)
	if err != nil {
		t.Fatalf("load tree of %s: %v", id.Short(), err)
	}
	if len(tree.Nodes) != len(want) {
		t.Fatalf("snapshot %s has %d files, want %d", id.Short(), len(tree.Nodes), len(want))
	}
	for _, n := range tree.Nodes {
		var got []byte
		for _, e := range n.Content {
			b, err := r.LoadBlob(ctx, repo.DataBlob, e.Blob, nil)
			if err != nil {
				t.Fatalf("snapshot %s, file %s: %v", id.Short(), n.Name, err)
			}
			got = append(got, b...)
		}
		if !bytes.Equal(got, want[n.Name]) {
			t.Fatalf("snapshot %s, file %s: content differs", id.Short(), n.Name)
		}
	}
}

// objects lists every object name of a type in storage, sorted.
func objects(t *testing.T, be backend.Backend, ft backend.FileType) []string {
	t.Helper()
	var out []string
	if err := be.List(ctx, ft, func(fi backend.FileInfo) error { out = append(out, fi.Name); return nil }); err != nil {
		t.Fatal(err)
	}
	slices.Sort(out)
	return out
}

// storedBytes sums the sizes of the packs in storage.
func storedBytes(t *testing.T, be backend.Backend) int64 {
	t.Helper()
	var n int64
	if err := be.List(ctx, backend.PackFile, func(fi backend.FileInfo) error { n += fi.Size; return nil }); err != nil {
		t.Fatal(err)
	}
	return n
}

// run plans and executes a prune with the default options changed by mod.
func run(t *testing.T, r *repo.Repository, mod func(*prune.Options)) (*prune.Plan, prune.Result) {
	t.Helper()
	opts := prune.DefaultOptions()
	if mod != nil {
		mod(&opts)
	}
	lock, err := r.Lock(ctx, repo.PruneLock)
	if err != nil {
		t.Fatal(err)
	}
	defer lock.Release(ctx)
	plan, res, err := prune.Run(lock.Context(), r, opts)
	if err != nil {
		t.Fatalf("prune: %v", err)
	}
	return plan, res
}

// check runs a full check (read-data included) on a fresh client.
func (e *env) check(be backend.Backend) {
	e.t.Helper()
	repotest.Check(e.t, e.open(be))
}

func ids(l []prune.PackPlan) []string {
	var out []string
	for _, p := range l {
		out = append(out, p.ID.String())
	}
	return out
}

func describe(p *prune.Plan) string {
	return fmt.Sprintf("repack %d, condemn %d, revive %d, delete %d, waiting %d", len(p.Repack), len(p.Condemn), len(p.Revive), len(p.Delete), len(p.Waiting))
}
