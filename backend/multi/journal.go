package multi

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"syscall"
	"time"

	"github.com/cairnbackup/cairn/backend"
)

// Removal is an object removed from the repository while one of its
// locations could not take the removal.
type Removal struct {
	Location string           `json:"location"`
	Type     backend.FileType `json:"type"`
	Name     string           `json:"name"`
	Time     time.Time        `json:"time"`
}

// Handle returns the removed object's handle.
func (r Removal) Handle() backend.Handle { return backend.Handle{Type: r.Type, Name: r.Name} }

// Journal is the file of removals that missed a location. Until that
// location has removed the object too, the object would come back through
// the union of the locations (a removed snapshot would be listed again, a
// pack that prune deleted would look like garbage, an old index segment
// would name packs that are gone), so every such removal is recorded here
// at once, and ApplyJournal makes it when the location is back: sync and
// prune call it before they do anything else.
//
// The file lives in the client's cache folder (0600, folder 0700), one
// JSON object per line; a file holding one JSON array (the first format)
// is read too. Processes on one host take turns through an advisory lock
// on a file next to it.
type Journal struct {
	path string
	mu   sync.Mutex
}

// OpenJournal returns the journal kept at path. Nothing is created until
// a removal is recorded.
func OpenJournal(path string) *Journal { return &Journal{path: path} }

// Path returns where the journal is kept.
func (j *Journal) Path() string { return j.path }

// Record appends a removal and makes it durable. Misses are rare (a
// location is down), so each is written on its own.
func (j *Journal) Record(r Removal) error {
	line, err := json.Marshal(r)
	if err != nil {
		return err
	}
	err = j.locked(func() error {
		if err := j.upgrade(); err != nil {
			return err
		}
		f, err := os.OpenFile(j.path, os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o600)
		if err != nil {
			return err
		}
		_, err = f.Write(append(line, '\n'))
		if err == nil {
			err = f.Sync()
		}
		if cerr := f.Close(); err == nil {
			err = cerr
		}
		return err
	})
	if err != nil {
		return fmt.Errorf("record in %s that the removal of %s missed %s: %w", j.path, r.Handle(), r.Location, err)
	}
	return nil
}

// upgrade rewrites a journal of the first format (one JSON array) as JSON
// lines, so that lines can be appended to it.
func (j *Journal) upgrade() error {
	f, err := os.Open(j.path)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		return err
	}
	var first [1]byte
	n, _ := f.Read(first[:])
	f.Close()
	if n == 0 || first[0] != '[' {
		return nil
	}
	list, err := j.read()
	if err != nil {
		return err
	}
	return j.rewrite(list)
}

// Pending returns the removals recorded and not yet applied.
func (j *Journal) Pending() ([]Removal, error) {
	var list []Removal
	err := j.locked(func() error {
		var err error
		list, err = j.read()
		return err
	})
	return list, err
}

// locked runs fn holding the journal's lock, in this process and on the
// host.
func (j *Journal) locked(fn func() error) error {
	j.mu.Lock()
	defer j.mu.Unlock()
	if err := os.MkdirAll(filepath.Dir(j.path), 0o700); err != nil {
		return err
	}
	f, err := os.OpenFile(j.path+".lock", os.O_WRONLY|os.O_CREATE, 0o600)
	if err != nil {
		return err
	}
	defer f.Close()
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX); err != nil {
		return fmt.Errorf("lock %s: %w", f.Name(), err)
	}
	defer syscall.Flock(int(f.Fd()), syscall.LOCK_UN)
	return fn()
}

func (j *Journal) read() ([]Removal, error) {
	b, err := os.ReadFile(j.path)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	list, err := parseJournal(b)
	if err != nil {
		return nil, fmt.Errorf("%s is damaged (%v); delete it and run `cairn sync --to LOCATION --delete` for each lagging location", j.path, err)
	}
	return list, nil
}

// parseJournal reads JSON lines, or one JSON array.
func parseJournal(b []byte) ([]Removal, error) {
	b = bytes.TrimSpace(b)
	var list []Removal
	if len(b) > 0 && b[0] == '[' {
		err := json.Unmarshal(b, &list)
		return list, err
	}
	sc := bufio.NewScanner(bytes.NewReader(b))
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		line := bytes.TrimSpace(sc.Bytes())
		if len(line) == 0 {
			continue
		}
		var r Removal
		if err := json.Unmarshal(line, &r); err != nil {
			return nil, err
		}
		list = append(list, r)
	}
	return list, sc.Err()
}

// rewrite replaces the file's content with list, atomically (a synced
// temporary file renamed over it), or removes the file when list is empty.
func (j *Journal) rewrite(list []Removal) error {
	if len(list) == 0 {
		if err := os.Remove(j.path); err != nil && !errors.Is(err, os.ErrNotExist) {
			return err
		}
		return nil
	}
	var buf bytes.Buffer
	for _, r := range list {
		line, err := json.Marshal(r)
		if err != nil {
			return err
		}
		buf.Write(append(line, '\n'))
	}
	tmp, err := os.CreateTemp(filepath.Dir(j.path), ".journal-*")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name())
	if _, err = tmp.Write(buf.Bytes()); err == nil {
		err = tmp.Sync()
	}
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp.Name(), j.path)
	}
	return err
}

// UseJournal makes b record in j every removal that misses a location
// (lock objects aside: a lock left behind goes stale on its own).
func (b *Backend) UseJournal(j *Journal) { b.journal = j }

// JournalResult says what ApplyJournal did.
type JournalResult struct {
	Applied int // removals made
	Waiting int // removals whose location still cannot be reached
}

// ApplyJournal makes the recorded removals at the locations that are
// enabled and healthy, and keeps the others for later. A removal that
// fails again is kept too, and reported in the error.
func (b *Backend) ApplyJournal(ctx context.Context) (JournalResult, error) {
	var res JournalResult
	j := b.journal
	if j == nil {
		return res, nil
	}
	var errs []error
	err := j.locked(func() error {
		list, err := j.read()
		if err != nil || len(list) == 0 {
			return err
		}
		var keep []Removal
		for _, r := range list {
			l := b.byName(r.Location)
			if l == nil || !l.Enabled || !b.healthy(l) || ctx.Err() != nil {
				keep = append(keep, r)
				continue
			}
			err := l.Backend.Remove(ctx, r.Handle())
			if err == nil || errors.Is(err, backend.ErrNotFound) {
				res.Applied++
				continue
			}
			keep = append(keep, r)
			if ctx.Err() == nil {
				b.observe(ctx, l, err)
				errs = append(errs, fmt.Errorf("remove %s from %s: %w", r.Handle(), r.Location, err))
			}
		}
		res.Waiting = len(keep)
		return j.rewrite(keep)
	})
	if err != nil {
		return res, fmt.Errorf("apply the removals recorded in %s: %w", j.path, err)
	}
	if err := ctx.Err(); err != nil {
		return res, err
	}
	return res, errors.Join(errs...)
}

// byName returns the location called name, or nil.
func (b *Backend) byName(name string) *loc {
	for _, l := range b.locs {
		if l.Name == name {
			return l
		}
	}
	return nil
}
