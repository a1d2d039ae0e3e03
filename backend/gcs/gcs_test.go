package gcs_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"testing"

	"github.com/cairnbackup/cairn/backend"
	"github.com/cairnbackup/cairn/backend/backendtest"
	"github.com/cairnbackup/cairn/backend/counted"
	"github.com/cairnbackup/cairn/backend/gcs"
	"github.com/cairnbackup/cairn/backend/retry"
)

var (
	_ counted.PageCounter     = (*gcs.Backend)(nil)
	_ counted.ThrottleCounter = (*gcs.Backend)(nil)
)

// TestConformance runs the backend suite against the emulator, each
// subtest in a fresh bucket; every other one uses a prefix. Small chunks
// make the suite's larger packs go up in resumable uploads of many
// requests.
func TestConformance(t *testing.T) {
	base := testConfig(t)
	n := 0
	backendtest.Run(t, func(t *testing.T) backend.Backend {
		cfg := base
		cfg.Bucket = newBucket(t)
		cfg.ChunkSize = 256 << 10
		if n++; n%2 == 0 {
			cfg.Prefix = "repos/r1"
		}
		be, err := gcs.Create(context.Background(), cfg, false)
		if err != nil {
			t.Fatal(err)
		}
		return be
	})
}

func TestResumableAndCancelledUpload(t *testing.T) {
	cfg := testConfig(t)
	cfg.Bucket = newBucket(t)
	cfg.ChunkSize = 1 << 20
	be, err := gcs.Create(context.Background(), cfg, false)
	if err != nil {
		t.Fatal(err)
	}
	defer be.Close()
	data := bytes.Repeat([]byte("0123456789abcdef"), (3<<20)/16+5) // 4 chunks
	h := backend.Handle{Type: backend.PackFile, Name: strings.Repeat("ab", 32)}
	before := be.Requests()
	if err := be.Save(context.Background(), h, backend.NewByteReader(data)); err != nil {
		t.Fatal(err)
	}
	if d := be.Requests(); d.Post+d.Put-before.Post-before.Put != 5 {
		t.Errorf("requests %+v: want a resumable upload (5 requests: a session and 4 chunks)", d)
	}
	got, err := backend.LoadAll(context.Background(), be, h)
	if err != nil || !bytes.Equal(got, data) {
		t.Fatalf("resumable round trip: %v (%d bytes)", err, len(got))
	}

	// A cancelled resumable upload leaves no object.
	ctx, cancel := context.WithCancel(context.Background())
	h2 := backend.Handle{Type: backend.PackFile, Name: strings.Repeat("cd", 32)}
	src := &cancelAfter{ByteReader: backend.NewByteReader(data), n: 2 << 20, cancel: cancel}
	if err := be.Save(ctx, h2, src); !errors.Is(err, context.Canceled) {
		t.Fatalf("cancelled upload: %v, want context.Canceled", err)
	}
	if _, err := be.Stat(context.Background(), h2); !errors.Is(err, backend.ErrNotFound) {
		t.Errorf("stat after a cancelled upload: %v, want ErrNotFound", err)
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

func TestMissingBucket(t *testing.T) {
	cfg := testConfig(t)
	cfg.Bucket = uniqueName("cairn-missing-")
	if _, err := gcs.Open(context.Background(), cfg); !errors.Is(err, backend.ErrNotFound) {
		t.Fatalf("open a missing bucket: %v, want ErrNotFound", err)
	}
	if _, err := gcs.Create(context.Background(), cfg, false); !errors.Is(err, backend.ErrNotFound) {
		t.Fatalf("create without creating the bucket: %v, want ErrNotFound", err)
	}
	noProject := cfg
	noProject.ProjectID = ""
	t.Setenv("GOOGLE_CLOUD_PROJECT", "")
	if _, err := gcs.Create(context.Background(), noProject, true); !errors.Is(err, gcs.ErrBadConfig) || !strings.Contains(err.Error(), "project") {
		t.Fatalf("create a bucket without a project: %v, want ErrBadConfig naming the project", err)
	}
	be, err := gcs.Create(context.Background(), cfg, true)
	if err != nil {
		t.Fatalf("create with the bucket: %v", err)
	}
	defer removeBucket(t, rawClient(t), cfg.Bucket)
	be.Close()
	if be, err = gcs.Open(context.Background(), cfg); err != nil {
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

func TestCreateRefusesForeignObjects(t *testing.T) {
	cfg := testConfig(t)
	cfg.Bucket = newBucket(t)
	c := rawClient(t)
	for _, name := range []string{"other/notes.txt", "repo/config", "repo/data/ab/" + strings.Repeat("ab", 32)} {
		w := c.Bucket(cfg.Bucket).Object(name).NewWriter(context.Background())
		w.Write([]byte("x"))
		if err := w.Close(); err != nil {
			t.Fatal(err)
		}
	}
	for prefix, want := range map[string]error{"other": gcs.ErrNotEmpty, "": gcs.ErrNotEmpty, "repo": nil, "fresh/one": nil} {
		cfg.Prefix = prefix
		be, err := gcs.Create(context.Background(), cfg, false)
		if !errors.Is(err, want) || (want == nil) != (err == nil) {
			t.Errorf("create at prefix %q: %v, want %v", prefix, err, want)
		}
		if err == nil {
			be.Close()
		}
	}
}

func TestRangesAndCounters(t *testing.T) {
	cfg := testConfig(t)
	cfg.Bucket = newBucket(t)
	be, err := gcs.Create(context.Background(), cfg, false)
	if err != nil {
		t.Fatal(err)
	}
	defer be.Close()
	h := backend.Handle{Type: backend.IndexFile, Name: strings.Repeat("ef", 32)}
	if err := be.Save(context.Background(), h, backend.NewByteReader([]byte("0123456789"))); err != nil {
		t.Fatal(err)
	}
	err = be.Load(context.Background(), h, 0, 10, func(rd io.Reader) error {
		b, err := io.ReadAll(rd)
		if len(b) != 0 {
			return fmt.Errorf("read %d bytes at the end", len(b))
		}
		return err
	})
	if err != nil {
		t.Errorf("empty read at the end: %v", err)
	}
	if _, err := backend.LoadRange(context.Background(), be, h, 5, 8); !errors.Is(err, backend.ErrShortRead) {
		t.Errorf("range past the end: %v, want ErrShortRead", err)
	}
	cb := counted.New(be)
	stack := retry.New(cb, retry.Options{})
	before := cb.Stats()
	if err := stack.List(context.Background(), backend.IndexFile, func(backend.FileInfo) error { return nil }); err != nil {
		t.Fatal(err)
	}
	if d := cb.Stats().Sub(before); d.List != 1 || d.ListPages != 1 {
		t.Errorf("one listing counted as %v, want 1 LIST (1 pages)", d)
	}
}

// shortSource claims more bytes than it has.
type shortSource struct{ *backend.ByteReader }

func (s shortSource) Length() int64 { return s.ByteReader.Length() + 50 }

func TestShortSource(t *testing.T) {
	cfg := testConfig(t)
	cfg.Bucket = newBucket(t)
	be, err := gcs.Create(context.Background(), cfg, false)
	if err != nil {
		t.Fatal(err)
	}
	defer be.Close()
	h := backend.Handle{Type: backend.LockFile, Name: strings.Repeat("12", 32)}
	err = be.Save(context.Background(), h, shortSource{backend.NewByteReader(make([]byte, 100))})
	if err == nil || !strings.Contains(err.Error(), "source ended after 100 bytes") {
		t.Errorf("save from a short source: %v", err)
	}
	if _, err := be.Stat(context.Background(), h); !errors.Is(err, backend.ErrNotFound) {
		t.Errorf("stat after a short save: %v, want ErrNotFound", err)
	}
}
