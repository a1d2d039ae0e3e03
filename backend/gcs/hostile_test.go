package gcs

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

// The tests in this file point the GCS backend at a local server that
// misbehaves on purpose. Each case must end in a clear error, within a
// context deadline (a hang fails the test by that deadline, not by a
// timing assertion), and must never hand wrong bytes to the caller as the
// object.

var hostileHandle = backend.Handle{Type: backend.PackFile, Name: strings.Repeat("ab", 32)}

// hostileLoad loads 100 bytes at offset 10 under a deadline and returns
// what the callback read and the error.
func hostileLoad(t *testing.T, be *Backend) ([]byte, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	var got []byte
	err := be.Load(ctx, hostileHandle, 100, 10, func(rd io.Reader) error {
		var err error
		got, err = io.ReadAll(rd)
		return err
	})
	if ctx.Err() != nil {
		t.Fatalf("load did not end before the deadline: %v", err)
	}
	return got, err
}

func TestHostileServerLoad(t *testing.T) {
	data := bytes.Repeat([]byte("x"), 100)
	for _, c := range []struct {
		name    string
		handler http.HandlerFunc
		want    error // nil: any error will do
	}{
		{"garbage instead of an error document", func(w http.ResponseWriter, r *http.Request) {
			w.WriteHeader(http.StatusInternalServerError)
			w.Write([]byte("\x00\xff<<not json at all"))
		}, backend.ErrTransient},
		{"garbage status", func(w http.ResponseWriter, r *http.Request) {
			w.WriteHeader(299)
			w.Write([]byte("what"))
		}, nil},
		{"fewer bytes than asked", func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Length", "7")
			w.WriteHeader(http.StatusPartialContent)
			w.Write([]byte("garbage"))
		}, backend.ErrShortRead},
		{"more bytes than asked", func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Length", "200")
			w.WriteHeader(http.StatusPartialContent)
			w.Write(bytes.Repeat([]byte("y"), 200))
		}, backend.ErrCorrupt},
		{"whole object instead of the range", func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Length", "1000")
			w.WriteHeader(http.StatusOK)
			w.Write(bytes.Repeat([]byte("z"), 1000))
		}, backend.ErrCorrupt},
		{"body cut short of its length", func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Length", "100")
			w.WriteHeader(http.StatusPartialContent)
			w.Write(data[:40])
			hijackClose(w)
		}, backend.ErrTransient},
		{"no length and a body cut short", func(w http.ResponseWriter, r *http.Request) {
			w.WriteHeader(http.StatusPartialContent)
			w.Write(data[:40])
			w.(http.Flusher).Flush()
			hijackClose(w)
		}, nil},
		{"no length and a body too long", func(w http.ResponseWriter, r *http.Request) {
			w.WriteHeader(http.StatusPartialContent)
			w.Write(data)
			w.Write(data)
		}, backend.ErrCorrupt},
		{"endless redirects", func(w http.ResponseWriter, r *http.Request) {
			http.Redirect(w, r, r.URL.String(), http.StatusTemporaryRedirect)
		}, nil},
	} {
		t.Run(c.name, func(t *testing.T) {
			be := fakeServer(t, c.handler)
			got, err := hostileLoad(t, be)
			if err == nil {
				t.Fatalf("load succeeded with %d bytes", len(got))
			}
			t.Logf("%v", err)
			if c.want != nil && !errors.Is(err, c.want) {
				t.Errorf("load: %v, want %v", err, c.want)
			}
			if len(got) == 100 && c.name != "no length and a body too long" {
				t.Errorf("the callback read a whole range of %q before the error", got[:10])
			}
			if !strings.Contains(err.Error(), hostileHandle.Name[:8]) {
				t.Errorf("error does not name the object: %v", err)
			}
		})
	}
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

func TestHostileServerNeverAnswers(t *testing.T) {
	release := make(chan struct{})
	be := fakeServer(t, func(w http.ResponseWriter, r *http.Request) { <-release })
	defer close(release)
	ctx, cancel := context.WithTimeout(context.Background(), 500*time.Millisecond)
	defer cancel()
	err := be.Load(ctx, hostileHandle, 100, 0, func(io.Reader) error { return nil })
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("load from a silent server: %v, want the context's deadline", err)
	}
}

func TestHostileServerListAndStat(t *testing.T) {
	for _, c := range []struct {
		name       string
		handler    http.HandlerFunc
		listErr    error // nil: any error will do
		statPasses bool
	}{
		{"garbage JSON", func(w http.ResponseWriter, r *http.Request) {
			w.Write([]byte(`{"items":[{"name":`))
		}, nil, false},
		{"listing that never ends", func(w http.ResponseWriter, r *http.Request) {
			// Every page says there is another, with the same token.
			w.Write([]byte(`{"nextPageToken":"same"}`))
		}, backend.ErrCorrupt, true},
		{"endless redirects", func(w http.ResponseWriter, r *http.Request) {
			http.Redirect(w, r, r.URL.String(), http.StatusFound)
		}, nil, false},
		{"negative size", func(w http.ResponseWriter, r *http.Request) {
			w.Write([]byte(`{"items":[{"name":"data/ab/` + hostileHandle.Name + `","size":"-5"}],"name":"x","size":"-5"}`))
		}, backend.ErrCorrupt, false},
		{"size not a number", func(w http.ResponseWriter, r *http.Request) {
			w.Write([]byte(`{"items":[{"name":"data/ab/` + hostileHandle.Name + `","size":"many"}],"name":"x","size":"many"}`))
		}, nil, false},
	} {
		t.Run(c.name, func(t *testing.T) {
			be := fakeServer(t, c.handler)
			ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
			defer cancel()
			n := 0
			lerr := be.List(ctx, backend.PackFile, func(backend.FileInfo) error { n++; return nil })
			_, serr := be.Stat(ctx, hostileHandle)
			if ctx.Err() != nil {
				t.Fatalf("list or stat did not end before the deadline: %v / %v", lerr, serr)
			}
			t.Logf("list: %v; stat: %v", lerr, serr)
			if lerr == nil {
				t.Errorf("list succeeded with %d entries", n)
			} else if c.listErr != nil && !errors.Is(lerr, c.listErr) {
				t.Errorf("list: %v, want %v", lerr, c.listErr)
			}
			if (serr == nil) != c.statPasses {
				t.Errorf("stat: %v", serr)
			}
		})
	}
}
