package azure

import (
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/cairnbackup/cairn/backend"
	"github.com/cairnbackup/cairn/backend/objectstore/storetest"
)

// hostileServer serves h and returns a backend that talks to it.
func hostileServer(t *testing.T, h http.HandlerFunc) backend.Backend {
	t.Helper()
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	be, err := newBackend(Config{Account: "acct", Container: "c01", Endpoint: srv.URL + "/acct", AccountKey: hostileKey}, func(string) string { return "" })
	if err != nil {
		t.Fatal(err)
	}
	return be
}

// hostileKey is a base64 account key that no error may show.
const hostileKey = "aG9zdGlsZS10ZXN0LWtleQ=="

func TestHostileServerLoad(t *testing.T) {
	storetest.RunHostileLoad(t, hostileServer, storetest.HostileLoadCases(), hostileKey)
}

func TestHostileServerNeverAnswers(t *testing.T) {
	storetest.RunHostileSilence(t, hostileServer)
}

// TestHostileServerList points the backend at a local server whose
// listings misbehave: each must end in a clear error before the deadline
// (a loop fails the test by the deadline, not by a timing assertion).
func TestHostileServerList(t *testing.T) {
	name := "data/ab/" + strings.Repeat("ab", 32)
	for _, c := range []struct {
		name string
		page string
		want error // nil: any error will do
	}{
		{"listing that never ends", `<Blobs></Blobs><NextMarker>same</NextMarker>`, backend.ErrCorrupt},
		{"negative size", `<Blobs><Blob><Name>` + name + `</Name><Properties><Content-Length>-5</Content-Length></Properties></Blob></Blobs><NextMarker/>`, backend.ErrCorrupt},
		{"garbage", `<Blobs><Blob><Name>`, nil},
	} {
		t.Run(c.name, func(t *testing.T) {
			be := hostileServer(t, func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set("Content-Type", "application/xml")
				w.Write([]byte(`<?xml version="1.0" encoding="utf-8"?><EnumerationResults ContainerName="c01"><Prefix>data/</Prefix>` + c.page + `</EnumerationResults>`))
			})
			defer be.Close()
			n, err, _ := storetest.HostileListAndStat(t, be)
			if err == nil {
				t.Fatalf("list succeeded with %d entries", n)
			}
			if c.want != nil && !errors.Is(err, c.want) {
				t.Errorf("list: %v, want %v", err, c.want)
			}
		})
	}
}
