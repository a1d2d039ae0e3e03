package azure_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"strings"
	"testing"

	"github.com/cairnbackup/cairn/backend"
	"github.com/cairnbackup/cairn/backend/azure"
	"github.com/cairnbackup/cairn/backend/backendtest"
	"github.com/cairnbackup/cairn/backend/counted"
	"github.com/cairnbackup/cairn/backend/objectstore/storetest"
)

var (
	_ counted.PageCounter     = (*azure.Backend)(nil)
	_ counted.ThrottleCounter = (*azure.Backend)(nil)
)

// TestObjectStore runs the object-store tests against Azurite.
func TestObjectStore(t *testing.T) {
	base := testConfig(t)
	storetest.Run(t, func(t *testing.T) backend.Backend {
		cfg := base
		cfg.Container = newContainer(t, cfg)
		cfg.SingleMax, cfg.BlockSize = 1<<20, 1<<20
		be, err := azure.Create(context.Background(), cfg, false)
		if err != nil {
			t.Fatal(err)
		}
		return be
	})
}

// TestConformance runs the backend suite against Azurite, each subtest in
// a fresh container; every other one uses a prefix. A small single-upload
// limit and small blocks make the suite's larger packs go up in several
// blocks.
func TestConformance(t *testing.T) {
	base := testConfig(t)
	n := 0
	backendtest.Run(t, func(t *testing.T) backend.Backend {
		cfg := base
		cfg.Container = newContainer(t, cfg)
		cfg.SingleMax, cfg.BlockSize = 1<<20, 1<<20
		if n++; n%2 == 0 {
			cfg.Prefix = "repos/r1"
		}
		be, err := azure.Create(context.Background(), cfg, false)
		if err != nil {
			t.Fatal(err)
		}
		return be
	})
}

func TestBlocks(t *testing.T) {
	cfg := testConfig(t)
	cfg.Container = newContainer(t, cfg)
	cfg.SingleMax, cfg.BlockSize = 1<<20, 1<<20
	be, err := azure.Create(context.Background(), cfg, false)
	if err != nil {
		t.Fatal(err)
	}
	defer be.Close()
	data := bytes.Repeat([]byte("0123456789abcdef"), (3<<20)/16+5) // 4 blocks
	h := backend.Handle{Type: backend.PackFile, Name: strings.Repeat("ab", 32)}
	before := be.Requests()
	if err := be.Save(context.Background(), h, backend.NewByteReader(data)); err != nil {
		t.Fatal(err)
	}
	if d := be.Requests().Put - before.Put; d != 5 {
		t.Errorf("a pack of 4 blocks took %d PUTs, want 5 (4 Put Block, 1 Put Block List)", d)
	}
	got, err := backend.LoadAll(context.Background(), be, h)
	if err != nil || !bytes.Equal(got, data) {
		t.Fatalf("block round trip: %v (%d bytes)", err, len(got))
	}
}

// TestPackInOnePutBlob: with the default limit, a pack of the default
// pack size and its last blob goes up in one Put Blob, no blocks.
func TestPackInOnePutBlob(t *testing.T) {
	cfg := testConfig(t)
	cfg.Container = newContainer(t, cfg)
	be, err := azure.Create(context.Background(), cfg, false)
	if err != nil {
		t.Fatal(err)
	}
	defer be.Close()
	if n := storetest.SaveRequests(t, be, 24<<20, func() int64 { return be.Requests().Put }); n != 1 {
		t.Errorf("a 24 MiB pack took %d PUTs, want 1 (Put Blob)", n)
	}
}

