package restorer_test

import (
	"bytes"
	"context"
	"errors"
	"math/rand/v2"
	"testing"

	"github.com/cairnbackup/cairn/repo"
	"github.com/cairnbackup/cairn/restorer"
)

// A file of many blobs and holes, spread over several packs, dumps to its
// exact bytes in order although its runs are read ahead in parallel.
func TestDumpLargeFileInOrder(t *testing.T) {
	ctx := context.Background()
	r := newRepo(t)
	rng := rand.New(rand.NewPCG(1, 2))
	var want []byte
	node := repo.Node{Name: "big", Type: repo.NodeFile, Mode: 0o644, ModTime: mtime}
	for i := range 90 {
		if i%17 == 5 {
			n := uint64(rng.IntN(100_000) + 1)
			node.Content = append(node.Content, repo.Extent{Hole: true, Length: n})
			want = append(want, make([]byte, n)...)
			continue
		}
		blob := make([]byte, 100_000+rng.IntN(400_000))
		for j := range blob {
			blob[j] = byte(rng.IntN(7) + i) // compressible and distinct per blob
		}
		id, _, err := r.SaveBlob(ctx, repo.DataBlob, blob)
		if err != nil {
			t.Fatal(err)
		}
		node.Content = append(node.Content, repo.Extent{Blob: id, Length: uint64(len(blob))})
		want = append(want, blob...)
	}
	// The same blob twice in a row, and again at the end.
	node.Content = append(node.Content, node.Content[0], node.Content[0])
	first := want[:node.Content[0].Length]
	want = append(append(want, first...), first...)
	node.Size = uint64(len(want))
	if err := r.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	var got bytes.Buffer
	if err := restorer.Dump(ctx, r, &node, &got); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got.Bytes(), want) {
		t.Fatalf("dump gave %d bytes that differ from the %d stored", got.Len(), len(want))
	}
}

// A writer that fails stops the dump with its error, and no fetch is left
// running behind it.
func TestDumpStopsOnWriteError(t *testing.T) {
	ctx := context.Background()
	r := newRepo(t)
	node := repo.Node{Name: "big", Type: repo.NodeFile, Mode: 0o644, ModTime: mtime}
	for i := range 40 {
		blob := bytes.Repeat([]byte{byte(i)}, 300_000)
		id, _, err := r.SaveBlob(ctx, repo.DataBlob, blob)
		if err != nil {
			t.Fatal(err)
		}
		node.Content = append(node.Content, repo.Extent{Blob: id, Length: uint64(len(blob))})
		node.Size += uint64(len(blob))
	}
	if err := r.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	errFull := errors.New("pipe closed")
	if err := restorer.Dump(ctx, r, &node, failingWriter{errFull}); !errors.Is(err, errFull) {
		t.Fatalf("dump to a failing writer: %v, want %v", err, errFull)
	}
}

// failingWriter fails every write.
type failingWriter struct{ err error }

func (f failingWriter) Write([]byte) (int, error) { return 0, f.err }
