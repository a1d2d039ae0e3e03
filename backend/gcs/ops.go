package gcs

import (
	"context"
	"fmt"
	"io"
	"strings"

	"cloud.google.com/go/storage"
	"google.golang.org/api/iterator"

	"github.com/cairnbackup/cairn/backend"
	"github.com/cairnbackup/cairn/backend/objectstore"
)

func (b *Backend) object(h backend.Handle) *storage.ObjectHandle {
	return b.bucket.Object(b.prefix + backend.Path(h))
}

// Save implements backend.Backend: a resumable upload (one request per
// chunk) for objects larger than a chunk, one request otherwise, both
// streamed from rd. On any failure the upload's context is cancelled, which
// abandons it: no object is made.
func (b *Backend) Save(ctx context.Context, h backend.Handle, rd backend.RewindReader) error {
	size, err := objectstore.SaveSize(ctx, h, rd)
	if err != nil {
		return err
	}
	upCtx, cancel := context.WithCancel(ctx)
	defer cancel()
	w := b.object(h).NewWriter(upCtx)
	w.ChunkSize = b.cfg.chunkSize()
	w.ContentType = "application/octet-stream"
	src := objectstore.NewSource(ctx, rd, size)
	_, err = io.Copy(w, src)
	if err != nil {
		cancel() // abandon the upload before Close can finish it
	}
	if cerr := w.Close(); err == nil {
		err = cerr
	}
	switch {
	case err != nil && ctx.Err() != nil:
		return fmt.Errorf("save %s: %w", h, ctx.Err())
	case err != nil && src.Err != nil:
		return fmt.Errorf("save %s: read source: %w", h, src.Err)
	case err != nil:
		return fmt.Errorf("save %s: %w", h, withHint(mapErr(err)))
	case w.Attrs() == nil || w.Attrs().Size != size || src.N != size:
		return fmt.Errorf("save %s: stored an object of another size than the %d bytes read", h, src.N)
	}
	return nil
}

// Load implements backend.Backend with one (ranged) GET. The reader passed
// to fn yields exactly the requested bytes; a body cut short by the network
// fails with an error wrapping backend.ErrTransient.
func (b *Backend) Load(ctx context.Context, h backend.Handle, length int, offset int64, fn func(io.Reader) error) error {
	if err := objectstore.CheckLoad(ctx, h, length, offset); err != nil {
		return err
	}
	n := int64(length)
	if length == 0 {
		n = -1 // to the end
	}
	r, err := b.object(h).NewRangeReader(ctx, offset, n)
	if err != nil {
		return b.loadFailed(ctx, h, length, offset, fn, err)
	}
	defer r.Close()
	left := r.Remain()
	if err := objectstore.CheckLength(h, length, offset, left); err != nil {
		return err
	}
	return fn(&objectstore.Body{Ctx: ctx, R: r, Left: left, Handle: h, MapErr: mapErr})
}

// loadFailed maps a failed GET; see objectstore.ReadFailed.
func (b *Backend) loadFailed(ctx context.Context, h backend.Handle, length int, offset int64, fn func(io.Reader) error, err error) error {
	if ctx.Err() != nil {
		return ctx.Err()
	}
	return objectstore.ReadFailed(ctx, b.Stat, h, length, offset, fn, withHint(mapErr(err)))
}

// Stat implements backend.Backend with one metadata GET.
func (b *Backend) Stat(ctx context.Context, h backend.Handle) (backend.FileInfo, error) {
	if err := h.Valid(); err != nil {
		return backend.FileInfo{}, err
	}
	attrs, err := b.object(h).Attrs(ctx)
	if err != nil {
		if ctx.Err() != nil {
			return backend.FileInfo{}, ctx.Err()
		}
		return backend.FileInfo{}, fmt.Errorf("stat %s: %w", h, withHint(mapErr(err)))
	}
	return backend.FileInfo{Name: h.Name, Size: attrs.Size}, nil
}

// List implements backend.Backend with paginated listing requests (up to
// 1000 names a page, name and size only). Unfinished uploads are never
// listed; names that do not name a valid object of type t are skipped.
func (b *Backend) List(ctx context.Context, t backend.FileType, fn func(backend.FileInfo) error) error {
	if t == backend.ConfigFile {
		return objectstore.ListConfig(ctx, b.Stat, fn)
	}
	if err := (backend.Handle{Type: t, Name: "x"}).Valid(); err != nil {
		return err
	}
	dir := b.prefix + string(t) + "/"
	q := &storage.Query{Prefix: dir}
	if err := q.SetAttrSelection([]string{"Name", "Size"}); err != nil {
		return err
	}
	it := b.bucket.Objects(ctx, q)
	for {
		attrs, err := it.Next()
		if err == iterator.Done {
			return ctx.Err()
		}
		if err != nil {
			if ctx.Err() != nil {
				return ctx.Err()
			}
			return fmt.Errorf("list %s: %w", t, withHint(mapErr(err)))
		}
		name, ok := objectstore.ObjectName(t, strings.TrimPrefix(attrs.Name, dir))
		if !ok {
			continue
		}
		if err := fn(backend.FileInfo{Name: name, Size: attrs.Size}); err != nil {
			return err
		}
	}
}

// Remove implements backend.Backend with one DELETE, which answers 404 for
// a missing object. With soft delete on (the default for new buckets), the
// object is kept, and billed, for the bucket's retention period.
func (b *Backend) Remove(ctx context.Context, h backend.Handle) error {
	if err := h.Valid(); err != nil {
		return err
	}
	if err := b.object(h).Delete(ctx); err != nil {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		return fmt.Errorf("remove %s: %w", h, withHint(mapErr(err)))
	}
	return nil
}
