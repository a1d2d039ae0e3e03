package index

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
)

// marker is the "unclean" file next to the cache. It exists, durably, while
// the cache may hold writes that were not fsynced, and holds the boot id of
// the system that wrote them:
//
//   - missing: every write reached the disk (or none happened).
//   - same boot id: the writing process died, but the system did not, so
//     all its writes are in the page cache and the file shows the last
//     committed transaction; each transaction leaves the cache consistent,
//     so it is kept and the next Sync completes any unfinished work.
//   - another boot id, none, or "corrupt": writes may be lost or the file
//     was found damaged; the file is rebuilt.
type marker struct {
	path     string
	mu       sync.Mutex
	set      bool
	poisoned bool // says "corrupt"; stays until the file is discarded
}

// inspect reads the marker left by an earlier process. unclean describes
// it ("" if absent); stale says the file must be rebuilt.
func (m *marker) inspect() (unclean string, stale bool) {
	b, err := os.ReadFile(m.path)
	if errors.Is(err, os.ErrNotExist) {
		return "", false
	}
	content := strings.TrimSpace(string(b))
	boot := bootID()
	switch {
	case err != nil:
		return fmt.Sprintf("an unreadable marker (%v)", err), true
	case content == "corrupt":
		return "a process that found it damaged", true
	case boot != "" && content == "boot "+boot:
		return "a process that exited without closing it", false
	}
	return "a system crash or reboot during unsynced writes", true
}

func (m *marker) isSet() bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.set
}

// raise makes sure the marker exists durably before unsynced writes.
func (m *marker) raise() error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.set {
		return nil
	}
	if err := m.write("boot " + bootID()); err != nil {
		return err
	}
	m.set = true
	return nil
}

// poison replaces the marker's content so the next open rebuilds the file.
func (m *marker) poison() error {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.set, m.poisoned = true, true
	return m.write("corrupt")
}

// lower removes the marker, unless it says the file is damaged; the caller
// has synced the cache file.
func (m *marker) lower() error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if !m.set || m.poisoned {
		return nil
	}
	if err := os.Remove(m.path); err != nil && !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("index: remove cache marker: %w", err)
	}
	m.set = false
	return nil
}

// write stores content in the marker file, fsyncs it and its directory.
func (m *marker) write(content string) error {
	f, err := os.OpenFile(m.path, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o600)
	if err != nil {
		return fmt.Errorf("index: write cache marker: %w", err)
	}
	_, err = f.WriteString(content + "\n")
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = syncDir(filepath.Dir(m.path))
	}
	if err != nil {
		return fmt.Errorf("index: write cache marker: %w", err)
	}
	return nil
}

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	err = d.Sync()
	if cerr := d.Close(); err == nil {
		err = cerr
	}
	return err
}
