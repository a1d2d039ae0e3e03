package s3

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"strings"

	"github.com/minio/minio-go/v7"

	"github.com/cairnbackup/cairn/backend"
	"github.com/cairnbackup/cairn/backend/objectstore"
)

func (b *Backend) key(h backend.Handle) string { return b.prefix + backend.Path(h) }

// Save implements backend.Backend. The source is read through Read only
// (never ReadAt, which a wrapper of a seekable source may not override), so
// cancelling ctx stops the upload at the next read.
func (b *Backend) Save(ctx context.Context, h backend.Handle, rd backend.RewindReader) error {
	size, err := objectstore.SaveSize(ctx, h, rd)
	if err != nil {
		return err
	}
	if size > maxObjectSize {
		return fmt.Errorf("save %s: %w: %d bytes is over S3's 5 TiB object limit", h, backend.ErrNoSpace, size)
	}
	src := objectstore.NewSource(ctx, rd, size)
	opts := minio.PutObjectOptions{
		ContentType:      "application/octet-stream",
		PartSize:         uint64(b.cfg.partSize()),
		DisableMultipart: size <= b.cfg.multipartThreshold(),
	}
	info, err := b.client.PutObject(ctx, b.cfg.Bucket, b.key(h), src, size, opts)
	if err != nil {
		if ctx.Err() != nil {
			return fmt.Errorf("save %s: %w", h, ctx.Err())
		}
		if src.Err != nil {
			return fmt.Errorf("save %s: read source: %w", h, src.Err)
		}
		return fmt.Errorf("save %s: %w", h, b.withHint(mapErr(err)))
	}
	if info.Size != size || src.N != size {
		return fmt.Errorf("save %s: stored %d bytes, read %d, source says %d", h, info.Size, src.N, size)
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
	var opts minio.GetObjectOptions
	if length > 0 || offset > 0 {
		end := int64(0) // to the end
		if length > 0 {
			end = offset + int64(length) - 1
		}
		if err := opts.SetRange(offset, end); err != nil {
			return fmt.Errorf("load %s: %w: %v", h, backend.ErrInvalidHandle, err)
		}
	}
	core := minio.Core{Client: b.client}
	body, info, _, err := core.GetObject(ctx, b.cfg.Bucket, b.key(h), opts)
	if err != nil {
		return b.loadFailed(ctx, h, length, offset, fn, err)
	}
	defer body.Close()
	if info.Size < 0 { // no Content-Length: trust the body's end
		return fn(&objectstore.Body{Ctx: ctx, R: body, Left: math.MaxInt64, Handle: h, MapErr: mapErr, Unsized: true})
	}
	if err := objectstore.CheckLength(h, length, offset, info.Size); err != nil {
		return err
	}
	return fn(&objectstore.Body{Ctx: ctx, R: body, Left: info.Size, Handle: h, MapErr: mapErr})
}

// loadFailed maps a failed GET; see objectstore.ReadFailed.
func (b *Backend) loadFailed(ctx context.Context, h backend.Handle, length int, offset int64, fn func(io.Reader) error, err error) error {
	if ctx.Err() != nil {
		return ctx.Err()
	}
	return objectstore.ReadFailed(ctx, b.Stat, h, length, offset, fn, b.withHint(mapErr(err)))
}

// Stat implements backend.Backend with a HEAD request. A HEAD answer has
// no body, so a 404 cannot say why; some servers (versitygw) answer 404 to
// an unknown access key. Stat confirms a 404 with a one-byte GET, whose
// answer names its reason, so that bad credentials never pass for a missing
// object. A missing object thus costs two requests.
func (b *Backend) Stat(ctx context.Context, h backend.Handle) (backend.FileInfo, error) {
	if err := h.Valid(); err != nil {
		return backend.FileInfo{}, err
	}
	info, err := b.client.StatObject(ctx, b.cfg.Bucket, b.key(h), minio.StatObjectOptions{})
	if err != nil {
		if ctx.Err() != nil {
			return backend.FileInfo{}, ctx.Err()
		}
		err = mapErr(err)
		if errors.Is(err, backend.ErrNotFound) {
			err = b.confirmMissing(ctx, h, err)
		}
		return backend.FileInfo{}, fmt.Errorf("stat %s: %w", h, b.withHint(err))
	}
	return backend.FileInfo{Name: h.Name, Size: info.Size}, nil
}

// confirmMissing asks again with a GET after a HEAD found nothing, and
// returns the GET's error if it tells of bad credentials, else notFound.
func (b *Backend) confirmMissing(ctx context.Context, h backend.Handle, notFound error) error {
	var opts minio.GetObjectOptions
	opts.SetRange(0, 0)
	body, _, _, err := minio.Core{Client: b.client}.GetObject(ctx, b.cfg.Bucket, b.key(h), opts)
	if err == nil {
		body.Close()
		return notFound
	}
	if err = mapErr(err); errors.Is(err, backend.ErrAccessDenied) {
		return err
	}
	return notFound
}

// List implements backend.Backend with paginated ListObjectsV2 requests
// (1000 keys a page); keys that do not name a valid object of type t (such
// as folder markers) are skipped.
func (b *Backend) List(ctx context.Context, t backend.FileType, fn func(backend.FileInfo) error) error {
	if t == backend.ConfigFile {
		return objectstore.ListConfig(ctx, b.Stat, fn)
	}
	if err := (backend.Handle{Type: t, Name: "x"}).Valid(); err != nil {
		return err
	}
	ctx, cancel := context.WithCancel(withListGuard(ctx))
	defer cancel()
	dir := b.prefix + string(t) + "/"
	fetchOwner := false
	opts := minio.ListObjectsOptions{Prefix: dir, Recursive: true, FetchOwner: &fetchOwner}
	for obj := range b.client.ListObjectsIter(ctx, b.cfg.Bucket, opts) {
		if obj.Err != nil {
			if err := ctx.Err(); err != nil {
				return err
			}
			if errors.Is(obj.Err, objectstore.ErrListLoop) {
				return fmt.Errorf("list %s: %w", t, objectstore.ErrListLoop)
			}
			return fmt.Errorf("list %s: %w", t, b.withHint(mapErr(obj.Err)))
		}
		name, ok := objectstore.ObjectName(t, strings.TrimPrefix(obj.Key, dir))
		if !ok {
			continue
		}
		if err := objectstore.ListedSize(obj.Key, obj.Size); err != nil {
			return fmt.Errorf("list %s: %w", t, err)
		}
		if err := fn(backend.FileInfo{Name: name, Size: obj.Size}); err != nil {
			return err
		}
	}
	return ctx.Err()
}

// Remove implements backend.Backend. S3 answers a DELETE of a missing key
// with success, so Remove first checks that the object exists (HEAD), to
// report backend.ErrNotFound as the contract asks. On a versioned bucket
// the DELETE adds a delete marker and older versions keep their space.
func (b *Backend) Remove(ctx context.Context, h backend.Handle) error {
	if _, err := b.Stat(ctx, h); err != nil {
		return fmt.Errorf("remove: %w", err)
	}
	err := b.client.RemoveObject(ctx, b.cfg.Bucket, b.key(h), minio.RemoveObjectOptions{})
	if err != nil {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		return fmt.Errorf("remove %s: %w", h, b.withHint(mapErr(err)))
	}
	return nil
}
