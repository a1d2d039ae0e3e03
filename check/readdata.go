package check

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
	"sync"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/cairnbackup/cairn/backend"
	"github.com/cairnbackup/cairn/repo"
)

// runState marks a full or N/M read-data pass that has not finished, so
// that the next pass with the same subset skips the packs it verified.
type runState struct {
	Start  time.Time `json:"start"`
	Subset string    `json:"subset"`
}

var runKey = []byte("read-data")

// readData reads the chosen packs in full, in parallel: every byte is
// hashed against the pack's name, every blob opened and verified, and the
// header compared with the index. Sound packs get a new verification time.
func (c *checker) readData(ctx context.Context) error {
	sub := c.opts.ReadData
	if n, err := rebuildVerified(ctx, c.r); err != nil {
		return err
	} else if n > 0 {
		c.logf("dated %d pack(s) from the history's read-data passes (a new cache)", n)
	}
	verified, err := loadVerified(c.r)
	if err != nil {
		return err
	}
	var cands []candidate
	for _, id := range sortedKeys(c.indexed) {
		if size, ok := c.stored[id]; ok && !c.indexed[id].Condemned {
			cands = append(cands, candidate{id: id, size: size})
		}
	}
	chosen := sub.choose(cands, verified)
	stats := &ReadDataStats{Subset: sub.String(), Eligible: len(cands)}
	c.rep.ReadData = stats
	resumeFrom, err := c.startRun(sub)
	if err != nil {
		return err
	}
	todo := chosen[:0:0]
	var bytes int64
	for _, p := range chosen {
		if t, ok := verified[p.id]; ok && !resumeFrom.IsZero() && !t.Before(resumeFrom) {
			stats.Resumed++
			continue
		}
		todo = append(todo, p)
		bytes += p.size
	}
	if stats.Resumed > 0 {
		c.note("resumed the read-data pass of %s started at %s: %d pack(s) it verified were skipped",
			sub, resumeFrom.Local().Format(time.RFC3339), stats.Resumed)
	}
	c.opts.Progress.start("read-data", int64(len(todo)), bytes)
	start := time.Now()
	err = c.readPacks(ctx, todo, stats)
	stats.Seconds = time.Since(start).Seconds()
	if err != nil {
		return err
	}
	if sub.Kind != SubsetPercent {
		return c.r.DeleteMeta(bucketRun, runKey)
	}
	return nil
}

// startRun records the start of a full or N/M pass and returns the start
// of the unfinished pass of the same subset it resumes (zero if none).
func (c *checker) startRun(sub Subset) (time.Time, error) {
	if sub.Kind == SubsetPercent {
		return time.Time{}, nil
	}
	var st runState
	b, err := c.r.GetMeta(bucketRun, runKey)
	if err != nil {
		return time.Time{}, err
	}
	if b != nil && json.Unmarshal(b, &st) == nil && st.Subset == sub.String() {
		return st.Start, nil
	}
	st = runState{Start: c.now().UTC().Truncate(time.Second), Subset: sub.String()}
	if b, err = json.Marshal(st); err != nil {
		return time.Time{}, err
	}
	if err := c.r.PutMeta(bucketRun, runKey, b); err != nil {
		return time.Time{}, err
	}
	return time.Time{}, c.r.FlushMeta()
}

// readPacks verifies packs with bounded parallelism.
func (c *checker) readPacks(ctx context.Context, todo []candidate, stats *ReadDataStats) error {
	var mu sync.Mutex
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(c.opts.Workers)
	for _, p := range todo {
		g.Go(func() error {
			v, err := c.readPack(gctx, p)
			if err != nil {
				return err
			}
			mu.Lock()
			defer mu.Unlock()
			stats.Packs++
			if v != nil {
				stats.Bytes += v.Size
				stats.Blobs += int64(len(v.Blobs))
				if !v.OK() {
					stats.Damaged++
				}
			}
			return nil
		})
	}
	return g.Wait()
}

// readPack verifies one pack and records the outcome. It returns a nil
// verification when the pack could not be read at all.
func (c *checker) readPack(ctx context.Context, p candidate) (*repo.PackVerification, error) {
	info, _, err := c.r.IndexedPackContents(p.id)
	if err != nil {
		return nil, err
	}
	v, err := c.r.VerifyPack(ctx, p.id, p.size, info.Blobs)
	if err != nil {
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		c.mu.Lock()
		kind := KindPackDamaged
		if errors.Is(err, backend.ErrNotFound) {
			kind = KindPackMissing
		}
		c.packProblem(p.id, kind, fixPack).fault("cannot be read: %s", faultText(err))
		c.mu.Unlock()
		c.opts.Progress.add(1, 0)
		return nil, nil
	}
	c.opts.Progress.add(1, v.Size)
	if v.OK() && repo.SameEntries(v.Header, info.Blobs) {
		if err := putVerified(c.r, p.id, c.now()); err != nil {
			return v, err
		}
		c.mu.Lock()
		c.verifiedNow = append(c.verifiedNow, p.id)
		c.mu.Unlock()
		return v, c.r.DeleteMeta(bucketDamaged, p.id[:])
	}
	c.packFailed(v, info.Blobs)
	return v, nil
}

// maxBlobFaults bounds the blob errors quoted in one pack's faults.
const maxBlobFaults = 5

// packFailed records what reading a pack found wrong.
func (c *checker) packFailed(v *repo.PackVerification, indexed []repo.BlobEntry) {
	c.mu.Lock()
	defer c.mu.Unlock()
	bad := v.DamagedBlobs()
	fix := fixPackData
	if len(bad) == 0 && v.HeaderErr != nil {
		fix = fixHeaderOnly
	}
	p := c.packProblem(v.ID, KindPackDamaged, fix)
	if v.Hash != v.ID {
		p.fault("its %d bytes hash to %s, not to its name", v.Size, v.Hash.Short())
	}
	if v.HeaderErr != nil {
		p.fault("header: %s", faultText(v.HeaderErr))
	}
	quoted := 0
	for _, b := range v.Blobs {
		if b.Err == nil {
			continue
		}
		c.markDamaged(p, blobKey{b.Entry.Type, b.Entry.ID})
		if quoted < maxBlobFaults {
			p.fault("%s", faultText(b.Err))
			quoted++
		}
	}
	if len(bad) > 0 {
		p.fault("%d of its %d blobs are damaged", len(bad), len(v.Blobs))
	} else if v.HeaderErr == nil && v.Hash != v.ID {
		p.fault("all %d blobs verify", len(v.Blobs))
	} else if v.HeaderErr != nil {
		p.fault("all %d blobs the index lists verify, so restores still work", len(v.Blobs))
	}
	if v.HeaderErr == nil && !repo.SameEntries(v.Header, indexed) {
		c.indexMismatch(v.ID, v.Header, indexed)
	}
}

// faultText is an error's message without the sentinel prefixes that
// say nothing to a reader of the report ("repo: backend: object corrupt: ").
func faultText(err error) string {
	msg := err.Error()
	for _, prefix := range []string{repo.ErrCorrupt.Error() + ": ", repo.ErrMalformed.Error() + ": "} {
		msg = strings.ReplaceAll(msg, prefix, "")
	}
	return msg
}
