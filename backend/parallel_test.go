package backend_test

import (
	"testing"

	"github.com/cairnbackup/cairn/backend"
	"github.com/cairnbackup/cairn/backend/counted"
	"github.com/cairnbackup/cairn/backend/mem"
)

// farStore is a store that asks for many requests in flight.
type farStore struct{ *mem.Backend }

func (farStore) Parallelism() int { return 16 }

func TestParallelismThroughWrappers(t *testing.T) {
	if n := backend.Parallelism(mem.New()); n != 0 {
		t.Errorf("a local store says %d; want 0, the caller's own count", n)
	}
	if n := backend.Parallelism(counted.New(farStore{mem.New()})); n != 16 {
		t.Errorf("a wrapped object store says %d, want 16", n)
	}
}
