package s3_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"strings"
	"testing"

	"github.com/minio/minio-go/v7"

	"github.com/cairnbackup/cairn/backend"
	"github.com/cairnbackup/cairn/backend/backendtest"
	"github.com/cairnbackup/cairn/backend/counted"
	"github.com/cairnbackup/cairn/backend/objectstore/storetest"
	"github.com/cairnbackup/cairn/backend/s3"
)

var _ counted.PageCounter = (*s3.Backend)(nil)

// TestObjectStore runs the object-store tests against the real server.
func TestObjectStore(t *testing.T) {
	base := testConfig(t)
	storetest.Run(t, func(t *testing.T) backend.Backend {
		cfg := base
		cfg.Bucket = newBucket(t, cfg)
		be, err := s3.Create(context.Background(), cfg, false)
		if err != nil {
			t.Fatal(err)
		}
		return be
	})
}

// TestConformance runs the backend suite against the real server, each
// subtest in a fresh bucket; every other one uses a prefix.
func TestConformance(t *testing.T) {
	base := testConfig(t)
	n := 0
	backendtest.Run(t, func(t *testing.T) backend.Backend {
		cfg := base
		cfg.Bucket = newBucket(t, cfg)
		if n++; n%2 == 0 {
			cfg.Prefix = "repos/r1"
		}
		be, err := s3.Create(context.Background(), cfg, false)
		if err != nil {
			t.Fatal(err)
		}
		return be
	})
}

func TestMultipart(t *testing.T) {
	cfg := testConfig(t)
	cfg.Bucket = newBucket(t, cfg)
	cfg.Prefix = "mp"
	cfg.PartSize, cfg.MultipartThreshold = 5<<20, 5<<20
	be, err := s3.Create(context.Background(), cfg, false)
	if err != nil {
		t.Fatal(err)
	}
	defer be.Close()
	data := bytes.Repeat([]byte("0123456789abcdef"), (11<<20)/16+5) // 3 parts
	h := backend.Handle{Type: backend.PackFile, Name: strings.Repeat("ab", 32)}
	if err := be.Save(context.Background(), h, backend.NewByteReader(data)); err != nil {
		t.Fatal(err)
	}
	if r := be.Requests(); r.Post < 2 || r.Put < 3 {
		t.Errorf("requests %+v: want a multipart upload (2 POST, 3 PUT)", r)
	}
	got, err := backend.LoadAll(context.Background(), be, h)
	if err != nil || !bytes.Equal(got, data) {
		t.Fatalf("multipart round trip: %v (%d bytes)", err, len(got))
	}

	// A cancelled multipart upload leaves neither an object nor parts.
	ctx, cancel := context.WithCancel(context.Background())
	h2 := backend.Handle{Type: backend.PackFile, Name: strings.Repeat("cd", 32)}
	src := &cancelAfter{ByteReader: backend.NewByteReader(data), n: 6 << 20, cancel: cancel}
	if err := be.Save(ctx, h2, src); !errors.Is(err, context.Canceled) {
		t.Fatalf("cancelled multipart save: %v, want context.Canceled", err)
	}
	if _, err := be.Stat(context.Background(), h2); !errors.Is(err, backend.ErrNotFound) {
		t.Errorf("stat after a cancelled upload: %v, want ErrNotFound", err)
	}
	for up := range rawClient(t, cfg).ListIncompleteUploads(context.Background(), cfg.Bucket, "", true) {
		t.Errorf("unfinished upload left behind: %+v", up)
	}
}

// cancelAfter cancels its context once n bytes have been read.
type cancelAfter struct {
	*backend.ByteReader
	n, read int
	cancel  context.CancelFunc
}

func (c *cancelAfter) Read(p []byte) (int, error) {
	n, err := c.ByteReader.Read(p)
	if c.read += n; c.read >= c.n {
		c.cancel()
	}
	return n, err
}

// TestPackInOnePut: with the default threshold, a pack of the default
// pack size and its last blob goes up in one PUT, no multipart upload.
func TestPackInOnePut(t *testing.T) {
	cfg := testConfig(t)
	cfg.Bucket = newBucket(t, cfg)
	be, err := s3.Create(context.Background(), cfg, false)
	if err != nil {
		t.Fatal(err)
	}
	defer be.Close()
	requests := func() int64 { r := be.Requests(); return r.Post + r.Put }
	if n := storetest.SaveRequests(t, be, 24<<20, requests); n != 1 {
		t.Errorf("a 24 MiB pack took %d requests, want one PUT", n)
	}
}

func TestBadCredentials(t *testing.T) {
	cfg := testConfig(t)
	cfg.Bucket = newBucket(t, cfg)
	secret := cfg.SecretKey
	for name, mod := range map[string]func(*s3.Config){
		"unknown access key": func(c *s3.Config) { c.AccessKey = "nobody-at-all" },
		"wrong secret":       func(c *s3.Config) { c.SecretKey = secret + "-wrong" },
	} {
		t.Run(name, func(t *testing.T) {
			c := cfg
			mod(&c)
			_, err := s3.Open(context.Background(), c)
			if !errors.Is(err, backend.ErrAccessDenied) || errors.Is(err, backend.ErrNotFound) {
				t.Fatalf("open: %v, want ErrAccessDenied only", err)
			}
			if strings.Contains(err.Error(), c.SecretKey) {
				t.Fatalf("error shows the secret: %v", err)
			}
			t.Log(err)
		})
	}
}

