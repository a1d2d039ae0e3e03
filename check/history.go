package check

import (
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/cairnbackup/cairn/repo"
)

// Buckets of the local cache's meta store that check uses. They live and
// die with the cache: a new cache rebuilds the verification times from
// the history in the repository (see rebuildVerified).
const (
	bucketVerified = "check.verified" // pack id -> last verification (unix seconds, 8 bytes big endian)
	bucketDamaged  = "check.damaged"  // pack id -> damaged blobs found there (type ‖ id, repeated)
	bucketRun      = "check.run"      // "read-data" -> runState JSON of an unfinished full or N/M pass
)

// HistoryEntry is the summary of one check, kept in the repository's
// history as a record's details.
type HistoryEntry struct {
	Time        time.Time      `json:"time"`
	Seconds     float64        `json:"seconds"`
	OK          bool           `json:"ok"`
	Interrupted bool           `json:"interrupted,omitempty"`
	Problems    int            `json:"problems"`
	Summary     []string       `json:"summary,omitempty"` // the first problems, one line each
	ReadData    string         `json:"read_data,omitempty"`
	PacksRead   int            `json:"packs_read,omitempty"`
	BytesRead   int64          `json:"bytes_read,omitempty"`
	Drills      []DrillSummary `json:"drills,omitempty"`
	// Verified holds the first 4 bytes of the id of every pack this run
	// read back whole, concatenated and in base64: enough to rebuild a new
	// cache's verification times (a wrong match is one in 4 billion per
	// pack, and costs only an earlier re-read of that pack).
	Verified []byte `json:"verified,omitempty"`

	// Host and Job are the record's.
	Host string `json:"host,omitempty"`
	Job  string `json:"job,omitempty"`
}

// DrillSummary is one drill's result in the history.
type DrillSummary struct {
	Snapshot repo.ID `json:"snapshot"`
	Files    int     `json:"files"`
	Verified int     `json:"verified"`
	Failed   int     `json:"failed"`
	TimedOut bool    `json:"timed_out,omitempty"`
}

// verifiedPrefix is how many bytes of a pack id the history keeps.
const verifiedPrefix = 4

// historyEntry summarises a report.
func historyEntry(rep *Report, verified []repo.ID) HistoryEntry {
	e := HistoryEntry{
		Time: rep.Start, Seconds: rep.End.Sub(rep.Start).Seconds(), OK: !rep.Damaged() && !rep.Interrupted,
		Interrupted: rep.Interrupted, Problems: len(rep.Problems),
	}
	for _, p := range rep.Problems[:min(5, len(rep.Problems))] {
		line := string(p.Kind) + " " + p.Object
		if len(p.Faults) > 0 {
			line += ": " + p.Faults[0]
		}
		e.Summary = append(e.Summary, line)
	}
	if rd := rep.ReadData; rd != nil {
		e.ReadData, e.PacksRead, e.BytesRead = rd.Subset, rd.Packs, rd.Bytes
	}
	for _, d := range rep.Drills {
		e.Drills = append(e.Drills, DrillSummary{Snapshot: d.Snapshot, Files: d.Files, Verified: d.Verified, Failed: len(d.Failures), TimedOut: d.TimedOut})
	}
	slices.SortFunc(verified, func(a, b repo.ID) int { return slices.Compare(a[:], b[:]) })
	for _, id := range verified {
		e.Verified = append(e.Verified, id[:verifiedPrefix]...)
	}
	return e
}

// Summarize returns a report's summary as the history keeps it (without
// the verified packs).
func Summarize(rep *Report) HistoryEntry { return historyEntry(rep, nil) }

// outcome is the record outcome of a report.
func outcome(rep *Report, err error) string {
	switch {
	case rep.Damaged():
		return repo.OutcomeDamaged
	case rep.Interrupted && errors.Is(err, context.Canceled):
		return repo.OutcomeInterrupted
	case err != nil || rep.Interrupted:
		return repo.OutcomeFailed
	}
	return repo.OutcomeSuccess
}

// HistoryRepo is what reading the history needs.
type HistoryRepo interface {
	Records(ctx context.Context, onError func(repo.ID, error) error) ([]*repo.Record, error)
}

// History returns the checks kept in the repository's history, oldest
// first. Records that cannot be read are skipped.
func History(ctx context.Context, r HistoryRepo) ([]HistoryEntry, error) {
	recs, err := r.Records(ctx, nil)
	if err != nil {
		return nil, fmt.Errorf("read the history: %w", err)
	}
	var out []HistoryEntry
	for _, rec := range recs {
		if e, ok := EntryOf(rec); ok {
			out = append(out, e)
		}
	}
	return out, nil
}

