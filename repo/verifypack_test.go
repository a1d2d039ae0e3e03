package repo_test

import (
	"context"
	"testing"

	"github.com/cairnbackup/cairn/backend"
	"github.com/cairnbackup/cairn/backend/counted"
	"github.com/cairnbackup/cairn/backend/mem"
	"github.com/cairnbackup/cairn/crypto"
	"github.com/cairnbackup/cairn/internal/kdftest"
	"github.com/cairnbackup/cairn/repo"
)

// onePack stores three data blobs in one pack and returns the backend, the
// pack's id and its contents as the index records them.
func onePack(t *testing.T) (*mem.Backend, repo.ID, repo.PackContents) {
	t.Helper()
	ctx := context.Background()
	be := mem.New()
	r, err := repo.Init(ctx, be, chainPassword, repo.InitOptions{KDF: kdftest.Cheap}, repo.Options{CacheDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	var first repo.ID
	for i := range 3 {
		id, _, err := r.SaveBlob(ctx, repo.DataBlob, crypto.RandomBytes(1000+i))
		if err != nil {
			t.Fatal(err)
		}
		if i == 0 {
			first = id
		}
	}
	if err := r.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	loc, err := r.LookupBlob(repo.DataBlob, first)
	if err != nil {
		t.Fatal(err)
	}
	info, ok, err := r.IndexedPackContents(loc.Pack)
	if err != nil || !ok || len(info.Blobs) != 3 {
		t.Fatalf("pack contents: %v %v %d blobs", err, ok, len(info.Blobs))
	}
	return be, loc.Pack, info
}

// VerifyPack reads a sound pack once: its blobs lie end to end and the
// header fills the rest, so every byte was authenticated. A pack whose
// bytes are not all accounted for (the index names only some blobs), or
// that is damaged, is hashed too (a second read), and damage shows in the
// hash as before.
func TestVerifyPackHashesOnlyWhatWasNotAuthenticated(t *testing.T) {
	ctx := context.Background()
	be, id, info := onePack(t)
	h := backend.Handle{Type: backend.PackFile, Name: id.String()}
	verify := func(name string, entries []repo.BlobEntry, wantGets int64) *repo.PackVerification {
		t.Helper()
		cb := counted.New(be)
		r, err := repo.Open(ctx, cb, chainPassword, repo.Options{CacheDir: t.TempDir()})
		if err != nil {
			t.Fatal(err)
		}
		defer r.Close()
		before := cb.Stats()
		v, err := r.VerifyPack(ctx, id, info.Size, entries)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if got := cb.Stats().Sub(before).Get; got != wantGets {
			t.Errorf("%s: %d reads, want %d", name, got, wantGets)
		}
		return v
	}

	if v := verify("sound", info.Blobs, 1); !v.OK() || v.Hash != id {
		t.Errorf("sound pack: OK %v, hash %v, want its name", v.OK(), v.Hash.Short())
	}
	// The index names the first and last blobs only: the middle one's
	// bytes were skipped, so the hash decides.
	part := []repo.BlobEntry{info.Blobs[0], info.Blobs[2]}
	if v := verify("part", part, 2); !v.OK() || v.Hash != id {
		t.Errorf("pack read in part: OK %v, hash %v, want its name", v.OK(), v.Hash.Short())
	}
	// A byte flipped in the second blob.
	be.Corrupt(h, func(b []byte) []byte {
		b[info.Blobs[1].Offset+10] ^= 1
		return b
	})
	v := verify("damaged blob", info.Blobs, 2)
	if v.OK() || v.Hash == id || len(v.DamagedBlobs()) != 1 {
		t.Errorf("damaged blob: OK %v, hash is the name %v, %d damaged blobs", v.OK(), v.Hash == id, len(v.DamagedBlobs()))
	}
	be.Corrupt(h, func(b []byte) []byte {
		b[info.Blobs[1].Offset+10] ^= 1 // mended
		b[len(b)-10] ^= 1               // the header
		return b
	})
	if v := verify("damaged header", info.Blobs, 2); v.OK() || v.Hash == id || v.HeaderErr == nil || v.DamagedBlobs() != nil {
		t.Errorf("damaged header: OK %v, hash is the name %v, header error %v, damaged blobs %d", v.OK(), v.Hash == id, v.HeaderErr, len(v.DamagedBlobs()))
	}
}
