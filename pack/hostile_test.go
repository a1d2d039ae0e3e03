package pack_test

import (
	"encoding/binary"
	"errors"
	"io"
	"runtime"
	"testing"

	"github.com/cairnbackup/cairn/pack"
)

// lyingPack claims to be a pack of size bytes whose header is hlen bytes
// long, but holds nothing past its last 32 KiB: a listing that lies about
// an object's size, or a hostile store.
type lyingPack struct {
	size, hlen int64
	asked      int64 // bytes asked for beyond the tail
}

func (p *lyingPack) ReadAt(b []byte, off int64) (int, error) {
	if off >= p.size-pack.TailReadSize {
		clear(b)
		binary.LittleEndian.PutUint32(b[len(b)-4:], uint32(p.hlen))
		return len(b), nil
	}
	p.asked += int64(len(b))
	return 0, io.ErrUnexpectedEOF
}

// TestHeaderLengthClaimsAllocateNothing: a header that claims (nearly) the
// whole of a 4 GiB pack is read piece by piece, so the first piece that
// does not arrive ends the read having allocated about a mebibyte.
func TestHeaderLengthClaimsAllocateNothing(t *testing.T) {
	for _, c := range []struct {
		name       string
		size, hlen int64
		want       error
	}{
		{"claimed header inside a claimed 4 GiB pack", pack.MaxSize, pack.MaxSize - 4, io.ErrUnexpectedEOF},
		{"header longer than the pack", 1 << 20, 1<<32 - 1, pack.ErrHeaderLength},
		{"header shorter than a seal", 1 << 20, 3, pack.ErrHeaderLength},
	} {
		p := &lyingPack{size: c.size, hlen: c.hlen}
		var before, after runtime.MemStats
		runtime.ReadMemStats(&before)
		_, err := pack.ReadHeader(p, c.size, fixedKey(t))
		runtime.ReadMemStats(&after)
		if !errors.Is(err, c.want) {
			t.Errorf("%s: %v, want %v", c.name, err, c.want)
		}
		if grew := after.TotalAlloc - before.TotalAlloc; grew > 8<<20 {
			t.Errorf("%s: allocated %d MiB for a claim", c.name, grew>>20)
		}
		if p.asked > 1<<20 {
			t.Errorf("%s: asked for %d bytes at once", c.name, p.asked)
		}
	}
}
