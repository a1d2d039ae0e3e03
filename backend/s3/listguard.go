package s3

import (
	"context"
	"net/http"

	"github.com/cairnbackup/cairn/backend/objectstore"
)

type listTokensKey struct{}

// withListGuard returns a context under which listing requests that repeat
// a continuation token fail with objectstore.ErrListLoop.
func withListGuard(ctx context.Context) context.Context {
	return context.WithValue(ctx, listTokensKey{}, &objectstore.PageTokens{})
}

// listGuard is the transport that enforces withListGuard. minio-go follows
// continuation tokens without looking at them; this is where a listing
// that loops can be seen.
type listGuard struct{ next http.RoundTripper }

// RoundTrip implements http.RoundTripper.
func (g *listGuard) RoundTrip(req *http.Request) (*http.Response, error) {
	if lt, ok := req.Context().Value(listTokensKey{}).(*objectstore.PageTokens); ok && isList(req) {
		if err := lt.Follow(req.URL.Query().Get("continuation-token")); err != nil {
			return nil, err
		}
	}
	return g.next.RoundTrip(req)
}
