package s3

import (
	"context"
	"errors"
	"net/http"
	"sync"
)

// errListLoop is returned when a server answers a listing page with a
// continuation token it has already given in the same listing: following
// it would list the same pages again, forever.
var errListLoop = errors.New("s3: the server repeated a listing continuation token (the listing would never end)")

// listTokens are the continuation tokens sent so far in one listing.
type listTokens struct {
	mu   sync.Mutex
	seen map[string]bool
}

type listTokensKey struct{}

// withListGuard returns a context under which listing requests that repeat
// a continuation token fail with errListLoop.
func withListGuard(ctx context.Context) context.Context {
	return context.WithValue(ctx, listTokensKey{}, &listTokens{seen: map[string]bool{}})
}

// listGuard is the transport that enforces withListGuard. minio-go follows
// continuation tokens without looking at them; this is where a listing
// that loops can be seen.
type listGuard struct{ next http.RoundTripper }

// RoundTrip implements http.RoundTripper.
func (g *listGuard) RoundTrip(req *http.Request) (*http.Response, error) {
	if lt, ok := req.Context().Value(listTokensKey{}).(*listTokens); ok && isList(req) {
		if tok := req.URL.Query().Get("continuation-token"); tok != "" {
			lt.mu.Lock()
			again := lt.seen[tok]
			lt.seen[tok] = true
			lt.mu.Unlock()
			if again {
				return nil, errListLoop
			}
		}
	}
	return g.next.RoundTrip(req)
}
