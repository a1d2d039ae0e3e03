package prune

import (
	"bytes"
	"cmp"
	"context"
	"fmt"
	"io"
	"slices"
	"sync"

	"golang.org/x/sync/errgroup"

	"github.com/cairnbackup/cairn/repo"
)

// Reading a pack to repack: neighbouring used blobs closer than
// repackGap are fetched in one ranged read of at most repackRange bytes.
const (
	repackGap      = 1 << 20
	repackRange    = 32 << 20
	repackParallel = 2
)

// repackAll copies the used blobs of every pack to repack into new packs
// and makes them durable and indexed (Flush). A blob that cannot be read
// or does not verify stops the prune before anything is removed.
func repackAll(ctx context.Context, r Repo, p *Plan, opts Options, res *Result) error {
	if len(p.Repack) == 0 {
		return nil
	}
	opts.Progress.setPhase("repack")
	if opts.Progress != nil {
		opts.Progress.RepackTotal.Store(p.RepackBytes())
	}
	var mu sync.Mutex
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(repackParallel)
	for _, pp := range p.Repack {
		g.Go(func() error {
			blobs, n, err := repackPack(gctx, ctx, r, pp.ID, p.copies[pp.ID], opts.Progress)
			if err != nil {
				if gctx.Err() != nil && ctx.Err() != nil {
					return ctx.Err()
				}
				return fmt.Errorf("%w: %s: %v; prune stopped before removing anything (the copies made so far are harmless): run `cairn check --read-data` to see the damage, then `cairn repair snapshots` or `cairn repair index`",
					ErrRepack, repo.PackPath(pp.ID), err)
			}
			opts.Progress.packDone()
			mu.Lock()
			res.RepackedPacks++
			res.CopiedBlobs += blobs
			res.CopiedBytes += n
			mu.Unlock()
			return nil
		})
	}
	if err := g.Wait(); err != nil {
		return err
	}
	if err := r.Flush(ctx); err != nil {
		return fmt.Errorf("store the repacked blobs: %w", err)
	}
	return nil
}

// repackPack copies the blobs at offsets out of one pack, verifying each.
// It reads under ctx and packs under saveCtx, which must outlive it: full
// packs are uploaded (and index segments written) in the background until
// the caller's Flush.
func repackPack(ctx, saveCtx context.Context, r Repo, id repo.ID, offsets []uint32, prog *Progress) (int, int64, error) {
	info, ok, err := r.IndexedPackContents(id)
	if err != nil {
		return 0, 0, err
	}
	if !ok {
		return 0, 0, fmt.Errorf("the index no longer knows the pack")
	}
	want := map[uint32]bool{}
	for _, o := range offsets {
		want[o] = true
	}
	var entries []repo.BlobEntry
	for _, e := range info.Blobs {
		if want[e.Offset] {
			entries = append(entries, e)
		}
	}
	if len(entries) != len(want) {
		return 0, 0, fmt.Errorf("the index lists %d of the %d blobs to copy", len(entries), len(want))
	}
	slices.SortFunc(entries, func(a, b repo.BlobEntry) int { return cmp.Compare(a.Offset, b.Offset) })
	var n int64
	bufs := &repo.OpenBuffers{}
	var sealed []byte
	for _, rg := range ranges(entries) {
		start := int64(rg[0].Offset)
		end := int64(rg[len(rg)-1].Offset) + int64(rg[len(rg)-1].Length)
		err := r.ReadPack(ctx, id, start, int(end-start), func(rd io.Reader) error {
			pos := start
			for _, e := range rg {
				if _, err := io.CopyN(io.Discard, rd, int64(e.Offset)-pos); err != nil {
					return err
				}
				sealed = slices.Grow(sealed[:0], int(e.Length))[:e.Length]
				if _, err := io.ReadFull(rd, sealed); err != nil {
					return err
				}
				pos = int64(e.Offset) + int64(e.Length)
				copy(bufs.Sealed(len(sealed)), sealed)
				if _, err := r.OpenBlobAt(repo.BlobLocation{Pack: id, Entry: e}, bufs); err != nil {
					return err
				}
				if err := r.SaveSealedBlob(saveCtx, e, sealed); err != nil {
					return err
				}
				n += int64(e.Length)
				prog.repacked(int64(e.Length))
			}
			return nil
		})
		if err != nil {
			return 0, 0, err
		}
	}
	return len(entries), n, nil
}

// ranges groups entries sorted by offset into runs read with one request.
func ranges(entries []repo.BlobEntry) [][]repo.BlobEntry {
	var out [][]repo.BlobEntry
	start := 0
	for i := 1; i <= len(entries); i++ {
		if i < len(entries) {
			prev, e := entries[i-1], entries[i]
			gap := int64(e.Offset) - (int64(prev.Offset) + int64(prev.Length))
			size := int64(e.Offset) + int64(e.Length) - int64(entries[start].Offset)
			if gap < repackGap && size <= repackRange {
				continue
			}
		}
		out = append(out, entries[start:i])
		start = i
	}
	return out
}

// sortIDs orders ids by their bytes.
func sortIDs(ids []repo.ID) {
	slices.SortFunc(ids, func(a, b repo.ID) int { return bytes.Compare(a[:], b[:]) })
}
