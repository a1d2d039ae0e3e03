package repo

import (
	"encoding/binary"
	"fmt"
	"time"

	"github.com/cairnbackup/cairn/crypto"
)

// encoder appends the primitives of cairn's binary encodings.
type encoder struct{ b []byte }

func (e *encoder) uvarint(v uint64) { e.b = binary.AppendUvarint(e.b, v) }

func (e *encoder) str(s string) {
	e.uvarint(uint64(len(s)))
	e.b = append(e.b, s...)
}

// time stores nanoseconds since the Unix epoch; the zero time is stored as 0
// and so cannot be told from the epoch itself, which no file carries.
func (e *encoder) time(t time.Time) {
	var ns int64
	if !t.IsZero() {
		ns = t.UnixNano()
	}
	e.b = binary.AppendVarint(e.b, ns)
}

// decoder reads what encoder wrote; the first fault sticks in err and
// every later read returns zero values.
type decoder struct {
	b   []byte
	err error
}

func (d *decoder) fail(format string, args ...any) {
	if d.err == nil {
		d.err = fmt.Errorf(format, args...)
	}
}

func (d *decoder) byte() byte {
	if d.err != nil {
		return 0
	}
	if len(d.b) < 1 {
		d.fail("truncated")
		return 0
	}
	v := d.b[0]
	d.b = d.b[1:]
	return v
}

func (d *decoder) uvarint() uint64 {
	if d.err != nil {
		return 0
	}
	v, n := binary.Uvarint(d.b)
	if !d.consumeVarint(n) {
		return 0
	}
	return v
}

func (d *decoder) uint32() uint32 {
	v := d.uvarint()
	if v > 1<<32-1 {
		d.fail("value %d overflows 32 bits", v)
		return 0
	}
	return uint32(v)
}

func (d *decoder) varint() int64 {
	if d.err != nil {
		return 0
	}
	v, n := binary.Varint(d.b)
	if !d.consumeVarint(n) {
		return 0
	}
	return v
}

// consumeVarint checks the n bytes a varint read took (n <= 0: truncated
// or overlong) and that it was minimally encoded, so that every value has
// exactly one encoding, then moves past them.
func (d *decoder) consumeVarint(n int) bool {
	if n <= 0 {
		d.fail("truncated or overlong number")
		return false
	}
	if n > 1 && d.b[n-1] == 0 {
		d.fail("number not minimally encoded")
		return false
	}
	d.b = d.b[n:]
	return true
}

// count reads a length and checks that that many items of at least min
// bytes each could still follow, so hostile counts never allocate.
func (d *decoder) count(min int) int {
	v := d.uvarint()
	if d.err == nil && v > uint64(len(d.b)/min) {
		d.fail("count %d exceeds the %d bytes left", v, len(d.b))
		return 0
	}
	return int(v)
}

func (d *decoder) bytes(n int) []byte {
	if d.err != nil {
		return nil
	}
	if n < 0 || n > len(d.b) {
		d.fail("truncated: want %d bytes, %d left", n, len(d.b))
		return nil
	}
	v := d.b[:n]
	d.b = d.b[n:]
	return v
}

func (d *decoder) str() string {
	n := d.count(1)
	return string(d.bytes(n))
}

func (d *decoder) time() time.Time {
	ns := d.varint()
	if ns == 0 {
		return time.Time{}
	}
	return time.Unix(0, ns).UTC()
}

func (d *decoder) id() crypto.ID {
	var id crypto.ID
	copy(id[:], d.bytes(crypto.IDSize))
	return id
}

func (d *decoder) extent() Extent {
	switch kind := d.byte(); kind {
	case 0:
		id := d.id()
		return Extent{Blob: id, Length: d.uvarint()}
	case 1:
		return Extent{Hole: true, Length: d.uvarint()}
	default:
		d.fail("unknown extent kind %d", kind)
		return Extent{}
	}
}