func TestBadCredentials(t *testing.T) {
	cfg := testConfig(t)
	cfg.Container = newContainer(t, cfg)
	wrongKey := "d3Jvbmcta2V5LXdyb25nLWtleS13cm9uZy1rZXktd3Jvbmcta2V5LXdyb25nLWtleQ=="
	endpoint := endpointOf(t, cfg.ConnectionString)
	for name, c := range map[string]azure.Config{
		"wrong key": {Account: cfg.Account, Container: cfg.Container, Endpoint: endpoint, AccountKey: wrongKey},
		"bad SAS":   {Account: cfg.Account, Container: cfg.Container, Endpoint: endpoint, SASToken: "sv=2020-08-04&ss=b&srt=sco&sp=rl&se=2020-01-01T00:00:00Z&sig=bm9wZQ%3D%3D"},
	} {
		t.Run(name, func(t *testing.T) {
			_, err := azure.Open(context.Background(), c)
			if !errors.Is(err, backend.ErrAccessDenied) || errors.Is(err, backend.ErrNotFound) {
				t.Fatalf("open: %v, want ErrAccessDenied only", err)
			}
			if strings.Contains(err.Error(), wrongKey) || strings.Contains(err.Error(), "sig=") {
				t.Fatalf("error shows the secret: %v", err)
			}
			t.Log(err)
		})
	}
}

// endpointOf returns the BlobEndpoint of a connection string.
func endpointOf(t *testing.T, cs string) string {
	for _, part := range strings.Split(cs, ";") {
		if v, ok := strings.CutPrefix(part, "BlobEndpoint="); ok {
			return v
		}
	}
	t.Fatal("no BlobEndpoint in AZURITE_CONNECTION_STRING")
	return ""
}

func TestMissingContainer(t *testing.T) {
	cfg := testConfig(t)
	cfg.Container = uniqueName("cairn-missing-")
	// Both name the container and the flag that makes it.
	hint := fmt.Sprintf("container %q does not exist: create it, or let cairn make it with --create-bucket", cfg.Container)
	if _, err := azure.Open(context.Background(), cfg); !errors.Is(err, backend.ErrNotFound) || !strings.Contains(err.Error(), hint) {
		t.Fatalf("open a missing container: %v, want ErrNotFound and …%s…", err, hint)
	}
	if _, err := azure.Create(context.Background(), cfg, false); !errors.Is(err, backend.ErrNotFound) || !strings.Contains(err.Error(), hint) {
		t.Fatalf("create without creating the container: %v, want ErrNotFound and …%s…", err, hint)
	}
	be, err := azure.Create(context.Background(), cfg, true)
	if err != nil {
		t.Fatalf("create with the container: %v", err)
	}
	defer removeContainer(t, cfg)
	be.Close()
	if be, err = azure.Open(context.Background(), cfg); err != nil {
		t.Fatalf("open the new container: %v", err)
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

func TestCreateRefusesForeignBlobs(t *testing.T) {
	cfg := testConfig(t)
	cfg.Container = newContainer(t, cfg)
	c := rawClient(t, cfg)
	for _, name := range []string{"other/notes.txt", "repo/config", "repo/data/ab/" + strings.Repeat("ab", 32)} {
		if _, err := c.NewBlockBlobClient(name).UploadBuffer(context.Background(), []byte("x"), nil); err != nil {
			t.Fatal(err)
		}
	}
	for prefix, want := range map[string]error{"other": azure.ErrNotEmpty, "": azure.ErrNotEmpty, "repo": nil, "fresh/one": nil} {
		cfg.Prefix = prefix
		be, err := azure.Create(context.Background(), cfg, false)
		if !errors.Is(err, want) || (want == nil) != (err == nil) {
			t.Errorf("create at prefix %q: %v, want %v", prefix, err, want)
		}
		if err == nil {
			be.Close()
		}
	}
}

func TestServerDownIsTransient(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close() // nothing listens there now
	cfg := testConfig(t)
	cfg.Container = "whatever"
	cfg.Endpoint = "http://" + addr + "/devstoreaccount1"
	if _, err := azure.Open(context.Background(), cfg); !errors.Is(err, backend.ErrTransient) {
		t.Fatalf("open with the server down: %v, want ErrTransient", err)
	}
}
