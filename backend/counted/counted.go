// Package counted is a backend decorator that counts requests by class and
// bytes moved, for cost reports and tests:
//
//	PUT = Save, GET = Load, HEAD = Stat, LIST = List, DELETE = Remove
//
// Every call counts, failed ones too. Bytes up are the bytes the wrapped
// backend read from Save's sources; bytes down are the bytes Load's callers
// read. Stacked directly on a store (below backend/retry) it counts each
// attempt, which is what the store bills; above retry it counts logical
// operations. A backend's own finer counts (an S3 List is one request per
// page of 1000 keys, an S3 Remove is a HEAD and a DELETE) are not seen here,
// except list pages and throttling answers, which Stats reports when a
// backend below offers them (see PageCounter and ThrottleCounter).
package counted

import (
	"context"
	"fmt"
	"io"
	"sync/atomic"

	"github.com/cairnbackup/cairn/backend"
)

// PageCounter is implemented by backends that list in pages (backend/s3),
// so that Stats can report the number of pages fetched.
type PageCounter interface {
	ListPages() int64
}

// ThrottleCounter is implemented by backends that count the answers that
// asked them to slow down (HTTP 429 and 503 from S3, Azure and GCS), which
// backend/retry retries with backoff.
type ThrottleCounter interface {
	Throttled() int64
}

// Stats are request and byte counts.
type Stats struct {
	Put       int64 `json:"put"`
	Get       int64 `json:"get"`
	Head      int64 `json:"head"`
	List      int64 `json:"list"`
	Delete    int64 `json:"delete"`
	BytesUp   int64 `json:"bytes_up"`
	BytesDown int64 `json:"bytes_down"`
	// ListPages is the number of listing pages fetched by the backend
	// below, when it is a PageCounter; it counts since that backend was
	// made, not since the decorator was.
	ListPages int64 `json:"list_pages,omitempty"`
	// Throttled is the number of throttling answers the backend below
	// received (each was retried), when it is a ThrottleCounter; it counts
	// since that backend was made.
	Throttled int64 `json:"throttled,omitempty"`
}

// Requests returns the total number of requests counted.
func (s Stats) Requests() int64 { return s.Put + s.Get + s.Head + s.List + s.Delete }

// Sub returns the counts accumulated since an earlier snapshot.
func (s Stats) Sub(earlier Stats) Stats {
	return Stats{
		Put: s.Put - earlier.Put, Get: s.Get - earlier.Get, Head: s.Head - earlier.Head,
		List: s.List - earlier.List, Delete: s.Delete - earlier.Delete,
		BytesUp: s.BytesUp - earlier.BytesUp, BytesDown: s.BytesDown - earlier.BytesDown,
		ListPages: s.ListPages - earlier.ListPages, Throttled: s.Throttled - earlier.Throttled,
	}
}

// String summarises the counts for people:
// "12 PUT, 3 GET, 0 HEAD, 1 LIST, 0 DELETE, 4.2 MiB up, 1.1 MiB down".
func (s Stats) String() string {
	list := fmt.Sprintf("%d LIST", s.List)
	if s.ListPages > 0 {
		list += fmt.Sprintf(" (%d pages)", s.ListPages)
	}
	out := fmt.Sprintf("%d PUT, %d GET, %d HEAD, %s, %d DELETE, %s up, %s down",
		s.Put, s.Get, s.Head, list, s.Delete, FormatBytes(s.BytesUp), FormatBytes(s.BytesDown))
	if s.Throttled > 0 {
		out += fmt.Sprintf(", %d throttled (retried)", s.Throttled)
	}
	return out
}

// FormatBytes renders a byte count with binary units and one decimal:
// "512 B", "4.2 MiB".
func FormatBytes(n int64) string {
	if n < 1024 && n > -1024 {
		return fmt.Sprintf("%d B", n)
	}
	v := float64(n) / 1024
	unit := 0
	units := []string{"KiB", "MiB", "GiB", "TiB", "PiB", "EiB"}
	for (v >= 1024 || v <= -1024) && unit < len(units)-1 {
		v /= 1024
		unit++
	}
	return fmt.Sprintf("%.1f %s", v, units[unit])
}

// Backend counts the calls to the backend it wraps. It is safe for
// concurrent use.
type Backend struct {
	backend.Backend
	put, get, head, list, del, up, down atomic.Int64
}

