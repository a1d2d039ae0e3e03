package pack_test

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/cairnbackup/cairn/crypto"
	"github.com/cairnbackup/cairn/pack"
)

// emptyPackSize is the size of a pack without blobs: a sealed one-byte
// header and its length.
const emptyPackSize = 1 + crypto.Overhead + 4

// onePackOverhead is what a pack of one blob adds to the blob's sealed bytes.
const onePackOverhead = 1 + pack.EntrySize + crypto.Overhead + 4

// fixedKey returns a key made from fixed bytes, so that fuzz corpora stay
// meaningful across runs.
func fixedKey(t testing.TB) *crypto.Key {
	t.Helper()
	k, err := crypto.NewKey(bytes.Repeat([]byte{0x42}, crypto.KeySize))
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func pseudoRandom(seed uint64, n int) []byte {
	r := rand.New(rand.NewPCG(seed, 0x9ac6))
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(r.Uint32())
	}
	return b
}

// built is a pack made by the Writer, with the sealed blobs that went in.
type built struct {
	bytes  []byte
	info   pack.Info
	sealed [][]byte
}

// buildPack seals one blob per plaintext length in plainLens and writes them
// into a pack of type t.
func buildPack(t testing.TB, k *crypto.Key, typ pack.BlobType, plainLens []int) built {
	t.Helper()
	var buf bytes.Buffer
	w := pack.NewWriter(&buf)
	var out built
	for i, n := range plainLens {
		plain := pseudoRandom(uint64(i), n)
		id := crypto.Hash(plain)
		s := k.Seal(nil, plain, pack.BlobAD(typ, id))
		if err := w.Add(typ, id, s, uint32(i%3)*uint32(n)); err != nil {
			t.Fatalf("Add blob %d: %v", i, err)
		}
		out.sealed = append(out.sealed, s)
	}
	if w.Count() != len(plainLens) {
		t.Fatalf("Count() = %d, want %d", w.Count(), len(plainLens))
	}
	info, err := w.Finish(k)
	if err != nil {
		t.Fatalf("Finish: %v", err)
	}
	out.bytes, out.info = buf.Bytes(), info
	return out
}

// countingReaderAt serves a pack from memory, counts reads and the bytes
// asked for, and fails reads outside the pack.
type countingReaderAt struct {
	b       []byte
	reads   int
	request int64
}

func (r *countingReaderAt) ReadAt(p []byte, off int64) (int, error) {
	r.reads++
	r.request += int64(len(p))
	if off < 0 || off+int64(len(p)) > int64(len(r.b)) {
		return 0, fmt.Errorf("read of %d bytes at %d outside a pack of %d bytes", len(p), off, len(r.b))
	}
	return copy(p, r.b[off:]), nil
}

// readHeader calls ReadHeader through a countingReaderAt and checks the
// read budget: at most two reads, never more than the pack holds twice.
func readHeader(t testing.TB, b []byte, k *crypto.Key) ([]pack.Entry, *countingReaderAt, error) {
	t.Helper()
	r := &countingReaderAt{b: b}
	entries, err := pack.ReadHeader(r, int64(len(b)), k)
	if r.reads > 2 {
		t.Fatalf("ReadHeader made %d reads of a %d-byte pack, want at most 2", r.reads, len(b))
	}
	if r.request > 2*int64(len(b)) {
		t.Fatalf("ReadHeader asked for %d bytes of a %d-byte pack", r.request, len(b))
	}
	return entries, r, err
}

// checkPack verifies a built pack: its id and size, a header read in one or
// two reads, entries equal to what the Writer reported, and every blob's
// bytes where its entry says.
func checkPack(t *testing.T, k *crypto.Key, p built, wantReads int) {
	t.Helper()
	if got := crypto.Hash(p.bytes); got != p.info.ID {
		t.Fatalf("pack id %s, but its bytes hash to %s", p.info.ID.Short(), got.Short())
	}
	if p.info.Size != int64(len(p.bytes)) {
		t.Fatalf("Info.Size %d, pack has %d bytes", p.info.Size, len(p.bytes))
	}
	entries, r, err := readHeader(t, p.bytes, k)
	if err != nil {
		t.Fatalf("ReadHeader: %v", err)
	}
	if r.reads != wantReads {
		t.Fatalf("ReadHeader made %d reads, want %d", r.reads, wantReads)
	}
	if !slices.Equal(entries, p.info.Entries) {
		t.Fatalf("ReadHeader entries differ from the Writer's")
	}
	all, err := pack.ParseAll(p.bytes, k)
	if err != nil || !slices.Equal(all, entries) {
		t.Fatalf("ParseAll: %v", err)
	}
	for i, e := range entries {
		blob := p.bytes[e.Offset : e.Offset+e.Length]
		if !bytes.Equal(blob, p.sealed[i]) {
			t.Fatalf("blob %d: bytes at offset %d differ from what was added", i, e.Offset)
		}
		if _, err := k.Open(nil, blob, pack.BlobAD(e.Type, e.ID)); err != nil {
			t.Fatalf("blob %d does not open: %v", i, err)
		}
	}
}

