package gcs

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"golang.org/x/oauth2"

	"github.com/cairnbackup/cairn/backend"
	"github.com/cairnbackup/cairn/backend/counted"
	"github.com/cairnbackup/cairn/backend/retry"
)

// TestMapErr checks the classification of errors as the client reports
// them (the live tests cover what the emulator really answers).
func TestMapErr(t *testing.T) {
	api := func(code int, reason string) error {
		e := &apiError{Code: code, Message: "the server's words"}
		if reason != "" {
			e.Reasons = []string{reason}
		}
		return fmt.Errorf("wrapped: %w", e)
	}
	urlErr := func(err error) error { return &url.Error{Op: "Get", URL: "http://h/b", Err: err} }
	cases := []struct {
		err  error
		want error // nil: no sentinel
	}{
		{api(404, "notFound"), backend.ErrNotFound},
		{api(403, "forbidden"), backend.ErrAccessDenied},
		{api(401, "required"), backend.ErrAccessDenied},
		{api(403, "rateLimitExceeded"), backend.ErrTransient},
		{api(429, "rateLimitExceeded"), backend.ErrTransient},
		{api(429, ""), backend.ErrTransient},
		{api(503, "backendError"), backend.ErrTransient},
		{api(500, ""), backend.ErrTransient},
		{api(403, "quotaExceeded"), backend.ErrNoSpace},
		{api(413, ""), backend.ErrNoSpace},
		{api(416, "requestedRangeNotSatisfiable"), backend.ErrShortRead},
		{api(400, "invalid"), nil},
		{api(412, "conditionNotMet"), nil},
		{&oauth2.RetrieveError{Response: &http.Response{StatusCode: 400}, ErrorCode: "invalid_grant"}, backend.ErrAccessDenied},
		{&oauth2.RetrieveError{Response: &http.Response{StatusCode: 503}}, backend.ErrTransient},
		{&oauth2.RetrieveError{Response: &http.Response{StatusCode: 429}}, backend.ErrTransient},
		{urlErr(&net.OpError{Op: "dial", Net: "tcp", Err: os.NewSyscallError("connect", syscall.ECONNREFUSED)}), backend.ErrTransient},
		{urlErr(io.ErrUnexpectedEOF), backend.ErrTransient},
		{urlErr(&net.DNSError{Err: "no such host", Name: "nope", IsNotFound: true}), nil},
	}
	sentinels := []error{backend.ErrNotFound, backend.ErrAccessDenied, backend.ErrTransient, backend.ErrNoSpace, backend.ErrShortRead}
	for _, c := range cases {
		got := mapErr(c.err)
		for _, s := range sentinels {
			if errors.Is(got, s) != (s == c.want) {
				t.Errorf("%v: mapped to %q; errors.Is(%v) = %v", c.err, got, s, !(s == c.want))
			}
		}
		var aerr *apiError
		if errors.As(c.err, &aerr) && !strings.Contains(got.Error(), fmt.Sprintf("HTTP %d", aerr.Code)) {
			t.Errorf("%q lost the provider's status", got)
		}
	}
	for _, err := range []error{context.Canceled, fmt.Errorf("x: %w", context.DeadlineExceeded)} {
		if got := mapErr(err); got != err {
			t.Errorf("context error %v changed to %v", err, got)
		}
	}
}

// TestThrottlingIsRetriedAndCounted serves two 429 answers before a good
// one: retry waits them out, and the counters show them.
func TestThrottlingIsRetriedAndCounted(t *testing.T) {
	var calls atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if calls.Add(1) <= 2 {
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(http.StatusTooManyRequests)
			fmt.Fprint(w, `{"error":{"code":429,"message":"slow down","errors":[{"reason":"rateLimitExceeded"}]}}`)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		fmt.Fprint(w, `{"bucket":"b01","name":"config","size":"3"}`)
	}))
	defer srv.Close()
	t.Setenv(envEmulator, strings.TrimPrefix(srv.URL, "http://"))
	be, err := newBackend(context.Background(), Config{Bucket: "b01"}, os.Getenv)
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
	if s := cb.Stats(); s.Throttled != 2 || be.Requests().Get != 3 {
		t.Errorf("counted %+v and %+v, want 2 throttled of 3 GET requests", s, be.Requests())
	}
}
