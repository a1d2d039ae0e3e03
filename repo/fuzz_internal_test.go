package repo

// Tests of the decoders that read bytes from storage (config, key files,
// snapshots) and of the blob codec. They are internal because the decoders
// are unexported; every fuzzer is seeded with the output of our own writers.

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/cairnbackup/cairn/crypto"
	"github.com/cairnbackup/cairn/internal/kdftest"
	"github.com/cairnbackup/cairn/pack"
)

// fzPolynomial is restic's test polynomial (irreducible, degree 53).
const fzPolynomial = 0x3DA3358B4DC173

var fzTime = time.Date(2026, 11, 26, 13, 0, 0, 123456789, time.UTC)

// fzKey is a fixed data key, so that fuzz corpora stay valid across runs.
func fzKey(t testing.TB) *crypto.Key {
	t.Helper()
	k, err := crypto.NewKey(bytes.Repeat([]byte{0x5a}, crypto.KeySize))
	if err != nil {
		t.Fatal(err)
	}
	return k
}

// fzMasterKey is a fixed master key.
func fzMasterKey(t testing.TB) *crypto.MasterKey {
	t.Helper()
	b := make([]byte, crypto.MasterKeySize)
	for i := range 2 * crypto.KeySize {
		b[i] = byte(i)
	}
	binary.LittleEndian.PutUint64(b[2*crypto.KeySize:], fzPolynomial)
	m, err := crypto.UnmarshalMasterKey(b)
	if err != nil {
		t.Fatal(err)
	}
	return m
}

func fzConfig(compression string) *Config {
	return &Config{
		Version:     FormatVersion,
		ID:          crypto.Hash([]byte("repository " + compression)),
		Polynomial:  fzPolynomial,
		PackSize:    DefaultPackSize,
		Compression: compression,
		Created:     fzTime,
	}
}