func TestEmptyPack(t *testing.T) {
	k := fixedKey(t)
	p := buildPack(t, k, pack.DataBlob, nil)
	if len(p.bytes) != emptyPackSize {
		t.Fatalf("empty pack of %d bytes, want %d", len(p.bytes), emptyPackSize)
	}
	// An empty pack is well formed: a header of no entries.
	checkPack(t, k, p, 1)
	if len(p.info.Entries) != 0 {
		t.Fatalf("empty pack has %d entries", len(p.info.Entries))
	}
}

func TestRoundTrip(t *testing.T) {
	k := fixedKey(t)
	for _, n := range []int{1, 2, 10, 100, 700} {
		t.Run(fmt.Sprint(n), func(t *testing.T) {
			lens := make([]int, n)
			for i := range lens {
				lens[i] = (i * 37) % 200
			}
			p := buildPack(t, k, pack.DataBlob, lens)
			checkPack(t, k, p, 1)
		})
	}
}

func TestWriterReportsProgress(t *testing.T) {
	k := fixedKey(t)
	var buf bytes.Buffer
	w := pack.NewWriter(&buf)
	total := int64(0)
	for i := range 5 {
		s := k.Seal(nil, make([]byte, i*10), nil)
		if err := w.Add(pack.TreeBlob, crypto.Hash(s), s, 0); err != nil {
			t.Fatal(err)
		}
		total += int64(len(s))
		if w.Size() != total || int64(buf.Len()) != total || w.Count() != i+1 {
			t.Fatalf("after %d blobs: Size %d, written %d, Count %d; want %d bytes", i+1, w.Size(), buf.Len(), w.Count(), total)
		}
	}
	info, err := w.Finish(k)
	if err != nil {
		t.Fatal(err)
	}
	if info.Size != int64(buf.Len()) {
		t.Fatalf("Info.Size %d, wrote %d", info.Size, buf.Len())
	}
	for i, e := range info.Entries {
		if e.Type != pack.TreeBlob {
			t.Fatalf("entry %d has type %s", i, e.Type)
		}
	}
}

// TestHeaderReadBoundary: a header of 727 entries still fits in the last
// TailReadSize bytes with its length, one of 728 needs a second read.
func TestHeaderReadBoundary(t *testing.T) {
	k := fixedKey(t)
	fits := (pack.TailReadSize - 4 - 1 - crypto.Overhead) / pack.EntrySize
	for _, c := range []struct{ n, reads int }{{fits, 1}, {fits + 1, 2}, {1000, 2}} {
		t.Run(fmt.Sprint(c.n), func(t *testing.T) {
			p := buildPack(t, k, pack.TreeBlob, make([]int, c.n)) // minimal blobs: 28 bytes each
			checkPack(t, k, p, c.reads)
		})
	}
	if fits < 700 {
		t.Errorf("only %d entries fit in one read; docs/format.md promises ~700", fits)
	}
}

// TestPackSizesAroundTailRead sweeps total pack sizes around TailReadSize
// (and the smallest packs) with one blob whose length makes the total exact.
func TestPackSizesAroundTailRead(t *testing.T) {
	k := fixedKey(t)
	for _, size := range []int{
		onePackOverhead + crypto.Overhead, // the smallest pack with a blob
		onePackOverhead + crypto.Overhead + 1,
		pack.TailReadSize - 1, pack.TailReadSize, pack.TailReadSize + 1,
		2*pack.TailReadSize - 1, 2 * pack.TailReadSize, 2*pack.TailReadSize + 1,
	} {
		t.Run(fmt.Sprint(size), func(t *testing.T) {
			p := buildPack(t, k, pack.DataBlob, []int{size - onePackOverhead - crypto.Overhead})
			if len(p.bytes) != size {
				t.Fatalf("built %d bytes, want %d", len(p.bytes), size)
			}
			checkPack(t, k, p, 1)
		})
	}
}

