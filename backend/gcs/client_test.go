package gcs

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"unicode"
	"unicode/utf8"

	"github.com/cairnbackup/cairn/backend"
)

func TestEndpoints(t *testing.T) {
	for in, want := range map[string][2]string{
		defaultEndpoint:                              {"https://storage.googleapis.com/storage/v1/", "https://storage.googleapis.com/upload/storage/v1/"},
		"https://storage.example.com":                {"https://storage.example.com/storage/v1/", "https://storage.example.com/upload/storage/v1/"},
		"https://eu.example.com/storage/v1":          {"https://eu.example.com/storage/v1/", "https://eu.example.com/upload/storage/v1/"},
		"http://127.0.0.1:4443/":                     {"http://127.0.0.1:4443/storage/v1/", "http://127.0.0.1:4443/upload/storage/v1/"},
		"https://private.example.com/gcs/storage/v1": {"https://private.example.com/gcs/storage/v1/", "https://private.example.com/upload/storage/v1/"},
	} {
		api, upload, err := endpoints(in)
		if err != nil || api != want[0] || upload != want[1] {
			t.Errorf("%s: %s, %s, %v; want %s, %s", in, api, upload, err, want[0], want[1])
		}
	}
	for _, in := range []string{"storage.example.com", "ftp://x", "https://"} {
		if _, _, err := endpoints(in); !errors.Is(err, ErrBadConfig) {
			t.Errorf("%s: %v, want ErrBadConfig", in, err)
		}
	}
}

func TestReadAPIError(t *testing.T) {
	answer := func(code int, body string) *apiError {
		err := readAPIError(&http.Response{StatusCode: code, Body: io.NopCloser(strings.NewReader(body))})
		var aerr *apiError
		if !errors.As(err, &aerr) {
			t.Fatalf("%T, want *apiError", err)
		}
		return aerr
	}
	e := answer(403, `{"error":{"code":403,"message":"no access","errors":[{"reason":"forbidden","message":"no access"}]}}`)
	if e.Error() != "no access (HTTP 403, reason forbidden)" {
		t.Errorf("JSON error: %q", e)
	}
	if e := answer(502, "<html>\n  bad   gateway</html>"); e.Error() != "<html> bad gateway</html> (HTTP 502)" {
		t.Errorf("HTML error: %q", e)
	}
	if e := answer(500, ""); e.Error() != "Internal Server Error (HTTP 500)" {
		t.Errorf("empty error: %q", e)
	}
	if e := answer(500, strings.Repeat("x", 1000)); len(e.Message) != 203 {
		t.Errorf("long body kept %d bytes of message, want 200 and an ellipsis", len(e.Message))
	}
}

// fakeServer serves handler as the emulator for a backend of bucket b01.
func fakeServer(t *testing.T, handler http.HandlerFunc) *Backend {
	t.Helper()
	srv := httptest.NewServer(handler)
	t.Cleanup(srv.Close)
	be, err := newBackend(context.Background(), Config{Bucket: "b01", ChunkSize: 256 << 10},
		func(k string) string {
			if k == envEmulator {
				return srv.URL
			}
			return ""
		})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { be.Close() })
	return be
}

