package check

import (
	"context"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"time"

	"github.com/cairnbackup/cairn/repo"
)

// Buckets of the local cache's meta store that check uses. They live and
// die with the cache: a rebuilt cache forgets them, and the next
// percentage subset then starts over with the never-verified packs.
const (
	bucketVerified = "check.verified" // pack id -> last verification (unix seconds, 8 bytes big endian)
	bucketDamaged  = "check.damaged"  // pack id -> damaged blobs found there (type ‖ id, repeated)
	bucketHistory  = "check.history"  // start time (unix ns, 8 bytes big endian) -> HistoryEntry JSON
	bucketRun      = "check.run"      // "read-data" -> runState JSON of an unfinished full or N/M pass
)

// MaxHistory is how many results the history keeps.
const MaxHistory = 100

// HistoryEntry is the summary of one check kept in the history.
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
}

// DrillSummary is one drill's result in the history.
type DrillSummary struct {
	Snapshot repo.ID `json:"snapshot"`
	Files    int     `json:"files"`
	Verified int     `json:"verified"`
	Failed   int     `json:"failed"`
	TimedOut bool    `json:"timed_out,omitempty"`
}

// historyEntry summarises a report.
func historyEntry(rep *Report) HistoryEntry {
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
	return e
}

// addHistory stores an entry and drops the oldest beyond MaxHistory.
func addHistory(m MetaStore, e HistoryEntry) error {
	b, err := json.Marshal(e)
	if err != nil {
		return err
	}
	key := binary.BigEndian.AppendUint64(nil, uint64(e.Time.UnixNano()))
	if err := m.PutMeta(bucketHistory, key, b); err != nil {
		return err
	}
	var keys [][]byte
	if err := m.ForEachMeta(bucketHistory, func(k, _ []byte) error {
		keys = append(keys, k)
		return nil
	}); err != nil {
		return err
	}
	for _, k := range keys[:max(0, len(keys)-MaxHistory)] {
		if err := m.DeleteMeta(bucketHistory, k); err != nil {
			return err
		}
	}
	return nil
}

// History returns the kept results, oldest first.
func History(m MetaStore) ([]HistoryEntry, error) {
	var out []HistoryEntry
	err := m.ForEachMeta(bucketHistory, func(_, v []byte) error {
		var e HistoryEntry
		if json.Unmarshal(v, &e) == nil {
			out = append(out, e)
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("read check history: %w", err)
	}
	return out, nil
}

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
	ForEachIndexedPack(ctx context.Context, fn func(repo.IndexedPack) error) error
}

// Verification summarises the verification times of the index's packs.
func Verification(ctx context.Context, r StatusRepo) (VerificationStatus, error) {
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
	if err := addHistory(c.r, historyEntry(c.rep)); err != nil {
		return err
	}
	return c.r.FlushMeta()
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
