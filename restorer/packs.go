package restorer

import (
	"context"
	"errors"
	"fmt"
	"io"
	"slices"

	"golang.org/x/sync/errgroup"
	"golang.org/x/sys/unix"

	"github.com/cairnbackup/cairn/repo"
)

// maxGap is the largest stretch of unneeded bytes read through rather than
// skipped with a new request: below it one ranged read is cheaper than two.
const maxGap = 1 << 20

// packBlob is a needed blob in a pack, with where it goes.
type packBlob struct {
	loc  repo.BlobLocation
	uses []blobUse
}

// byteRange is a coalesced read: consecutive needed blobs of one pack.
type byteRange struct {
	start, end int64
	blobs      []packBlob
}

// fetch reads every needed blob, pack by pack, and writes it wherever it goes.
func (rs *restorer) fetch(ctx context.Context) error {
	packs := map[repo.ID][]packBlob{}
	for id, uses := range rs.uses {
		loc, err := rs.repo.LookupBlob(repo.DataBlob, id)
		if err != nil {
			rs.failUses(uses, fmt.Errorf("%w: blob %s: %v", errMissing, id.Short(), err))
			continue
		}
		packs[loc.Pack] = append(packs[loc.Pack], packBlob{loc: loc, uses: uses})
	}
	g, ctx := errgroup.WithContext(ctx)
	g.SetLimit(rs.opts.Workers)
	for id, blobs := range packs {
		g.Go(func() error {
			for _, r := range coalesce(blobs) {
				if err := rs.readRange(ctx, id, r); err != nil {
					if ctx.Err() != nil {
						return ctx.Err()
					}
					for _, b := range r.blobs {
						rs.failUses(b.uses, err)
					}
				}
			}
			return nil
		})
	}
	return g.Wait()
}

// coalesce sorts a pack's needed blobs and groups neighbours into ranges.
func coalesce(blobs []packBlob) []byteRange {
	slices.SortFunc(blobs, func(a, b packBlob) int { return int(a.loc.Offset) - int(b.loc.Offset) })
	var out []byteRange
	for _, b := range blobs {
		start, end := int64(b.loc.Offset), int64(b.loc.Offset)+int64(b.loc.Length)
		if n := len(out); n > 0 && start-out[n-1].end <= maxGap {
			out[n-1].end = max(out[n-1].end, end)
			out[n-1].blobs = append(out[n-1].blobs, b)
			continue
		}
		out = append(out, byteRange{start: start, end: end, blobs: []packBlob{b}})
	}
	return out
}

// readRange streams one range of a pack and writes its blobs. A blob that
// does not open makes the callback fail with repo.ErrCorrupt once the rest
// of the range was written, so that a multi-location backend reads the
// range again from another copy (the callback starts over, skipping the
// blobs already written). Blobs still unwritten at the end fail their
// files; only a cancelled context is returned.
func (rs *restorer) readRange(ctx context.Context, pack repo.ID, r byteRange) error {
	bufs, _ := rs.bufs.Get().(*repo.OpenBuffers)
	if bufs == nil {
		bufs = new(repo.OpenBuffers)
	}
	defer rs.bufs.Put(bufs)
	written := make([]bool, len(r.blobs))
	err := rs.repo.ReadPack(ctx, pack, r.start, int(r.end-r.start), func(rd io.Reader) error {
		pos, badErr := r.start, error(nil)
		for i, b := range r.blobs {
			if skip := int64(b.loc.Offset) - pos; skip > 0 {
				if _, err := io.CopyN(io.Discard, rd, skip); err != nil {
					return fmt.Errorf("pack %s: %w", pack.Short(), err)
				}
				pos += skip
			}
			if _, err := io.ReadFull(rd, bufs.Sealed(int(b.loc.Length))); err != nil {
				return fmt.Errorf("pack %s: %w", pack.Short(), err)
			}
			pos += int64(b.loc.Length)
			if written[i] {
				continue
			}
			plain, err := rs.repo.OpenBlobAt(b.loc, bufs)
			if err != nil {
				badErr = cmpOr(badErr, err)
				continue
			}
			rs.write(b.uses, plain)
			written[i] = true
		}
		return badErr
	})
	if err == nil {
		return nil
	}
	if ctx.Err() != nil {
		return ctx.Err()
	}
	for i, b := range r.blobs {
		if !written[i] {
			rs.failUses(b.uses, err)
		}
	}
	return nil
}

// cmpOr returns the first non-nil error.
func cmpOr(a, b error) error {
	if a != nil {
		return a
	}
	return b
}

// write puts one blob's plaintext at each place it goes.
func (rs *restorer) write(uses []blobUse, plain []byte) {
	for _, u := range uses {
		if int64(len(plain)) != u.length {
			err := fmt.Errorf("%w: a blob of %d bytes where the file's extent says %d", repo.ErrMalformed, len(plain), u.length)
			u.file.failed.Store(true)
			rs.lose(u.file, u.offset, u.length, err)
			rs.warn(u.file.rel, err)
			continue
		}
		if u.file.failed.Load() {
			rs.lose(u.file, u.offset, u.length, nil)
			continue
		}
		if err := rs.writeAt(u.file, plain, u.offset); err != nil {
			u.file.failed.Store(true)
			rs.lose(u.file, u.offset, u.length, err)
			rs.warn(u.file.rel, err)
		} else if p := rs.opts.Progress; p != nil {
			p.Bytes.Add(uint64(len(plain)))
		}
	}
}

// writeAt writes b at off in the file. The writer of its last blob sets
// the file's metadata through the same descriptor before closing it.
func (rs *restorer) writeAt(fs *fileState, b []byte, off int64) error {
	fs.writeMu.Lock()
	defer fs.writeMu.Unlock()
	fd, err := rs.root.openAtFD(fs.rel, unix.O_WRONLY, 0)
	if err != nil {
		fs.remaining.Add(-1)
		return err
	}
	err = pwriteFull(fd, b, off)
	if err != nil {
		err = rs.pathErr("write", fs.rel, err)
	}
	if fs.remaining.Add(-1) == 0 && err == nil {
		rs.finishFile(fs, fd)
	}
	if cerr := unix.Close(fd); err == nil && cerr != nil {
		err = rs.pathErr("close", fs.rel, cerr)
	}
	return err
}

// pwriteFull writes all of b at off, across short writes and interrupts.
func pwriteFull(fd int, b []byte, off int64) error {
	for len(b) > 0 {
		n, err := unix.Pwrite(fd, b, off)
		if errors.Is(err, unix.EINTR) {
			continue
		}
		if err != nil {
			return err
		}
		if n == 0 {
			return io.ErrShortWrite
		}
		b, off = b[n:], off+int64(n)
	}
	return nil
}

// failUses marks the files a lost blob belonged to as failed, and the
// blob's ranges in them as lost.
func (rs *restorer) failUses(uses []blobUse, err error) {
	for _, u := range uses {
		rs.lose(u.file, u.offset, u.length, err)
		if !u.file.failed.Swap(true) {
			rs.warn(u.file.rel, err)
		}
		u.file.remaining.Add(-1)
	}
}