func TestTooShort(t *testing.T) {
	k := fixedKey(t)
	for size := range emptyPackSize {
		_, r, err := readHeader(t, make([]byte, size), k)
		if !errors.Is(err, pack.ErrTooShort) {
			t.Fatalf("%d bytes: %v, want ErrTooShort", size, err)
		}
		if r.reads != 0 {
			t.Fatalf("%d bytes: read before checking the size", size)
		}
	}
}

func TestTooLarge(t *testing.T) {
	r := &countingReaderAt{}
	if _, err := pack.ReadHeader(r, pack.MaxSize+1, fixedKey(t)); !errors.Is(err, pack.ErrTooLarge) {
		t.Fatalf("size MaxSize+1: %v, want ErrTooLarge", err)
	}
	if r.reads != 0 {
		t.Fatal("read before checking the size")
	}
}

// isPackError reports whether err wraps one of the package's sentinels.
func isPackError(err error) bool {
	for _, s := range []error{pack.ErrTooShort, pack.ErrHeaderLength, pack.ErrHeaderAuth, pack.ErrHeaderFormat, pack.ErrLayout, pack.ErrTooLarge} {
		if errors.Is(err, s) {
			return true
		}
	}
	return false
}

func TestTruncated(t *testing.T) {
	k := fixedKey(t)
	p := buildPack(t, k, pack.DataBlob, []int{10, 100, 0, 50})
	for n := range len(p.bytes) {
		// The pack cut short at its end.
		if _, _, err := readHeader(t, p.bytes[:n], k); !isPackError(err) {
			t.Fatalf("first %d of %d bytes: %v, want a pack error", n, len(p.bytes), err)
		}
		// The pack missing its first bytes: the header opens, the layout does not fit.
		if n == 0 {
			continue
		}
		if _, _, err := readHeader(t, p.bytes[n:], k); int64(n) <= dataLen(p.info.Entries) && !errors.Is(err, pack.ErrLayout) {
			t.Fatalf("without the first %d bytes: %v, want ErrLayout", n, err)
		} else if !isPackError(err) {
			t.Fatalf("without the first %d bytes: %v, want a pack error", n, err)
		}
	}
	if _, _, err := readHeader(t, append(bytes.Clone(p.bytes), 0), k); !isPackError(err) {
		t.Fatalf("one trailing byte: %v, want a pack error", err)
	}
}

func TestFlippedHeaderBytes(t *testing.T) {
	k := fixedKey(t)
	p := buildPack(t, k, pack.DataBlob, []int{10, 20})
	dataLen := int(p.info.Entries[1].Offset + p.info.Entries[1].Length)
	for i := dataLen; i < len(p.bytes)-4; i++ {
		for _, mask := range []byte{0x01, 0x80, 0xff} {
			b := bytes.Clone(p.bytes)
			b[i] ^= mask
			if _, _, err := readHeader(t, b, k); !errors.Is(err, pack.ErrHeaderAuth) {
				t.Fatalf("header byte %d ^ %#x: %v, want ErrHeaderAuth", i-dataLen, mask, err)
			}
		}
	}
}

func TestFlippedLengthField(t *testing.T) {
	k := fixedKey(t)
	p := buildPack(t, k, pack.DataBlob, []int{10, 20, 300})
	for bit := range 32 {
		b := bytes.Clone(p.bytes)
		b[len(b)-4+bit/8] ^= 1 << (bit % 8)
		_, _, err := readHeader(t, b, k)
		if !errors.Is(err, pack.ErrHeaderLength) && !errors.Is(err, pack.ErrHeaderAuth) {
			t.Fatalf("length bit %d flipped: %v, want ErrHeaderLength or ErrHeaderAuth", bit, err)
		}
	}
	for _, hlen := range []uint32{0, 1, crypto.Overhead, 1<<32 - 1, uint32(len(p.bytes) - 3)} {
		b := bytes.Clone(p.bytes)
		binary.LittleEndian.PutUint32(b[len(b)-4:], hlen)
		if _, _, err := readHeader(t, b, k); !errors.Is(err, pack.ErrHeaderLength) {
			t.Fatalf("header length %d: %v, want ErrHeaderLength", hlen, err)
		}
	}
}