// TestResumableUploadCheckedChunkByChunk: a server that kept fewer bytes
// of a chunk than were sent fails the upload there (a transient error, so
// the whole save is retried), without sending the rest.
func TestResumableUploadCheckedChunkByChunk(t *testing.T) {
	var puts atomic.Int32
	be := fakeServer(t, func(w http.ResponseWriter, r *http.Request) {
		switch {
		case r.Method == http.MethodPost && r.URL.Query().Get("uploadType") == "resumable":
			if r.Header.Get("X-Upload-Content-Length") != fmt.Sprint(600<<10) {
				t.Errorf("session for %q bytes", r.Header.Get("X-Upload-Content-Length"))
			}
			w.Header().Set("Location", "http://"+r.Host+"/session/1")
		case r.Method == http.MethodPut:
			puts.Add(1)
			io.Copy(io.Discard, r.Body)
			w.Header().Set("Range", "bytes=0-1000") // kept less than the chunk
			w.WriteHeader(http.StatusPermanentRedirect)
		default:
			t.Errorf("unexpected %s %s", r.Method, r.URL)
			w.WriteHeader(http.StatusBadRequest)
		}
	})
	h := backend.Handle{Type: backend.PackFile, Name: strings.Repeat("ab", 32)}
	err := be.Save(context.Background(), h, backend.NewByteReader(make([]byte, 600<<10)))
	if !errors.Is(err, backend.ErrTransient) || !strings.Contains(err.Error(), "kept") {
		t.Errorf("save: %v, want ErrTransient naming the bytes kept", err)
	}
	if puts.Load() != 1 {
		t.Errorf("%d chunks sent, want the first only", puts.Load())
	}
}

// TestResumableUploadIncompleteAtTheEnd: a server that still waits for
// bytes after the last chunk fails the save as transient (retried whole).
func TestResumableUploadIncompleteAtTheEnd(t *testing.T) {
	be := fakeServer(t, func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
		if r.Method == http.MethodPost {
			w.Header().Set("Location", "http://"+r.Host+"/session/1")
			return
		}
		var first, last, total int
		fmt.Sscanf(r.Header.Get("Content-Range"), "bytes %d-%d/%d", &first, &last, &total)
		if last+1 == total {
			last-- // the last chunk: keep all but its last byte
		}
		w.Header().Set("Range", fmt.Sprintf("bytes=0-%d", last))
		w.WriteHeader(http.StatusPermanentRedirect)
	})
	err := be.Save(context.Background(), hostileHandle, backend.NewByteReader(make([]byte, 300<<10)))
	if !errors.Is(err, backend.ErrTransient) || !strings.Contains(err.Error(), "waits for more") {
		t.Errorf("save: %v, want ErrTransient saying the server waits for more", err)
	}
}

// TestIgnoredRangeIsCorrupt: a server that answers a ranged read with the
// whole object is not read as if it had sent the range.
func TestIgnoredRangeIsCorrupt(t *testing.T) {
	be := fakeServer(t, func(w http.ResponseWriter, r *http.Request) {
		w.Write([]byte("0123456789"))
	})
	h := backend.Handle{Type: backend.PackFile, Name: strings.Repeat("ab", 32)}
	for _, r := range [][2]int{{4, 2}, {0, 2}, {2, 0}} { // length, offset
		err := be.Load(context.Background(), h, r[0], int64(r[1]), func(io.Reader) error {
			t.Errorf("range %v: fn called", r)
			return nil
		})
		if !errors.Is(err, backend.ErrCorrupt) {
			t.Errorf("range %v: %v, want ErrCorrupt", r, err)
		}
	}
}

// TestFencedBody: once closed, the body never reads its source again.
func TestFencedBody(t *testing.T) {
	src := bytes.NewReader([]byte("abcdef"))
	f := &fencedBody{r: src}
	p := make([]byte, 2)
	if n, err := f.Read(p); n != 2 || err != nil {
		t.Fatalf("read: %d, %v", n, err)
	}
	f.Close()
	if n, err := f.Read(p); n != 0 || err != io.EOF {
		t.Errorf("read after close: %d, %v", n, err)
	}
	if src.Len() != 4 {
		t.Errorf("source read to %d bytes left, want 4", src.Len())
	}
}

