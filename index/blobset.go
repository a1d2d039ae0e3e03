package index

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sync"

	"github.com/cairnbackup/cairn/crypto"
	"github.com/cairnbackup/cairn/pack"
)

// BlobKeySize is the length of a blob key: type (1) ‖ blob id (32), the
// order in which the cache keeps blob rows.
const BlobKeySize = blobPrefixSz

// BlobSet is a set of blobs (type and id) kept on disk, for sets as large as
// the repository: prune marks every blob that a snapshot uses in one. Keys
// are added in any order, any number of times, from any goroutine; Seal
// then sorts them (with the sorter's bounded memory) into a file of unique
// keys in the cache's blob order, which Each reads as often as needed. Its
// temporary files live next to the cache file and are removed by Close
// (or by the next OpenCache, after a crash).
type BlobSet struct {
	cachePath string

	mu     sync.Mutex
	s      *sorter
	sealed bool
	f      *os.File // the sorted, unique keys; nil while they fit in mem
	name   string   // f's name while it is linked, "" once unlinked
	mem    []byte   // the sorted keys when nothing was spilled
	n      int
}

// NewBlobSet returns an empty set sized for about expected keys (a guess:
// any number fits).
func (c *Cache) NewBlobSet(expected int) *BlobSet {
	return &BlobSet{cachePath: c.path, s: newRecordSorter(c.path, expected, BlobKeySize, BlobKeySize)}
}

// Add puts a blob in the set. It fails after Seal.
func (bs *BlobSet) Add(t pack.BlobType, id crypto.ID) error {
	var k [BlobKeySize]byte
	k[0] = byte(t)
	copy(k[1:], id[:])
	bs.mu.Lock()
	defer bs.mu.Unlock()
	if bs.sealed {
		return errors.New("index: add to a sealed blob set")
	}
	return bs.s.addRecord(k[:])
}

// Seal sorts the keys added so far and drops repeats. After it, Len and
// Each answer and Add fails.
func (bs *BlobSet) Seal() error {
	bs.mu.Lock()
	defer bs.mu.Unlock()
	if bs.sealed {
		return nil
	}
	bs.sealed = true
	defer func() { bs.s.close(); bs.s = nil }()
	if bs.s.f == nil {
		return bs.s.each(func(recs []byte) error {
			bs.mem = appendUnique(bs.mem, recs, &bs.n)
			return nil
		})
	}
	f, err := os.CreateTemp(filepath.Dir(bs.cachePath), filepath.Base(bs.cachePath)+".sort-*")
	if err != nil {
		return fmt.Errorf("index: create blob set file: %w", err)
	}
	bs.f, bs.name = f, f.Name()
	if os.Remove(f.Name()) == nil {
		bs.name = ""
	}
	w := bufio.NewWriterSize(f, 256<<10)
	var last []byte
	err = bs.s.each(func(recs []byte) error {
		for off := 0; off < len(recs); off += BlobKeySize {
			k := recs[off : off+BlobKeySize]
			if last != nil && bytes.Equal(k, last) {
				continue
			}
			last = k
			bs.n++
			if _, err := w.Write(k); err != nil {
				return err
			}
		}
		return nil
	})
	if err == nil {
		err = w.Flush()
	}
	if err != nil {
		return fmt.Errorf("index: write blob set file: %w", err)
	}
	return nil
}

// appendUnique appends the sorted keys of recs that differ from the one
// before them, counting them in n.
func appendUnique(dst, recs []byte, n *int) []byte {
	for off := 0; off < len(recs); off += BlobKeySize {
		k := recs[off : off+BlobKeySize]
		if len(dst) >= BlobKeySize && bytes.Equal(dst[len(dst)-BlobKeySize:], k) {
			continue
		}
		dst = append(dst, k...)
		*n++
	}
	return dst
}

// Len returns how many distinct blobs a sealed set holds.
func (bs *BlobSet) Len() int {
	bs.mu.Lock()
	defer bs.mu.Unlock()
	return bs.n
}

// Each calls fn for every key of a sealed set in blob order (type, then
// id). The key is valid only during fn.
func (bs *BlobSet) Each(fn func(key []byte) error) error {
	it, err := bs.iter()
	if err != nil {
		return err
	}
	for k, err := it.next(); k != nil || err != nil; k, err = it.next() {
		if err != nil {
			return err
		}
		if err := fn(k); err != nil {
			return err
		}
	}
	return nil
}

// keyIter reads a sealed set's keys in order.
type keyIter struct {
	mem []byte
	r   *bufio.Reader
	buf [BlobKeySize]byte
}

func (bs *BlobSet) iter() (*keyIter, error) {
	bs.mu.Lock()
	defer bs.mu.Unlock()
	if !bs.sealed {
		return nil, errors.New("index: blob set read before Seal")
	}
	if bs.f == nil {
		return &keyIter{mem: bs.mem}, nil
	}
	return &keyIter{r: bufio.NewReaderSize(io.NewSectionReader(bs.f, 0, int64(bs.n)*BlobKeySize), 256<<10)}, nil
}

// next returns the next key, or nil at the end.
func (it *keyIter) next() ([]byte, error) {
	if it.r == nil {
		if len(it.mem) == 0 {
			return nil, nil
		}
		k := it.mem[:BlobKeySize]
		it.mem = it.mem[BlobKeySize:]
		return k, nil
	}
	if _, err := io.ReadFull(it.r, it.buf[:]); err != nil {
		if err == io.EOF {
			return nil, nil
		}
		return nil, fmt.Errorf("index: read blob set file: %w", err)
	}
	return it.buf[:], nil
}

// Close removes the set's temporary files.
func (bs *BlobSet) Close() {
	bs.mu.Lock()
	defer bs.mu.Unlock()
	if bs.s != nil {
		bs.s.close()
		bs.s = nil
	}
	if bs.f != nil {
		_ = bs.f.Close()
		if bs.name != "" {
			_ = os.Remove(bs.name)
		}
		bs.f = nil
	}
	bs.mem = nil
	bs.sealed = true
}