// TestFlippedBlobBytes: the header does not cover the blobs, so a flipped
// blob byte leaves the header readable; the pack's name (its hash) and the
// blob's own seal catch it.
func TestFlippedBlobBytes(t *testing.T) {
	k := fixedKey(t)
	p := buildPack(t, k, pack.DataBlob, []int{10})
	b := bytes.Clone(p.bytes)
	b[3] ^= 1
	entries, _, err := readHeader(t, b, k)
	if err != nil {
		t.Fatalf("ReadHeader: %v", err)
	}
	if crypto.Hash(b) == p.info.ID {
		t.Fatal("damaged pack still hashes to its name")
	}
	e := entries[0]
	if _, err := k.Open(nil, b[e.Offset:e.Offset+e.Length], pack.BlobAD(e.Type, e.ID)); !errors.Is(err, crypto.ErrAuth) {
		t.Fatalf("damaged blob opens: %v", err)
	}
}

func TestWrongKey(t *testing.T) {
	p := buildPack(t, fixedKey(t), pack.DataBlob, []int{10, 20})
	other, err := crypto.NewKey(bytes.Repeat([]byte{0x43}, crypto.KeySize))
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := readHeader(t, p.bytes, other); !errors.Is(err, pack.ErrHeaderAuth) {
		t.Fatalf("other key: %v, want ErrHeaderAuth", err)
	}
}

// TestBlobPassedOffAsHeader: bytes sealed with another ad (a blob's) fail
// as a header even under the right key.
func TestBlobPassedOffAsHeader(t *testing.T) {
	k := fixedKey(t)
	fake := k.Seal(nil, pack.EncodeHeader(nil), pack.BlobAD(pack.TreeBlob, crypto.ID{}))
	fake = binary.LittleEndian.AppendUint32(fake, uint32(len(fake)))
	if _, _, err := readHeader(t, fake, k); !errors.Is(err, pack.ErrHeaderAuth) {
		t.Fatalf("blob as header: %v, want ErrHeaderAuth", err)
	}
}

var errDisk = errors.New("disk on fire")

type failingReaderAt struct{}

func (failingReaderAt) ReadAt([]byte, int64) (int, error) { return 0, errDisk }

func TestReadErrorsPropagate(t *testing.T) {
	if _, err := pack.ReadHeader(failingReaderAt{}, 1000, fixedKey(t)); !errors.Is(err, errDisk) {
		t.Fatalf("first read fails: %v, want the reader's error", err)
	}
	// A header that needs a second read, whose second read fails.
	k := fixedKey(t)
	p := buildPack(t, k, pack.TreeBlob, make([]int, 1000))
	r := &failSecond{countingReaderAt: countingReaderAt{b: p.bytes}}
	if _, err := pack.ReadHeader(r, int64(len(p.bytes)), k); !errors.Is(err, errDisk) {
		t.Fatalf("second read fails: %v, want the reader's error", err)
	}
}

type failSecond struct{ countingReaderAt }

func (r *failSecond) ReadAt(p []byte, off int64) (int, error) {
	if r.reads == 1 {
		return 0, errDisk
	}
	return r.countingReaderAt.ReadAt(p, off)
}

// eofReaderAt returns io.EOF with a full read at the end of the input, as
// io.ReaderAt allows ("If the n = len(p) bytes returned by ReadAt are at the
// end of the input source, ReadAt may return either err == EOF or err == nil").
type eofReaderAt struct{ b []byte }

func (r eofReaderAt) ReadAt(p []byte, off int64) (int, error) {
	n := copy(p, r.b[off:])
	if off+int64(n) == int64(len(r.b)) {
		return n, io.EOF
	}
	return n, nil
}

func TestReadHeaderAcceptsEOFOnFullRead(t *testing.T) {
	// Known bug: both r.ReadAt calls in ReadHeader (pack/reader.go) fail on
	// any error, but io.ReaderAt may return io.EOF with n == len(p) at the end
	// of the input. Fix: accept err == io.EOF when n == len(p). Remove the Skip then.
	k := fixedKey(t)
	p := buildPack(t, k, pack.DataBlob, []int{10})
	if _, err := pack.ReadHeader(eofReaderAt{p.bytes}, int64(len(p.bytes)), k); err != nil {
		t.Fatalf("ReaderAt returning io.EOF with a full read: %v", err)
	}
}

