package objectstore

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"testing/iotest"

	"github.com/cairnbackup/cairn/backend"
)

func TestObjectName(t *testing.T) {
	id := strings.Repeat("ab", 32)
	for _, c := range []struct {
		t    backend.FileType
		rel  string
		name string
	}{
		{backend.PackFile, "ab/" + id, id},
		{backend.PackFile, "cd/" + id, ""},
		{backend.PackFile, id, ""},
		{backend.PackFile, "ab/", ""},
		{backend.SnapshotFile, id, id},
		{backend.SnapshotFile, "x/" + id, ""},
		{backend.SnapshotFile, ".tmp-x", ""},
		{backend.KeyFile, "", ""},
	} {
		got, ok := ObjectName(c.t, c.rel)
		if got != c.name || ok != (c.name != "") {
			t.Errorf("ObjectName(%s, %q) = %q, %v; want %q", c.t, c.rel, got, ok, c.name)
		}
	}
	for key, want := range map[string]bool{"config": true, "data/": true, "locks/": true, "data": false, "notes.txt": false, "config/": false} {
		if RepositoryTopLevel(key) != want {
			t.Errorf("RepositoryTopLevel(%q) != %v", key, want)
		}
	}
	for prefix, ok := range map[string]bool{"": true, "a/b": true, "a//b": false, "/a": false, "a/./b": false, "a/../b": false, "a\\b": false, strings.Repeat("x", 256): false} {
		if (CheckPrefix(prefix) == "") != ok {
			t.Errorf("CheckPrefix(%q) = %q", prefix, CheckPrefix(prefix))
		}
	}
}

func TestSource(t *testing.T) {
	src := NewSource(context.Background(), strings.NewReader("0123456789extra"), 10)
	b, err := io.ReadAll(src)
	if err != nil || string(b) != "0123456789" || src.N != 10 {
		t.Errorf("a longer source: %q, %v, %d read; want its first 10 bytes", b, err, src.N)
	}
	src = NewSource(context.Background(), strings.NewReader("short"), 10)
	if _, err := io.ReadAll(src); err == nil || src.Err == nil || !strings.Contains(err.Error(), "source ended after 5 bytes") {
		t.Errorf("a short source: %v", err)
	}
	boom := errors.New("boom")
	src = NewSource(context.Background(), iotest.ErrReader(boom), 10)
	if _, err := io.ReadAll(src); !errors.Is(err, boom) || !errors.Is(src.Err, boom) {
		t.Errorf("a failing source: %v, remembered %v", err, src.Err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	src = NewSource(ctx, strings.NewReader("0123456789"), 10)
	if _, err := io.ReadAll(src); !errors.Is(err, context.Canceled) {
		t.Errorf("a cancelled source: %v", err)
	}
}

func TestBody(t *testing.T) {
	h := backend.Handle{Type: backend.ConfigFile}
	mapErr := func(err error) error { return err }
	b, err := io.ReadAll(&Body{Ctx: context.Background(), R: strings.NewReader("0123456789"), Left: 4, Handle: h, MapErr: mapErr})
	if err != nil || string(b) != "0123" {
		t.Errorf("a longer body: %q, %v", b, err)
	}
	_, err = io.ReadAll(&Body{Ctx: context.Background(), R: strings.NewReader("01"), Left: 4, Handle: h, MapErr: mapErr})
	if !errors.Is(err, backend.ErrTransient) {
		t.Errorf("a body cut short: %v, want ErrTransient", err)
	}
	b, err = io.ReadAll(&Body{Ctx: context.Background(), R: bytes.NewReader([]byte("01")), Left: 1 << 40, Handle: h, MapErr: mapErr, Unsized: true})
	if err != nil || string(b) != "01" {
		t.Errorf("an unsized body: %q, %v", b, err)
	}
}

func TestTransportCounts(t *testing.T) {
	codes := []int{http.StatusOK, http.StatusTooManyRequests, http.StatusServiceUnavailable, http.StatusInternalServerError}
	i := 0
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(codes[i%len(codes)])
		i++
	}))
	defer srv.Close()
	var c Counter
	client := &http.Client{Transport: &Transport{Next: http.DefaultTransport, Counts: &c,
		IsList: func(r *http.Request) bool { return r.URL.Query().Has("list") }}}
	for _, req := range []struct{ method, query string }{{"GET", "list"}, {"GET", ""}, {"PUT", ""}, {"DELETE", ""}} {
		r, _ := http.NewRequest(req.method, srv.URL+"/?"+req.query, nil)
		resp, err := client.Do(r)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
	}
	want := Requests{Get: 2, Put: 1, Delete: 1, ListPages: 1, Throttled: 2}
	if got := c.Snapshot(); got != want {
		t.Errorf("counts %+v, want %+v", got, want)
	}
}

func TestMissingBucket(t *testing.T) {
	notFound := fmt.Errorf("%w: NoSuchBucket", backend.ErrNotFound)
	err := MissingBucket(notFound, `bucket "b"`)
	if !errors.Is(err, backend.ErrNotFound) || !strings.Contains(err.Error(), `bucket "b" does not exist`) || !strings.Contains(err.Error(), "--create-bucket") {
		t.Errorf("missing bucket: %v", err)
	}
	if other := errors.New("timeout"); MissingBucket(other, `bucket "b"`) != other {
		t.Errorf("another error was changed")
	}
	p := Preparation{List: func(context.Context, int) ([]string, error) { return nil, notFound }, Bucket: `container "c"`}
	if err := p.Run(context.Background()); !errors.Is(err, backend.ErrNotFound) || !strings.Contains(err.Error(), `container "c" does not exist: create it, or let cairn make it with --create-bucket`) {
		t.Errorf("preparation without MakeBucket: %v", err)
	}
}

func TestPageTokens(t *testing.T) {
	var p PageTokens
	for _, tok := range []string{"", "a", "", "b"} {
		if err := p.Follow(tok); err != nil {
			t.Fatalf("follow %q: %v", tok, err)
		}
	}
	if err := p.Follow("a"); !errors.Is(err, ErrListLoop) || !errors.Is(err, backend.ErrCorrupt) {
		t.Errorf("a repeated token: %v, want ErrListLoop (ErrCorrupt)", err)
	}
	if err := ListedSize("k", -1); !errors.Is(err, backend.ErrCorrupt) || ListedSize("k", 0) != nil {
		t.Errorf("sizes: %v", err)
	}
}