// EntryOf returns the check summary a record holds, if it is a check's.
func EntryOf(rec *repo.Record) (HistoryEntry, bool) {
	var e HistoryEntry
	if rec.Kind != repo.RecordCheck || json.Unmarshal(rec.Details, &e) != nil {
		return e, false
	}
	e.Host, e.Job = rec.Host, rec.Job
	return e, true
}

// rebuildVerified fills an empty verification-time store from the
// history's verified packs, so that a new cache (another host, a lost
// cache folder) does not read back again the packs read recently. It
// reports how many packs it dated.
func rebuildVerified(ctx context.Context, r StatusRepo) (int, error) {
	empty := true
	if err := r.ForEachMeta(bucketVerified, func(_, _ []byte) error { empty = false; return errStopIteration }); err != nil && !errors.Is(err, errStopIteration) {
		return 0, err
	}
	if !empty {
		return 0, nil
	}
	hist, err := History(ctx, r)
	if err != nil {
		return 0, err
	}
	when := map[[verifiedPrefix]byte]time.Time{} // the newest run that read each prefix
	for _, e := range hist {
		for b := e.Verified; len(b) >= verifiedPrefix; b = b[verifiedPrefix:] {
			when[[verifiedPrefix]byte(b)] = e.Time
		}
	}
	if len(when) == 0 {
		return 0, nil
	}
	n := 0
	err = r.ForEachIndexedPack(ctx, func(p repo.IndexedPack) error {
		if t, ok := when[[verifiedPrefix]byte(p.ID[:verifiedPrefix])]; ok {
			n++
			return putVerified(r, p.ID, t)
		}
		return nil
	})
	if err != nil {
		return n, err
	}
	return n, r.FlushMeta()
}

var errStopIteration = errors.New("stop")

// loadVerified returns every pack's last verification time.
func loadVerified(m MetaStore) (map[repo.ID]time.Time, error) {
	out := map[repo.ID]time.Time{}
	err := m.ForEachMeta(bucketVerified, func(k, v []byte) error {
		if len(k) == len(repo.ID{}) && len(v) == 8 {
			out[repo.ID(k)] = time.Unix(int64(binary.BigEndian.Uint64(v)), 0).UTC()
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("read pack verification times: %w", err)
	}
	return out, nil
}

func putVerified(m MetaStore, id repo.ID, t time.Time) error {
	return m.PutMeta(bucketVerified, id[:], binary.BigEndian.AppendUint64(nil, uint64(t.Unix())))
}

// VerificationStatus says how recently the packs were read back.
type VerificationStatus struct {
	Packs      int       `json:"packs"`                // packs in the index (not condemned)
	Never      int       `json:"never_verified"`       // of those, never read back by this cache
	Oldest     time.Time `json:"oldest,omitzero"`      // the oldest last verification among the others
	OldestPack repo.ID   `json:"oldest_pack,omitzero"` // the pack verified then
	Newest     time.Time `json:"newest,omitzero"`      // the most recent verification
}

// StatusRepo is what Verification needs.
type StatusRepo interface {
	MetaStore
	HistoryRepo
	ForEachIndexedPack(ctx context.Context, fn func(repo.IndexedPack) error) error
}

// Verification summarises the verification times of the index's packs
// (rebuilt from the history first when the cache has none).
func Verification(ctx context.Context, r StatusRepo) (VerificationStatus, error) {
	if _, err := rebuildVerified(ctx, r); err != nil {
		return VerificationStatus{}, err
	}
	verified, err := loadVerified(r)
	if err != nil {
		return VerificationStatus{}, err
	}
	var st VerificationStatus
	err = r.ForEachIndexedPack(ctx, func(p repo.IndexedPack) error {
		if p.Condemned {
			return nil
		}
		st.Packs++
		t, ok := verified[p.ID]
		switch {
		case !ok:
			st.Never++
		case st.Oldest.IsZero() || t.Before(st.Oldest):
			st.Oldest, st.OldestPack = t, p.ID
		}
		if ok && t.After(st.Newest) {
			st.Newest = t
		}
		return nil
	})
	return st, err
}

// encodeBlobKeys and decodeBlobKeys store a list of blobs as type ‖ id.
func encodeBlobKeys(keys []blobKey) []byte {
	b := make([]byte, 0, len(keys)*(1+len(repo.ID{})))
	for _, k := range keys {
		b = append(b, byte(k.t))
		b = append(b, k.id[:]...)
	}
	return b
}

func decodeBlobKeys(b []byte) []blobKey {
	const n = 1 + len(repo.ID{})
	var out []blobKey
	for ; len(b) >= n; b = b[n:] {
		out = append(out, blobKey{t: repo.BlobType(b[0]), id: repo.ID(b[1:n])})
	}
	return out
}

// record keeps the report's results in the meta store: the damaged blobs
// of each damaged pack (for repair snapshots), and the history entry.
// Verification times were stored as packs were read.
func (c *checker) record() error {
	for id, p := range c.packProbs {
		keys := make([]blobKey, 0, len(p.blobSet))
		for k := range p.blobSet {
			keys = append(keys, k)
		}
		if err := c.r.PutMeta(bucketDamaged, id[:], encodeBlobKeys(keys)); err != nil {
			return err
		}
	}
	if err := c.forgetGonePacks(); err != nil {
		return err
	}
	return c.r.FlushMeta()
}

// recordTimeout bounds saving the history record, which is written even
// when the check was interrupted.
const recordTimeout = time.Minute

// saveRecord keeps the check's summary in the repository's history.
func (c *checker) saveRecord(ctx context.Context, runErr error) error {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), recordTimeout)
	defer cancel()
	c.mu.Lock()
	entry := historyEntry(c.rep, c.verifiedNow)
	c.mu.Unlock()
	details, err := json.Marshal(entry)
	if err != nil {
		return err
	}
	rec := &repo.Record{Kind: repo.RecordCheck, Job: c.opts.Job, Host: c.opts.Host, Start: c.rep.Start, End: c.rep.End,
		Outcome: outcome(c.rep, runErr), Details: details}
	if runErr != nil {
		rec.Error = runErr.Error()
	}
	if _, err := c.r.SaveRecord(ctx, rec); err != nil {
		return fmt.Errorf("keep the check's result in the repository's history: %w", err)
	}
	c.rep.Record = rec.ID()
	return nil
}

