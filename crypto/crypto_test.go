package crypto_test

import (
	"bytes"
	"crypto/sha1"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"strings"
	"sync"
	"testing"

	"github.com/cairnbackup/cairn/crypto"
	"github.com/cairnbackup/cairn/internal/kdftest"
)

// testPolynomial is restic's test polynomial: any nonzero value is a valid
// MasterKey polynomial as far as this package is concerned.
const testPolynomial = 0x3DA3358B4DC173

func pseudoRandom(seed uint64, n int) []byte {
	r := rand.New(rand.NewPCG(seed, 0x5eed))
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(r.Uint32())
	}
	return b
}

func newKey(t testing.TB) *crypto.Key {
	t.Helper()
	k, err := crypto.NewKey(crypto.RandomBytes(crypto.KeySize))
	if err != nil {
		t.Fatalf("NewKey: %v", err)
	}
	return k
}

func TestSealOpenRoundTrip(t *testing.T) {
	k := newKey(t)
	ad := []byte("cairn test v1")
	for _, n := range []int{0, 1, 15, 16, 17, 1023, 1024, 1025, 1 << 16} {
		plain := pseudoRandom(uint64(n), n)
		sealed := k.Seal(nil, plain, ad)
		if len(sealed) != n+crypto.Overhead {
			t.Fatalf("%d bytes: sealed to %d bytes, want %d", n, len(sealed), n+crypto.Overhead)
		}
		got, err := k.Open(nil, sealed, ad)
		if err != nil {
			t.Fatalf("%d bytes: Open: %v", n, err)
		}
		if !bytes.Equal(got, plain) {
			t.Fatalf("%d bytes: Open returned other bytes", n)
		}
	}
}

func TestSealAndOpenAppendToDst(t *testing.T) {
	k := newKey(t)
	plain := []byte("the plaintext")
	prefix := []byte("prefix:")
	for _, dst := range [][]byte{
		bytes.Clone(prefix),                     // Seal must grow it
		append(make([]byte, 0, 256), prefix...), // Seal may use its spare capacity
	} {
		sealed := k.Seal(dst, plain, nil)
		if !bytes.HasPrefix(sealed, prefix) {
			t.Fatalf("Seal lost the bytes of dst: %q", sealed[:len(prefix)])
		}
		body := sealed[len(prefix):]
		if len(body) != len(plain)+crypto.Overhead {
			t.Fatalf("Seal appended %d bytes, want %d", len(body), len(plain)+crypto.Overhead)
		}
		got, err := k.Open([]byte("out:"), body, nil)
		if err != nil {
			t.Fatalf("Open: %v", err)
		}
		if string(got) != "out:"+string(plain) {
			t.Fatalf("Open appended to dst as %q", got)
		}
	}
}

// TestOpenRejectsEveryFlippedBit flips each bit of the nonce, the ciphertext
// and the tag in turn: each must fail with ErrAuth and nothing else.
func TestOpenRejectsEveryFlippedBit(t *testing.T) {
	k := newKey(t)
	ad := []byte("ad")
	sealed := k.Seal(nil, []byte("twenty bytes of text"), ad)
	for i := range len(sealed) * 8 {
		damaged := bytes.Clone(sealed)
		damaged[i/8] ^= 1 << (i % 8)
		got, err := k.Open(nil, damaged, ad)
		if !errors.Is(err, crypto.ErrAuth) {
			t.Fatalf("bit %d (byte %d of %d) flipped: Open = %q, %v; want ErrAuth", i, i/8, len(sealed), got, err)
		}
	}
}

func TestOpenRejectsWrongADKeyAndLength(t *testing.T) {
	k := newKey(t)
	ad := []byte{1, 2, 3, 4}
	sealed := k.Seal(nil, []byte("a payload longer than a nonce"), ad)
	other := newKey(t)
	cases := map[string]func() ([]byte, error){
		"other ad":       func() ([]byte, error) { return k.Open(nil, sealed, []byte{1, 2, 3, 5}) },
		"longer ad":      func() ([]byte, error) { return k.Open(nil, sealed, []byte{1, 2, 3, 4, 0}) },
		"shorter ad":     func() ([]byte, error) { return k.Open(nil, sealed, []byte{1, 2, 3}) },
		"no ad":          func() ([]byte, error) { return k.Open(nil, sealed, nil) },
		"other key":      func() ([]byte, error) { return other.Open(nil, sealed, ad) },
		"one byte short": func() ([]byte, error) { return k.Open(nil, sealed[:len(sealed)-1], ad) },
		"trailing byte":  func() ([]byte, error) { return k.Open(nil, append(bytes.Clone(sealed), 0), ad) },
		"nonce dropped":  func() ([]byte, error) { return k.Open(nil, sealed[crypto.NonceSize:], ad) },
	}
	for name, open := range cases {
		if got, err := open(); !errors.Is(err, crypto.ErrAuth) {
			t.Errorf("%s: Open = %q, %v; want ErrAuth", name, got, err)
		}
	}
}

