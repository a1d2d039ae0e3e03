package copier

import (
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"time"

	"go.etcd.io/bbolt"

	"github.com/cairnbackup/cairn/repo"
)

var idBucket = []byte("ids")

// idMap remembers source id → destination id for data blobs and trees. New
// entries are kept in memory and written by flush, once the snapshot that
// needs them is committed. Without a database (it could not be opened) it
// works from memory only.
type idMap struct {
	mu      sync.Mutex
	db      *bbolt.DB
	pending map[[33]byte]repo.ID
}

// openIDMap opens the map for copies from the repository srcID in dst's
// cache folder.
func openIDMap(srcID repo.ID, dst Dest, logf func(string, ...any)) *idMap {
	m := &idMap{pending: make(map[[33]byte]repo.ID)}
	dir, err := dst.CacheDir()
	if err == nil {
		err = os.MkdirAll(dir, 0o700)
	}
	if err == nil {
		path := filepath.Join(dir, "copy-from-"+srcID.String()[:16]+".db")
		m.db, err = bbolt.Open(path, 0o600, &bbolt.Options{Timeout: time.Second})
	}
	if err != nil {
		logf("copy: working without the id map (blobs the destination has will be read again): %v", err)
		m.db = nil
	}
	return m
}

func mapKey(t repo.BlobType, id repo.ID) [33]byte {
	var k [33]byte
	k[0] = byte(t)
	copy(k[1:], id[:])
	return k
}

func (m *idMap) get(t repo.BlobType, id repo.ID) (repo.ID, bool) {
	k := mapKey(t, id)
	m.mu.Lock()
	v, ok := m.pending[k]
	m.mu.Unlock()
	if ok || m.db == nil {
		return v, ok
	}
	m.db.View(func(tx *bbolt.Tx) error {
		if b := tx.Bucket(idBucket); b != nil {
			if got := b.Get(k[:]); len(got) == len(v) {
				copy(v[:], got) // values are valid only inside the transaction
				ok = true
			}
		}
		return nil
	})
	return v, ok
}

func (m *idMap) put(t repo.BlobType, src, dst repo.ID) {
	m.mu.Lock()
	m.pending[mapKey(t, src)] = dst
	m.mu.Unlock()
}

// flush writes the new entries.
func (m *idMap) flush() error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.db == nil || len(m.pending) == 0 {
		return nil
	}
	err := m.db.Update(func(tx *bbolt.Tx) error {
		b, err := tx.CreateBucketIfNotExists(idBucket)
		if err != nil {
			return err
		}
		for k, v := range m.pending {
			if err := b.Put(k[:], v[:]); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("write id map: %w", err)
	}
	clear(m.pending)
	return nil
}

func (m *idMap) close() error {
	if m.db == nil {
		return nil
	}
	return m.db.Close()
}
