package azure

import (
	"context"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
	"time"

	"github.com/cairnbackup/cairn/backend"
	"github.com/cairnbackup/cairn/backend/counted"
	"github.com/cairnbackup/cairn/backend/retry"
)

// TestThrottlingIsRetriedAndCounted serves two 503 ServerBusy answers
// before a good one: retry waits them out, and the counters show them.
func TestThrottlingIsRetriedAndCounted(t *testing.T) {
	var calls atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if calls.Add(1) <= 2 {
			w.Header().Set("x-ms-error-code", "ServerBusy")
			w.WriteHeader(http.StatusServiceUnavailable)
			return
		}
		w.Header().Set("Content-Length", "3")
		w.WriteHeader(http.StatusOK)
	}))
	defer srv.Close()
	be, err := newBackend(Config{Account: "acct", Container: "c01", Endpoint: srv.URL + "/acct", AccountKey: "a2V5"}, func(string) string { return "" })
	if err != nil {
		t.Fatal(err)
	}
	defer be.Close()
	cb := counted.New(be)
	stack := retry.New(cb, retry.Options{BaseDelay: time.Millisecond})
	fi, err := stack.Stat(context.Background(), backend.Handle{Type: backend.ConfigFile})
	if err != nil || fi.Size != 3 {
		t.Fatalf("stat through two throttling answers: %+v, %v", fi, err)
	}
	if s := cb.Stats(); s.Throttled != 2 || be.Requests().Head != 3 {
		t.Errorf("counted %+v and %+v, want 2 throttled of 3 HEAD requests", s, be.Requests())
	}
}
