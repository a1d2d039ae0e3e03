package gcs

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"strings"
	"sync"
	"time"

	"golang.org/x/oauth2"
	"golang.org/x/oauth2/google"

	"github.com/cairnbackup/cairn/backend/objectstore"
)

const (
	// envEmulator points the backend at an emulator (HOST:PORT or a URL).
	envEmulator = "STORAGE_EMULATOR_HOST"
	// defaultEndpoint is Cloud Storage's JSON API.
	defaultEndpoint = "https://storage.googleapis.com/storage/v1/"
	// scopeReadWrite is the OAuth scope the backend asks for: objects and
	// buckets, without changing access control.
	scopeReadWrite = "https://www.googleapis.com/auth/devstorage.read_write"
	// maxErrorBody bounds how much of an error answer is read.
	maxErrorBody = 64 << 10
)

// client speaks Cloud Storage's JSON API (the subset a repository needs):
// metadata and media requests under api, uploads under upload.
type client struct {
	hc *http.Client // authenticated (for GCS)
	// session sends a resumable upload's chunks to its session URI, which
	// is its own credential: the OAuth token never goes to a host that a
	// server's Location header named.
	session   *http.Client
	transport *http.Transport // the bottom transport, for closing idle connections
	api       string          // ".../storage/v1/"
	upload    string          // ".../upload/storage/v1/"
}

// newClient makes the client. Requests go through a counting transport,
// around an authenticating one for GCS and straight to the network for an
// emulator. It never follows redirects: a resumable upload's 308 answer is
// an answer, not a redirect.
func newClient(ctx context.Context, cfg Config, counts *objectstore.Counter, getenv func(string) string) (*client, error) {
	base := http.DefaultTransport.(*http.Transport).Clone()
	base.MaxIdleConnsPerHost = 16
	// GCS speaks HTTP/2: an idle connection that silently broke is found
	// by a ping after 31 s instead of by the next request's failure.
	base.HTTP2 = &http.HTTP2Config{SendPingTimeout: 31 * time.Second}
	var next http.RoundTripper = base
	endpoint := defaultEndpoint
	if host := getenv(envEmulator); host != "" {
		if !strings.Contains(host, "://") {
			host = "http://" + host
		}
		endpoint = host
	} else {
		if cfg.Endpoint != "" {
			endpoint = cfg.Endpoint
		}
		ts, err := tokenSource(ctx, cfg)
		if err != nil {
			return nil, err
		}
		next = &oauth2.Transport{Source: ts, Base: base}
	}
	api, upload, err := endpoints(endpoint)
	if err != nil {
		return nil, err
	}
	noRedirects := func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	hc := &http.Client{Transport: &objectstore.Transport{Next: next, Counts: counts, IsList: isList}, CheckRedirect: noRedirects}
	session := &http.Client{Transport: &objectstore.Transport{Next: base, Counts: counts}, CheckRedirect: noRedirects}
	return &client{hc: hc, session: session, transport: base, api: api, upload: upload}, nil
}

// endpoints derives the JSON API's URLs from an endpoint: its path, if
// any, is where metadata requests go (default /storage/v1/), and uploads
// go to /upload/storage/v1/ on the same host, as Google's clients do.
func endpoints(endpoint string) (api, upload string, err error) {
	u, err := url.Parse(endpoint)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return "", "", fmt.Errorf("%w: endpoint %q: want an http:// or https:// URL", ErrBadConfig, endpoint)
	}
	root := u.Scheme + "://" + u.Host
	path := strings.TrimSuffix(u.Path, "/")
	if path == "" {
		path = "/storage/v1"
	}
	return root + path + "/", root + "/upload/storage/v1/", nil
}

// tokenSource finds the credentials: the configured file, or Application
// Default Credentials. Tokens are fetched under a context that outlives
// ctx, since they are refreshed for as long as the backend is used.
func tokenSource(ctx context.Context, cfg Config) (oauth2.TokenSource, error) {
	ctx = context.WithoutCancel(ctx)
	if cfg.CredentialsFile == "" {
		creds, err := google.FindDefaultCredentials(ctx, scopeReadWrite)
		if err != nil {
			return nil, fmt.Errorf("%w: credentials: %v (set GOOGLE_APPLICATION_CREDENTIALS, run gcloud auth application-default login, or name a credentials_file)", ErrBadConfig, err)
		}
		return creds.TokenSource, nil
	}
	b, t, err := credentialsFile(cfg.CredentialsFile)
	if err != nil {
		return nil, err
	}
	creds, err := google.CredentialsFromJSONWithType(ctx, b, t, scopeReadWrite)
	if err != nil {
		return nil, fmt.Errorf("%w: credentials file %s: %v", ErrBadConfig, cfg.CredentialsFile, err)
	}
	return creds.TokenSource, nil
}