// forgetGonePacks drops the verification times and damage records of
// packs the index no longer names.
func (c *checker) forgetGonePacks() error {
	if !c.packsListed {
		return nil // the pack phase did not finish
	}
	for _, bucket := range []string{bucketVerified, bucketDamaged} {
		var gone [][]byte
		if err := c.r.ForEachMeta(bucket, func(k, _ []byte) error {
			if len(k) != len(repo.ID{}) {
				gone = append(gone, k)
			} else if _, ok := c.indexed[repo.ID(k)]; !ok {
				gone = append(gone, k)
			}
			return nil
		}); err != nil {
			return err
		}
		for _, k := range gone {
			if err := c.r.DeleteMeta(bucket, k); err != nil {
				return err
			}
		}
	}
	return nil
}

// DamagedBlobs returns the blobs that the last checks found damaged, by
// type and id, for `repair snapshots`.
func DamagedBlobs(m MetaStore) (map[repo.BlobType]map[repo.ID]bool, error) {
	out := map[repo.BlobType]map[repo.ID]bool{}
	err := m.ForEachMeta(bucketDamaged, func(_, v []byte) error {
		for _, k := range decodeBlobKeys(v) {
			if out[k.t] == nil {
				out[k.t] = map[repo.ID]bool{}
			}
			out[k.t][k.id] = true
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("read damaged blobs: %w", err)
	}
	return out, nil
}

// Damage is the damage the last checks recorded: the blobs that failed to
// open, by the pack that holds them.
type Damage map[repo.ID]map[blobKey]bool

// RecordedDamage reads the damage the last checks recorded (in the local
// cache, so it is empty on a host that never checked).
func RecordedDamage(m MetaStore) (Damage, error) {
	d := Damage{}
	err := m.ForEachMeta(bucketDamaged, func(k, v []byte) error {
		var pack repo.ID
		if copy(pack[:], k) != len(pack) {
			return nil
		}
		for _, b := range decodeBlobKeys(v) {
			if d[pack] == nil {
				d[pack] = map[blobKey]bool{}
			}
			d[pack][b] = true
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("read recorded damage: %w", err)
	}
	return d, nil
}

// Has reports whether a check found blob id (of type t) damaged in pack.
func (d Damage) Has(pack repo.ID, t repo.BlobType, id repo.ID) bool {
	return d[pack][blobKey{t, id}]
}
