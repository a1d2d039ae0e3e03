package archiver_test

import (
	"context"
	"path/filepath"
	"sync"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/cairnbackup/cairn/archiver"
	"github.com/cairnbackup/cairn/internal/priority"
)

// ReadThread runs on the walker's and each file worker's own thread, and
// what it sets there does not leak to the caller's threads.
func TestReadThread(t *testing.T) {
	r := newRepo(t)
	src := t.TempDir()
	for _, name := range []string{"a", "b", "c", "d"} {
		write(t, filepath.Join(src, name), 1<<20)
	}
	var mu sync.Mutex
	tids := map[int]bool{}
	var classes []priority.IOClass
	opts := archiver.Options{Paths: []string{src}, Host: "h", FileWorkers: 3, ReadThread: func() error {
		err := priority.SetThreadIO(priority.IOIdle, 0)
		c, _, _ := priority.ThreadIO()
		mu.Lock()
		tids[unix.Gettid()] = true
		classes = append(classes, c)
		mu.Unlock()
		return err
	}}
	if _, err := archiver.Snapshot(context.Background(), r, opts); err != nil {
		t.Fatal(err)
	}
	if len(tids) != 4 || len(classes) != 4 {
		t.Errorf("ReadThread ran %d times on %d threads, want 4 (the walker and 3 file workers) on 4", len(classes), len(tids))
	}
	for _, c := range classes {
		if c != priority.IOIdle {
			t.Errorf("a reading thread's class is %d", c)
		}
	}
	if c, _, _ := priority.ThreadIO(); c == priority.IOIdle {
		t.Error("the caller's thread was left idle")
	}
}