func fzEncodeConfig(t testing.TB, c *Config, k *crypto.Key) []byte {
	t.Helper()
	b, err := encodeConfig(c, k)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func sameConfig(a, b *Config) bool {
	return a.Version == b.Version && a.ID == b.ID && a.Polynomial == b.Polynomial &&
		a.PackSize == b.PackSize && a.Compression == b.Compression && a.Created.Equal(b.Created)
}

func isRepoError(err error, sentinels ...error) bool {
	for _, s := range sentinels {
		if errors.Is(err, s) {
			return true
		}
	}
	return false
}

func TestConfigRoundTrip(t *testing.T) {
	k := fzKey(t)
	for _, comp := range []string{CompressionOff, CompressionFastest, CompressionDefault, CompressionBetter} {
		c := fzConfig(comp)
		b := fzEncodeConfig(t, c, k)
		if !bytes.HasPrefix(b, []byte("CAIRNCFG\x01\x00")) || !bytes.Equal(b[10:configHeaderLen], c.ID[:]) {
			t.Fatalf("%s: header %q", comp, b[:configHeaderLen])
		}
		h, err := parseConfigHeader(b)
		if err != nil || h.Version != FormatVersion || h.ID != c.ID {
			t.Fatalf("%s: parseConfigHeader = %+v, %v", comp, h, err)
		}
		got, err := decodeConfig(b, k)
		if err != nil {
			t.Fatalf("%s: decodeConfig: %v", comp, err)
		}
		if !sameConfig(got, c) {
			t.Fatalf("%s: decoded %+v, want %+v", comp, got, c)
		}
	}
}

// TestConfigEveryByteFlipFails: damage anywhere in the config, header or
// sealed part, must give an error and never a silently different config.
func TestConfigEveryByteFlipFails(t *testing.T) {
	k := fzKey(t)
	b := fzEncodeConfig(t, fzConfig(CompressionDefault), k)
	for i := range b {
		for _, mask := range []byte{0x01, 0x02, 0x80, 0xff} {
			d := bytes.Clone(b)
			d[i] ^= mask
			c, err := decodeConfig(d, k)
			if err == nil {
				t.Fatalf("byte %d ^ %#x: decoded %+v", i, mask, c)
			}
			if !isRepoError(err, ErrMalformed, ErrCorrupt, ErrNewerFormat) {
				t.Fatalf("byte %d ^ %#x: %v wraps no sentinel", i, mask, err)
			}
		}
	}
	for n := range b {
		if c, err := decodeConfig(b[:n], k); err == nil {
			t.Fatalf("first %d of %d bytes: decoded %+v", n, len(b), c)
		}
	}
	if c, err := decodeConfig(append(bytes.Clone(b), 0), k); err == nil {
		t.Fatalf("trailing byte: decoded %+v", c)
	}
}

func TestConfigRejects(t *testing.T) {
	k := fzKey(t)
	other, err := crypto.NewKey(bytes.Repeat([]byte{0x5b}, crypto.KeySize))
	if err != nil {
		t.Fatal(err)
	}
	good := fzEncodeConfig(t, fzConfig(CompressionDefault), k)
	if _, err := decodeConfig(good, other); !errors.Is(err, ErrCorrupt) {
		t.Errorf("other key: %v, want ErrCorrupt", err)
	}

	// Sealed correctly, but with contents that validate refuses.
	invalid := map[string]func(*Config){
		"no polynomial":     func(c *Config) { c.Polynomial = 0 },
		"pack size 0":       func(c *Config) { c.PackSize = 0 },
		"pack size 1 MiB-1": func(c *Config) { c.PackSize = 1<<20 - 1 },
		"pack size 1 GiB+1": func(c *Config) { c.PackSize = 1<<30 + 1 },
		"compression lz4":   func(c *Config) { c.Compression = "lz4" },
		"compression empty": func(c *Config) { c.Compression = "" },
	}
	for name, edit := range invalid {
		c := fzConfig(CompressionDefault)
		edit(c)
		if _, err := decodeConfig(fzEncodeConfig(t, c, k), k); !errors.Is(err, ErrMalformed) {
			t.Errorf("%s: %v, want ErrMalformed", name, err)
		}
	}
	for _, size := range []int{1 << 20, 1 << 30} {
		c := fzConfig(CompressionOff)
		c.PackSize = size
		if _, err := decodeConfig(fzEncodeConfig(t, c, k), k); err != nil {
			t.Errorf("pack size %d: %v", size, err)
		}
	}

	// The sealed JSON names another repository than the header.
	c := fzConfig(CompressionDefault)
	plain, _ := json.Marshal(c)
	headerID := crypto.Hash([]byte("another repository"))
	swapped := append([]byte("CAIRNCFG\x01\x00"), headerID[:]...)
	swapped = k.Seal(swapped, plain, configAD(FormatVersion, headerID))
	if _, err := decodeConfig(swapped, k); !errors.Is(err, ErrCorrupt) {
		t.Errorf("id mismatch: %v, want ErrCorrupt", err)
	}

	// Not JSON at all, yet sealed.
	junk := append([]byte("CAIRNCFG\x01\x00"), c.ID[:]...)
	junk = k.Seal(junk, []byte("{not json"), configAD(FormatVersion, c.ID))
	if _, err := decodeConfig(junk, k); !errors.Is(err, ErrMalformed) {
		t.Errorf("sealed junk: %v, want ErrMalformed", err)
	}

	// A sealed version other than the header's.
	c2 := fzConfig(CompressionDefault)
	c2.Version = 2
	plain2, _ := json.Marshal(c2)
	v2 := append([]byte("CAIRNCFG\x01\x00"), c2.ID[:]...)
	v2 = k.Seal(v2, plain2, configAD(FormatVersion, c2.ID))
	if _, err := decodeConfig(v2, k); !errors.Is(err, ErrMalformed) {
		t.Errorf("sealed version 2 under header version 1: %v, want ErrMalformed", err)
	}
}

func TestParseConfigHeader(t *testing.T) {
	good := fzEncodeConfig(t, fzConfig(CompressionDefault), fzKey(t))
	withVersion := func(v uint16) []byte {
		b := bytes.Clone(good)
		binary.LittleEndian.PutUint16(b[8:], v)
		return b
	}
	cases := []struct {
		name string
		b    []byte
		want error
	}{
		{"empty", nil, ErrMalformed},
		{"magic only", []byte("CAIRNCFG"), ErrMalformed},
		{"bad magic", append([]byte("CAIRNCFX"), good[8:]...), ErrMalformed},
		{"header without seal", good[:configHeaderLen+crypto.Overhead-1], ErrMalformed},
		{"version 0", withVersion(0), ErrMalformed},
		{"version 2", withVersion(2), ErrNewerFormat},
		{"version 65535", withVersion(65535), ErrNewerFormat},
	}
	for _, c := range cases {
		if _, err := parseConfigHeader(c.b); !errors.Is(err, c.want) {
			t.Errorf("%s: %v, want %v", c.name, err, c.want)
		}
	}
	// A newer format is refused before any key is needed.
	if _, err := decodeConfig(withVersion(2), nil); !errors.Is(err, ErrNewerFormat) {
		t.Errorf("newer format without a key: %v", err)
	}
	h, err := parseConfigHeader(good[:configHeaderLen+crypto.Overhead])
	if err != nil || h.Version != 1 {
		t.Errorf("shortest acceptable header: %+v, %v", h, err)
	}
}

func FuzzParseConfigHeader(f *testing.F) {
	k := fzKey(f)
	for _, comp := range []string{CompressionOff, CompressionDefault} {
		f.Add(fzEncodeConfig(f, fzConfig(comp), k))
	}
	f.Add([]byte("CAIRNCFG"))
	f.Add([]byte("CAIRNCFG\x02\x00"))
	f.Fuzz(func(t *testing.T, b []byte) {
		h, err := parseConfigHeader(b)
		newer := len(b) >= configHeaderLen+crypto.Overhead && bytes.HasPrefix(b, configMagic) &&
			binary.LittleEndian.Uint16(b[8:]) > FormatVersion
		if errors.Is(err, ErrNewerFormat) != newer {
			t.Fatalf("ErrNewerFormat is %v for %x: %v", !newer, b[:min(len(b), 10)], err)
		}
		if err != nil {
			if !isRepoError(err, ErrMalformed, ErrNewerFormat) {
				t.Fatalf("error wraps no sentinel: %v", err)
			}
			return
		}
		if len(b) < configHeaderLen+crypto.Overhead || !bytes.HasPrefix(b, configMagic) ||
			h.Version != FormatVersion || !bytes.Equal(h.ID[:], b[10:configHeaderLen]) {
			t.Fatalf("accepted %x as %+v", b[:min(len(b), configHeaderLen)], h)
		}
	})
}

// FuzzDecodeConfig feeds whole config objects: nothing but our own sealed
// configs may decode, and what decodes is valid and matches its header.
func FuzzDecodeConfig(f *testing.F) {
	k := fzKey(f)
	for _, comp := range []string{CompressionOff, CompressionFastest, CompressionDefault, CompressionBetter} {
		f.Add(fzEncodeConfig(f, fzConfig(comp), k))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		c, err := decodeConfig(b, k)
		if err != nil {
			if !isRepoError(err, ErrMalformed, ErrCorrupt, ErrNewerFormat) {
				t.Fatalf("error wraps no sentinel: %v", err)
			}
			return
		}
		checkDecodedConfig(t, b, c, k)
	})
}

