package repo

import (
	"math/rand/v2"
	"testing"

	"github.com/cairnbackup/cairn/crypto"
)

// randomKeys returns a source of random blob keys of either type.
func randomKeys(seed uint64) func() blobKey {
	rng := rand.New(rand.NewPCG(seed, seed+1))
	return func() blobKey {
		var id crypto.ID
		for i := range id {
			id[i] = byte(rng.Uint32())
		}
		return blobKey{BlobType(1 + rng.IntN(2)), id}
	}
}

// TestKeySetMatchesAMap adds keys across several merges, some twice, and
// asks for present and absent ones, against a map.
func TestKeySetMatchesAMap(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	key := randomKeys(7)
	var s keySet
	want := map[blobKey]bool{}
	var added []blobKey
	for i := range 3*keySetMerge + 123 {
		k := key()
		if i%7 == 0 && len(added) > 0 {
			k = added[rng.IntN(len(added))] // again
		}
		s.add(k)
		want[k] = true
		added = append(added, k)
	}
	if s.len() != len(want) {
		t.Fatalf("len %d, want %d", s.len(), len(want))
	}
	for _, k := range added {
		if !s.has(k) {
			t.Fatalf("added key %x not found", k.id[:4])
		}
	}
	for range 10000 {
		if k := key(); s.has(k) != want[k] {
			t.Fatalf("absent key %x found", k.id[:4])
		}
	}
	// The same id as another type is another key.
	k := added[0]
	k.t = 3 - k.t
	if s.has(k) != want[k] {
		t.Fatal("a key of the other type was confused with one present")
	}
	s.reset()
	if s.len() != 0 || s.has(added[0]) {
		t.Fatal("reset left keys")
	}
}
