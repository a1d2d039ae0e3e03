package objectstore

import (
	"net/http"
	"sync/atomic"
)

// Requests counts HTTP requests by method. ListPages counts the requests
// that fetched a page of a listing (they are included in Get too), and
// Throttled the answers that asked to slow down (HTTP 429 and 503), which
// backend/retry retries.
type Requests struct {
	Get       int64 `json:"get"`
	Put       int64 `json:"put"`
	Post      int64 `json:"post"`
	Head      int64 `json:"head"`
	Delete    int64 `json:"delete"`
	ListPages int64 `json:"list_pages"`
	Throttled int64 `json:"throttled"`
}

// Counter counts requests; it is safe for concurrent use.
type Counter struct {
	get, put, post, head, del, listPages, throttled atomic.Int64
}

// Snapshot returns the counts so far.
func (c *Counter) Snapshot() Requests {
	return Requests{Get: c.get.Load(), Put: c.put.Load(), Post: c.post.Load(), Head: c.head.Load(),
		Delete: c.del.Load(), ListPages: c.listPages.Load(), Throttled: c.throttled.Load()}
}

// ListPages returns the number of listing pages fetched so far.
func (c *Counter) ListPages() int64 { return c.listPages.Load() }

// Throttled returns the number of throttling answers so far.
func (c *Counter) Throttled() int64 { return c.throttled.Load() }

// Transport counts the requests it hands to Next. IsList tells listing
// requests apart (nil: none are).
type Transport struct {
	Next   http.RoundTripper
	Counts *Counter
	IsList func(*http.Request) bool
}

// RoundTrip implements http.RoundTripper.
func (t *Transport) RoundTrip(req *http.Request) (*http.Response, error) {
	c := t.Counts
	switch req.Method {
	case http.MethodGet:
		c.get.Add(1)
		if t.IsList != nil && t.IsList(req) {
			c.listPages.Add(1)
		}
	case http.MethodPut:
		c.put.Add(1)
	case http.MethodPost:
		c.post.Add(1)
	case http.MethodHead:
		c.head.Add(1)
	case http.MethodDelete:
		c.del.Add(1)
	}
	resp, err := t.Next.RoundTrip(req)
	if err == nil && (resp.StatusCode == http.StatusTooManyRequests || resp.StatusCode == http.StatusServiceUnavailable) {
		c.throttled.Add(1)
	}
	return resp, err
}
