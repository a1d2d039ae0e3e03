package index

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"reflect"
	"testing"
	"time"

	"github.com/cairnbackup/cairn/crypto"
	"github.com/cairnbackup/cairn/pack"
)

func testID(kind string, i int) crypto.ID {
	return crypto.Hash([]byte(fmt.Sprintf("%s-%d", kind, i)))
}

// testPack returns pack p holding the given blobs; every seventh blob is a
// tree blob.
func testPack(p int, blobs ...int) PackInfo {
	info := PackInfo{ID: testID("pack", p)}
	var off uint32
	for _, b := range blobs {
		t := pack.DataBlob
		if b%7 == 0 {
			t = pack.TreeBlob
		}
		length := uint32(100 + b%50)
		info.Blobs = append(info.Blobs, pack.Entry{Type: t, Offset: off, Length: length, RawLength: uint32(b % 3 * 200), ID: testID("blob", b)})
		off += length
	}
	info.Size = int64(off) + 64
	return info
}

func blobType(b int) pack.BlobType {
	if b%7 == 0 {
		return pack.TreeBlob
	}
	return pack.DataBlob
}

// sizedSegment has npacks packs of nblobs blobs each, numbered from first.
func sizedSegment(first, npacks, nblobs int) *Segment {
	s := &Segment{}
	for p := first; p < first+npacks; p++ {
		blobs := make([]int, nblobs)
		for i := range blobs {
			blobs[i] = p*nblobs + i
		}
		s.Packs = append(s.Packs, testPack(p, blobs...))
	}
	return s
}

func TestSegmentRoundTrip(t *testing.T) {
	cases := map[string]*Segment{
		"empty":          {},
		"one empty pack": {Packs: []PackInfo{{ID: testID("pack", 1), Size: 0}}},
		"one blob":       {Packs: []PackInfo{testPack(1, 1)}},
		"many":           sizedSegment(0, 300, 20),
		"condemned only": {Condemned: []Condemnation{{Pack: testID("pack", 9), Time: time.Unix(0, 0).UTC()}}},
		"max values": {Packs: []PackInfo{{ID: testID("pack", 2), Size: pack.MaxSize, Blobs: []pack.Entry{
			{Type: pack.TreeBlob, Offset: 0, Length: 1<<32 - 1, RawLength: 1<<32 - 1, ID: testID("blob", 2)},
		}}}},
		"mixed": {
			Packs:     []PackInfo{testPack(1, 1, 2, 3), testPack(2), testPack(3, 7, 14)},
			Condemned: []Condemnation{{Pack: testID("pack", 4), Time: time.Unix(1700000000, 0).UTC()}, {Pack: testID("pack", 5), Time: time.Unix(maxUnixTime, 0).UTC()}},
		},
	}
	for name, s := range cases {
		t.Run(name, func(t *testing.T) {
			enc := s.Encode()
			got, err := Decode(enc)
			if err != nil {
				t.Fatalf("Decode: %v", err)
			}
			if !reflect.DeepEqual(got, s) {
				t.Fatalf("round trip changed the segment:\n got %+v\nwant %+v", got, s)
			}
			if again := got.Encode(); !bytes.Equal(again, enc) {
				t.Fatalf("re-encoding differs")
			}
		})
	}
}

func TestSegmentEncodingIsCompact(t *testing.T) {
	s := sizedSegment(0, 100, 20)
	// Each blob: type, three varints (offset < 2^14 here), id.
	if n, max := len(s.Encode()), 100*(32+3+2)+100*20*(1+2+2+2+32)+8; n > max {
		t.Fatalf("encoding of %d bytes, want at most %d", n, max)
	}
}

func TestSegmentTimesTruncateToSeconds(t *testing.T) {
	at := time.Date(2026, 3, 1, 12, 0, 0, 999_999_999, time.FixedZone("x", 3600))
	s := &Segment{Condemned: []Condemnation{{Pack: testID("pack", 1), Time: at}}}
	got, err := Decode(s.Encode())
	if err != nil {
		t.Fatal(err)
	}
	if want := at.Truncate(time.Second); !got.Condemned[0].Time.Equal(want) || got.Condemned[0].Time.Location() != time.UTC {
		t.Fatalf("time %v, want %v in UTC", got.Condemned[0].Time, want)
	}
}

func TestDecodeRejectsEveryTruncation(t *testing.T) {
	enc := (&Segment{Packs: []PackInfo{testPack(1, 1, 2), testPack(2, 3)}, Condemned: []Condemnation{{Pack: testID("pack", 3), Time: time.Unix(5, 0)}}}).Encode()
	for n := 0; n < len(enc); n++ {
		if _, err := Decode(enc[:n]); err == nil {
			t.Fatalf("prefix of %d of %d bytes accepted", n, len(enc))
		}
	}
}

