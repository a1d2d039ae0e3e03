package s3_test

import (
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
	"github.com/cairnbackup/cairn/backend/objectstore/storetest"
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

var hostileHandle = storetest.HostileHandle

func TestHostileServerLoad(t *testing.T) {
	cases := append(storetest.HostileLoadCases(), storetest.HostileCase{
		Name: "redirect loop between two places",
		Handler: func(w http.ResponseWriter, r *http.Request) {
			next := "/bkt/elsewhere"
			if strings.Contains(r.URL.Path, "elsewhere") {
				next = "/bkt/" + backend.Path(hostileHandle)
			}
			http.Redirect(w, r, next, http.StatusMovedPermanently)
		},
	})
	storetest.RunHostileLoad(t, func(t *testing.T, h http.HandlerFunc) backend.Backend { return hostileServer(t, h) },
		cases, "hostile-test-secret")
}

func TestHostileServerNeverAnswers(t *testing.T) {
	storetest.RunHostileSilence(t, func(t *testing.T, h http.HandlerFunc) backend.Backend { return hostileServer(t, h) })
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
			n, lerr, serr := storetest.HostileListAndStat(t, hostileServer(t, c.handler))
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
