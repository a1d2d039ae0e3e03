package storetest

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/cairnbackup/cairn/backend"
)

// HostileHandle is the object the hostile-server tests ask for.
var HostileHandle = backend.Handle{Type: backend.PackFile, Name: strings.Repeat("ab", 32)}

// HostileCase is a server that misbehaves when asked for 100 bytes at
// offset 10 of HostileHandle.
type HostileCase struct {
	Name    string
	Handler http.HandlerFunc
	Want    error // nil: any error will do
}

// hostileRange is what the servers send where they send the range asked
// for at all; other bytes ("y", "z") stand for the wrong ones.
var hostileRange = bytes.Repeat([]byte("x"), 100)

// HostileServer returns a backend that sends every request to h (a local
// server the caller starts and stops).
type HostileServer func(t *testing.T, h http.HandlerFunc) backend.Backend

// HostileLoadCases are the misbehaviours every object store's client must
// turn into a clear error: garbage, short and long bodies, cut
// connections, redirects without end.
func HostileLoadCases() []HostileCase {
	data := hostileRange
	return []HostileCase{
		{"garbage instead of an error document", func(w http.ResponseWriter, r *http.Request) {
			w.WriteHeader(http.StatusInternalServerError)
			w.Write([]byte("\x00\xff<<not a document at all"))
		}, backend.ErrTransient},
		{"garbage status", func(w http.ResponseWriter, r *http.Request) {
			w.WriteHeader(299)
			w.Write([]byte("what"))
		}, nil},
		{"fewer bytes than asked", func(w http.ResponseWriter, r *http.Request) {
			objectHeaders(w)
			w.Header().Set("Content-Length", "7")
			w.Header().Set("Content-Range", "bytes 10-16/17")
			w.WriteHeader(http.StatusPartialContent)
			w.Write([]byte("garbage"))
		}, backend.ErrShortRead},
		{"more bytes than asked", func(w http.ResponseWriter, r *http.Request) {
			objectHeaders(w)
			w.Header().Set("Content-Length", "200")
			w.WriteHeader(http.StatusPartialContent)
			w.Write(bytes.Repeat([]byte("y"), 200))
		}, backend.ErrCorrupt},
		{"whole object instead of the range", func(w http.ResponseWriter, r *http.Request) {
			objectHeaders(w)
			w.Header().Set("Content-Length", "1000")
			w.WriteHeader(http.StatusOK)
			w.Write(bytes.Repeat([]byte("z"), 1000))
		}, backend.ErrCorrupt},
		{"body cut short of its length", func(w http.ResponseWriter, r *http.Request) {
			objectHeaders(w)
			w.Header().Set("Content-Length", "100")
			w.WriteHeader(http.StatusPartialContent)
			w.Write(data[:40])
			hijackClose(w)
		}, backend.ErrTransient},
		{"no length and a body cut short", func(w http.ResponseWriter, r *http.Request) {
			objectHeaders(w)
			w.WriteHeader(http.StatusPartialContent)
			w.Write(data[:40])
			w.(http.Flusher).Flush()
			hijackClose(w)
		}, nil},
		{"no length and a body too long", func(w http.ResponseWriter, r *http.Request) {
			objectHeaders(w)
			w.WriteHeader(http.StatusPartialContent)
			w.Write(data)
			w.Write(data)
		}, nil},
		{"endless redirects", func(w http.ResponseWriter, r *http.Request) {
			http.Redirect(w, r, r.URL.String(), http.StatusTemporaryRedirect)
		}, nil},
	}
}

// RunHostileLoad loads 100 bytes at offset 10 of HostileHandle from each
// case's server. Each load must fail within a deadline (a hang fails the
// test by that deadline, not by a timing assertion), with the case's
// sentinel, naming the object and not showing secret, and the callback
// must never have read a whole range of wrong bytes.
func RunHostileLoad(t *testing.T, newBackend HostileServer, cases []HostileCase, secret string) {
	for _, c := range cases {
		t.Run(c.Name, func(t *testing.T) {
			be := newBackend(t, c.Handler)
			t.Cleanup(func() { be.Close() })
			ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
			defer cancel()
			var got []byte
			err := be.Load(ctx, HostileHandle, 100, 10, func(rd io.Reader) error {
				var err error
				got, err = io.ReadAll(rd)
				return err
			})
			if ctx.Err() != nil {
				t.Fatalf("load did not end before the deadline: %v", err)
			}
			if err == nil {
				t.Fatalf("load succeeded with %d bytes", len(got))
			}
			t.Logf("%v", err)
			if c.Want != nil && !errors.Is(err, c.Want) {
				t.Errorf("load: %v, want %v", err, c.Want)
			}
			// A whole range of wrong bytes must never reach the callback.
			// The right range may, before more bytes than asked for fail
			// the load.
			if len(got) == 100 && !bytes.Equal(got, hostileRange) {
				t.Errorf("the callback read a whole range of %q before the error", got[:10])
			}
			if !strings.Contains(err.Error(), HostileHandle.Name[:8]) {
				t.Errorf("error does not name the object: %v", err)
			}
			if secret != "" && strings.Contains(err.Error(), secret) {
				t.Errorf("error holds the secret: %v", err)
			}
		})
	}
}

// RunHostileSilence loads from a server that never answers: the load must
// end with the context's deadline.
func RunHostileSilence(t *testing.T, newBackend HostileServer) {
	release := make(chan struct{})
	be := newBackend(t, func(w http.ResponseWriter, r *http.Request) { <-release })
	defer be.Close()
	defer close(release)
	ctx, cancel := context.WithTimeout(context.Background(), 500*time.Millisecond)
	defer cancel()
	err := be.Load(ctx, HostileHandle, 100, 0, func(io.Reader) error { return nil })
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("load from a silent server: %v, want the context's deadline", err)
	}
}

// objectHeaders sets the headers of a plausible object answer, so that a
// client gets as far as the body.
func objectHeaders(w http.ResponseWriter) {
	w.Header().Set("Last-Modified", "Mon, 07 Dec 2026 07:00:00 GMT")
	w.Header().Set("ETag", `"0123456789abcdef0123456789abcdef"`)
	w.Header().Set("Content-Type", "application/octet-stream")
}

// hijackClose drops the connection in the middle of an answer.
func hijackClose(w http.ResponseWriter) {
	if f, ok := w.(http.Flusher); ok {
		f.Flush()
	}
	conn, _, err := w.(http.Hijacker).Hijack()
	if err == nil {
		conn.Close()
	}
}

// HostileListAndStat lists packs and stats HostileHandle under a
// deadline, failing the test if either hangs, and returns how many
// entries the listing gave and both errors.
func HostileListAndStat(t *testing.T, be backend.Backend) (n int, listErr, statErr error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	listErr = be.List(ctx, backend.PackFile, func(backend.FileInfo) error { n++; return nil })
	_, statErr = be.Stat(ctx, HostileHandle)
	if ctx.Err() != nil {
		t.Fatalf("list or stat did not end before the deadline: %v / %v", listErr, statErr)
	}
	t.Logf("list: %v; stat: %v", listErr, statErr)
	return n, listErr, statErr
}
