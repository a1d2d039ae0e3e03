package s3_test

import (
	"context"
	"fmt"
	"io"
	"math/rand/v2"
	"testing"

	"github.com/cairnbackup/cairn/backend"
	"github.com/cairnbackup/cairn/backend/s3"
)

const benchSize = 16 << 20

func benchBackend(b *testing.B) (*s3.Backend, []byte) {
	cfg := testConfig(b)
	cfg.Bucket = newBucket(b, cfg)
	be, err := s3.Create(context.Background(), cfg, false)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { be.Close() })
	data := make([]byte, benchSize)
	r := rand.New(rand.NewPCG(1, 2))
	for i := range data {
		data[i] = byte(r.Uint32())
	}
	return be, data
}

// BenchmarkSave uploads 16 MiB objects (one streamed PUT each).
func BenchmarkSave(b *testing.B) {
	be, data := benchBackend(b)
	b.SetBytes(benchSize)
	i := 0
	for b.Loop() {
		h := backend.Handle{Type: backend.PackFile, Name: fmt.Sprintf("%064x", i)}
		if err := be.Save(context.Background(), h, backend.NewByteReader(data)); err != nil {
			b.Fatal(err)
		}
		i++
	}
}

// BenchmarkLoad downloads a 16 MiB object.
func BenchmarkLoad(b *testing.B) {
	be, data := benchBackend(b)
	h := backend.Handle{Type: backend.PackFile, Name: fmt.Sprintf("%064x", 1)}
	if err := be.Save(context.Background(), h, backend.NewByteReader(data)); err != nil {
		b.Fatal(err)
	}
	b.SetBytes(benchSize)
	for b.Loop() {
		err := be.Load(context.Background(), h, 0, 0, func(rd io.Reader) error {
			n, err := io.Copy(io.Discard, rd)
			if err == nil && n != benchSize {
				err = fmt.Errorf("read %d bytes", n)
			}
			return err
		})
		if err != nil {
			b.Fatal(err)
		}
	}
}
