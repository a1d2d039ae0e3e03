package azure_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"strings"
	"testing"

	"github.com/Azure/azure-sdk-for-go/sdk/storage/azblob/blockblob"

	"github.com/cairnbackup/cairn/backend"
	"github.com/cairnbackup/cairn/backend/azure"
	"github.com/cairnbackup/cairn/backend/backendtest"
	"github.com/cairnbackup/cairn/backend/counted"
	"github.com/cairnbackup/cairn/backend/retry"
)

var (
	_ counted.PageCounter     = (*azure.Backend)(nil)
	_ counted.ThrottleCounter = (*azure.Backend)(nil)
)

// TestConformance runs the backend suite against Azurite, each subtest in
// a fresh container; every other one uses a prefix. Small blocks make the
// suite's larger packs go up in several blocks.
func TestConformance(t *testing.T) {
	base := testConfig(t)
	n := 0
	backendtest.Run(t, func(t *testing.T) backend.Backend {
		cfg := base
		cfg.Container = newContainer(t, cfg)
		cfg.BlockSize = 1 << 20
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

func TestBlocksAndCancelledUpload(t *testing.T) {
	cfg := testConfig(t)
	cfg.Container = newContainer(t, cfg)
	cfg.BlockSize = 1 << 20
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

	// A cancelled block upload leaves no blob, and the uncommitted blocks
	// are never listed.
	ctx, cancel := context.WithCancel(context.Background())
	h2 := backend.Handle{Type: backend.PackFile, Name: strings.Repeat("cd", 32)}
	src := &cancelAfter{ByteReader: backend.NewByteReader(data), n: 2 << 20, cancel: cancel}
	if err := be.Save(ctx, h2, src); !errors.Is(err, context.Canceled) {
		t.Fatalf("cancelled upload: %v, want context.Canceled", err)
	}
	if _, err := be.Stat(context.Background(), h2); !errors.Is(err, backend.ErrNotFound) {
		t.Errorf("stat after a cancelled upload: %v, want ErrNotFound", err)
	}
	var names []string
	be.List(context.Background(), backend.PackFile, func(fi backend.FileInfo) error {
		names = append(names, fi.Name)
		return nil
	})
	if len(names) != 1 || names[0] != h.Name {
		t.Errorf("list after a cancelled upload: %v, want only %s", names, h.Name)
	}
	blocks, err := rawClient(t, cfg).NewBlockBlobClient("data/cd/"+h2.Name).GetBlockList(context.Background(), blockblob.BlockListTypeAll, nil)
	if err == nil {
		t.Logf("uncommitted blocks left for Azure to discard: %d", len(blocks.UncommittedBlocks))
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
	if _, err := azure.Open(context.Background(), cfg); !errors.Is(err, backend.ErrNotFound) {
		t.Fatalf("open a missing container: %v, want ErrNotFound", err)
	}
	if _, err := azure.Create(context.Background(), cfg, false); !errors.Is(err, backend.ErrNotFound) {
		t.Fatalf("create without creating the container: %v, want ErrNotFound", err)
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

func TestRangesAndCounters(t *testing.T) {
	cfg := testConfig(t)
	cfg.Container = newContainer(t, cfg)
	be, err := azure.Create(context.Background(), cfg, false)
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
	cfg.Container = newContainer(t, cfg)
	be, err := azure.Create(context.Background(), cfg, false)
	if err != nil {
		t.Fatal(err)
	}
	defer be.Close()
	for _, typ := range []backend.FileType{backend.LockFile, backend.PackFile} {
		h := backend.Handle{Type: typ, Name: strings.Repeat("12", 32)}
		err = be.Save(context.Background(), h, shortSource{backend.NewByteReader(make([]byte, 100))})
		if err == nil || !strings.Contains(err.Error(), "source ended after 100 bytes") {
			t.Errorf("save %s from a short source: %v", typ, err)
		}
		if _, err := be.Stat(context.Background(), h); !errors.Is(err, backend.ErrNotFound) {
			t.Errorf("stat after a short save: %v, want ErrNotFound", err)
		}
	}
}
