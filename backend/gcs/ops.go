package gcs

import (
	"context"
	"fmt"
	"io"
	"math"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"github.com/cairnbackup/cairn/backend"
	"github.com/cairnbackup/cairn/backend/objectstore"
)

// objectInfo is the part of an object resource the backend reads.
type objectInfo struct {
	Name string `json:"name"`
	Size int64  `json:"size,string"`
}

// Save implements backend.Backend: a resumable upload (a request to start
// it, then one per chunk) for objects larger than a chunk, one request
// otherwise, both streamed from rd. An object exists once its last byte is
// in; on any failure the upload is abandoned and no object is made.
func (b *Backend) Save(ctx context.Context, h backend.Handle, rd backend.RewindReader) error {
	size, err := objectstore.SaveSize(ctx, h, rd)
	if err != nil {
		return err
	}
	src := objectstore.NewSource(ctx, rd, size)
	var obj objectInfo
	if chunk := int64(b.cfg.chunkSize()); size > chunk {
		obj, err = b.c.uploadResumable(ctx, b.cfg.Bucket, b.name(h), src, size, chunk)
	} else {
		obj, err = b.c.uploadSimple(ctx, b.cfg.Bucket, b.name(h), src, size)
	}
	switch {
	case err != nil && ctx.Err() != nil:
		return fmt.Errorf("save %s: %w", h, ctx.Err())
	case err != nil && src.Err != nil:
		return fmt.Errorf("save %s: read source: %w", h, src.Err)
	case err != nil:
		return fmt.Errorf("save %s: %w", h, withHint(mapErr(err)))
	case obj.Size != size || src.N != size:
		return fmt.Errorf("save %s: stored an object of %d bytes from the %d bytes read", h, obj.Size, src.N)
	}
	return nil
}

// uploadSimple stores an object with one request (uploadType=media).
func (c *client) uploadSimple(ctx context.Context, bucket, name string, src io.Reader, size int64) (objectInfo, error) {
	resp, err := sendMedia(ctx, c.hc, http.MethodPost, c.uploadURL(bucket, name, "media"), src, size, nil, http.StatusOK)
	if err != nil {
		return objectInfo{}, err
	}
	defer resp.Body.Close()
	var obj objectInfo
	return obj, decode(resp, &obj)
}

// uploadResumable stores an object of size bytes in a resumable upload
// session, chunk bytes a request. The session's total is known from the
// start, so the server finishes the object with the last chunk and never
// earlier; a session left behind expires on its own after a week. The
// chunks go without the OAuth token: the session URI is the credential.
func (c *client) uploadResumable(ctx context.Context, bucket, name string, src io.Reader, size, chunk int64) (objectInfo, error) {
	session, err := c.startSession(ctx, bucket, name, size)
	if err != nil {
		return objectInfo{}, err
	}
	for off := int64(0); ; off += chunk {
		n := min(chunk, size-off)
		hdr := http.Header{"Content-Range": {fmt.Sprintf("bytes %d-%d/%d", off, off+n-1, size)}}
		if off+n == size { // the last chunk: the answer is the object
			resp, err := sendMedia(ctx, c.session, http.MethodPut, session, io.LimitReader(src, n), n, hdr,
				http.StatusOK, http.StatusCreated, http.StatusPermanentRedirect)
			if err != nil {
				return objectInfo{}, err
			}
			defer resp.Body.Close()
			if resp.StatusCode == http.StatusPermanentRedirect {
				return objectInfo{}, fmt.Errorf("%w: resumable upload: sent all %d bytes, the server holds %q and waits for more", backend.ErrTransient, size, resp.Header.Get("Range"))
			}
			var obj objectInfo
			return obj, decode(resp, &obj)
		}
		// 308, "resume incomplete", with the range the server holds.
		resp, err := sendMedia(ctx, c.session, http.MethodPut, session, io.LimitReader(src, n), n, hdr, http.StatusPermanentRedirect)
		if err != nil {
			return objectInfo{}, err
		}
		kept := resp.Header.Get("Range")
		io.Copy(io.Discard, io.LimitReader(resp.Body, maxErrorBody))
		resp.Body.Close()
		if kept != fmt.Sprintf("bytes=0-%d", off+n-1) {
			return objectInfo{}, fmt.Errorf("%w: resumable upload: sent bytes 0-%d, the server kept %q", backend.ErrTransient, off+n-1, kept)
		}
	}
}