func TestOpenShort(t *testing.T) {
	k := newKey(t)
	for n := range crypto.Overhead {
		if _, err := k.Open(nil, make([]byte, n), nil); !errors.Is(err, crypto.ErrShort) {
			t.Fatalf("%d bytes: %v, want ErrShort", n, err)
		}
	}
	// Exactly Overhead bytes is the seal of an empty plaintext: not short.
	sealed := k.Seal(nil, nil, nil)
	if got, err := k.Open(nil, sealed, nil); err != nil || len(got) != 0 {
		t.Fatalf("empty plaintext: Open = %q, %v", got, err)
	}
	if _, err := k.Open(nil, make([]byte, crypto.Overhead), nil); !errors.Is(err, crypto.ErrAuth) {
		t.Fatalf("%d zero bytes: %v, want ErrAuth", crypto.Overhead, err)
	}
}

// TestSealFreshNonce: sealing the same plaintext twice must never give the
// same bytes, or GCM's nonce would repeat.
func TestSealFreshNonce(t *testing.T) {
	k := newKey(t)
	plain := []byte("same plaintext every time")
	seen := make(map[string]bool)
	for i := range 1000 {
		sealed := k.Seal(nil, plain, nil)
		nonce := string(sealed[:crypto.NonceSize])
		if seen[nonce] {
			t.Fatalf("seal %d reused a nonce", i)
		}
		seen[nonce] = true
	}
	a, b := k.Seal(nil, plain, nil), k.Seal(nil, plain, nil)
	if bytes.Equal(a[crypto.NonceSize:], b[crypto.NonceSize:]) {
		t.Fatal("two seals of one plaintext have the same ciphertext")
	}
}

func TestNewKey(t *testing.T) {
	for _, n := range []int{0, 1, 16, 24, 31, 33, 64} {
		if k, err := crypto.NewKey(make([]byte, n)); !errors.Is(err, crypto.ErrBadKey) || k != nil {
			t.Errorf("%d-byte key: %v, %v; want nil, ErrBadKey", n, k, err)
		}
	}
	// The key material is copied: changing it afterwards changes nothing.
	material := crypto.RandomBytes(crypto.KeySize)
	k1, err := crypto.NewKey(material)
	if err != nil {
		t.Fatal(err)
	}
	sealed := k1.Seal(nil, []byte("x"), nil)
	k2, err := crypto.NewKey(bytes.Clone(material))
	if err != nil {
		t.Fatal(err)
	}
	clear(material)
	for i, k := range []*crypto.Key{k1, k2} {
		if _, err := k.Open(nil, sealed, nil); err != nil {
			t.Fatalf("key %d: %v", i, err)
		}
	}
}

func TestRandomBytes(t *testing.T) {
	for _, n := range []int{0, 1, 32} {
		if got := len(crypto.RandomBytes(n)); got != n {
			t.Fatalf("RandomBytes(%d) returned %d bytes", n, got)
		}
	}
	if bytes.Equal(crypto.RandomBytes(32), crypto.RandomBytes(32)) {
		t.Fatal("two draws of 32 random bytes are equal")
	}
}

func TestParseKEK(t *testing.T) {
	material := crypto.RandomBytes(crypto.KeySize)
	text := hex.EncodeToString(material)
	want, err := crypto.NewKey(material)
	if err != nil {
		t.Fatal(err)
	}
	sealed := want.Seal(nil, []byte("secret"), nil)
	for _, in := range []string{
		text,
		strings.ToUpper(text),
		"  " + text + "\n",
		"\t" + text + "\r\n",
		"\n\n" + text,
	} {
		k, err := crypto.ParseKEK(in)
		if err != nil {
			t.Fatalf("ParseKEK(%q): %v", in, err)
		}
		if _, err := k.Open(nil, sealed, nil); err != nil {
			t.Fatalf("ParseKEK(%q) gave another key: %v", in, err)
		}
	}
}