// FuzzDecodeConfigJSON seals arbitrary plaintext as a config, to reach the
// JSON and validation steps that a forged ciphertext never gets to.
func FuzzDecodeConfigJSON(f *testing.F) {
	k := fzKey(f)
	id := fzConfig(CompressionDefault).ID
	for _, comp := range []string{CompressionOff, CompressionDefault} {
		c := fzConfig(comp)
		c.ID = id
		plain, _ := json.Marshal(c)
		f.Add(plain)
	}
	f.Add([]byte(`{"version":1,"id":"` + id.String() + `","chunker_polynomial":1,"pack_size":1048576,"compression":"off","created":"0001-01-01T00:00:00Z"}`))
	f.Add([]byte(`null`))
	f.Fuzz(func(t *testing.T, plain []byte) {
		b := append([]byte("CAIRNCFG\x01\x00"), id[:]...)
		b = k.Seal(b, plain, configAD(FormatVersion, id))
		c, err := decodeConfig(b, k)
		if err != nil {
			if !isRepoError(err, ErrMalformed, ErrCorrupt) {
				t.Fatalf("error wraps no sentinel: %v", err)
			}
			return
		}
		checkDecodedConfig(t, b, c, k)
	})
}

// checkDecodedConfig: an accepted config is valid, names the header's
// repository, and survives encode/decode unchanged.
func checkDecodedConfig(t *testing.T, b []byte, c *Config, k *crypto.Key) {
	t.Helper()
	if err := c.validate(); err != nil {
		t.Fatalf("accepted an invalid config: %v", err)
	}
	if !bytes.Equal(c.ID[:], b[10:configHeaderLen]) {
		t.Fatalf("accepted config id %s under header id %x", c.ID, b[10:configHeaderLen])
	}
	again, err := encodeConfig(c, k)
	if err != nil {
		t.Fatalf("accepted config does not encode: %v", err)
	}
	c2, err := decodeConfig(again, k)
	if err != nil || !sameConfig(c, c2) {
		t.Fatalf("encode/decode changed the config: %+v -> %+v, %v", c, c2, err)
	}
}

