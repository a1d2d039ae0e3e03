package repo

import "testing"

// TestSessionFilterNeverSaysNoToAKeyItHolds fills the filter past several
// parts: every key added is a "maybe", and keys never added are mostly a
// "no" (the reason it exists).
func TestSessionFilterNeverSaysNoToAKeyItHolds(t *testing.T) {
	key := randomKeys(3)
	var f sessionFilter
	added := make([]blobKey, 0, 5*filterFirst)
	for range 5 * filterFirst {
		k := key()
		f.add(k)
		added = append(added, k)
	}
	if len(f.parts) < 3 {
		t.Fatalf("%d parts after %d keys, want the filter to have grown", len(f.parts), len(added))
	}
	for i, k := range added {
		if !f.mayHave(k) {
			t.Fatalf("key %d was added and the filter says no", i)
		}
	}
	maybe := 0
	const tries = 100000
	for range tries {
		if f.mayHave(key()) {
			maybe++
		}
	}
	if rate := float64(maybe) / tries; rate > 0.05 {
		t.Errorf("%.1f%% of keys never added are a maybe, want about 1-3%%", 100*rate)
	} else {
		t.Logf("%.2f%% false maybes over %d parts", 100*rate, len(f.parts))
	}
	// The type is part of the key.
	k := added[0]
	k.t = 3 - k.t
	if f.mayHave(k) && f.mayHave(blobKey{k.t, added[1].id}) && f.mayHave(blobKey{k.t, added[2].id}) {
		t.Error("the same ids of the other type are all maybes: the type is not probed")
	}
}