// TestParseKEKNeverEchoes: the input is a secret, so no part of it may end
// up in an error message (and so in a log or a terminal).
func TestParseKEKNeverEchoes(t *testing.T) {
	text := hex.EncodeToString(crypto.RandomBytes(crypto.KeySize))
	bad := []string{
		"",
		"   \n",
		text[:63],
		text + "0",
		text + text,
		text[:62] + "zz",
		text[:31] + " " + text[32:],
		"0x" + text[:62],
		text[:60] + "g0g0",
		strings.Repeat("é", 32),
		"correct horse battery staple correct horse battery staple abcdefg",
	}
	for _, in := range bad {
		k, err := crypto.ParseKEK(in)
		if err == nil || k != nil {
			t.Errorf("ParseKEK(%q) = %v, %v; want an error", in, k, err)
			continue
		}
		if !errors.Is(err, crypto.ErrBadKey) {
			t.Errorf("ParseKEK(%q): %v, want ErrBadKey", in, err)
		}
		msg := err.Error()
		s := strings.TrimSpace(in)
		// No run of 6 characters of the input may appear in the message.
		for i := 0; i+6 <= len(s); i++ {
			if strings.Contains(msg, s[i:i+6]) {
				t.Errorf("ParseKEK error %q echoes part of its input %q", msg, s[i:i+6])
				break
			}
		}
	}
}

func TestNewKEKText(t *testing.T) {
	a, b := crypto.NewKEKText(), crypto.NewKEKText()
	if len(a) != 2*crypto.KeySize || a == b {
		t.Fatalf("NewKEKText gave %q and %q", a, b)
	}
	if _, err := crypto.ParseKEK(a); err != nil {
		t.Fatalf("ParseKEK(NewKEKText()): %v", err)
	}
}

func TestDeriveKey(t *testing.T) {
	salt := pseudoRandom(1, crypto.SaltSize)
	k1, err := crypto.DeriveKey([]byte("pw"), salt, kdftest.Cheap)
	if err != nil {
		t.Fatal(err)
	}
	k2, err := crypto.DeriveKey([]byte("pw"), bytes.Clone(salt), kdftest.Cheap)
	if err != nil {
		t.Fatal(err)
	}
	sealed := k1.Seal(nil, []byte("master key"), nil)
	if _, err := k2.Open(nil, sealed, nil); err != nil {
		t.Fatalf("same password, salt and parameters gave another key: %v", err)
	}
	others := map[string]struct {
		pw   string
		salt []byte
		p    crypto.KDFParams
	}{
		"password": {"pW", salt, kdftest.Cheap},
		"salt":     {"pw", pseudoRandom(2, crypto.SaltSize), kdftest.Cheap},
		"time":     {"pw", salt, crypto.KDFParams{Time: 2, MemoryKiB: 64, Threads: 1}},
		"memory":   {"pw", salt, crypto.KDFParams{Time: 1, MemoryKiB: 72, Threads: 1}},
		"threads":  {"pw", salt, crypto.KDFParams{Time: 1, MemoryKiB: 64, Threads: 2}},
	}
	for name, o := range others {
		k, err := crypto.DeriveKey([]byte(o.pw), o.salt, o.p)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if _, err := k.Open(nil, sealed, nil); !errors.Is(err, crypto.ErrAuth) {
			t.Errorf("another %s gave the same key", name)
		}
	}
	if _, err := crypto.DeriveKey([]byte("pw"), salt[:15], kdftest.Cheap); !errors.Is(err, crypto.ErrBadKey) {
		t.Errorf("15-byte salt: %v, want ErrBadKey", err)
	}
	if _, err := crypto.DeriveKey([]byte("pw"), salt[:16], kdftest.Cheap); err != nil {
		t.Errorf("16-byte salt: %v", err)
	}
	if _, err := crypto.DeriveKey([]byte("pw"), salt, crypto.KDFParams{}); !errors.Is(err, crypto.ErrBadKey) {
		t.Errorf("zero parameters: %v, want ErrBadKey", err)
	}
}