// TestServiceAccountCredentials signs in with a service account key file
// against a token server of its own: requests carry the token it grants,
// except a resumable upload's chunks; a refused key is
// backend.ErrAccessDenied, without the key's bytes, and a token server
// that is down is backend.ErrTransient (retried).
func TestServiceAccountCredentials(t *testing.T) {
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	pemKey := pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: x509.MarshalPKCS1PrivateKey(key)})
	var tokenStatus atomic.Int32 // what the token server answers: 200, 400 (refused) or 503 (down)
	tokens := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		if s := int(tokenStatus.Load()); s != http.StatusOK {
			w.WriteHeader(s)
			fmt.Fprint(w, `{"error":"invalid_grant","error_description":"Invalid JWT Signature."}`)
			return
		}
		fmt.Fprint(w, `{"access_token":"granted-token","token_type":"Bearer","expires_in":3600}`)
	}))
	defer tokens.Close()
	// A resumable upload's chunks go to the session URI without the
	// token, wherever the Location header points.
	sessions := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if got := r.Header.Get("Authorization"); got != "" {
			t.Errorf("a chunk went to the session URI with Authorization %q", got)
		}
		io.Copy(io.Discard, r.Body)
		var first, last, total int
		fmt.Sscanf(r.Header.Get("Content-Range"), "bytes %d-%d/%d", &first, &last, &total)
		if last+1 < total {
			w.Header().Set("Range", fmt.Sprintf("bytes=0-%d", last))
			w.WriteHeader(http.StatusPermanentRedirect)
			return
		}
		fmt.Fprint(w, `{"name":"big","size":"300000"}`)
	}))
	defer sessions.Close()
	api := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if got := r.Header.Get("Authorization"); got != "Bearer granted-token" {
			t.Errorf("%s %s with Authorization %q", r.Method, r.URL, got)
		}
		if r.URL.Query().Get("uploadType") == "resumable" {
			w.Header().Set("Location", sessions.URL+"/session/1")
			return
		}
		fmt.Fprint(w, `{"name":"config","size":"3"}`)
	}))
	defer api.Close()
	sa, _ := json.Marshal(map[string]string{"type": "service_account", "client_email": "cairn@example.iam.gserviceaccount.com",
		"private_key_id": "k1", "private_key": string(pemKey), "token_uri": tokens.URL})
	file := filepath.Join(t.TempDir(), "sa.json")
	if err := os.WriteFile(file, sa, 0o600); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		status int
		want   error // nil: the calls succeed
	}{{http.StatusOK, nil}, {http.StatusBadRequest, backend.ErrAccessDenied}, {http.StatusServiceUnavailable, backend.ErrTransient}} {
		tokenStatus.Store(int32(c.status))
		be, err := newBackend(context.Background(), Config{Bucket: "b01", Endpoint: api.URL, CredentialsFile: file, ChunkSize: 256 << 10},
			func(string) string { return "" })
		if err != nil {
			t.Fatal(err)
		}
		fi, err := be.Stat(context.Background(), backend.Handle{Type: backend.ConfigFile})
		if c.want == nil {
			if err := be.Save(context.Background(), hostileHandle, backend.NewByteReader(make([]byte, 300000))); err != nil {
				t.Errorf("resumable upload: %v", err)
			}
		}
		be.Close()
		switch {
		case c.want == nil && (err != nil || fi.Size != 3):
			t.Errorf("stat with a granted token: %+v, %v", fi, err)
		case c.want != nil && !errors.Is(err, c.want):
			t.Errorf("stat with the token server answering %d: %v, want %v", c.status, err, c.want)
		case c.want != nil && strings.Contains(err.Error(), "PRIVATE KEY"):
			t.Errorf("the error shows the key: %v", err)
		}
	}
}

