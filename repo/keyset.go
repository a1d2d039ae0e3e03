package repo

import (
	"bytes"
	"slices"
)

// keySet is a set of blob keys in about 33 bytes a key, where a Go map
// takes twice that and more: a sorted slice, and a map of the keys added
// since it was last merged into the slice.
type keySet struct {
	sorted []blobKey
	recent map[blobKey]struct{}
}

// keySetMerge is how many recent keys the map holds before they are merged
// into the sorted slice: each merge moves the whole slice, so a set of n
// keys costs n²/keySetMerge key moves to build.
const keySetMerge = 1 << 16

func compareKeys(a, b blobKey) int {
	if a.t != b.t {
		return int(a.t) - int(b.t)
	}
	return bytes.Compare(a.id[:], b.id[:])
}

func (s *keySet) add(k blobKey) {
	if s.has(k) {
		return
	}
	if s.recent == nil {
		s.recent = make(map[blobKey]struct{})
	}
	s.recent[k] = struct{}{}
	if len(s.recent) >= keySetMerge {
		s.merge()
	}
}

// merge moves the recent keys into the sorted slice, merging from the back
// in place so that only the slice's own growth allocates.
func (s *keySet) merge() {
	add := make([]blobKey, 0, len(s.recent))
	for k := range s.recent {
		add = append(add, k)
	}
	slices.SortFunc(add, compareKeys)
	n := len(s.sorted)
	s.sorted = slices.Grow(s.sorted, len(add))[:n+len(add)]
	i, j := n-1, len(add)-1
	for w := len(s.sorted) - 1; j >= 0; w-- {
		if i >= 0 && compareKeys(s.sorted[i], add[j]) > 0 {
			s.sorted[w] = s.sorted[i]
			i--
		} else {
			s.sorted[w] = add[j]
			j--
		}
	}
	clear(s.recent)
}

func (s *keySet) has(k blobKey) bool {
	if _, ok := s.recent[k]; ok {
		return true
	}
	_, ok := slices.BinarySearchFunc(s.sorted, k, compareKeys)
	return ok
}

func (s *keySet) len() int { return len(s.sorted) + len(s.recent) }

// reset empties the set and lets its memory go.
func (s *keySet) reset() { *s = keySet{} }