func TestKDFParamsValidate(t *testing.T) {
	const maxMem = 1024 * 1024
	cases := []struct {
		p  crypto.KDFParams
		ok bool
	}{
		{crypto.DefaultKDF, true},
		{kdftest.Cheap, true},
		{crypto.KDFParams{}, false},
		{crypto.KDFParams{Time: 0, MemoryKiB: 64, Threads: 1}, false},
		{crypto.KDFParams{Time: 1, MemoryKiB: 64, Threads: 1}, true},
		{crypto.KDFParams{Time: 16, MemoryKiB: 64, Threads: 1}, true},
		{crypto.KDFParams{Time: 17, MemoryKiB: 64, Threads: 1}, false},
		{crypto.KDFParams{Time: 1 << 31, MemoryKiB: 64, Threads: 1}, false},
		{crypto.KDFParams{Time: 1, MemoryKiB: 64, Threads: 0}, false},
		{crypto.KDFParams{Time: 1, MemoryKiB: 7, Threads: 1}, false},
		{crypto.KDFParams{Time: 1, MemoryKiB: 8, Threads: 1}, true},
		{crypto.KDFParams{Time: 1, MemoryKiB: 31, Threads: 4}, false},
		{crypto.KDFParams{Time: 1, MemoryKiB: 32, Threads: 4}, true},
		{crypto.KDFParams{Time: 1, MemoryKiB: 8*255 - 1, Threads: 255}, false},
		{crypto.KDFParams{Time: 1, MemoryKiB: 8 * 255, Threads: 255}, true},
		{crypto.KDFParams{Time: 1, MemoryKiB: maxMem, Threads: 4}, true},
		{crypto.KDFParams{Time: 1, MemoryKiB: maxMem + 1, Threads: 4}, false},
		{crypto.KDFParams{Time: 1, MemoryKiB: 1<<32 - 1, Threads: 4}, false},
		{crypto.KDFParams{Time: 1, MemoryKiB: 0, Threads: 0}, false},
	}
	for _, c := range cases {
		err := c.p.Validate()
		if c.ok && err != nil {
			t.Errorf("%+v: %v, want valid", c.p, err)
		}
		if !c.ok && !errors.Is(err, crypto.ErrBadKey) {
			t.Errorf("%+v: %v, want ErrBadKey", c.p, err)
		}
	}
}

func TestMasterKeyRoundTrip(t *testing.T) {
	m := crypto.NewMasterKey(testPolynomial)
	if m.Polynomial() != testPolynomial {
		t.Fatalf("polynomial %#x, want %#x", m.Polynomial(), uint64(testPolynomial))
	}
	b := m.Marshal()
	if len(b) != crypto.MasterKeySize || crypto.MasterKeySize != 72 {
		t.Fatalf("Marshal gave %d bytes, want 72", len(b))
	}
	m2, err := crypto.UnmarshalMasterKey(b)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(m2.Marshal(), b) || m2.Polynomial() != m.Polynomial() {
		t.Fatal("Marshal/Unmarshal does not round-trip")
	}
	clear(b) // the decoded key must not alias the input
	sealed := m.Sealer().Seal(nil, []byte("x"), nil)
	if _, err := m2.Sealer().Open(nil, sealed, nil); err != nil {
		t.Fatalf("unmarshalled sealer: %v", err)
	}
	data := []byte("blob plaintext")
	if m.BlobID(data) != m2.BlobID(data) {
		t.Fatal("unmarshalled id key differs")
	}
	if bytes.Equal(crypto.NewMasterKey(testPolynomial).Marshal(), m.Marshal()) {
		t.Fatal("two new master keys are equal")
	}
}

func TestUnmarshalMasterKeyRejects(t *testing.T) {
	good := crypto.NewMasterKey(testPolynomial).Marshal()
	for _, n := range []int{0, 32, 64, 71, 73, 100} {
		b := make([]byte, n)
		copy(b, good)
		if m, err := crypto.UnmarshalMasterKey(b); !errors.Is(err, crypto.ErrBadKey) || m != nil {
			t.Errorf("%d bytes: %v, %v; want nil, ErrBadKey", n, m, err)
		}
	}
	zeroPol := bytes.Clone(good)
	clear(zeroPol[2*crypto.KeySize:])
	if _, err := crypto.UnmarshalMasterKey(zeroPol); !errors.Is(err, crypto.ErrBadKey) {
		t.Errorf("zero polynomial: %v, want ErrBadKey", err)
	}
}

