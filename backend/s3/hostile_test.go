package s3_test

import (
	"bytes"
	"context"
	"errors"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/cairnbackup/cairn/backend"
	"github.com/cairnbackup/cairn/backend/s3"
)

// The tests in this file point the S3 backend at a fake server that
// misbehaves on purpose. Each case must end in a clear error, within a
// context deadline (a hang fails the test by that deadline, not by a
// timing assertion), and must never hand wrong bytes to the caller as the
// object.

// hostileServer starts a plain HTTP server answering every request with h,
// and a backend configured to talk to it (static credentials and a fixed
// region, so that no other request is needed first).
func hostileServer(t *testing.T, h http.HandlerFunc) *s3.Backend {
	t.Helper()
	srv := httptest.NewUnstartedServer(h)
	srv.Config.ErrorLog = log.New(io.Discard, "", 0)
	srv.Start()
	t.Cleanup(srv.Close)
	be := s3.OpenUnchecked(s3.Config{
		Endpoint: strings.TrimPrefix(srv.URL, "http://"), Bucket: "bkt", Region: "us-east-1",
		Lookup: s3.LookupPath, AccessKey: "hostile-test-access", SecretKey: "hostile-test-secret",
	})
	t.Cleanup(func() { be.Close() })
	return be
}

var hostileHandle = backend.Handle{Type: backend.PackFile, Name: strings.Repeat("ab", 32)}

// hostileLoad loads 100 bytes at offset 10 under a deadline and returns
// what the callback read and the error.
func hostileLoad(t *testing.T, be *s3.Backend) ([]byte, error) {
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
			w.Write([]byte("\x00\xff<<not xml at all"))
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
		{"redirect loop between two places", func(w http.ResponseWriter, r *http.Request) {
			next := "/bkt/elsewhere"
			if strings.Contains(r.URL.Path, "elsewhere") {
				next = "/bkt/" + backend.Path(hostileHandle)
			}
			http.Redirect(w, r, next, http.StatusMovedPermanently)
		}, nil},
	} {
		t.Run(c.name, func(t *testing.T) {
			be := hostileServer(t, c.handler)
			got, err := hostileLoad(t, be)
			if err == nil {
				t.Fatalf("load succeeded with %d bytes", len(got))
			}
			t.Logf("%v", err)
			if c.want != nil && !errors.Is(err, c.want) {
				t.Errorf("load: %v, want %v", err, c.want)
			}
			if len(got) == 100 {
				t.Errorf("the callback read a whole range of %q before the error", got[:10])
			}
			if !strings.Contains(err.Error(), hostileHandle.Name[:8]) {
				t.Errorf("error does not name the object: %v", err)
			}
			if strings.Contains(err.Error(), "hostile-test-secret") {
				t.Errorf("error holds the secret key: %v", err)
			}
		})
	}
}

// objectHeaders sets the headers of a plausible object answer, so that
// the client gets as far as the body.
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

func TestHostileServerNeverAnswers(t *testing.T) {
	release := make(chan struct{})
	be := hostileServer(t, func(w http.ResponseWriter, r *http.Request) {
		<-release
	})
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
		name    string
		handler http.HandlerFunc
	}{
		{"garbage listing", func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "application/xml")
			w.Write([]byte("<ListBucketResult><Contents><Key>"))
		}},
		{"listing that never ends", func(w http.ResponseWriter, r *http.Request) {
			// Every page says there is another, with the same token.
			w.Header().Set("Content-Type", "application/xml")
			w.Write([]byte(`<?xml version="1.0" encoding="UTF-8"?><ListBucketResult><Name>bkt</Name><IsTruncated>true</IsTruncated>` +
				`<NextContinuationToken>same</NextContinuationToken><KeyCount>0</KeyCount></ListBucketResult>`))
		}},
		{"endless redirects", func(w http.ResponseWriter, r *http.Request) {
			http.Redirect(w, r, r.URL.String(), http.StatusFound)
		}},
		{"negative size in a listing", func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "application/xml")
			w.Write([]byte(`<?xml version="1.0" encoding="UTF-8"?><ListBucketResult><Name>bkt</Name><IsTruncated>false</IsTruncated><KeyCount>1</KeyCount>` +
				`<Contents><Key>data/ab/` + hostileHandle.Name + `</Key><Size>-5</Size></Contents></ListBucketResult>`))
		}},
		{"negative size", func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Length", strconv.Itoa(-5))
			w.WriteHeader(http.StatusOK)
		}},
	} {
		t.Run(c.name, func(t *testing.T) {
			be := hostileServer(t, c.handler)
			ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
			defer cancel()
			n := 0
			lerr := be.List(ctx, backend.PackFile, func(backend.FileInfo) error { n++; return nil })
			_, serr := be.Stat(ctx, hostileHandle)
			if ctx.Err() != nil {
				t.Fatalf("list or stat did not end before the deadline: %v / %v", lerr, serr)
			}
			t.Logf("list: %v; stat: %v", lerr, serr)
			if (c.name == "listing that never ends" || c.name == "negative size in a listing") && !errors.Is(lerr, backend.ErrCorrupt) {
				t.Errorf("%s: %v, want ErrCorrupt", c.name, lerr)
			}
			if lerr == nil && c.name != "negative size" {
				t.Errorf("list succeeded with %d entries", n)
			}
			if serr == nil && c.name != "garbage listing" && c.name != "listing that never ends" && c.name != "negative size in a listing" {
				t.Errorf("stat succeeded")
			}
		})
	}
}

// TestTLSVerifiedByDefault: a server with a certificate that no trusted
// authority signed is refused, for every kind of request, unless the
// configuration names its authority (CACertFile) or turns verification
// off (InsecureSkipVerify, which no command-line flag or configuration
// key sets).
func TestTLSVerifiedByDefault(t *testing.T) {
	reached := make(chan struct{}, 100)
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		reached <- struct{}{}
		w.WriteHeader(http.StatusNotFound)
	}))
	srv.Config.ErrorLog = log.New(io.Discard, "", 0) // the refused handshakes are expected
	srv.StartTLS()
	defer srv.Close()
	cfg := s3.Config{
		Endpoint: srv.Listener.Addr().String(), Bucket: "bkt", Region: "us-east-1", UseTLS: true,
		Lookup: s3.LookupPath, AccessKey: "a", SecretKey: "tls-test-secret",
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if _, err := s3.Open(ctx, cfg); err == nil || !strings.Contains(err.Error(), "certificate") {
		t.Fatalf("open of a self-signed server: %v, want a certificate error", err)
	}
	be := s3.OpenUnchecked(cfg)
	defer be.Close()
	err := be.Load(ctx, hostileHandle, 0, 0, func(io.Reader) error { return nil })
	if err == nil || !strings.Contains(err.Error(), "certificate") {
		t.Errorf("load: %v, want a certificate error", err)
	}
	if err := be.Save(ctx, hostileHandle, backend.NewByteReader([]byte("x"))); err == nil || !strings.Contains(err.Error(), "certificate") {
		t.Errorf("save: %v, want a certificate error", err)
	}
	if len(reached) != 0 {
		t.Errorf("%d requests reached the server past a refused handshake", len(reached))
	}
	cfg.InsecureSkipVerify = true // the explicit opt-in reaches the server
	insecure := s3.OpenUnchecked(cfg)
	defer insecure.Close()
	if err := insecure.Load(ctx, hostileHandle, 0, 0, func(io.Reader) error { return nil }); !errors.Is(err, backend.ErrNotFound) {
		t.Errorf("load with verification off: %v, want ErrNotFound from the server", err)
	}
}
