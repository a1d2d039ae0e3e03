// Package s3 stores a repository in a bucket of an Amazon S3 or compatible
// object store (MinIO, Ceph RGW, versitygw, Wasabi, Backblaze B2, ...),
// through github.com/minio/minio-go/v7.
//
// Objects live at "<prefix>/" + backend.Path(h): "<prefix>/config",
// "<prefix>/data/3f/3f09...". A PUT is atomic on S3, so readers see a whole
// object or none. Objects up to Config.MultipartThreshold are streamed from
// the caller's reader in one PUT without another copy in memory; larger ones
// go up in parts of Config.PartSize, and a failed or cancelled multipart
// upload is aborted so that neither an object nor its parts are left behind.
//
// minio-go's own retries are turned off: retrying is the job of the
// backend/retry decorator, which acts on the sentinels this package maps
// every failure onto (see mapErr): missing keys and buckets are
// backend.ErrNotFound, bad or unknown credentials backend.ErrAccessDenied,
// throttling, 5xx answers, timeouts and broken connections
// backend.ErrTransient, quotas backend.ErrNoSpace.
package s3

import (
	"context"
	"crypto/x509"
	"errors"
	"fmt"
	"net/http"
	"os"
	"strings"

	"github.com/minio/minio-go/v7"
	"github.com/minio/minio-go/v7/pkg/credentials"

	"github.com/cairnbackup/cairn/backend"
	"github.com/cairnbackup/cairn/backend/objectstore"
)

// Backend is a repository under a bucket prefix. It is safe for concurrent
// use.
type Backend struct {
	cfg       Config
	client    *minio.Client
	transport *http.Transport
	prefix    string // "" or the prefix with a trailing slash
	anonymous bool   // no credentials were found
	requests  objectstore.Counter
}

var _ backend.Backend = (*Backend)(nil)

// Open connects to an existing bucket. It makes one listing request under
// the prefix, which checks the credentials too: a missing bucket is
// backend.ErrNotFound, bad credentials backend.ErrAccessDenied. It does not
// require a repository to exist under the prefix.
func Open(ctx context.Context, cfg Config) (*Backend, error) {
	b, err := newBackend(cfg)
	if err != nil {
		return nil, err
	}
	if _, err := b.firstKeys(ctx, 1); err != nil {
		b.Close()
		return nil, fmt.Errorf("open %s: %w", b.Location(), b.withHint(objectstore.MissingBucket(err, fmt.Sprintf("bucket %q", b.cfg.Bucket))))
	}
	return b, nil
}

// Create prepares a location for a new repository and returns a backend for
// it. A missing bucket is made when createBucket is set and is
// backend.ErrNotFound otherwise. Create refuses (ErrNotEmpty) a prefix whose
// top level holds anything but repository objects (config, keys/, data/,
// index/, snapshots/, locks/); a prefix that already holds a repository is
// accepted, so the caller must look for an existing config itself before
// writing one.
func Create(ctx context.Context, cfg Config, createBucket bool) (*Backend, error) {
	b, err := newBackend(cfg)
	if err != nil {
		return nil, err
	}
	if err := b.prepare(ctx, createBucket); err != nil {
		b.Close()
		return nil, fmt.Errorf("create %s: %w", b.Location(), b.withHint(err))
	}
	return b, nil
}

func (b *Backend) prepare(ctx context.Context, createBucket bool) error {
	return objectstore.Preparation{
		List: b.firstKeys, Make: b.makeBucket, MakeBucket: createBucket,
		Bucket: fmt.Sprintf("bucket %q", b.cfg.Bucket), Prefix: b.prefix, NotEmpty: ErrNotEmpty,
	}.Run(ctx)
}

func (b *Backend) makeBucket(ctx context.Context) error {
	region := b.cfg.Region
	if region == "" {
		region = defaultMakeBucketRegion
	}
	err := b.client.MakeBucket(ctx, b.cfg.Bucket, minio.MakeBucketOptions{Region: region})
	if code := minio.ToErrorResponse(err).Code; code == "BucketAlreadyOwnedByYou" {
		return nil // made by a concurrent Create
	}
	if err != nil {
		return fmt.Errorf("make bucket %q: %w", b.cfg.Bucket, mapErr(err))
	}
	return nil
}

// firstKeys lists up to max entries directly under the prefix (objects and
// "folder/" common prefixes), relative to the prefix.
func (b *Backend) firstKeys(ctx context.Context, max int) ([]string, error) {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	fetchOwner := false
	opts := minio.ListObjectsOptions{Prefix: b.prefix, MaxKeys: max, FetchOwner: &fetchOwner}
	var keys []string
	for obj := range b.client.ListObjectsIter(ctx, b.cfg.Bucket, opts) {
		if obj.Err != nil {
			return nil, mapErr(obj.Err)
		}
		keys = append(keys, strings.TrimPrefix(obj.Key, b.prefix))
		if len(keys) >= max {
			break
		}
	}
	return keys, nil
}

