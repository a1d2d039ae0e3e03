package restorer

import (
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"testing"

	"golang.org/x/sys/unix"
)

// TestDirCacheEvictionUnderConcurrency: with a folder descriptor cache far
// smaller than the folders in use, goroutines working in different folders
// keep evicting each other's descriptors. None may ever be handed a closed
// one (a restore once failed with "bad file descriptor" this way).
func TestDirCacheEvictionUnderConcurrency(t *testing.T) {
	target := t.TempDir()
	const dirs = 64
	for i := range dirs {
		d := filepath.Join(target, fmt.Sprintf("d%02d", i))
		if err := os.Mkdir(d, 0o700); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(d, "f"), nil, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	r, err := openRoot(target)
	if err != nil {
		t.Fatal(err)
	}
	defer r.close()
	r.maxDirs = 2
	var wg sync.WaitGroup
	errs := make(chan error, 8)
	for g := range 8 {
		wg.Go(func() {
			for i := range 2000 {
				rel := fmt.Sprintf("d%02d/f", (i*7+g*13)%dirs)
				if _, err := r.lstat(rel); err != nil {
					errs <- err
					return
				}
				f, err := r.openAt(rel, unix.O_RDONLY, 0)
				if err != nil {
					errs <- err
					return
				}
				f.Close()
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	if len(r.dirs) > r.maxDirs {
		t.Errorf("%d cached folder descriptors, bound %d", len(r.dirs), r.maxDirs)
	}
}