func fzKeyFiles(t testing.TB) map[string]*KeyFile {
	t.Helper()
	mk := fzMasterKey(t)
	pwFile, err := newKeyFile(mk, Credentials{Password: []byte("correct horse")}, kdftest.Cheap, fzTime, "web1", "root")
	if err != nil {
		t.Fatal(err)
	}
	kek, err := crypto.ParseKEK(strings.Repeat("ab", crypto.KeySize))
	if err != nil {
		t.Fatal(err)
	}
	kekFile, err := newKeyFile(mk, Credentials{KEK: kek}, crypto.KDFParams{}, fzTime, "", "")
	if err != nil {
		t.Fatal(err)
	}
	return map[string]*KeyFile{"password": pwFile, "kek": kekFile}
}

func TestKeyFileRoundTrip(t *testing.T) {
	mk := fzMasterKey(t)
	files := fzKeyFiles(t)
	kek, _ := crypto.ParseKEK(strings.Repeat("ab", crypto.KeySize))
	right := map[string]Credentials{"password": {Password: []byte("correct horse")}, "kek": {KEK: kek}}
	wrongKEK, _ := crypto.ParseKEK(strings.Repeat("cd", crypto.KeySize))
	wrong := map[string]Credentials{"password": {Password: []byte("correct horsE")}, "kek": {KEK: wrongKEK}}
	for name, kf := range files {
		for _, marshal := range []func(any) ([]byte, error){json.Marshal, func(v any) ([]byte, error) { return json.MarshalIndent(v, "", "  ") }} {
			b, err := marshal(kf)
			if err != nil {
				t.Fatal(err)
			}
			got, err := decodeKeyFile(b)
			if err != nil {
				t.Fatalf("%s: decodeKeyFile: %v\n%s", name, err, b)
			}
			if len(got.Sealed) != 100 || got.KDF != kf.KDF || !got.Created.Equal(fzTime) {
				t.Fatalf("%s: decoded %+v", name, got)
			}
			m, ok, err := got.unwrap(right[name])
			if err != nil || !ok || !bytes.Equal(m.Marshal(), mk.Marshal()) {
				t.Fatalf("%s: unwrap with the right credentials: ok %v, %v", name, ok, err)
			}
			if _, ok, err := got.unwrap(wrong[name]); ok || err != nil {
				t.Fatalf("%s: unwrap with wrong credentials: ok %v, %v", name, ok, err)
			}
			other := "kek"
			if name == "kek" {
				other = "password"
			}
			if _, ok, err := got.unwrap(right[other]); ok || err != nil {
				t.Fatalf("%s: unwrap with the other kind of credentials: ok %v, %v", name, ok, err)
			}
		}
	}
	if kf := files["kek"]; kf.Params != nil || kf.Salt != nil {
		t.Errorf("kdf none key file has params %v, salt %x", kf.Params, kf.Salt)
	}
	if _, err := newKeyFile(mk, Credentials{Password: []byte{}}, kdftest.Cheap, fzTime, "", ""); err == nil {
		t.Error("newKeyFile accepted an empty password")
	}
}

func TestDecodeKeyFileRejects(t *testing.T) {
	b, _ := json.Marshal(fzKeyFiles(t)["password"])
	var base map[string]any
	if err := json.Unmarshal(b, &base); err != nil {
		t.Fatal(err)
	}
	edit := func(f func(m map[string]any)) []byte {
		m := make(map[string]any)
		for k, v := range base {
			m[k] = v
		}
		f(m)
		out, _ := json.Marshal(m)
		return out
	}
	cases := map[string][]byte{
		"empty":            nil,
		"null":             []byte("null"),
		"array":            []byte("[]"),
		"version 0":        edit(func(m map[string]any) { m["version"] = 0 }),
		"version 2":        edit(func(m map[string]any) { m["version"] = 2 }),
		"kdf scrypt":       edit(func(m map[string]any) { m["kdf"] = "scrypt" }),
		"no params":        edit(func(m map[string]any) { delete(m, "params") }),
		"time 0":           edit(func(m map[string]any) { m["params"] = map[string]any{"time": 0, "memory_kib": 64, "threads": 1} }),
		"memory 8 TiB":     edit(func(m map[string]any) { m["params"] = map[string]any{"time": 1, "memory_kib": 1 << 33, "threads": 1} }),
		"threads 256":      edit(func(m map[string]any) { m["params"] = map[string]any{"time": 1, "memory_kib": 4096, "threads": 256} }),
		"salt 15":          edit(func(m map[string]any) { m["salt"] = make([]byte, 15) }),
		"salt 65":          edit(func(m map[string]any) { m["salt"] = make([]byte, 65) }),
		"no salt":          edit(func(m map[string]any) { delete(m, "salt") }),
		"data 99":          edit(func(m map[string]any) { m["data"] = make([]byte, 99) }),
		"data 101":         edit(func(m map[string]any) { m["data"] = make([]byte, 101) }),
		"data not base64":  edit(func(m map[string]any) { m["data"] = "!!" }),
		"created not time": edit(func(m map[string]any) { m["created"] = "yesterday" }),
		"too large":        append(bytes.Clone(b), bytes.Repeat([]byte(" "), maxKeyFileSize)...),
	}
	for name, in := range cases {
		if k, err := decodeKeyFile(in); !errors.Is(err, ErrMalformed) {
			t.Errorf("%s: %+v, %v; want ErrMalformed", name, k, err)
		}
	}
}