var (
	_ backend.Backend   = (*Backend)(nil)
	_ backend.Unwrapper = (*Backend)(nil)
	_ backend.Stager    = (*Backend)(nil)
)

// New wraps be with zeroed counters.
func New(be backend.Backend) *Backend { return &Backend{Backend: be} }

// Unwrap implements backend.Unwrapper.
func (b *Backend) Unwrap() backend.Backend { return b.Backend }

// Stats returns a snapshot of the counters.
func (b *Backend) Stats() Stats {
	s := Stats{
		Put: b.put.Load(), Get: b.get.Load(), Head: b.head.Load(), List: b.list.Load(),
		Delete: b.del.Load(), BytesUp: b.up.Load(), BytesDown: b.down.Load(),
	}
	if pc, ok := find[PageCounter](b.Backend); ok {
		s.ListPages = pc.ListPages()
	}
	if tc, ok := find[ThrottleCounter](b.Backend); ok {
		s.Throttled = tc.Throttled()
	}
	return s
}

// Add returns the sum of two counts.
func (s Stats) Add(o Stats) Stats {
	return Stats{
		Put: s.Put + o.Put, Get: s.Get + o.Get, Head: s.Head + o.Head, List: s.List + o.List,
		Delete: s.Delete + o.Delete, BytesUp: s.BytesUp + o.BytesUp, BytesDown: s.BytesDown + o.BytesDown,
		ListPages: s.ListPages + o.ListPages, Throttled: s.Throttled + o.Throttled,
	}
}

// find looks for a backend implementing T down the chain of decorators.
func find[T any](be backend.Backend) (T, bool) {
	for be != nil {
		if v, ok := be.(T); ok {
			return v, true
		}
		u, ok := be.(backend.Unwrapper)
		if !ok {
			break
		}
		be = u.Unwrap()
	}
	var zero T
	return zero, false
}

// Save implements backend.Backend.
func (b *Backend) Save(ctx context.Context, h backend.Handle, rd backend.RewindReader) error {
	b.put.Add(1)
	return b.Backend.Save(ctx, h, &countingSource{RewindReader: rd, n: &b.up})
}

// Load implements backend.Backend.
func (b *Backend) Load(ctx context.Context, h backend.Handle, length int, offset int64, fn func(io.Reader) error) error {
	b.get.Add(1)
	return b.Backend.Load(ctx, h, length, offset, func(rd io.Reader) error {
		return fn(&countingReader{r: rd, n: &b.down})
	})
}

// Stat implements backend.Backend.
func (b *Backend) Stat(ctx context.Context, h backend.Handle) (backend.FileInfo, error) {
	b.head.Add(1)
	return b.Backend.Stat(ctx, h)
}

// List implements backend.Backend.
func (b *Backend) List(ctx context.Context, t backend.FileType, fn func(backend.FileInfo) error) error {
	b.list.Add(1)
	return b.Backend.List(ctx, t, fn)
}

// Remove implements backend.Backend.
func (b *Backend) Remove(ctx context.Context, h backend.Handle) error {
	b.del.Add(1)
	return b.Backend.Remove(ctx, h)
}

type countingReader struct {
	r io.Reader
	n *atomic.Int64
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n.Add(int64(n))
	return n, err
}

// countingSource counts the bytes read from a Save source.
type countingSource struct {
	backend.RewindReader
	n *atomic.Int64
}

func (c *countingSource) Read(p []byte) (int, error) {
	n, err := c.RewindReader.Read(p)
	c.n.Add(int64(n))
	return n, err
}

// Stage implements backend.Stager when the wrapped backend does: bytes
// written count as bytes up, and a commit as one PUT.
func (b *Backend) Stage(ctx context.Context, t backend.FileType) (backend.Staged, error) {
	s, err := backend.StageIn(ctx, b.Backend, t)
	if err != nil {
		return nil, err
	}
	return &countingStaged{Staged: s, b: b}, nil
}

type countingStaged struct {
	backend.Staged
	b *Backend
}

func (c *countingStaged) Write(p []byte) (int, error) {
	n, err := c.Staged.Write(p)
	c.b.up.Add(int64(n))
	return n, err
}

func (c *countingStaged) Commit(ctx context.Context, name string) error {
	c.b.put.Add(1)
	return c.Staged.Commit(ctx, name)
}