func newBackend(cfg Config) (*Backend, error) {
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	tr, err := newTransport(cfg)
	if err != nil {
		return nil, err
	}
	b := &Backend{cfg: cfg, transport: tr}
	if cfg.Prefix != "" {
		b.prefix = cfg.Prefix + "/"
	}
	creds := credentialChain(cfg)
	if v, err := creds.GetWithContext(&credentials.CredContext{Client: &http.Client{Transport: tr}}); err != nil || v.SignerType.IsAnonymous() {
		b.anonymous = true
	}
	lookup := map[BucketLookup]minio.BucketLookupType{
		LookupAuto: minio.BucketLookupAuto, LookupPath: minio.BucketLookupPath, LookupVirtual: minio.BucketLookupDNS,
	}[cfg.lookup()]
	b.client, err = minio.New(cfg.Endpoint, &minio.Options{
		Creds:        creds,
		Secure:       cfg.UseTLS,
		Transport:    &objectstore.Transport{Next: &listGuard{next: tr}, Counts: &b.requests, IsList: isList},
		Region:       cfg.Region,
		BucketLookup: lookup,
		MaxRetries:   1, // no retries here: backend/retry owns the policy
	})
	if err != nil {
		tr.CloseIdleConnections()
		return nil, fmt.Errorf("%w: %v", ErrBadConfig, err)
	}
	return b, nil
}

// credentialChain returns the explicit keys if any, else the AWS
// environment variables, else the shared credentials file.
func credentialChain(cfg Config) *credentials.Credentials {
	var providers []credentials.Provider
	if cfg.AccessKey != "" {
		providers = append(providers, &credentials.Static{Value: credentials.Value{
			AccessKeyID:     cfg.AccessKey,
			SecretAccessKey: cfg.SecretKey,
			SessionToken:    cfg.SessionToken,
			SignerType:      credentials.SignatureV4,
		}})
	}
	providers = append(providers,
		&credentials.EnvAWS{},
		&credentials.FileAWSCredentials{Profile: cfg.Profile},
	)
	return credentials.NewChainCredentials(providers)
}

// newTransport is minio-go's default transport with the configured trust
// roots.
func newTransport(cfg Config) (*http.Transport, error) {
	tr, err := minio.DefaultTransport(cfg.UseTLS)
	if err != nil {
		return nil, fmt.Errorf("%w: transport: %v", ErrBadConfig, err)
	}
	if !cfg.UseTLS {
		return tr, nil
	}
	if cfg.CACertFile != "" {
		pem, err := os.ReadFile(cfg.CACertFile)
		if err != nil {
			return nil, fmt.Errorf("%w: CA certificate file: %v", ErrBadConfig, err)
		}
		pool, err := x509.SystemCertPool()
		if err != nil {
			pool = x509.NewCertPool()
		}
		if !pool.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("%w: CA certificate file %s holds no PEM certificate", ErrBadConfig, cfg.CACertFile)
		}
		tr.TLSClientConfig.RootCAs = pool
	}
	tr.TLSClientConfig.InsecureSkipVerify = cfg.InsecureSkipVerify
	return tr, nil
}

// withHint adds advice to an access-denied error when no credentials were
// found at all.
func (b *Backend) withHint(err error) error {
	if b.anonymous && errors.Is(err, backend.ErrAccessDenied) {
		return fmt.Errorf("%w (no credentials found: set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, or a profile in ~/.aws/credentials)", err)
	}
	return err
}

// Location implements backend.Backend: the s3: address, without secrets.
func (b *Backend) Location() string { return b.cfg.Location() }

// Close implements backend.Backend; it drops idle connections.
func (b *Backend) Close() error {
	b.transport.CloseIdleConnections()
	return nil
}

// Requests returns the number of HTTP requests sent so far, by kind.
func (b *Backend) Requests() Requests { return b.requests.Snapshot() }

// ListPages returns the number of listing pages fetched so far; the
// backend/counted decorator reports it next to its own counts.
func (b *Backend) ListPages() int64 { return b.requests.ListPages() }

// Throttled returns the number of answers so far that asked cairn to slow
// down (HTTP 429 or 503), for backend/counted.
func (b *Backend) Throttled() int64 { return b.requests.Throttled() }

// Requests counts HTTP requests by method; ListPages counts the GETs that
// were listing pages (they are included in Get too).
type Requests = objectstore.Requests

// isList reports whether a request fetches a page of a listing
// (ListObjectsV2).
func isList(req *http.Request) bool {
	return req.Method == http.MethodGet && req.URL.Query().Has("list-type")
}

// Parallelism implements backend.Parallel.
func (b *Backend) Parallelism() int { return objectstore.Parallelism }
