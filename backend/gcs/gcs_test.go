package gcs_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/cairnbackup/cairn/backend"
	"github.com/cairnbackup/cairn/backend/backendtest"
	"github.com/cairnbackup/cairn/backend/counted"
	"github.com/cairnbackup/cairn/backend/gcs"
	"github.com/cairnbackup/cairn/backend/objectstore/storetest"
)

var (
	_ counted.PageCounter     = (*gcs.Backend)(nil)
	_ counted.ThrottleCounter = (*gcs.Backend)(nil)
)

// TestObjectStore runs the object-store tests against the emulator.
func TestObjectStore(t *testing.T) {
	base := testConfig(t)
	storetest.Run(t, func(t *testing.T) backend.Backend {
		cfg := base
		cfg.Bucket = newBucket(t)
		cfg.ChunkSize = 1 << 20
		be, err := gcs.Create(context.Background(), cfg, false)
		if err != nil {
			t.Fatal(err)
		}
		return be
	})
}

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

func TestResumableUpload(t *testing.T) {
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
}

func TestMissingBucket(t *testing.T) {
	cfg := testConfig(t)
	cfg.Bucket = uniqueName("cairn-missing-")
	// Both name the bucket and the flag that makes it.
	hint := fmt.Sprintf("bucket %q does not exist: create it, or let cairn make it with --create-bucket", cfg.Bucket)
	if _, err := gcs.Open(context.Background(), cfg); !errors.Is(err, backend.ErrNotFound) || !strings.Contains(err.Error(), hint) {
		t.Fatalf("open a missing bucket: %v, want ErrNotFound and …%s…", err, hint)
	}
	if _, err := gcs.Create(context.Background(), cfg, false); !errors.Is(err, backend.ErrNotFound) || !strings.Contains(err.Error(), hint) {
		t.Fatalf("create without creating the bucket: %v, want ErrNotFound and …%s…", err, hint)
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

// TestPackInOneRequest: with the default chunk size, a pack of the default
// pack size and its last blob goes up in one request, no session.
func TestPackInOneRequest(t *testing.T) {
	cfg := testConfig(t)
	cfg.Bucket = newBucket(t)
	be, err := gcs.Create(context.Background(), cfg, false)
	if err != nil {
		t.Fatal(err)
	}
	defer be.Close()
	requests := func() int64 { r := be.Requests(); return r.Post + r.Put }
	if n := storetest.SaveRequests(t, be, 24<<20, requests); n != 1 {
		t.Errorf("a 24 MiB pack took %d requests, want one POST", n)
	}
}
