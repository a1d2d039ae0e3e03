package azure

import (
	"context"
	"fmt"
	"io"
	"strings"

	"github.com/Azure/azure-sdk-for-go/sdk/storage/azblob/blob"
	"github.com/Azure/azure-sdk-for-go/sdk/storage/azblob/blockblob"
	"github.com/Azure/azure-sdk-for-go/sdk/storage/azblob/container"

	"github.com/cairnbackup/cairn/backend"
	"github.com/cairnbackup/cairn/backend/objectstore"
)

func (b *Backend) key(h backend.Handle) string { return b.prefix + backend.Path(h) }

var contentType = "application/octet-stream"

// Save implements backend.Backend: one Put Blob streamed from rd, or for
// an object larger than SingleMax, blocks and a block list. The source is
// read through Read only, so cancelling ctx stops the upload at the next
// read.
func (b *Backend) Save(ctx context.Context, h backend.Handle, rd backend.RewindReader) error {
	size, err := objectstore.SaveSize(ctx, h, rd)
	if err != nil {
		return err
	}
	body := &seekableSource{ctx: ctx, rd: rd, size: size, src: objectstore.NewSource(ctx, rd, size)}
	bb := b.client.NewBlockBlobClient(b.key(h))
	headers := &blob.HTTPHeaders{BlobContentType: &contentType}
	if size > b.cfg.singleMax() {
		_, err = bb.UploadStream(ctx, body, &blockblob.UploadStreamOptions{
			BlockSize: b.cfg.blockSize(), Concurrency: b.cfg.concurrency(), HTTPHeaders: headers,
		})
	} else {
		_, err = bb.Upload(ctx, body, &blockblob.UploadOptions{HTTPHeaders: headers})
	}
	switch {
	case err != nil && ctx.Err() != nil:
		return fmt.Errorf("save %s: %w", h, ctx.Err())
	case err != nil && body.src.Err != nil:
		return fmt.Errorf("save %s: read source: %w", h, body.src.Err)
	case err != nil:
		return fmt.Errorf("save %s: %w", h, b.withHint(mapErr(err)))
	case body.src.N != size:
		return fmt.Errorf("save %s: read %d bytes, source says %d", h, body.src.N, size)
	}
	return nil
}

// seekableSource lends the SDK an upload source as the io.ReadSeekCloser
// it asks for. The SDK only measures it (seek to the end and back) and
// rewinds it, which RewindReader can do without a copy in memory.
type seekableSource struct {
	ctx   context.Context
	rd    backend.RewindReader
	size  int64
	src   *objectstore.Source
	atEnd bool // after Seek(0, io.SeekEnd)
}

func (s *seekableSource) Read(p []byte) (int, error) {
	if s.atEnd {
		return 0, io.EOF
	}
	return s.src.Read(p)
}

func (s *seekableSource) Seek(offset int64, whence int) (int64, error) {
	switch {
	case offset == 0 && whence == io.SeekStart:
		if err := s.rd.Rewind(); err != nil {
			return 0, err
		}
		s.src, s.atEnd = objectstore.NewSource(s.ctx, s.rd, s.size), false
		return 0, nil
	case offset == 0 && whence == io.SeekEnd:
		s.atEnd = true
		return s.size, nil
	case offset == 0 && whence == io.SeekCurrent:
		if s.atEnd {
			return s.size, nil
		}
		return s.src.N, nil
	}
	return 0, fmt.Errorf("azure: upload source cannot seek to %d (whence %d)", offset, whence)
}

func (s *seekableSource) Close() error { return nil }

// Load implements backend.Backend with one (ranged) GET. The reader passed
// to fn yields exactly the requested bytes; a body cut short by the network
// fails with an error wrapping backend.ErrTransient.
func (b *Backend) Load(ctx context.Context, h backend.Handle, length int, offset int64, fn func(io.Reader) error) error {
	if err := objectstore.CheckLoad(ctx, h, length, offset); err != nil {
		return err
	}
	resp, err := b.client.NewBlobClient(b.key(h)).DownloadStream(ctx, &blob.DownloadStreamOptions{
		Range: blob.HTTPRange{Offset: offset, Count: int64(length)},
	})
	if err != nil {
		return b.loadFailed(ctx, h, length, offset, fn, err)
	}
	defer resp.Body.Close()
	if resp.ContentLength == nil {
		return fmt.Errorf("load %s: %w: the answer has no length", h, backend.ErrTransient)
	}
	n := *resp.ContentLength
	if err := objectstore.CheckLength(h, length, offset, n); err != nil {
		return err
	}
	return fn(&objectstore.Body{Ctx: ctx, R: resp.Body, Left: n, Handle: h, MapErr: mapErr})
}