func TestWriterRejects(t *testing.T) {
	k := fixedKey(t)
	w := pack.NewWriter(io.Discard)
	s := k.Seal(nil, nil, nil)
	for _, typ := range []pack.BlobType{0, 3, 255} {
		if err := w.Add(typ, crypto.ID{}, s, 0); err == nil {
			t.Errorf("Add accepted blob type %d", typ)
		}
	}
	if err := w.Add(pack.DataBlob, crypto.ID{}, s[:crypto.Overhead-1], 0); err == nil {
		t.Error("Add accepted a blob shorter than the sealing overhead")
	}
	if w.Count() != 0 || w.Size() != 0 {
		t.Fatalf("rejected blobs were counted: Count %d, Size %d", w.Count(), w.Size())
	}
	fw := pack.NewWriter(failingWriter{})
	if err := fw.Add(pack.DataBlob, crypto.ID{}, s, 0); !errors.Is(err, errDisk) {
		t.Fatalf("Add to a failing writer: %v, want its error", err)
	}
	if _, err := fw.Finish(k); !errors.Is(err, errDisk) {
		t.Fatalf("Finish to a failing writer: %v, want its error", err)
	}
}

type failingWriter struct{}

func (failingWriter) Write([]byte) (int, error) { return 0, errDisk }

func sampleEntries() []pack.Entry {
	var es []pack.Entry
	off := uint32(0)
	for i, n := range []uint32{28, 1000, 1 << 20, 29} {
		e := pack.Entry{Type: pack.DataBlob, Offset: off, Length: n, RawLength: uint32(i) * 7, ID: crypto.Hash([]byte{byte(i)})}
		es = append(es, e)
		off += n
	}
	return es
}

func dataLen(es []pack.Entry) int64 {
	if len(es) == 0 {
		return 0
	}
	last := es[len(es)-1]
	return int64(last.Offset) + int64(last.Length)
}

func TestEncodeDecodeHeader(t *testing.T) {
	es := sampleEntries()
	b := pack.EncodeHeader(es)
	if len(b) != 1+len(es)*pack.EntrySize || b[0] != 1 {
		t.Fatalf("header of %d bytes starting %#x", len(b), b[0])
	}
	got, err := pack.DecodeHeader(b, dataLen(es))
	if err != nil || !slices.Equal(got, es) {
		t.Fatalf("DecodeHeader: %v", err)
	}
	if got, err := pack.DecodeHeader(pack.EncodeHeader(nil), 0); err != nil || len(got) != 0 {
		t.Fatalf("empty header: %v, %v", got, err)
	}
}

func TestDecodeHeaderRejects(t *testing.T) {
	es := sampleEntries()
	n := dataLen(es)
	edit := func(f func([]pack.Entry)) []byte {
		c := slices.Clone(es)
		f(c)
		return pack.EncodeHeader(c)
	}
	good := pack.EncodeHeader(es)
	cases := []struct {
		name    string
		b       []byte
		dataLen int64
		want    error
	}{
		{"empty", nil, 0, pack.ErrHeaderFormat},
		{"version 0", append([]byte{0}, good[1:]...), n, pack.ErrHeaderFormat},
		{"version 2", append([]byte{2}, good[1:]...), n, pack.ErrHeaderFormat},
		{"partial entry", good[:len(good)-1], n, pack.ErrHeaderFormat},
		{"extra byte", append(bytes.Clone(good), 0), n, pack.ErrHeaderFormat},
		{"type 0", edit(func(c []pack.Entry) { c[1].Type = 0 }), n, pack.ErrHeaderFormat},
		{"type 3", edit(func(c []pack.Entry) { c[2].Type = 3 }), n, pack.ErrHeaderFormat},
		{"short blob", edit(func(c []pack.Entry) { c[0].Length = crypto.Overhead - 1; c[1].Offset = c[0].Length }), n - 1, pack.ErrHeaderFormat},
		{"zero-length blob", edit(func(c []pack.Entry) { c[3].Length = 0 }), n - 29, pack.ErrHeaderFormat},
		{"first not at 0", edit(func(c []pack.Entry) { c[0].Offset = 1 }), n, pack.ErrLayout},
		{"gap", edit(func(c []pack.Entry) { c[2].Offset++ }), n, pack.ErrLayout},
		{"overlap", edit(func(c []pack.Entry) { c[2].Offset-- }), n, pack.ErrLayout},
		{"out of order", edit(func(c []pack.Entry) { c[1], c[2] = c[2], c[1] }), n, pack.ErrLayout},
		{"duplicate", edit(func(c []pack.Entry) { c[3] = c[2] }), n, pack.ErrLayout},
		{"dataLen - 1", good, n - 1, pack.ErrLayout},
		{"dataLen + 1", good, n + 1, pack.ErrLayout},
		{"dataLen 0", good, 0, pack.ErrLayout},
		{"no entries, dataLen 1", []byte{1}, 1, pack.ErrLayout},
	}
	for _, c := range cases {
		if got, err := pack.DecodeHeader(c.b, c.dataLen); !errors.Is(err, c.want) {
			t.Errorf("%s: %v, %v; want %v", c.name, got, err, c.want)
		}
	}
}

