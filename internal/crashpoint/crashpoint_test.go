package crashpoint

import (
	"bytes"
	"context"
	"testing"

	"github.com/cairnbackup/cairn/backend"
	"github.com/cairnbackup/cairn/backend/local"
	"github.com/cairnbackup/cairn/backend/mem"
)

// The action fires on entering the Nth call, counted over every backend
// the counter wraps and every kind of call, and only once.
func TestFiresOnNthCall(t *testing.T) {
	ctx := context.Background()
	fired := 0
	var firedAt int64
	c := New(4, func() { fired++ })
	a, b := c.Wrap(mem.New()), c.Wrap(mem.New())
	h := backend.Handle{Type: backend.SnapshotFile, Name: "ab"}
	a.Save(ctx, h, backend.NewByteReader([]byte("x")))                             // 1
	b.Stat(ctx, h)                                                                 // 2
	a.List(ctx, backend.SnapshotFile, func(backend.FileInfo) error { return nil }) // 3
	if fired != 0 {
		t.Fatalf("fired after %d calls", c.Calls())
	}
	c.fire = func() { fired++; firedAt = c.Calls() }
	backend.LoadAll(ctx, a, h) // 4
	a.Remove(ctx, h)           // 5
	if fired != 1 || firedAt != 4 {
		t.Fatalf("fired %d times, at call %d; want once at 4", fired, firedAt)
	}
}

// A staged object's commit is a call, and staging passes through to a
// backend that stages.
func TestStageCommitCounts(t *testing.T) {
	ctx := context.Background()
	l, err := local.Create(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	c := New(0, nil)
	be := c.Wrap(l).(backend.Stager)
	s, err := be.Stage(ctx, backend.PackFile)
	if err != nil {
		t.Fatal(err)
	}
	s.Write(bytes.Repeat([]byte{1}, 10))
	if err := s.Commit(ctx, "abcdef"); err != nil {
		t.Fatal(err)
	}
	if c.Calls() != 1 {
		t.Fatalf("%d calls counted, want 1", c.Calls())
	}
}