func TestBlobIDKeyed(t *testing.T) {
	m1 := crypto.NewMasterKey(testPolynomial)
	m2 := crypto.NewMasterKey(testPolynomial)
	for _, n := range []int{0, 1, 1024, 1025, 100_000} {
		data := pseudoRandom(uint64(n), n)
		id := m1.BlobID(data)
		if id != m1.BlobID(data) {
			t.Fatalf("%d bytes: BlobID is not deterministic", n)
		}
		if id == m2.BlobID(data) {
			t.Fatalf("%d bytes: two master keys give the same blob id", n)
		}
		if id == crypto.Hash(data) {
			t.Fatalf("%d bytes: blob id equals the unkeyed hash", n)
		}
		h := m1.NewBlobHasher()
		for p := data; len(p) > 0; {
			step := min(len(p), 333)
			h.Write(p[:step])
			p = p[step:]
		}
		if got := crypto.IDFromHasher(h); got != id {
			t.Fatalf("%d bytes: NewBlobHasher gives %s, BlobID %s", n, got.Short(), id.Short())
		}
	}
}

// TestBlobIDConcurrent runs BlobID from many goroutines: the shared keyed
// hasher must only ever be cloned (run with -race).
func TestBlobIDConcurrent(t *testing.T) {
	m := crypto.NewMasterKey(testPolynomial)
	data := pseudoRandom(7, 10_000)
	want := m.BlobID(data)
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			for range 50 {
				if got := m.BlobID(data); got != want {
					t.Errorf("concurrent BlobID gave %s, want %s", got.Short(), want.Short())
					return
				}
			}
		})
	}
	wg.Wait()
}

func TestHashKnownAnswers(t *testing.T) {
	// BLAKE3-256 test vectors (b3sum of an empty input and of "abc").
	for in, want := range map[string]string{
		"":    "af1349b9f5f9a1a6a0404dea36dcc9499bcb25c9adc112b7cc9a93cae41f3262",
		"abc": "6437b3ac38465133ffb63b75273a8db548c558465d79db03fd359c6cd5bd9d85",
	} {
		if got := crypto.Hash([]byte(in)).String(); got != want {
			t.Errorf("Hash(%q) = %s, want %s", in, got, want)
		}
	}
}

func TestHashEqualsStreaming(t *testing.T) {
	for _, n := range []int{0, 1, 63, 64, 65, 1023, 1024, 1025, 2048, 1<<20 + 1} {
		data := pseudoRandom(uint64(n), n)
		for _, step := range []int{1, 7, 1024, 1 << 20} {
			if n > 10_000 && step < 1024 {
				continue
			}
			h := crypto.NewHasher()
			for p := data; len(p) > 0; {
				s := min(step, len(p))
				h.Write(p[:s])
				p = p[s:]
			}
			if got, want := crypto.IDFromHasher(h), crypto.Hash(data); got != want {
				t.Fatalf("%d bytes in steps of %d: streaming %s, Hash %s", n, step, got.Short(), want.Short())
			}
		}
	}
}

func TestIDFromHasherPanicsOnOtherSizes(t *testing.T) {
	defer func() {
		if recover() == nil {
			t.Fatal("IDFromHasher accepted a 20-byte hasher")
		}
	}()
	crypto.IDFromHasher(sha1.New())
}

func TestIDText(t *testing.T) {
	id := crypto.Hash([]byte("an object"))
	s := id.String()
	if len(s) != 64 || s != strings.ToLower(s) {
		t.Fatalf("String() = %q, want 64 lower-case hex digits", s)
	}
	if id.Short() != s[:8] {
		t.Fatalf("Short() = %q, want %q", id.Short(), s[:8])
	}
	parsed, err := crypto.ParseID(s)
	if err != nil || parsed != id {
		t.Fatalf("ParseID(String()) = %s, %v", parsed, err)
	}
	text, err := id.MarshalText()
	if err != nil || string(text) != s {
		t.Fatalf("MarshalText = %q, %v", text, err)
	}
	var back crypto.ID
	if err := back.UnmarshalText(text); err != nil || back != id {
		t.Fatalf("UnmarshalText = %s, %v", back, err)
	}
	if id.IsNull() || !(crypto.ID{}).IsNull() {
		t.Fatal("IsNull wrong")
	}

	type doc struct {
		ID  crypto.ID  `json:"id"`
		Ptr *crypto.ID `json:"ptr"`
	}
	j, err := json.Marshal(doc{ID: id, Ptr: &id})
	if err != nil {
		t.Fatal(err)
	}
	if want := fmt.Sprintf(`{"id":%q,"ptr":%q}`, s, s); string(j) != want {
		t.Fatalf("JSON %s, want %s", j, want)
	}
	var d doc
	if err := json.Unmarshal(j, &d); err != nil || d.ID != id || d.Ptr == nil || *d.Ptr != id {
		t.Fatalf("JSON round trip: %+v, %v", d, err)
	}
}