func TestMissingBucket(t *testing.T) {
	cfg := testConfig(t)
	cfg.Region, cfg.Lookup = "", "" // defaults: ask for the region, auto lookup (path style for an IP)
	cfg.Bucket = fmt.Sprintf("cairn-missing-%d", testPort(t))
	// Both name the bucket and the flag that makes it.
	hint := fmt.Sprintf("bucket %q does not exist: create it, or let cairn make it with --create-bucket", cfg.Bucket)
	if _, err := s3.Open(context.Background(), cfg); !errors.Is(err, backend.ErrNotFound) || !strings.Contains(err.Error(), hint) {
		t.Fatalf("open a missing bucket: %v, want ErrNotFound and …%s…", err, hint)
	}
	if _, err := s3.Create(context.Background(), cfg, false); !errors.Is(err, backend.ErrNotFound) || !strings.Contains(err.Error(), hint) {
		t.Fatalf("create without creating the bucket: %v, want ErrNotFound and …%s…", err, hint)
	}
	be, err := s3.Create(context.Background(), cfg, true)
	if err != nil {
		t.Fatalf("create with the bucket: %v", err)
	}
	defer removeBucket(t, rawClient(t, cfg), cfg.Bucket)
	be.Close()
	if be, err = s3.Open(context.Background(), cfg); err != nil {
		t.Fatalf("open the new bucket: %v", err)
	}
	defer be.Close()
	h := backend.Handle{Type: backend.ConfigFile}
	if err := be.Save(context.Background(), h, backend.NewByteReader([]byte("cfg"))); err != nil {
		t.Fatal(err)
	}
	if got, err := backend.LoadAll(context.Background(), be, h); err != nil || string(got) != "cfg" {
		t.Fatalf("round trip: %q, %v", got, err)
	}
}

// testPort returns a number unique to this test run, for names.
func testPort(t *testing.T) int {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

func TestCreateRefusesForeignObjects(t *testing.T) {
	cfg := testConfig(t)
	cfg.Bucket = newBucket(t, cfg)
	c := rawClient(t, cfg)
	put := func(key string) {
		t.Helper()
		_, err := c.PutObject(context.Background(), cfg.Bucket, key, strings.NewReader("x"), 1, minio.PutObjectOptions{})
		if err != nil {
			t.Fatal(err)
		}
	}
	put("other/notes.txt")
	put("repo/config")
	put("repo/data/ab/" + strings.Repeat("ab", 32))
	for prefix, want := range map[string]error{"other": s3.ErrNotEmpty, "": s3.ErrNotEmpty, "repo": nil, "fresh/one": nil} {
		cfg.Prefix = prefix
		be, err := s3.Create(context.Background(), cfg, false)
		if !errors.Is(err, want) || (want == nil) != (err == nil) {
			t.Errorf("create at prefix %q: %v, want %v", prefix, err, want)
		}
		if err == nil {
			be.Close()
		}
	}
}

func TestServerDownIsTransient(t *testing.T) {
	cfg := testConfig(t)
	cfg.Endpoint = fmt.Sprintf("127.0.0.1:%d", testPort(t)) // closed again: nothing listens
	cfg.Bucket = "whatever"
	_, err := s3.Open(context.Background(), cfg)
	if !errors.Is(err, backend.ErrTransient) {
		t.Fatalf("open with the server down: %v, want ErrTransient", err)
	}
}

// TestUnknownKeyIsNeverNotFound reaches past Open (which would refuse the
// key) to check that HEAD's bodiless 404 is not taken for a missing object.
func TestUnknownKeyIsNeverNotFound(t *testing.T) {
	cfg := testConfig(t)
	cfg.Bucket = newBucket(t, cfg)
	bad := cfg
	bad.AccessKey = "nobody-at-all"
	be := s3.OpenUnchecked(bad)
	defer be.Close()
	h := backend.Handle{Type: backend.ConfigFile}
	if _, err := be.Stat(context.Background(), h); !errors.Is(err, backend.ErrAccessDenied) || errors.Is(err, backend.ErrNotFound) {
		t.Errorf("stat with an unknown key: %v, want ErrAccessDenied only", err)
	}
	if err := be.Remove(context.Background(), h); !errors.Is(err, backend.ErrAccessDenied) {
		t.Errorf("remove with an unknown key: %v, want ErrAccessDenied", err)
	}
	if err := be.List(context.Background(), backend.SnapshotFile, func(backend.FileInfo) error { return nil }); !errors.Is(err, backend.ErrAccessDenied) {
		t.Errorf("list with an unknown key: %v, want ErrAccessDenied", err)
	}
	if _, err := backend.LoadAll(context.Background(), be, h); !errors.Is(err, backend.ErrAccessDenied) {
		t.Errorf("load with an unknown key: %v, want ErrAccessDenied", err)
	}
	if err := be.Save(context.Background(), h, backend.NewByteReader([]byte("x"))); !errors.Is(err, backend.ErrAccessDenied) {
		t.Errorf("save with an unknown key: %v, want ErrAccessDenied", err)
	}
}