// FuzzDecodeKeyFile: any key file that decodes is well formed and stays the
// same through marshal/decode.
func FuzzDecodeKeyFile(f *testing.F) {
	for _, kf := range fzKeyFiles(f) {
		b, _ := json.Marshal(kf)
		f.Add(b)
		b, _ = json.MarshalIndent(kf, "", "  ")
		f.Add(b)
	}
	f.Add([]byte(`{"version":1,"kdf":"none","data":""}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		k, err := decodeKeyFile(b)
		if err != nil {
			if !errors.Is(err, ErrMalformed) {
				t.Fatalf("error wraps no sentinel: %v", err)
			}
			return
		}
		if k.Version != 1 || len(k.Sealed) != crypto.MasterKeySize+crypto.Overhead {
			t.Fatalf("accepted %+v", k)
		}
		switch k.KDF {
		case KDFArgon2id:
			if k.Params == nil || k.Params.Validate() != nil || len(k.Salt) < 16 || len(k.Salt) > 64 {
				t.Fatalf("accepted argon2id key file with params %v, salt of %d bytes", k.Params, len(k.Salt))
			}
		case KDFNone:
		default:
			t.Fatalf("accepted kdf %q", k.KDF)
		}
		again, err := json.Marshal(k)
		if err != nil {
			t.Fatalf("accepted key file does not marshal: %v", err)
		}
		k2, err := decodeKeyFile(again)
		if err != nil {
			t.Fatalf("re-marshalled key file does not decode: %v", err)
		}
		if third, _ := json.Marshal(k2); !bytes.Equal(third, again) {
			t.Fatalf("marshal/decode is not stable:\n%s\n%s", again, third)
		}
	})
}

func fzSnapshot() *Snapshot {
	parent := crypto.Hash([]byte("parent"))
	orig := crypto.Hash([]byte("original"))
	return &Snapshot{
		Version: snapshotVersion, Time: fzTime, Tree: crypto.Hash([]byte("tree")),
		Paths: []string{"/etc/app", "/var/log"}, Hostname: "web1", Username: "root",
		UID: 0, GID: 0, Tags: []string{"daily", "etc"}, Job: "etc", Parent: &parent,
		Original: &orig, Repaired: true, ProgramVersion: "cairn 0.1.0",
		Summary: &Summary{Start: fzTime, End: fzTime.Add(time.Minute), FilesNew: 1, FilesChanged: 2,
			FilesUnchanged: 3, Dirs: 4, Others: 5, Errors: 6, BytesRead: 7, TotalSize: 8,
			BlobsAdded: 9, BytesAdded: 10, BytesStored: 11},
	}
}

func TestDecodeSnapshot(t *testing.T) {
	s := fzSnapshot()
	b, _ := json.Marshal(s)
	got, err := decodeSnapshot(b)
	if err != nil {
		t.Fatal(err)
	}
	again, _ := json.Marshal(got)
	if !bytes.Equal(again, b) {
		t.Fatalf("snapshot changed:\n%s\n%s", b, again)
	}
	cases := map[string][]byte{
		"empty":     nil,
		"null":      []byte("null"),
		"version 0": []byte(`{"version":0,"tree":"` + s.Tree.String() + `"}`),
		"version 2": []byte(`{"version":2,"tree":"` + s.Tree.String() + `"}`),
		"no tree":   []byte(`{"version":1}`),
		"null tree": []byte(`{"version":1,"tree":"` + crypto.ID{}.String() + `"}`),
		"bad tree":  []byte(`{"version":1,"tree":"abc"}`),
		"bad uid":   []byte(`{"version":1,"tree":"` + s.Tree.String() + `","uid":-1}`),
		"too large": append([]byte(`{"version":1,"tree":"`+s.Tree.String()+`"}`), bytes.Repeat([]byte(" "), maxSnapshotSize)...),
	}
	for name, in := range cases {
		if s, err := decodeSnapshot(in); !errors.Is(err, ErrMalformed) {
			t.Errorf("%s: %+v, %v; want ErrMalformed", name, s, err)
		}
	}
	minimal := []byte(`{"version":1,"tree":"` + s.Tree.String() + `"}`)
	if _, err := decodeSnapshot(minimal); err != nil {
		t.Errorf("minimal snapshot: %v", err)
	}
}

// FuzzDecodeSnapshot: whatever decodes has a version and a tree, and
// marshal/decode reaches a fixed point (repair rewrites snapshots that way).
func FuzzDecodeSnapshot(f *testing.F) {
	b, _ := json.Marshal(fzSnapshot())
	f.Add(b)
	b, _ = json.Marshal(&Snapshot{Version: 1, Tree: crypto.Hash(nil), Time: fzTime})
	f.Add(b)
	f.Add([]byte(`{"version":1,"tree":"` + crypto.Hash(nil).String() + `","time":"2026-11-26T14:00:00+01:00"}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		s, err := decodeSnapshot(b)
		if err != nil {
			if !errors.Is(err, ErrMalformed) {
				t.Fatalf("error wraps no sentinel: %v", err)
			}
			return
		}
		if s.Version != snapshotVersion || s.Tree.IsNull() {
			t.Fatalf("accepted %+v", s)
		}
		again, err := json.Marshal(s)
		if err != nil {
			t.Fatalf("accepted snapshot does not marshal: %v", err)
		}
		s2, err := decodeSnapshot(again)
		if err != nil {
			t.Fatalf("re-marshalled snapshot does not decode: %v", err)
		}
		if third, _ := json.Marshal(s2); !bytes.Equal(third, again) {
			t.Fatalf("marshal/decode is not stable:\n%s\n%s", again, third)
		}
	})
}