// loadFailed maps a failed GET; see objectstore.ReadFailed.
func (b *Backend) loadFailed(ctx context.Context, h backend.Handle, length int, offset int64, fn func(io.Reader) error, err error) error {
	if ctx.Err() != nil {
		return ctx.Err()
	}
	return objectstore.ReadFailed(ctx, b.Stat, h, length, offset, fn, b.withHint(mapErr(err)))
}

// Stat implements backend.Backend with a HEAD request (Get Blob
// Properties). Azure names the reason of a failed HEAD in its
// x-ms-error-code header, so a missing blob and refused credentials are
// told apart.
func (b *Backend) Stat(ctx context.Context, h backend.Handle) (backend.FileInfo, error) {
	if err := h.Valid(); err != nil {
		return backend.FileInfo{}, err
	}
	props, err := b.client.NewBlobClient(b.key(h)).GetProperties(ctx, nil)
	if err != nil {
		if ctx.Err() != nil {
			return backend.FileInfo{}, ctx.Err()
		}
		return backend.FileInfo{}, fmt.Errorf("stat %s: %w", h, b.withHint(mapErr(err)))
	}
	if props.ContentLength == nil {
		return backend.FileInfo{}, fmt.Errorf("stat %s: %w: the answer has no length", h, backend.ErrTransient)
	}
	return backend.FileInfo{Name: h.Name, Size: *props.ContentLength}, nil
}

// List implements backend.Backend with paginated List Blobs requests (up
// to 5000 names a page). Uncommitted blocks are never listed; names that
// do not name a valid object of type t are skipped.
func (b *Backend) List(ctx context.Context, t backend.FileType, fn func(backend.FileInfo) error) error {
	if t == backend.ConfigFile {
		return objectstore.ListConfig(ctx, b.Stat, fn)
	}
	if err := (backend.Handle{Type: t, Name: "x"}).Valid(); err != nil {
		return err
	}
	dir := b.prefix + string(t) + "/"
	pager := b.client.NewListBlobsFlatPager(&container.ListBlobsFlatOptions{Prefix: &dir})
	var markers objectstore.PageTokens
	for pager.More() {
		page, err := pager.NextPage(ctx)
		if err != nil {
			if ctx.Err() != nil {
				return ctx.Err()
			}
			return fmt.Errorf("list %s: %w", t, b.withHint(mapErr(err)))
		}
		if m := page.NextMarker; m != nil {
			if err := markers.Follow(*m); err != nil {
				return fmt.Errorf("list %s: %w", t, err)
			}
		}
		for _, it := range page.Segment.BlobItems {
			if it.Name == nil || it.Properties == nil || it.Properties.ContentLength == nil {
				continue
			}
			if err := objectstore.ListedSize(*it.Name, *it.Properties.ContentLength); err != nil {
				return fmt.Errorf("list %s: %w", t, err)
			}
			name, ok := objectstore.ObjectName(t, strings.TrimPrefix(*it.Name, dir))
			if !ok {
				continue
			}
			if err := fn(backend.FileInfo{Name: name, Size: *it.Properties.ContentLength}); err != nil {
				return err
			}
		}
	}
	return ctx.Err()
}

// Remove implements backend.Backend with one Delete Blob request, which
// answers BlobNotFound for a missing blob. With soft delete on, the blob
// is kept (and billed) for the container's retention period.
func (b *Backend) Remove(ctx context.Context, h backend.Handle) error {
	if err := h.Valid(); err != nil {
		return err
	}
	_, err := b.client.NewBlobClient(b.key(h)).Delete(ctx, nil)
	if err != nil {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		return fmt.Errorf("remove %s: %w", h, b.withHint(mapErr(err)))
	}
	return nil
}