// startSession starts a resumable upload and returns its session URI.
func (c *client) startSession(ctx context.Context, bucket, name string, size int64) (string, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, c.uploadURL(bucket, name, "resumable"),
		strings.NewReader(`{"contentType":"application/octet-stream"}`))
	if err != nil {
		return "", err
	}
	req.Header.Set("Content-Type", "application/json; charset=UTF-8")
	req.Header.Set("X-Upload-Content-Type", "application/octet-stream")
	req.Header.Set("X-Upload-Content-Length", strconv.FormatInt(size, 10))
	resp, err := c.send(req, http.StatusOK, http.StatusCreated)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	io.Copy(io.Discard, resp.Body)
	session := resp.Header.Get("Location")
	if u, err := url.Parse(session); session == "" || err != nil || (u.Scheme != "http" && u.Scheme != "https") {
		return "", fmt.Errorf("%w: resumable upload: the server answered without a session URI", backend.ErrTransient)
	}
	return session, nil
}

// sendMedia sends n bytes of src as a request's body through hc. The body
// is fenced: once sendMedia returns, src is not read again, whatever the
// transport still does with the request.
func sendMedia(ctx context.Context, hc *http.Client, method, u string, src io.Reader, n int64, hdr http.Header, ok ...int) (*http.Response, error) {
	var body io.ReadCloser = http.NoBody
	if n > 0 {
		fence := &fencedBody{r: src}
		defer fence.Close()
		body = fence
	}
	req, err := http.NewRequestWithContext(ctx, method, u, body)
	if err != nil {
		return nil, err
	}
	req.ContentLength = n
	for k, v := range hdr {
		req.Header[k] = v
	}
	req.Header.Set("Content-Type", "application/octet-stream")
	return sendWith(hc, req, ok...)
}