// codecInputs are plaintexts of every kind the codec must handle.
func codecInputs() map[string][]byte {
	r := rand.New(rand.NewPCG(1, 2))
	random := make([]byte, 256<<10)
	for i := range random {
		random[i] = byte(r.Uint32())
	}
	var text bytes.Buffer
	for i := 0; text.Len() < 256<<10; i++ {
		fmt.Fprintf(&text, "2026-11-26T13:%02d:%02d.%03dZ INFO request %08x GET /api/v1/items/%d 200 %dms\n",
			i/60%60, i%60, i%1000, r.Uint32(), r.IntN(5000), r.IntN(300))
	}
	return map[string][]byte{
		"empty":      {},
		"63 zeros":   make([]byte, minCompressSize-1),
		"64 zeros":   make([]byte, minCompressSize),
		"random 64":  random[:64],
		"random":     random,
		"log lines":  text.Bytes(),
		"zeros 1MiB": make([]byte, 1<<20),
	}
}

func newTestCodec(t testing.TB, mk *crypto.MasterKey, compression string, verify bool) *blobCodec {
	t.Helper()
	c, err := newBlobCodec(mk, compression, verify)
	if err != nil {
		t.Fatalf("newBlobCodec(%q): %v", compression, err)
	}
	return c
}

func entryOf(s sealed) pack.Entry {
	return pack.Entry{Type: s.t, Length: uint32(len(s.bytes)), RawLength: s.rawLen, ID: s.id}
}

func TestBlobCodecRoundTrip(t *testing.T) {
	mk := fzMasterKey(t)
	inputs := codecInputs()
	for _, level := range []string{CompressionOff, CompressionFastest, CompressionDefault, CompressionBetter} {
		c := newTestCodec(t, mk, level, true)
		for name, plain := range inputs {
			for _, typ := range []pack.BlobType{pack.DataBlob, pack.TreeBlob} {
				id := mk.BlobID(plain)
				s, err := c.seal(typ, id, plain)
				if err != nil {
					t.Fatalf("%s/%s: seal: %v", level, name, err)
				}
				// Compressed exactly when compression is on, the blob is long
				// enough, and zstd makes it smaller.
				wantCompressed := level != CompressionOff && len(plain) >= minCompressSize && !strings.HasPrefix(name, "random")
				if compressed := s.rawLen != 0; compressed != wantCompressed {
					t.Fatalf("%s/%s: rawLen %d, want compressed=%v", level, name, s.rawLen, wantCompressed)
				}
				if s.rawLen == 0 && len(s.bytes) != len(plain)+crypto.Overhead {
					t.Fatalf("%s/%s: stored raw in %d bytes, want %d", level, name, len(s.bytes), len(plain)+crypto.Overhead)
				}
				if s.rawLen != 0 && (s.rawLen != uint32(len(plain)) || len(s.bytes) >= len(plain)+crypto.Overhead) {
					t.Fatalf("%s/%s: compressed to %d bytes with rawLen %d", level, name, len(s.bytes), s.rawLen)
				}
				got, err := c.open(entryOf(s), s.bytes, nil)
				if err != nil || !bytes.Equal(got, plain) {
					t.Fatalf("%s/%s: open: %v", level, name, err)
				}
				buf := make([]byte, 0, len(plain)+100)
				if got, err := c.open(entryOf(s), s.bytes, buf); err != nil || !bytes.Equal(got, plain) {
					t.Fatalf("%s/%s: open into a buffer: %v", level, name, err)
				}
			}
		}
	}
}

