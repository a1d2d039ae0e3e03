// Package azure stores a repository in a container of Azure Blob Storage
// (or Azurite, its emulator), through the Azure SDK for Go
// (github.com/Azure/azure-sdk-for-go/sdk/storage/azblob).
//
// Objects are block blobs named "<prefix>/" + backend.Path(h). An object
// goes up in one Put Blob streamed from the source, or, above
// Config.SingleMax (128 MiB), as blocks (Put Block for each, streamed from
// the source with a bounded number of block buffers, then Put Block
// List). Either way the blob appears whole only
// when the last request succeeds: blocks of a failed or cancelled upload
// stay uncommitted, invisible to reads and listings, and Azure discards
// them after a week. Reads are ranged GETs.
//
// The SDK's own retries are turned off: retrying is the job of the
// backend/retry decorator, which acts on the sentinels this package maps
// every failure onto (see mapErr): missing blobs and containers are
// backend.ErrNotFound, refused credentials and permissions
// backend.ErrAccessDenied, throttling (429, 503 ServerBusy), other 5xx
// answers, timeouts and broken connections backend.ErrTransient, blocks and
// blobs over Azure's limits backend.ErrNoSpace.
package azure

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"os"
	"strings"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"
	"github.com/Azure/azure-sdk-for-go/sdk/storage/azblob/bloberror"
	"github.com/Azure/azure-sdk-for-go/sdk/storage/azblob/container"

	"github.com/cairnbackup/cairn/backend"
	"github.com/cairnbackup/cairn/backend/objectstore"
)

// Backend is a repository under a container prefix. It is safe for
// concurrent use.
type Backend struct {
	cfg       Config
	client    *container.Client
	transport *http.Transport
	prefix    string // "" or the prefix with a trailing slash
	source    string // where the credentials came from, for hints
	requests  objectstore.Counter
}

var _ backend.Backend = (*Backend)(nil)

// Open connects to an existing container. It makes one listing request
// under the prefix, which checks the credentials too: a missing container
// is backend.ErrNotFound, refused credentials backend.ErrAccessDenied. It
// does not require a repository to exist under the prefix.
func Open(ctx context.Context, cfg Config) (*Backend, error) {
	b, err := newBackend(cfg, os.Getenv)
	if err != nil {
		return nil, err
	}
	if _, err := b.firstNames(ctx, 1); err != nil {
		b.Close()
		return nil, fmt.Errorf("open %s: %w", b.Location(), b.withHint(objectstore.MissingBucket(err, fmt.Sprintf("container %q", b.cfg.Container))))
	}
	return b, nil
}

// Create prepares a location for a new repository and returns a backend
// for it. A missing container is made when createContainer is set and is
// backend.ErrNotFound otherwise. Create refuses (ErrNotEmpty) a prefix
// whose top level holds anything but repository objects; a prefix that
// already holds a repository is accepted, so the caller must look for an
// existing config itself before writing one.
func Create(ctx context.Context, cfg Config, createContainer bool) (*Backend, error) {
	b, err := newBackend(cfg, os.Getenv)
	if err != nil {
		return nil, err
	}
	if err := b.prepare(ctx, createContainer); err != nil {
		b.Close()
		return nil, fmt.Errorf("create %s: %w", b.Location(), b.withHint(err))
	}
	return b, nil
}

func (b *Backend) prepare(ctx context.Context, createContainer bool) error {
	return objectstore.Preparation{
		List: b.firstNames, Make: b.makeContainer, MakeBucket: createContainer,
		Bucket: fmt.Sprintf("container %q", b.cfg.Container), Prefix: b.prefix, NotEmpty: ErrNotEmpty,
	}.Run(ctx)
}

func (b *Backend) makeContainer(ctx context.Context) error {
	_, err := b.client.Create(ctx, nil)
	if bloberror.HasCode(err, bloberror.ContainerAlreadyExists) {
		return nil // made by a concurrent Create
	}
	if err != nil {
		return fmt.Errorf("create container %q: %w", b.cfg.Container, mapErr(err))
	}
	return nil
}

// firstNames lists up to max entries directly under the prefix (blobs and
// "folder/" prefixes), relative to the prefix.
func (b *Backend) firstNames(ctx context.Context, max int) ([]string, error) {
	n := int32(max)
	pager := b.client.NewListBlobsHierarchyPager("/", &container.ListBlobsHierarchyOptions{
		Prefix: &b.prefix, MaxResults: &n,
	})
	page, err := pager.NextPage(ctx)
	if err != nil {
		return nil, mapErr(err)
	}
	var names []string
	for _, p := range page.Segment.BlobPrefixes {
		if p.Name != nil {
			names = append(names, strings.TrimPrefix(*p.Name, b.prefix))
		}
	}
	for _, it := range page.Segment.BlobItems {
		if it.Name != nil {
			names = append(names, strings.TrimPrefix(*it.Name, b.prefix))
		}
	}
	return names, nil
}

func newBackend(cfg Config, getenv func(string) string) (*Backend, error) {
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	creds, err := resolveCredentials(cfg, getenv)
	if err != nil {
		return nil, err
	}
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.MaxIdleConnsPerHost = 16
	b := &Backend{cfg: cfg, transport: tr, source: creds.source}
	if cfg.Prefix != "" {
		b.prefix = cfg.Prefix + "/"
	}
	opts := &container.ClientOptions{ClientOptions: azcore.ClientOptions{
		Retry:     policy.RetryOptions{MaxRetries: -1}, // backend/retry owns the policy
		Transport: &http.Client{Transport: &objectstore.Transport{Next: tr, Counts: &b.requests, IsList: isList}},
		Telemetry: policy.TelemetryOptions{ApplicationID: "cairn"},
	}}
	b.client, err = newContainerClient(cfg, creds, opts)
	if err != nil {
		tr.CloseIdleConnections()
		return nil, err
	}
	return b, nil
}

// isList reports whether a request fetches a page of a listing
// (List Blobs: GET ...?restype=container&comp=list).
func isList(req *http.Request) bool {
	return req.Method == http.MethodGet && req.URL.Query().Get("comp") == "list"
}

// withHint adds advice to an access-denied error.
func (b *Backend) withHint(err error) error {
	if !errors.Is(err, backend.ErrAccessDenied) {
		return err
	}
	return fmt.Errorf("%w (credentials from %s; set AZURE_STORAGE_CONNECTION_STRING, or AZURE_STORAGE_ACCOUNT with AZURE_STORAGE_KEY or AZURE_STORAGE_SAS_TOKEN, or give them in the configuration file; the identity needs the Storage Blob Data Contributor role on the container)", err, b.source)
}

// Location implements backend.Backend: the azure: address, without
// secrets.
func (b *Backend) Location() string { return b.cfg.Location() }

// Close implements backend.Backend; it drops idle connections.
func (b *Backend) Close() error {
	b.transport.CloseIdleConnections()
	return nil
}

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