// Load implements backend.Backend with one (ranged) GET of the object's
// bytes. The reader passed to fn yields exactly the requested bytes; a
// body cut short by the network fails with an error wrapping
// backend.ErrTransient.
func (b *Backend) Load(ctx context.Context, h backend.Handle, length int, offset int64, fn func(io.Reader) error) error {
	if err := objectstore.CheckLoad(ctx, h, length, offset); err != nil {
		return err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, b.c.objectURL(b.cfg.Bucket, b.name(h))+"?alt=media", nil)
	if err != nil {
		return fmt.Errorf("load %s: %w", h, err)
	}
	switch {
	case length > 0:
		req.Header.Set("Range", fmt.Sprintf("bytes=%d-%d", offset, offset+int64(length)-1))
	case offset > 0:
		req.Header.Set("Range", fmt.Sprintf("bytes=%d-", offset))
	}
	resp, err := b.c.send(req, http.StatusOK, http.StatusPartialContent)
	if err != nil {
		return b.loadFailed(ctx, h, length, offset, fn, err)
	}
	defer resp.Body.Close()
	if offset > 0 && resp.StatusCode == http.StatusOK {
		return fmt.Errorf("load %s: %w: asked for bytes from %d, the server sent the whole object", h, backend.ErrCorrupt, offset)
	}
	if resp.ContentLength < 0 && length == 0 { // no Content-Length: trust the body's end
		return fn(&objectstore.Body{Ctx: ctx, R: resp.Body, Left: math.MaxInt64, Handle: h, MapErr: mapErr, Unsized: true})
	}
	if resp.ContentLength < 0 { // the range asked for, and not a byte more
		if err := fn(&objectstore.Body{Ctx: ctx, R: resp.Body, Left: int64(length), Handle: h, MapErr: mapErr}); err != nil {
			return err
		}
		if n, _ := io.CopyN(io.Discard, resp.Body, 1); n > 0 {
			return fmt.Errorf("load %s: %w: asked for %d bytes at %d, the server sent more", h, backend.ErrCorrupt, length, offset)
		}
		return nil
	}
	if err := objectstore.CheckLength(h, length, offset, resp.ContentLength); err != nil {
		return err
	}
	return fn(&objectstore.Body{Ctx: ctx, R: resp.Body, Left: resp.ContentLength, Handle: h, MapErr: mapErr})
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
	var obj objectInfo
	if err := b.c.call(ctx, http.MethodGet, b.c.objectURL(b.cfg.Bucket, b.name(h))+"?fields=name,size", nil, &obj); err != nil {
		if ctx.Err() != nil {
			return backend.FileInfo{}, ctx.Err()
		}
		return backend.FileInfo{}, fmt.Errorf("stat %s: %w", h, withHint(mapErr(err)))
	}
	if obj.Size < 0 {
		return backend.FileInfo{}, fmt.Errorf("stat %s: %w: the server gives a size of %d", h, backend.ErrCorrupt, obj.Size)
	}
	return backend.FileInfo{Name: h.Name, Size: obj.Size}, nil
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
	var fnErr error // fn's own, returned as it is
	err := b.c.list(ctx, b.cfg.Bucket, url.Values{"prefix": {dir}}, 0, func(p listPage) error {
		for _, o := range p.Items {
			name, ok := objectstore.ObjectName(t, strings.TrimPrefix(o.Name, dir))
			if !ok {
				continue
			}
			if fnErr = fn(backend.FileInfo{Name: name, Size: o.Size}); fnErr != nil {
				return fnErr
			}
		}
		return nil
	})
	switch {
	case fnErr != nil:
		return fnErr
	case err != nil && ctx.Err() != nil:
		return ctx.Err()
	case err != nil:
		return fmt.Errorf("list %s: %w", t, withHint(mapErr(err)))
	}
	return ctx.Err()
}

// listPage is one page of a listing.
type listPage struct {
	Items         []objectInfo `json:"items"`
	Prefixes      []string     `json:"prefixes"`
	NextPageToken string       `json:"nextPageToken"`
}

// list fetches the pages of a listing with the query q (prefix,
// delimiter) and hands each to fn, stopping at fn's error; pageSize > 0
// asks for pages of at most that many entries (default 1000).
func (c *client) list(ctx context.Context, bucket string, q url.Values, pageSize int, fn func(listPage) error) error {
	q.Set("fields", "items(name,size),prefixes,nextPageToken")
	if pageSize > 0 {
		q.Set("maxResults", strconv.Itoa(pageSize))
	}
	var tokens objectstore.PageTokens
	for {
		var p listPage
		if err := c.call(ctx, http.MethodGet, c.objectsURL(bucket)+"?"+q.Encode(), nil, &p); err != nil {
			return err
		}
		for _, o := range p.Items {
			if err := objectstore.ListedSize(o.Name, o.Size); err != nil {
				return err
			}
		}
		if err := fn(p); err != nil {
			return err
		}
		if p.NextPageToken == "" {
			return nil
		}
		if err := tokens.Follow(p.NextPageToken); err != nil {
			return err
		}
		q.Set("pageToken", p.NextPageToken)
	}
}

// Remove implements backend.Backend with one DELETE, which answers 404 for
// a missing object. With soft delete on (the default for new buckets), the
// object is kept, and billed, for the bucket's retention period.
func (b *Backend) Remove(ctx context.Context, h backend.Handle) error {
	if err := h.Valid(); err != nil {
		return err
	}
	if err := b.c.call(ctx, http.MethodDelete, b.c.objectURL(b.cfg.Bucket, b.name(h)), nil, nil); err != nil {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		return fmt.Errorf("remove %s: %w", h, withHint(mapErr(err)))
	}
	return nil
}