// credentialsFile reads a JSON credentials file and its "type", which
// must be one the backend accepts.
func credentialsFile(path string) ([]byte, google.CredentialsType, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, "", fmt.Errorf("%w: credentials file: %v", ErrBadConfig, err)
	}
	var f struct {
		Type string `json:"type"`
	}
	if err := json.Unmarshal(b, &f); err != nil {
		return nil, "", fmt.Errorf("%w: credentials file %s is not JSON", ErrBadConfig, path)
	}
	switch t := google.CredentialsType(f.Type); t {
	case google.ServiceAccount, google.AuthorizedUser, google.ExternalAccount, google.ImpersonatedServiceAccount:
		return b, t, nil
	}
	return nil, "", fmt.Errorf("%w: credentials file %s has type %q; want service_account, authorized_user, external_account or impersonated_service_account", ErrBadConfig, path, f.Type)
}

// isList reports whether a request fetches a page of a listing
// (GET .../b/BUCKET/o).
func isList(req *http.Request) bool {
	return req.Method == http.MethodGet && strings.HasSuffix(req.URL.Path, "/o")
}

// objectURL is the URL of an object's metadata (and, with alt=media, its
// bytes). The name is one path segment: its slashes are escaped.
func (c *client) objectURL(bucket, name string) string {
	return c.api + "b/" + url.PathEscape(bucket) + "/o/" + url.PathEscape(name)
}

// objectsURL is the URL that lists a bucket's objects.
func (c *client) objectsURL(bucket string) string {
	return c.api + "b/" + url.PathEscape(bucket) + "/o"
}

// uploadURL is the URL that starts an upload of the named object.
func (c *client) uploadURL(bucket, name, uploadType string) string {
	q := url.Values{"uploadType": {uploadType}, "name": {name}}
	return c.upload + "b/" + url.PathEscape(bucket) + "/o?" + q.Encode()
}

// send sends req and returns its answer if the status is one of ok, else
// an *apiError made from the answer (its body read and closed).
func (c *client) send(req *http.Request, ok ...int) (*http.Response, error) {
	return sendWith(c.hc, req, ok...)
}

// sendWith is send through hc.
func sendWith(hc *http.Client, req *http.Request, ok ...int) (*http.Response, error) {
	resp, err := hc.Do(req)
	if err != nil {
		return nil, err
	}
	for _, s := range ok {
		if resp.StatusCode == s {
			return resp, nil
		}
	}
	defer resp.Body.Close()
	return nil, readAPIError(resp)
}

// call sends a request without a media body and decodes a 200 answer's
// JSON into out (nil: the body is dropped). 204 is accepted too.
func (c *client) call(ctx context.Context, method, u string, in, out any) error {
	var body io.Reader
	if in != nil {
		b, err := json.Marshal(in)
		if err != nil {
			return err
		}
		body = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, u, body)
	if err != nil {
		return err
	}
	if in != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := c.send(req, http.StatusOK, http.StatusNoContent)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	return decode(resp, out)
}

// decode reads a JSON answer into out, or drops it when out is nil.
func decode(resp *http.Response, out any) error {
	if out == nil || resp.StatusCode == http.StatusNoContent {
		_, err := io.Copy(io.Discard, resp.Body)
		return err
	}
	if err := json.NewDecoder(resp.Body).Decode(out); err != nil {
		return fmt.Errorf("read the answer to %s %s: %w", resp.Request.Method, resp.Request.URL.Path, err)
	}
	// What follows the value (a newline) is read too, so that the
	// connection goes back to the pool.
	io.Copy(io.Discard, io.LimitReader(resp.Body, maxErrorBody))
	return nil
}

// fencedBody is a request body that stops reading once closed. An HTTP
// transport may go on reading a request's body after the call returns
// (it closes it asynchronously); after close, which waits for a read in
// progress, the source is never touched again, so a retry can rewind it.
// A read after close ends the body (io.EOF): once the answer is in, the
// transport still reads one byte past the declared length to check for
// more, and an error there would make it drop a good connection; a body
// cut short by a close fails on its declared length instead.
type fencedBody struct {
	mu     sync.Mutex
	r      io.Reader
	closed bool
}

// Read implements io.Reader.
func (f *fencedBody) Read(p []byte) (int, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.closed {
		return 0, io.EOF
	}
	return f.r.Read(p)
}

// Close implements io.Closer.
func (f *fencedBody) Close() error {
	f.mu.Lock()
	f.closed = true
	f.mu.Unlock()
	return nil
}
