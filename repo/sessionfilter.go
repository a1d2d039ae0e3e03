package repo

import "encoding/binary"

// sessionFilter answers "could the local cache hold this blob?" without a
// page read, for a session that found the cache empty when it opened: the
// cache then holds only the blobs this session handed to it, and the filter
// holds them too. A first snapshot of a million small files looks up a
// million new blobs, and each lookup in the cache's tree is a page read;
// the filter says "no" to nearly all of them in a few nanoseconds.
//
// It is a Bloom filter: "no" is certain, "maybe" is asked of the cache.
// When it fills, a filter twice its size is added, so false answers stay
// near 1% however many blobs the session stores. Blob ids are keyed hashes,
// so the probe positions are taken from the id's own bits.
type sessionFilter struct {
	parts []filterPart
}

type filterPart struct {
	bits  []uint64
	mask  uint64 // len(bits)*64 - 1, a power of two less one
	n, nx int    // keys held, and the most it takes
}

const (
	filterProbes  = 7       // bits set per key
	filterBitsPer = 10      // bits per key at capacity: about 1% false "maybe"
	filterFirst   = 1 << 16 // keys the first part takes
	filterMax     = 1 << 28 // no part larger than this many keys
)

func newFilterPart(keys int) filterPart {
	bits := 64
	for bits < keys*filterBitsPer {
		bits *= 2
	}
	return filterPart{bits: make([]uint64, bits/64), mask: uint64(bits - 1), nx: keys}
}

// probes derives the key's bit positions by double hashing from two words
// of its id, mixed with its type.
func probes(k blobKey) (h1, h2 uint64) {
	h1 = binary.LittleEndian.Uint64(k.id[0:8]) ^ uint64(k.t)*0x9e3779b97f4a7c15
	h2 = binary.LittleEndian.Uint64(k.id[8:16]) | 1
	return h1, h2
}

func (p *filterPart) add(h1, h2 uint64) {
	for i := range uint64(filterProbes) {
		b := (h1 + i*h2) & p.mask
		p.bits[b/64] |= 1 << (b % 64)
	}
	p.n++
}

func (p *filterPart) mayHave(h1, h2 uint64) bool {
	for i := range uint64(filterProbes) {
		b := (h1 + i*h2) & p.mask
		if p.bits[b/64]&(1<<(b%64)) == 0 {
			return false
		}
	}
	return true
}

// add records that the cache may now hold k.
func (f *sessionFilter) add(k blobKey) {
	n := len(f.parts)
	if n == 0 || f.parts[n-1].n >= f.parts[n-1].nx {
		size := filterFirst
		if n > 0 {
			size = min(2*f.parts[n-1].nx, filterMax)
		}
		f.parts = append(f.parts, newFilterPart(size))
		n++
	}
	h1, h2 := probes(k)
	f.parts[n-1].add(h1, h2)
}

// mayHave reports false only when the cache certainly does not hold k.
func (f *sessionFilter) mayHave(k blobKey) bool {
	h1, h2 := probes(k)
	for i := range f.parts {
		if f.parts[i].mayHave(h1, h2) {
			return true
		}
	}
	return false
}
