package repo_test

import (
	"context"
	"errors"
	"fmt"
	"testing"

	"github.com/cairnbackup/cairn/backend"
	"github.com/cairnbackup/cairn/backend/counted"
	"github.com/cairnbackup/cairn/backend/mem"
	"github.com/cairnbackup/cairn/internal/kdftest"
	"github.com/cairnbackup/cairn/repo"
)

// treeChain stores a path of depth folders, each tree naming the next
// level, and returns their ids from the root down.
func treeChain(t *testing.T, r *repo.Repository, depth int) []repo.ID {
	t.Helper()
	ids := make([]repo.ID, depth)
	var below *repo.Node
	for i := depth - 1; i >= 0; i-- {
		tree := &repo.Tree{Nodes: []repo.Node{{Name: fmt.Sprintf("file%d", i), Type: repo.NodeFile, Mode: 0o644}}}
		if below != nil {
			tree.Nodes = append(tree.Nodes, *below)
		}
		tree.Sort()
		id, err := r.SaveTree(context.Background(), tree)
		if err != nil {
			t.Fatal(err)
		}
		ids[i] = id
		below = &repo.Node{Name: fmt.Sprintf("level%d", i), Type: repo.NodeDir, Mode: 0o755, Subtree: id}
	}
	if err := r.Flush(context.Background()); err != nil {
		t.Fatal(err)
	}
	return ids
}

var chainPassword = repo.Credentials{Password: []byte("pw")}

// storedChain makes a repository in memory holding a treeChain of depth
// levels, and returns its backend, the trees' ids and their locations.
func storedChain(t *testing.T, depth int) (*mem.Backend, []repo.ID, []repo.BlobLocation) {
	t.Helper()
	be := mem.New()
	r, err := repo.Init(context.Background(), be, chainPassword, repo.InitOptions{KDF: kdftest.Cheap}, repo.Options{CacheDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	ids := treeChain(t, r, depth)
	locs := make([]repo.BlobLocation, len(ids))
	for i, id := range ids {
		if locs[i], err = r.LookupBlob(repo.TreeBlob, id); err != nil {
			t.Fatal(err)
		}
	}
	return be, ids, locs
}

// A walk from the root down a path, with an empty cache, reads the tree
// pack once: the first tree read brings its neighbours along.
func TestTreeWalkReadsPackOnce(t *testing.T) {
	ctx := context.Background()
	pw := chainPassword
	be, ids, _ := storedChain(t, 8)

	cb := counted.New(be)
	r2, err := repo.Open(ctx, cb, pw, repo.Options{CacheDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	defer r2.Close()
	before := cb.Stats()
	for i, id := range ids {
		tree, err := r2.LoadTree(ctx, id)
		if err != nil {
			t.Fatalf("level %d: %v", i, err)
		}
		if i+1 < len(ids) && tree.Nodes[1].Subtree != ids[i+1] {
			t.Fatalf("level %d names %v, want %v", i, tree.Nodes[1].Subtree, ids[i+1])
		}
	}
	if got := cb.Stats().Sub(before).Get; got != 1 {
		t.Errorf("walking 8 levels from an empty cache took %d reads, want 1", got)
	}
}

// A neighbour that does not open is left out of the window: the trees
// around it load, and it fails on its own, by id, when it is asked for.
func TestTreeWindowSkipsDamagedNeighbour(t *testing.T) {
	ctx := context.Background()
	pw := chainPassword
	be, ids, locs := storedChain(t, 5)
	loc := locs[2]
	be.Corrupt(backend.Handle{Type: backend.PackFile, Name: loc.Pack.String()}, func(b []byte) []byte {
		b[loc.Offset+loc.Length/2] ^= 0x40
		return b
	})

	r2, err := repo.Open(ctx, be, pw, repo.Options{CacheDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	defer r2.Close()
	for _, i := range []int{0, 1, 3, 4} {
		if _, err := r2.LoadTree(ctx, ids[i]); err != nil {
			t.Errorf("level %d beside a damaged tree: %v", i, err)
		}
	}
	if _, err := r2.LoadTree(ctx, ids[2]); err == nil || !errors.Is(err, repo.ErrCorrupt) {
		t.Errorf("damaged tree loaded with %v, want an ErrCorrupt", err)
	}
}

// LoadTreeUncached reads storage even when the local cache holds the
// trees, and a walk down the path still costs one read: the window's
// neighbours wait in memory until asked for, once each.
func TestUncachedWalkReadsPackOnce(t *testing.T) {
	ctx := context.Background()
	be, ids, _ := storedChain(t, 8)
	cb := counted.New(be)
	r2, err := repo.Open(ctx, cb, chainPassword, repo.Options{CacheDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	defer r2.Close()
	for _, id := range ids {
		if _, err := r2.LoadTree(ctx, id); err != nil { // fills the local cache
			t.Fatal(err)
		}
	}
	for round := range 2 {
		before := cb.Stats()
		for i, id := range ids {
			tree, err := r2.LoadTreeUncached(ctx, id)
			if err != nil {
				t.Fatalf("round %d, level %d: %v", round, i, err)
			}
			if i+1 < len(ids) && tree.Nodes[1].Subtree != ids[i+1] {
				t.Fatalf("level %d names %v, want %v", i, tree.Nodes[1].Subtree, ids[i+1])
			}
		}
		if got := cb.Stats().Sub(before).Get; got != 1 {
			t.Errorf("round %d: an uncached walk of 8 levels took %d reads, want 1 (from storage, once)", round, got)
		}
	}
}

// The workers of a walk's level asking at once for trees of one window
// read it once: the others wait for it rather than read it again.
func TestUncachedConcurrentWalkReadsWindowOnce(t *testing.T) {
	ctx := context.Background()
	be, ids, _ := storedChain(t, 16)
	cb := counted.New(be)
	r2, err := repo.Open(ctx, cb, chainPassword, repo.Options{CacheDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	defer r2.Close()
	before := cb.Stats()
	errs := make(chan error, len(ids))
	for _, id := range ids {
		go func() {
			_, err := r2.LoadTreeUncached(ctx, id)
			errs <- err
		}()
	}
	for range ids {
		if err := <-errs; err != nil {
			t.Fatal(err)
		}
	}
	if got := cb.Stats().Sub(before).Get; got != 1 {
		t.Errorf("16 trees of one window asked for at once took %d reads, want 1", got)
	}
}

// A damaged tree beside sound ones fails alone, by id, in an uncached
// walk too, and its neighbours load.
func TestUncachedWindowSkipsDamagedNeighbour(t *testing.T) {
	ctx := context.Background()
	be, ids, locs := storedChain(t, 5)
	loc := locs[2]
	be.Corrupt(backend.Handle{Type: backend.PackFile, Name: loc.Pack.String()}, func(b []byte) []byte {
		b[loc.Offset+loc.Length/2] ^= 0x40
		return b
	})
	r2, err := repo.Open(ctx, be, chainPassword, repo.Options{CacheDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	defer r2.Close()
	for _, i := range []int{0, 1, 3, 4} {
		if _, err := r2.LoadTreeUncached(ctx, ids[i]); err != nil {
			t.Errorf("level %d beside a damaged tree: %v", i, err)
		}
	}
	if _, err := r2.LoadTreeUncached(ctx, ids[2]); err == nil || !errors.Is(err, repo.ErrCorrupt) {
		t.Errorf("damaged tree loaded with %v, want an ErrCorrupt", err)
	}
}