func TestBlobCodecOpenRejects(t *testing.T) {
	mk := fzMasterKey(t)
	c := newTestCodec(t, mk, CompressionDefault, false)
	inputs := codecInputs()
	for _, name := range []string{"random", "log lines"} {
		plain := inputs[name]
		id := mk.BlobID(plain)
		s, err := c.seal(pack.DataBlob, id, plain)
		if err != nil {
			t.Fatal(err)
		}
		good := entryOf(s)
		other := mk.BlobID([]byte("other"))
		cases := map[string]struct {
			e pack.Entry
			b []byte
		}{
			"other id":           {pack.Entry{Type: good.Type, Length: good.Length, RawLength: good.RawLength, ID: other}, s.bytes},
			"other type":         {pack.Entry{Type: pack.TreeBlob, Length: good.Length, RawLength: good.RawLength, ID: good.ID}, s.bytes},
			"length mismatch":    {pack.Entry{Type: good.Type, Length: good.Length + 1, RawLength: good.RawLength, ID: good.ID}, s.bytes},
			"one byte short":     {pack.Entry{Type: good.Type, Length: good.Length - 1, RawLength: good.RawLength, ID: good.ID}, s.bytes[:len(s.bytes)-1]},
			"raw length + 1":     {pack.Entry{Type: good.Type, Length: good.Length, RawLength: uint32(len(plain)) + 1, ID: good.ID}, s.bytes},
			"raw length - 1":     {pack.Entry{Type: good.Type, Length: good.Length, RawLength: uint32(len(plain)) - 1, ID: good.ID}, s.bytes},
			"raw length 0":       {pack.Entry{Type: good.Type, Length: good.Length, RawLength: 0, ID: good.ID}, s.bytes},
			"raw length too big": {pack.Entry{Type: good.Type, Length: good.Length, RawLength: MaxBlobSize + 1, ID: good.ID}, s.bytes},
		}
		for i := range 8 {
			d := bytes.Clone(s.bytes)
			d[i*len(d)/8] ^= 0x10
			cases[fmt.Sprintf("flipped byte %d", i*len(d)/8)] = struct {
				e pack.Entry
				b []byte
			}{good, d}
		}
		for what, tc := range cases {
			if tc.e == good && bytes.Equal(tc.b, s.bytes) {
				continue
			}
			if got, err := c.open(tc.e, tc.b, nil); !errors.Is(err, ErrCorrupt) {
				t.Errorf("%s/%s: open = %d bytes, %v; want ErrCorrupt", name, what, len(got), err)
			}
		}
	}
}

// TestBlobCodecVerifyCatchesWrongID: a compressed blob whose payload does
// not decompress to bytes hashing to its id never reaches a pack when
// verify is on; without verify (and for blobs stored raw, which verify
// does not re-read) open still refuses it.
func TestBlobCodecVerifyCatchesWrongID(t *testing.T) {
	mk := fzMasterKey(t)
	plain := []byte("some plaintext that is long enough to be compressed, repeated, repeated, repeated")
	wrong := mk.BlobID([]byte("something else"))
	for _, level := range []string{CompressionOff, CompressionDefault} {
		_, err := newTestCodec(t, mk, level, true).seal(pack.DataBlob, wrong, plain)
		if level != CompressionOff && !errors.Is(err, ErrCorrupt) {
			t.Errorf("%s: verify accepted a wrong id: %v", level, err)
		}
		c := newTestCodec(t, mk, level, false)
		s, err := c.seal(pack.DataBlob, wrong, plain)
		if err != nil {
			t.Fatalf("%s: seal without verify: %v", level, err)
		}
		if _, err := c.open(entryOf(s), s.bytes, nil); !errors.Is(err, ErrCorrupt) {
			t.Errorf("%s: open accepted a plaintext that does not hash to its id: %v", level, err)
		}
	}
}

