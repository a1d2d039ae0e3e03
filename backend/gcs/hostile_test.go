package gcs

import (
	"errors"
	"net/http"
	"testing"

	"github.com/cairnbackup/cairn/backend"
	"github.com/cairnbackup/cairn/backend/objectstore/storetest"
)

// The tests in this file point the GCS backend at a local server that
// misbehaves on purpose. Each case must end in a clear error, within a
// context deadline (a hang fails the test by that deadline, not by a
// timing assertion), and must never hand wrong bytes to the caller as the
// object.

var hostileHandle = storetest.HostileHandle

func TestHostileServerLoad(t *testing.T) {
	storetest.RunHostileLoad(t, func(t *testing.T, h http.HandlerFunc) backend.Backend { return fakeServer(t, h) },
		storetest.HostileLoadCases(), "")
}

func TestHostileServerNeverAnswers(t *testing.T) {
	storetest.RunHostileSilence(t, func(t *testing.T, h http.HandlerFunc) backend.Backend { return fakeServer(t, h) })
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
			n, lerr, serr := storetest.HostileListAndStat(t, fakeServer(t, c.handler))
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
