// Package gcs stores a repository in a bucket of Google Cloud Storage (or
// fake-gcs-server, an emulator), through the JSON API. It speaks the few
// calls a repository needs itself, with golang.org/x/oauth2/google for
// credentials: Google's client library would add 34 MB and 230 package
// initialisers (gRPC, OpenTelemetry) to every run of the binary, GCS or
// not.
//
// Objects are named "<prefix>/" + backend.Path(h). Objects larger than one
// chunk go up in a resumable upload, chunk by chunk from the caller's
// reader; smaller ones in one request. An object appears whole when its
// upload finishes and not before: a failed or cancelled upload is
// abandoned and leaves no object. Reads are ranged GETs.
//
// The backend does not retry: retrying is the job of the
// backend/retry decorator, which acts on the sentinels this package maps
// every failure onto (see mapErr): missing objects and buckets are
// backend.ErrNotFound, refused credentials and permissions
// backend.ErrAccessDenied, throttling (429, 403 rateLimitExceeded), 5xx
// answers, timeouts and broken connections backend.ErrTransient, exceeded
// quotas backend.ErrNoSpace.
package gcs

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"strings"

	"github.com/cairnbackup/cairn/backend"
	"github.com/cairnbackup/cairn/backend/objectstore"
)

// Backend is a repository under a bucket prefix. It is safe for concurrent
// use.
type Backend struct {
	cfg      Config
	c        *client
	prefix   string // "" or the prefix with a trailing slash
	requests objectstore.Counter
}

var _ backend.Backend = (*Backend)(nil)

// Open connects to an existing bucket. It makes one listing request under
// the prefix, which checks the credentials too: a missing bucket is
// backend.ErrNotFound, refused credentials backend.ErrAccessDenied. It does
// not require a repository to exist under the prefix.
func Open(ctx context.Context, cfg Config) (*Backend, error) {
	b, err := newBackend(ctx, cfg, os.Getenv)
	if err != nil {
		return nil, err
	}
	if _, err := b.firstNames(ctx, 1); err != nil {
		b.Close()
		return nil, fmt.Errorf("open %s: %w", b.Location(), withHint(objectstore.MissingBucket(err, fmt.Sprintf("bucket %q", b.cfg.Bucket))))
	}
	return b, nil
}

// Create prepares a location for a new repository and returns a backend
// for it. A missing bucket is made (in cfg.ProjectID, or
// GOOGLE_CLOUD_PROJECT) when createBucket is set and is
// backend.ErrNotFound otherwise. Create refuses (ErrNotEmpty) a prefix
// whose top level holds anything but repository objects; a prefix that
// already holds a repository is accepted, so the caller must look for an
// existing config itself before writing one.
func Create(ctx context.Context, cfg Config, createBucket bool) (*Backend, error) {
	b, err := newBackend(ctx, cfg, os.Getenv)
	if err != nil {
		return nil, err
	}
	if err := b.prepare(ctx, createBucket); err != nil {
		b.Close()
		return nil, fmt.Errorf("create %s: %w", b.Location(), withHint(err))
	}
	return b, nil
}

func (b *Backend) prepare(ctx context.Context, createBucket bool) error {
	return objectstore.Preparation{
		List: b.firstNames, Make: b.makeBucket, MakeBucket: createBucket,
		Bucket: fmt.Sprintf("bucket %q", b.cfg.Bucket), Prefix: b.prefix, NotEmpty: ErrNotEmpty,
	}.Run(ctx)
}

func (b *Backend) makeBucket(ctx context.Context) error {
	project := b.cfg.ProjectID
	if project == "" {
		project = os.Getenv("GOOGLE_CLOUD_PROJECT")
	}
	if project == "" {
		return fmt.Errorf("%w: making bucket %q needs a project id: set project_id in the configuration file or GOOGLE_CLOUD_PROJECT", ErrBadConfig, b.cfg.Bucket)
	}
	bucket := map[string]any{"name": b.cfg.Bucket,
		"iamConfiguration": map[string]any{"uniformBucketLevelAccess": map[string]any{"enabled": true}}}
	err := b.c.call(ctx, http.MethodPost, b.c.api+"b?"+url.Values{"project": {project}}.Encode(), bucket, nil)
	var aerr *apiError
	if errors.As(err, &aerr) && aerr.Code == http.StatusConflict {
		return nil // ours already, or made by a concurrent Create
	}
	if err != nil {
		return fmt.Errorf("make bucket %q in project %q: %w", b.cfg.Bucket, project, mapErr(err))
	}
	return nil
}

// firstNames lists up to max entries directly under the prefix (objects
// and "folder/" prefixes), relative to the prefix. A page may hold fewer
// entries than asked for (GCS drops repeated prefixes), even none, and
// still not be the last: pages are fetched until max or the end.
func (b *Backend) firstNames(ctx context.Context, max int) ([]string, error) {
	var names []string
	q := url.Values{"prefix": {b.prefix}, "delimiter": {"/"}}
	err := b.c.list(ctx, b.cfg.Bucket, q, max, func(p listPage) error {
		for _, o := range p.Items {
			names = append(names, strings.TrimPrefix(o.Name, b.prefix))
		}
		for _, dir := range p.Prefixes {
			names = append(names, strings.TrimPrefix(dir, b.prefix))
		}
		if len(names) >= max {
			return errEnough
		}
		return nil
	})
	if err != nil && err != errEnough {
		return nil, mapErr(err)
	}
	return names[:min(len(names), max)], nil
}

func newBackend(ctx context.Context, cfg Config, getenv func(string) string) (*Backend, error) {
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	b := &Backend{cfg: cfg}
	c, err := newClient(ctx, cfg, &b.requests, getenv)
	if err != nil {
		return nil, err
	}
	b.c = c
	if cfg.Prefix != "" {
		b.prefix = cfg.Prefix + "/"
	}
	return b, nil
}

// withHint adds advice to an access-denied error.
func withHint(err error) error {
	if !errors.Is(err, backend.ErrAccessDenied) {
		return err
	}
	return fmt.Errorf("%w (credentials from Application Default Credentials or the configuration's credentials_file; the account needs roles/storage.objectUser on the bucket)", err)
}

// Location implements backend.Backend: the gs: address.
func (b *Backend) Location() string { return b.cfg.Location() }

// Close implements backend.Backend; it drops idle connections.
func (b *Backend) Close() error {
	b.c.transport.CloseIdleConnections()
	return nil
}

// errEnough stops a listing that has what it needs.
var errEnough = errors.New("gcs: enough names listed")

// name is the object name of h.
func (b *Backend) name(h backend.Handle) string { return b.prefix + backend.Path(h) }

// Requests returns the number of HTTP requests sent so far, by kind.
func (b *Backend) Requests() objectstore.Requests { return b.requests.Snapshot() }

// ListPages returns the number of listing pages fetched so far, for
// backend/counted.
func (b *Backend) ListPages() int64 { return b.requests.ListPages() }

// Throttled returns the number of answers so far that asked cairn to slow
// down (HTTP 429 or 503), for backend/counted.
func (b *Backend) Throttled() int64 { return b.requests.Throttled() }

// Parallelism implements backend.Parallel.
func (b *Backend) Parallelism() int { return objectstore.Parallelism }