func TestDecodeErrors(t *testing.T) {
	valid := (&Segment{Packs: []PackInfo{testPack(1, 1)}}).Encode()
	pid := testID("pack", 1)
	bid := testID("blob", 1)
	uv := func(b []byte, v uint64) []byte { return binary.AppendUvarint(b, v) }
	// pack builds a one-pack segment with one blob of the given fields.
	packWith := func(size uint64, typ byte, off, length, raw uint64) []byte {
		b := []byte{1, 1} // version, npacks=1
		b = append(b, pid[:]...)
		b = uv(b, size)
		b = uv(b, 1)
		b = append(b, typ)
		b = uv(uv(uv(b, off), length), raw)
		b = append(b, bid[:]...)
		return uv(b, 0)
	}
	cases := []struct {
		name string
		b    []byte
		want error
	}{
		{"empty", nil, ErrTruncated},
		{"version 0", []byte{0, 0, 0}, ErrVersion},
		{"version 2", append([]byte{2}, valid[1:]...), ErrVersion},
		{"trailing", append(bytes.Clone(valid), 0), ErrTrailing},
		{"pack count too large", uv([]byte{1}, 1<<40), ErrCount},
		{"pack count just too large", append(uv([]byte{1}, 2), make([]byte, 2*minPackLen-1)...), ErrCount},
		{"blob count too large", append(append(uv([]byte{1}, 1), pid[:]...), 10, 0xff, 0xff, 0x03), ErrCount},
		{"condemned count too large", uv([]byte{1, 0}, 3), ErrCount},
		{"overlong varint", []byte{1, 0x80, 0x00, 0}, ErrVarint},
		{"varint over 64 bits", []byte{1, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01}, ErrVarint},
		{"blob type 0", packWith(1000, 0, 0, 10, 0), ErrBlobType},
		{"blob type 3", packWith(1000, 3, 0, 10, 0), ErrBlobType},
		{"offset overflows", packWith(pack.MaxSize, 1, 1<<32, 10, 0), ErrOverflow},
		{"length overflows", packWith(pack.MaxSize, 1, 0, 1<<32, 0), ErrOverflow},
		{"raw length overflows", packWith(pack.MaxSize, 1, 0, 10, 1<<32), ErrOverflow},
		{"pack size absurd", packWith(pack.MaxSize+1, 1, 0, 10, 0), ErrSize},
		{"blob past pack end", packWith(100, 1, 95, 10, 0), ErrSize},
		{"duplicate pack", (&Segment{Packs: []PackInfo{testPack(1, 1), testPack(1, 2)}}).Encode(), ErrDuplicate},
		{"duplicate condemnation", (&Segment{Condemned: []Condemnation{{Pack: pid, Time: time.Unix(1, 0)}, {Pack: pid, Time: time.Unix(2, 0)}}}).Encode(), ErrDuplicate},
		{"time before 1970", (&Segment{Condemned: []Condemnation{{Pack: pid, Time: time.Unix(-1, 0)}}}).Encode(), ErrTime},
		{"time after 9999", (&Segment{Condemned: []Condemnation{{Pack: pid, Time: time.Unix(maxUnixTime+1, 0)}}}).Encode(), ErrTime},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Decode(tc.b)
			if !errors.Is(err, tc.want) {
				t.Fatalf("Decode error %v, want %v", err, tc.want)
			}
		})
	}
	if _, err := Decode(packWith(110, 1, 100, 10, 0)); err != nil {
		t.Fatalf("blob ending exactly at the pack's end rejected: %v", err)
	}
}

func TestDecodeErrorsArePrefixed(t *testing.T) {
	for _, b := range [][]byte{nil, {9}, {1, 5}} {
		_, err := Decode(b)
		if err == nil || !bytes.Contains([]byte(err.Error()), []byte("index: ")) {
			t.Fatalf("error %q lacks the package prefix", err)
		}
	}
}

func FuzzDecode(f *testing.F) {
	seeds := []*Segment{
		{},
		{Packs: []PackInfo{testPack(1, 1)}},
		{Packs: []PackInfo{testPack(1, 1, 2, 3), testPack(2)}, Condemned: []Condemnation{{Pack: testID("pack", 7), Time: time.Unix(1700000000, 0)}}},
		sizedSegment(10, 5, 4),
	}
	for _, s := range seeds {
		f.Add(s.Encode())
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		s, err := Decode(b)
		if err != nil {
			return
		}
		enc := s.Encode()
		if !bytes.Equal(enc, b) {
			t.Fatalf("decode then encode changed the bytes:\n in %x\nout %x", b, enc)
		}
		again, err := Decode(enc)
		if err != nil {
			t.Fatalf("re-decoding own encoding: %v", err)
		}
		if !reflect.DeepEqual(again, s) {
			t.Fatalf("round trip changed the segment")
		}
	})
}
