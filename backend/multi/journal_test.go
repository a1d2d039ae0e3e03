package multi_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/cairnbackup/cairn/backend"
	"github.com/cairnbackup/cairn/backend/faulty"
	"github.com/cairnbackup/cairn/backend/multi"
)

// A removal that misses a location is recorded at once, applied when the
// location is back, and kept while it is not.
func TestJournalRecordsAndApplies(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t, 2, multi.Options{MinCopies: 1})
	path := filepath.Join(t.TempDir(), "cache", "repo", "pending-removals.json")
	j := multi.OpenJournal(path)
	f.UseJournal(j)
	snap, hs := object(backend.SnapshotFile, "snapshot")
	lock, hl := object(backend.LockFile, "lock")
	for _, o := range []struct {
		b []byte
		h backend.Handle
	}{{snap, hs}, {lock, hl}} {
		if err := f.Save(ctx, o.h, backend.NewByteReader(o.b)); err != nil {
			t.Fatal(err)
		}
	}

	// loc1 goes down: removals reach loc0 only.
	f.faults[1].Inject(faulty.Fault{Op: faulty.OpAny, Times: -1, Err: backend.ErrTransient})
	for _, h := range []backend.Handle{hs, hl} {
		if err := f.Remove(ctx, h); err != nil {
			t.Fatalf("remove %v with one location down: %v", h, err)
		}
	}
	pending, err := j.Pending()
	if err != nil {
		t.Fatal(err)
	}
	if len(pending) != 1 || pending[0].Handle() != hs || pending[0].Location != "loc1" {
		t.Fatalf("journal %+v, want the snapshot's removal at loc1 (locks are not recorded)", pending)
	}
	for p, want := range map[string]os.FileMode{path: 0o600, filepath.Dir(path): 0o700 | os.ModeDir} {
		if fi, err := os.Stat(p); err != nil || fi.Mode() != want {
			t.Errorf("%s: mode %v (%v), want %v", p, fi.Mode(), err, want)
		}
	}

	// Still down: nothing applied, nothing lost.
	res, err := f.ApplyJournal(ctx)
	if err != nil || res.Applied != 0 || res.Waiting != 1 {
		t.Fatalf("apply with the location down: %+v, %v", res, err)
	}

	// Back up (and its cool-down over): applied and the file is gone.
	f.faults[1].Clear()
	f.clock.Add(time.Hour)
	if !has(t, f.mems[1], hs) {
		t.Fatal("the snapshot is not at loc1 before the journal is applied")
	}
	res, err = f.ApplyJournal(ctx)
	if err != nil || res.Applied != 1 || res.Waiting != 0 {
		t.Fatalf("apply with the location back: %+v, %v", res, err)
	}
	if has(t, f.mems[1], hs) {
		t.Fatal("the snapshot is still at loc1 after the journal was applied")
	}
	if _, err := os.Stat(path); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("the journal file is still there: %v", err)
	}
}

// The first format, one JSON array, is still read; a damaged file says
// what to do.
func TestJournalFormats(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "pending-removals.json")
	old := `[{"location":"s3:http://x/b","type":"snapshots","name":"ab","time":"2026-11-30T10:00:00Z"}]`
	if err := os.WriteFile(path, []byte(old), 0o600); err != nil {
		t.Fatal(err)
	}
	j := multi.OpenJournal(path)
	list, err := j.Pending()
	if err != nil || len(list) != 1 || list[0].Name != "ab" || list[0].Type != backend.SnapshotFile {
		t.Fatalf("array format: %+v, %v", list, err)
	}
	if err := j.Record(multi.Removal{Location: "l", Type: backend.IndexFile, Name: "cd"}); err != nil {
		t.Fatal(err)
	}
	if list, err := j.Pending(); err != nil || len(list) != 2 || list[1].Name != "cd" {
		t.Fatalf("after a record appended to the array format: %+v, %v", list, err)
	}
	if err := os.WriteFile(path, []byte("{not json\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := j.Pending(); err == nil || !strings.Contains(err.Error(), "sync --to LOCATION --delete") {
		t.Fatalf("damaged journal: %v", err)
	}
}