// TestConnectionsAreReused: every kind of answer is read to its end, so
// its connection goes back to the pool instead of being closed (a new TLS
// handshake per request would cost a round trip or two against GCS). The
// test counts connections the server saw closed while the calls ran, not
// connections opened: the transport may dial a second one when a request
// starts just before the last answer's connection is back in the pool.
func TestConnectionsAreReused(t *testing.T) {
	var closed atomic.Int32
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
		w.Header().Set("Content-Type", "application/json")
		switch {
		case r.URL.Query().Get("alt") == "media":
			w.Write([]byte("0123456789"))
		case r.Method == http.MethodDelete:
			w.WriteHeader(http.StatusNoContent)
		case r.Method == http.MethodGet && strings.HasSuffix(r.URL.Path, "/o"):
			fmt.Fprint(w, `{"items":[{"name":"index/`+strings.Repeat("ab", 32)+`","size":"10"}]}`+"\n")
		default: // padded past what a JSON decoder reads at once
			fmt.Fprint(w, `{"name":"x","size":"10"}`+strings.Repeat(" ", 8192)+"\n")
		}
	}))
	srv.Config.ConnState = func(_ net.Conn, s http.ConnState) {
		if s == http.StateClosed {
			closed.Add(1)
		}
	}
	srv.Start()
	defer srv.Close()
	be, err := newBackend(context.Background(), Config{Bucket: "b01"}, func(k string) string {
		if k == envEmulator {
			return srv.URL
		}
		return ""
	})
	if err != nil {
		t.Fatal(err)
	}
	defer be.Close()
	ctx := context.Background()
	h := backend.Handle{Type: backend.IndexFile, Name: strings.Repeat("ab", 32)}
	for range 3 {
		if _, err := be.Stat(ctx, h); err != nil {
			t.Fatal(err)
		}
		if err := be.Save(ctx, h, backend.NewByteReader([]byte("0123456789"))); err != nil {
			t.Fatal(err)
		}
		if _, err := backend.LoadAll(ctx, be, h); err != nil {
			t.Fatal(err)
		}
		if err := be.List(ctx, backend.IndexFile, func(backend.FileInfo) error { return nil }); err != nil {
			t.Fatal(err)
		}
		if err := be.Remove(ctx, h); err != nil {
			t.Fatal(err)
		}
	}
	if n := closed.Load(); n != 0 {
		t.Errorf("%d connections closed during 15 sequential calls, want none", n)
	}
}

// FuzzReadAPIError: whatever an error answer holds, it becomes one
// bounded line of printable text.
func FuzzReadAPIError(f *testing.F) {
	f.Add(`{"error":{"code":403,"message":"no access","errors":[{"reason":"forbidden"}]}}`)
	f.Add(`{"error":{"message":"` + strings.Repeat("é", 300) + `"}}`)
	f.Add("<html>\n bad gateway</html>")
	f.Add(`{"error":"invalid_grant"}`)
	f.Fuzz(func(t *testing.T, body string) {
		err := readAPIError(&http.Response{StatusCode: 500, Body: io.NopCloser(strings.NewReader(body))})
		var aerr *apiError
		if !errors.As(err, &aerr) {
			t.Fatalf("%T", err)
		}
		printable := strings.IndexFunc(aerr.Message, func(r rune) bool { return !unicode.IsPrint(r) }) < 0
		if len(aerr.Message) > maxMessage+3 || !utf8.ValidString(aerr.Message) || !printable {
			t.Errorf("message %q", aerr.Message)
		}
	})
}

// TestCreateReadsPastAnEmptyPage: a listing page may hold nothing and
// still not be the last (GCS drops repeated prefixes from a page), so
// Create pages on and finds the foreign object behind it.
func TestCreateReadsPastAnEmptyPage(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Query().Get("pageToken") == "" {
			fmt.Fprint(w, `{"nextPageToken":"p2"}`)
			return
		}
		fmt.Fprint(w, `{"items":[{"name":"notes.txt","size":"1"}]}`)
	}))
	defer srv.Close()
	t.Setenv(envEmulator, srv.URL)
	if _, err := Create(context.Background(), Config{Bucket: "b01"}, false); !errors.Is(err, ErrNotEmpty) {
		t.Errorf("create over a bucket whose second page holds notes.txt: %v, want ErrNotEmpty", err)
	}
}