func TestBlobCodecRawLengthBound(t *testing.T) {
	mk := fzMasterKey(t)
	c := newTestCodec(t, mk, CompressionFastest, false)
	plain := make([]byte, 4096)
	s, err := c.seal(pack.DataBlob, mk.BlobID(plain), plain)
	if err != nil || s.rawLen == 0 {
		t.Fatalf("seal: rawLen %d, %v", s.rawLen, err)
	}
	e := entryOf(s)
	e.RawLength = MaxBlobSize + 1
	_, err = c.open(e, s.bytes, nil)
	if !errors.Is(err, ErrCorrupt) || !strings.Contains(err.Error(), "too large") {
		t.Fatalf("raw length MaxBlobSize+1: %v, want ErrCorrupt (too large)", err)
	}
}

// zstdRLEBomb returns a valid zstd frame of n RLE blocks, each expanding one
// byte to 128 KiB: 4 bytes of input per 128 KiB of output.
func zstdRLEBomb(n int) []byte {
	frame := []byte{0x28, 0xb5, 0x2f, 0xfd, 0x00, 0x38} // magic; no content size; 128 KiB window
	for i := range n {
		h := uint32(128<<10)<<3 | 1<<1 // block size, type RLE
		if i == n-1 {
			h |= 1 // last block
		}
		frame = append(frame, byte(h), byte(h>>8), byte(h>>16), 'x')
	}
	return frame
}

// TestBlobCodecBombBoundedByRawLength: a blob that claims a small raw
// length but decompresses to much more must be refused without inflating
// it: memory is bounded by the raw length, not by MaxBlobSize.
func TestBlobCodecBombBoundedByRawLength(t *testing.T) {
	// Known bug: blobCodec.open lets c.dec.DecodeAll inflate up to MaxBlobSize
	// whatever e.RawLength says (a 2 KiB payload allocates ~350 MiB here).
	// Fix: create the decoder with zstd.WithDecodeAllCapLimit(true) and decode
	// into a buffer of capacity exactly e.RawLength. Remove the Skip then.
	mk := fzMasterKey(t)
	c := newTestCodec(t, mk, CompressionDefault, false)
	plain := []byte("x")
	id := mk.BlobID(plain)
	payload := zstdRLEBomb(512) // 2 KiB that inflate to 64 MiB
	b := mk.Sealer().Seal(nil, payload, pack.BlobAD(pack.DataBlob, id))
	e := pack.Entry{Type: pack.DataBlob, Length: uint32(len(b)), RawLength: 1, ID: id}
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	_, err := c.open(e, b, nil)
	runtime.ReadMemStats(&after)
	if !errors.Is(err, ErrCorrupt) {
		t.Fatalf("bomb: %v, want ErrCorrupt", err)
	}
	if alloc := after.TotalAlloc - before.TotalAlloc; alloc > 8<<20 {
		t.Fatalf("opening a %d-byte blob of raw length 1 allocated %d MiB", len(b), alloc>>20)
	}
}

func TestBlobCodecConcurrent(t *testing.T) {
	mk := fzMasterKey(t)
	c := newTestCodec(t, mk, CompressionDefault, true)
	inputs := codecInputs()
	var wg sync.WaitGroup
	for g := range 4 {
		wg.Go(func() {
			for name, plain := range inputs {
				plain = append(bytes.Clone(plain), byte(g))
				s, err := c.seal(pack.DataBlob, mk.BlobID(plain), plain)
				if err != nil {
					t.Errorf("%s: seal: %v", name, err)
					return
				}
				if got, err := c.open(entryOf(s), s.bytes, nil); err != nil || !bytes.Equal(got, plain) {
					t.Errorf("%s: open: %v", name, err)
					return
				}
			}
		})
	}
	wg.Wait()
}

// FuzzDecodeRecord: a history record is storage's bytes; whatever decodes
// is a well-formed record that encodes and decodes to itself.
func FuzzDecodeRecord(f *testing.F) {
	f.Add([]byte(`{"version":1,"kind":"job","job":"etc","host":"h","start":"2026-01-01T00:00:00Z","end":"2026-01-01T00:01:00Z","outcome":"success","details":{"a":1}}`))
	f.Add([]byte(`{"version":1,"kind":"check","outcome":"damaged","start":"2026-01-01T00:00:00Z","error":"x","snapshot":"` + strings.Repeat("ab", 32) + `"}`))
	f.Add([]byte(`{"version":2}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		rec, err := decodeRecord(b)
		if err != nil {
			if !isRepoError(err, ErrMalformed) {
				t.Fatalf("error wraps no sentinel: %v", err)
			}
			return
		}
		if rec.Version != recordVersion || rec.Kind == "" || rec.Outcome == "" || rec.Start.IsZero() {
			t.Fatalf("accepted %+v", rec)
		}
		again, err := json.Marshal(rec)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := decodeRecord(again); err != nil {
			t.Fatalf("re-decode of %s: %v", again, err)
		}
	})
}
