package repo

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/cairnbackup/cairn/backend"
)

// Record kinds.
const (
	RecordJob   = "job"   // a run of a configured job (snapshot, forget, prune)
	RecordCheck = "check" // a check, with its read-data pass and drills
)

// MaxRecords is how many records of one kind, job and host the history
// keeps: prune removes older ones.
const MaxRecords = 100

// recordVersion is the version of the record format written.
const recordVersion = 1

// Record is one entry of the repository's history: a job run or a check,
// kept as a small sealed object under history/ so that every host and
// cache sees it.
type Record struct {
	Version int       `json:"version"`
	Kind    string    `json:"kind"`
	Job     string    `json:"job,omitempty"`
	Host    string    `json:"host"`
	Start   time.Time `json:"start"`
	End     time.Time `json:"end"`
	// Outcome is "success", "partial" (a snapshot that left out unreadable
	// files), "damaged" (a check that found damage), "interrupted" or
	// "failed".
	Outcome string `json:"outcome"`
	Error   string `json:"error,omitempty"`
	// Snapshot is the snapshot a job run saved.
	Snapshot *ID `json:"snapshot,omitempty"`
	// Details hold what the kind adds (a check's summary, a run's counts).
	Details json.RawMessage `json:"details,omitempty"`

	id ID
}

// Record outcomes.
const (
	OutcomeSuccess     = "success"
	OutcomePartial     = "partial"
	OutcomeDamaged     = "damaged"
	OutcomeInterrupted = "interrupted"
	OutcomeFailed      = "failed"
)

// ID returns the record's object id (zero before it is saved or loaded).
func (rec *Record) ID() ID { return rec.id }

// Succeeded reports whether the run did its work: a success, or a
// snapshot that left out only unreadable files.
func (rec *Record) Succeeded() bool {
	return rec.Outcome == OutcomeSuccess || rec.Outcome == OutcomePartial
}

// maxRecordSize bounds a record's plaintext: a check's list of verified
// packs is the largest part.
const maxRecordSize = 16 << 20

func decodeRecord(b []byte) (*Record, error) {
	if len(b) > maxRecordSize {
		return nil, fmt.Errorf("%w: history record of %d bytes", ErrMalformed, len(b))
	}
	var rec Record
	if err := json.Unmarshal(b, &rec); err != nil {
		return nil, fmt.Errorf("%w: history record: %v", ErrMalformed, err)
	}
	switch {
	case rec.Version != recordVersion:
		return nil, fmt.Errorf("%w: history record version %d (this cairn reads %d)", ErrMalformed, rec.Version, recordVersion)
	case rec.Kind == "" || rec.Outcome == "":
		return nil, fmt.Errorf("%w: history record without a kind or an outcome", ErrMalformed)
	case rec.Start.IsZero():
		return nil, fmt.Errorf("%w: history record without a start time", ErrMalformed)
	}
	return &rec, nil
}

// SaveRecord stores a record in the history.
func (r *Repository) SaveRecord(ctx context.Context, rec *Record) (ID, error) {
	rec.Version = recordVersion
	b, err := json.Marshal(rec)
	if err != nil {
		return ID{}, err
	}
	if len(b) > maxRecordSize {
		return ID{}, fmt.Errorf("history record of %d bytes is too large", len(b))
	}
	id, err := r.saveObject(ctx, backend.HistoryFile, b)
	if err != nil {
		return id, err
	}
	rec.id = id
	r.recordCache.put(id, b)
	r.recordCache.flush()
	return id, nil
}

// recordReaders bounds the records read at once (from a new cache, each
// is a GET).
const recordReaders = 8

// Records loads the history, oldest first (by start, then id). Records
// that cannot be read are passed to onError (nil: they are skipped).
func (r *Repository) Records(ctx context.Context, onError func(ID, error) error) ([]*Record, error) {
	ids, err := r.listCachedIDs(ctx, backend.HistoryFile, r.recordCache)
	if err != nil {
		return nil, err
	}
	defer r.recordCache.flush()

	out := make([]*Record, len(ids))
	errs := make([]error, len(ids))
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(recordReaders)
	for i, id := range ids {
		g.Go(func() error {
			out[i], errs[i] = r.loadRecord(gctx, id)
			return gctx.Err()
		})
	}
	if err := g.Wait(); err != nil {
		return nil, err
	}
	var recs []*Record
	for i, rec := range out {
		if errs[i] != nil {
			if errors.Is(errs[i], backend.ErrNotFound) {
				continue // removed by a prune since the listing
			}
			if onError != nil {
				if err := onError(ids[i], errs[i]); err != nil {
					return nil, err
				}
			}
			continue
		}
		recs = append(recs, rec)
	}
	slices.SortFunc(recs, func(a, b *Record) int {
		if c := a.Start.Compare(b.Start); c != 0 {
			return c
		}
		return slices.Compare(a.id[:], b.id[:])
	})
	return recs, nil
}

// loadRecord reads one record, from the local cache when it was read
// before (records never change).
func (r *Repository) loadRecord(ctx context.Context, id ID) (*Record, error) {
	if b := r.recordCache.get(id); b != nil {
		if rec, err := decodeRecord(b); err == nil {
			rec.id = id
			return rec, nil
		}
	}
	b, err := r.loadObject(ctx, backend.HistoryFile, id)
	if err != nil {
		return nil, err
	}
	rec, err := decodeRecord(b)
	if err != nil {
		return nil, fmt.Errorf("history/%s: %w", id, err)
	}
	rec.id = id
	r.recordCache.put(id, b)
	return rec, nil
}

// HistoryTrim is what TrimHistory removed.
type HistoryTrim struct {
	Kept, Removed int
}

// TrimHistory removes the records beyond the newest keep of each kind,
// job and host (MaxRecords when keep is 0), and records damaged in
// storage. Prune calls it under its lock.
func (r *Repository) TrimHistory(ctx context.Context, keep int) (HistoryTrim, error) {
	if keep <= 0 {
		keep = MaxRecords
	}
	var bad []ID
	recs, err := r.Records(ctx, func(id ID, err error) error {
		// A record of a newer format is left alone.
		if errors.Is(err, ErrCorrupt) {
			bad = append(bad, id)
		}
		return nil
	})
	if err != nil {
		return HistoryTrim{}, err
	}
	type group struct{ kind, job, host string }
	count := map[group]int{}
	var st HistoryTrim
	drop := bad
	for i := len(recs) - 1; i >= 0; i-- {
		k := group{recs[i].Kind, recs[i].Job, recs[i].Host}
		count[k]++
		if count[k] > keep {
			drop = append(drop, recs[i].id)
		} else {
			st.Kept++
		}
	}
	for _, id := range drop {
		h := backend.Handle{Type: backend.HistoryFile, Name: id.String()}
		if err := r.be.Remove(ctx, h); err != nil && !errors.Is(err, backend.ErrNotFound) {
			return st, fmt.Errorf("remove %s: %w", h, err)
		}
		st.Removed++
	}
	return st, nil
}
