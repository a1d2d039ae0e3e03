package chunk

import (
	"bytes"
	"crypto/sha256"
	"math/rand/v2"
	"slices"
	"testing"
)

// testPol is a fixed irreducible polynomial so results are reproducible.
const testPol = 0x3DA3358B4DC173

func randomData(seed uint64, n int) []byte {
	r := rand.New(rand.NewPCG(seed, seed))
	b := make([]byte, n)
	for i := 0; i+8 <= n; i += 8 {
		v := r.Uint64()
		for j := range 8 {
			b[i+j] = byte(v >> (8 * j))
		}
	}
	return b
}

func TestPolynomial(t *testing.T) {
	if err := ValidPolynomial(testPol); err != nil {
		t.Fatal(err)
	}
	p, err := RandomPolynomial()
	if err != nil {
		t.Fatal(err)
	}
	if err := ValidPolynomial(p); err != nil {
		t.Fatal(err)
	}
	if ValidPolynomial(0x12) == nil || ValidPolynomial(0) == nil {
		t.Fatal("bad polynomials accepted")
	}
}

func TestSizesAndDeterminism(t *testing.T) {
	data := randomData(1, 32<<20)
	sizes := Split(data, testPol)
	total := 0
	for i, s := range sizes {
		total += s
		if s > MaxSize || (s < MinSize && i != len(sizes)-1) {
			t.Errorf("chunk %d has size %d outside [%d, %d]", i, s, MinSize, MaxSize)
		}
	}
	if total != len(data) {
		t.Fatalf("chunks cover %d bytes, want %d", total, len(data))
	}
	avg := total / len(sizes)
	if avg < 1<<19 || avg > 1<<22 {
		t.Errorf("average chunk %d bytes, want about 1 MiB", avg)
	}
	if again := Split(data, testPol); !slices.Equal(again, sizes) {
		t.Fatal("same data and polynomial gave different boundaries")
	}
	other, _ := RandomPolynomial()
	if slices.Equal(Split(data, other), sizes) {
		t.Error("another polynomial gave identical boundaries (possible but very unlikely)")
	}
}

// An insertion near the start only changes the chunks around it: the rest
// are found again, which is what makes deduplication of edited files work.
func TestInsertionShiftsFewChunks(t *testing.T) {
	data := randomData(2, 16<<20)
	edited := append(append(slices.Clone(data[:1000]), []byte("inserted line\n")...), data[1000:]...)
	hashes := func(b []byte) map[[32]byte]bool {
		m := map[[32]byte]bool{}
		off := 0
		for _, s := range Split(b, testPol) {
			m[sha256.Sum256(b[off:off+s])] = true
			off += s
		}
		return m
	}
	a, b := hashes(data), hashes(edited)
	common := 0
	for h := range a {
		if b[h] {
			common++
		}
	}
	if common < len(a)-2 {
		t.Fatalf("only %d of %d chunks survive a 14-byte insertion", common, len(a))
	}
}

func TestBoundarySizes(t *testing.T) {
	for _, n := range []int{0, 1, MinSize - 1, MinSize, MinSize + 1, MaxSize - 1, MaxSize, MaxSize + 1} {
		data := bytes.Repeat([]byte{0xAA}, n)
		sizes := Split(data, testPol)
		total := 0
		for _, s := range sizes {
			total += s
		}
		if total != n {
			t.Errorf("size %d: chunks cover %d bytes", n, total)
		}
		if n == 0 && len(sizes) != 0 {
			t.Errorf("empty input gave %d chunks", len(sizes))
		}
	}
}

func FuzzSplit(f *testing.F) {
	f.Add([]byte("hello"), uint64(testPol))
	f.Add(randomData(3, 1<<20), uint64(testPol))
	f.Fuzz(func(t *testing.T, data []byte, pol uint64) {
		if ValidPolynomial(pol) != nil {
			pol = testPol
		}
		total := 0
		for _, s := range Split(data, pol) {
			if s <= 0 || s > MaxSize {
				t.Fatalf("chunk of %d bytes", s)
			}
			total += s
		}
		if total != len(data) {
			t.Fatalf("chunks cover %d of %d bytes", total, len(data))
		}
	})
}

func BenchmarkChunkRandom(b *testing.B) { benchChunk(b, randomData(4, 64<<20)) }

func BenchmarkChunkLogs(b *testing.B) { benchChunk(b, logData(64<<20)) }

func benchChunk(b *testing.B, data []byte) {
	c := New(testPol)
	b.SetBytes(int64(len(data)))
	for b.Loop() {
		c.Reset(bytes.NewReader(data))
		for {
			if _, err := c.Next(); err != nil {
				break
			}
		}
	}
}

// logData makes n bytes that look like an application log.
func logData(n int) []byte {
	r := rand.New(rand.NewPCG(5, 5))
	levels := []string{"INFO", "WARN", "DEBUG", "ERROR"}
	paths := []string{"/api/v1/users", "/api/v1/orders", "/healthz", "/static/app.js"}
	var buf bytes.Buffer
	for buf.Len() < n {
		buf.WriteString("2026-11-26T13:")
		buf.WriteString(string(rune('0'+r.IntN(6))) + string(rune('0'+r.IntN(10))))
		buf.WriteString(":07.")
		buf.WriteString(string(rune('0' + r.IntN(10))))
		buf.WriteString("Z ")
		buf.WriteString(levels[r.IntN(len(levels))])
		buf.WriteString(" request id=")
		for range 12 {
			buf.WriteByte("0123456789abcdef"[r.IntN(16)])
		}
		buf.WriteString(" path=")
		buf.WriteString(paths[r.IntN(len(paths))])
		buf.WriteString(" status=200 bytes=")
		buf.WriteString(string(rune('1'+r.IntN(9))) + "024 dur_ms=" + string(rune('1'+r.IntN(9))) + "\n")
	}
	return buf.Bytes()[:n]
}