func TestParseIDErrors(t *testing.T) {
	s := crypto.Hash(nil).String()
	for _, in := range []string{"", "00", s[:63], s + "0", s[:62] + "zz", s[:63] + " ", " " + s[1:], s[:32]} {
		if id, err := crypto.ParseID(in); err == nil {
			t.Errorf("ParseID(%q) = %s, want an error", in, id)
		}
		id := crypto.Hash([]byte("kept"))
		if err := id.UnmarshalText([]byte(in)); err == nil {
			t.Errorf("UnmarshalText(%q) accepted", in)
		} else if id != crypto.Hash([]byte("kept")) {
			t.Errorf("failed UnmarshalText(%q) changed the id", in)
		}
	}
	var d struct{ ID crypto.ID }
	if err := json.Unmarshal([]byte(`{"ID":"abc"}`), &d); err == nil {
		t.Error("JSON with a short id accepted")
	}
}

const benchSize = 1 << 20

func BenchmarkSeal(b *testing.B) {
	k := newKey(b)
	plain := pseudoRandom(1, benchSize)
	ad := make([]byte, 33)
	buf := make([]byte, 0, benchSize+crypto.Overhead)
	b.SetBytes(benchSize)
	b.ReportAllocs()
	for b.Loop() {
		buf = k.Seal(buf[:0], plain, ad)
	}
}

func BenchmarkOpen(b *testing.B) {
	k := newKey(b)
	ad := make([]byte, 33)
	sealed := k.Seal(nil, pseudoRandom(1, benchSize), ad)
	buf := make([]byte, 0, benchSize)
	b.SetBytes(benchSize)
	b.ReportAllocs()
	for b.Loop() {
		var err error
		if buf, err = k.Open(buf[:0], sealed, ad); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkBlobID(b *testing.B) {
	m := crypto.NewMasterKey(testPolynomial)
	data := pseudoRandom(1, benchSize)
	b.SetBytes(benchSize)
	b.ReportAllocs()
	for b.Loop() {
		m.BlobID(data)
	}
}

func BenchmarkHash(b *testing.B) {
	data := pseudoRandom(1, benchSize)
	b.SetBytes(benchSize)
	b.ReportAllocs()
	for b.Loop() {
		crypto.Hash(data)
	}
}

// BenchmarkKDF measures one password derivation with the default cost. Its
// MB/s counts the argon2id memory filled per pass; ns/op is the delay a user
// sees when opening a repository (docs/format.md: about 100 ms on 2 cores).
func BenchmarkKDF(b *testing.B) {
	salt := pseudoRandom(1, crypto.SaltSize)
	p := crypto.DefaultKDF
	b.SetBytes(int64(p.MemoryKiB) * 1024 * int64(p.Time))
	for b.Loop() {
		if _, err := crypto.DeriveKey([]byte("correct horse battery staple"), salt, p); err != nil {
			b.Fatal(err)
		}
	}
}

// BlobID reuses its hashers: naming a blob allocates nothing (a snapshot of
// a million small files names a million blobs).
func TestBlobIDAllocatesNothing(t *testing.T) {
	m := crypto.NewMasterKey(testPolynomial)
	data := pseudoRandom(7, 4096)
	want := m.BlobID(data)
	allocs := testing.AllocsPerRun(100, func() {
		if m.BlobID(data) != want {
			t.Fatal("BlobID changed")
		}
	})
	if allocs > 0 {
		t.Errorf("BlobID allocates %.1f times per call", allocs)
	}
}