func TestEntryHelpers(t *testing.T) {
	if got := (pack.Entry{Length: 100}).PlainLength(); got != 100-crypto.Overhead {
		t.Errorf("uncompressed PlainLength %d", got)
	}
	if got := (pack.Entry{Length: 100, RawLength: 5000}).PlainLength(); got != 5000 {
		t.Errorf("compressed PlainLength %d", got)
	}
	id := crypto.Hash([]byte("x"))
	ad := pack.BlobAD(pack.TreeBlob, id)
	if len(ad) != 1+crypto.IDSize || ad[0] != 2 || !bytes.Equal(ad[1:], id[:]) {
		t.Errorf("BlobAD = %x", ad)
	}
	if bytes.Equal(ad, pack.BlobAD(pack.DataBlob, id)) {
		t.Error("BlobAD ignores the type")
	}
	for typ, want := range map[pack.BlobType]string{pack.DataBlob: "data", pack.TreeBlob: "tree", 0: "blobtype(0)", 9: "blobtype(9)"} {
		if typ.String() != want || typ.Valid() != (typ == 1 || typ == 2) {
			t.Errorf("type %d: String %q, Valid %v", uint8(typ), typ.String(), typ.Valid())
		}
	}
}

// FuzzDecodeHeader: whatever DecodeHeader accepts tiles dataLen exactly and
// encodes back to the same bytes.
func FuzzDecodeHeader(f *testing.F) {
	es := sampleEntries()
	f.Add(pack.EncodeHeader(es), dataLen(es))
	f.Add(pack.EncodeHeader(es[:1]), dataLen(es[:1]))
	f.Add(pack.EncodeHeader(nil), int64(0))
	tree := []pack.Entry{{Type: pack.TreeBlob, Length: 28}, {Type: pack.TreeBlob, Offset: 28, Length: 1 << 31, RawLength: 1}}
	f.Add(pack.EncodeHeader(tree), dataLen(tree))
	f.Add([]byte{}, int64(0))
	f.Add([]byte{2}, int64(-1))
	f.Fuzz(func(t *testing.T, b []byte, dataLen int64) {
		entries, err := pack.DecodeHeader(b, dataLen)
		if err != nil {
			if !errors.Is(err, pack.ErrHeaderFormat) && !errors.Is(err, pack.ErrLayout) {
				t.Fatalf("error wraps no sentinel: %v", err)
			}
			return
		}
		var next int64
		for i, e := range entries {
			if !e.Type.Valid() || int64(e.Offset) != next || e.Length < crypto.Overhead {
				t.Fatalf("accepted entry %d: %+v", i, e)
			}
			next += int64(e.Length)
		}
		if next != dataLen {
			t.Fatalf("accepted entries covering %d bytes for dataLen %d", next, dataLen)
		}
		if re := pack.EncodeHeader(entries); !bytes.Equal(re, b) {
			t.Fatalf("re-encoding differs:\n got %x\nwant %x", re, b)
		}
	})
}

// FuzzReadHeader feeds arbitrary bytes as a whole pack: ReadHeader must not
// panic, must keep to two reads within the pack, must fail with a sentinel
// and, when it accepts, return entries that tile the pack.
func FuzzReadHeader(f *testing.F) {
	k := fixedKey(f)
	for _, lens := range [][]int{nil, {0}, {10, 20}, {1, 2, 3, 4, 5}} {
		f.Add(buildPack(f, k, pack.DataBlob, lens).bytes)
	}
	f.Add([]byte{})
	f.Add(make([]byte, emptyPackSize))
	f.Add([]byte{0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff})
	f.Fuzz(func(t *testing.T, b []byte) {
		if len(b) > 1<<20 {
			return
		}
		entries, _, err := readHeader(t, b, k)
		if err != nil {
			if !isPackError(err) {
				t.Fatalf("error wraps no sentinel: %v", err)
			}
			return
		}
		hlen := int64(binary.LittleEndian.Uint32(b[len(b)-4:]))
		if got := dataLen(entries); got != int64(len(b))-4-hlen {
			t.Fatalf("entries cover %d bytes of a pack with %d bytes before its header", got, int64(len(b))-4-hlen)
		}
	})
}
