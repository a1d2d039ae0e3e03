package repo_test

import (
	"context"
	"encoding/json"
	"testing"
	"time"

	"github.com/cairnbackup/cairn/backend"
	"github.com/cairnbackup/cairn/backend/mem"
	"github.com/cairnbackup/cairn/repo"
)

func TestHistory(t *testing.T) {
	ctx := context.Background()
	be := mem.New()
	r, opts := newRepo(t, be)
	t0 := time.Date(2026, 12, 1, 2, 30, 0, 0, time.UTC)
	save := func(kind, job, host string, i int, outcome string) repo.ID {
		t.Helper()
		snap := repo.ID{byte(i)}
		rec := &repo.Record{Kind: kind, Job: job, Host: host, Start: t0.Add(time.Duration(i) * time.Hour),
			End: t0.Add(time.Duration(i)*time.Hour + time.Minute), Outcome: outcome, Snapshot: &snap,
			Details: json.RawMessage(`{"bytes_added":12}`)}
		id, err := r.SaveRecord(ctx, rec)
		if err != nil {
			t.Fatal(err)
		}
		if rec.ID() != id {
			t.Fatalf("record id %v, saved as %v", rec.ID(), id)
		}
		return id
	}
	for i := 0; i < 5; i++ {
		save(repo.RecordJob, "etc", "web1", i, repo.OutcomeSuccess)
	}
	for i := 5; i < 8; i++ {
		save(repo.RecordJob, "etc", "web2", i, repo.OutcomePartial)
		save(repo.RecordCheck, "etc", "web1", i, repo.OutcomeDamaged)
	}
	recs, err := r.Records(ctx, nil)
	if err != nil || len(recs) != 11 {
		t.Fatalf("%d records, %v", len(recs), err)
	}
	for i := 1; i < len(recs); i++ {
		if recs[i].Start.Before(recs[i-1].Start) {
			t.Errorf("records out of order at %d", i)
		}
	}
	if got := recs[0]; got.Job != "etc" || got.Host != "web1" || !got.Succeeded() || string(got.Details) != `{"bytes_added":12}` || got.Snapshot == nil || *got.Snapshot != (repo.ID{0}) {
		t.Errorf("first record %+v", got)
	}

	// Another cache (another host) sees the same history.
	other := reopen(t, be, repo.Options{CacheDir: t.TempDir()})
	if recs2, err := other.Records(ctx, nil); err != nil || len(recs2) != 11 {
		t.Errorf("from another cache: %d records, %v", len(recs2), err)
	}

	// A damaged record is reported, and trimmed; the newest 2 of each
	// kind, job and host are kept.
	bad := save(repo.RecordJob, "etc", "web1", 20, repo.OutcomeSuccess)
	be.Corrupt(backend.Handle{Type: backend.HistoryFile, Name: bad.String()}, func(b []byte) []byte { b[40] ^= 1; return b })
	fresh := reopen(t, be, repo.Options{CacheDir: t.TempDir()})
	var damaged []repo.ID
	if _, err := fresh.Records(ctx, func(id repo.ID, err error) error { damaged = append(damaged, id); return nil }); err != nil || len(damaged) != 1 || damaged[0] != bad {
		t.Errorf("damaged records %v, %v", damaged, err)
	}
	st, err := fresh.TrimHistory(ctx, 2)
	if err != nil || st.Kept != 6 || st.Removed != 3+1+1+1 {
		t.Errorf("trim: %+v, %v", st, err)
	}
	if n := countObjects(t, be, backend.HistoryFile); n != 6 {
		t.Errorf("%d history objects after the trim", n)
	}
	recs, _ = r.Records(ctx, nil)
	if len(recs) != 6 || recs[0].Start != t0.Add(3*time.Hour) {
		t.Errorf("after the trim, from the first cache: %d records, first at %v", len(recs), recs[0].Start)
	}
	_ = opts
}

func TestHistoryRejectsMalformedRecords(t *testing.T) {
	for _, plain := range []string{`{}`, `{"version":2,"kind":"job","outcome":"success","start":"2026-01-01T00:00:00Z"}`,
		`{"version":1,"outcome":"success","start":"2026-01-01T00:00:00Z"}`, `{"version":1,"kind":"job","outcome":"success"}`, `[`} {
		if _, err := repo.DecodeRecord([]byte(plain)); err == nil {
			t.Errorf("%s accepted", plain)
		}
	}
	if _, err := repo.DecodeRecord([]byte(`{"version":1,"kind":"check","outcome":"damaged","start":"2026-01-01T00:00:00Z"}`)); err != nil {
		t.Error(err)
	}
}
