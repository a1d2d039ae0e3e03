package gcs

import (
	"fmt"
	"net/url"
	"regexp"
	"strings"

	"github.com/cairnbackup/cairn/backend/objectstore"
)

// Upload sizes: an object of up to ChunkSize bytes goes up in one
// request, a larger one in a resumable upload, ChunkSize bytes a request;
// both are streamed from the source, never held in memory. A resumable
// session costs two more requests (its start and a chunk more), and its
// one gain, resending only a failed chunk, is not taken (a failed upload
// is retried whole), so the default sends every pack of the default pack
// size (16 MiB, a few MiB more with its last blob) in one request.
const (
	DefaultChunkSize = 128 << 20
	chunkAlign       = 256 << 10 // GCS wants chunks in multiples of 256 KiB
	addressScheme    = "gs:"
	addressForm      = "gs:BUCKET[/PREFIX]"
)

// Config says where a repository lives in Google Cloud Storage and how to
// reach it. Only Bucket is required. It holds no secret: credentials come
// from a file named here or from Application Default Credentials.
type Config struct {
	// Bucket is the bucket's name.
	Bucket string
	// Prefix is the name prefix the repository's objects live under,
	// without leading or trailing slashes; empty means the bucket's root.
	Prefix string

	// ProjectID is the project a new bucket is made in (init
	// --create-bucket); empty means GOOGLE_CLOUD_PROJECT.
	ProjectID string
	// CredentialsFile is a JSON credentials file (a service account key, or
	// an authorized user or workload identity federation configuration).
	// Empty means Application Default Credentials:
	// GOOGLE_APPLICATION_CREDENTIALS, gcloud's login, or the metadata
	// server on Google Cloud hosts.
	CredentialsFile string
	// Endpoint replaces the JSON API's endpoint (a regional or private
	// endpoint). STORAGE_EMULATOR_HOST, when set, points the client at an
	// emulator instead, without authentication.
	Endpoint string

	// ChunkSize is the largest object sent in one request and the size of
	// a resumable upload's requests (default 128 MiB, a multiple of 256
	// KiB).
	ChunkSize int
}

// Bucket names as GCS allows them (without dots, which name domains and
// need verification): 3-63 lowercase letters, digits, '-' and '_',
// starting and ending with a letter or digit.
var bucketName = regexp.MustCompile(`^[a-z0-9][a-z0-9_-]{1,61}[a-z0-9]$`)

// ParseAddress parses a repository address of the form gs:BUCKET[/PREFIX].
func ParseAddress(s string) (Config, error) {
	rest, ok := strings.CutPrefix(s, addressScheme)
	if !ok {
		return Config{}, addrErr("it does not start with %q", addressScheme)
	}
	if strings.HasPrefix(rest, "//") {
		return Config{}, addrErr("write gs:BUCKET, without slashes after the colon")
	}
	if strings.ContainsAny(rest, "?#@") {
		return Config{}, addrErr("it must not contain a query, a fragment or credentials")
	}
	bucket, prefix, _ := strings.Cut(rest, "/")
	cfg := Config{Bucket: bucket, Prefix: strings.TrimSuffix(prefix, "/")}
	if err := cfg.checkNames(); err != nil {
		return Config{}, err
	}
	return cfg, nil
}

func addrErr(format string, args ...any) error {
	return fmt.Errorf("%w: %s; want %s", ErrBadAddress, fmt.Sprintf(format, args...), addressForm)
}

func (c Config) checkNames() error {
	if !bucketName.MatchString(c.Bucket) || strings.HasPrefix(c.Bucket, "goog") {
		return addrErr("bucket %q: use 3 to 63 lowercase letters, digits, '-' and '_', starting and ending with a letter or digit, not starting with goog", c.Bucket)
	}
	if msg := objectstore.CheckPrefix(c.Prefix); msg != "" {
		return fmt.Errorf("%w: prefix %q %s", ErrBadAddress, c.Prefix, msg)
	}
	return nil
}

// Location returns the configuration as an address.
func (c Config) Location() string {
	loc := addressScheme + c.Bucket
	if c.Prefix != "" {
		loc += "/" + c.Prefix
	}
	return loc
}

// String describes the configuration.
func (c Config) String() string {
	creds := "application default credentials"
	if c.CredentialsFile != "" {
		creds = "file " + c.CredentialsFile
	}
	return fmt.Sprintf("%s (project %q, credentials %s)", c.Location(), c.ProjectID, creds)
}

// GoString matches String.
func (c Config) GoString() string { return "gcs.Config{" + c.String() + "}" }

// validate checks a Config built by hand as well as one from ParseAddress.
func (c Config) validate() error {
	if err := c.checkNames(); err != nil {
		return err
	}
	if c.ChunkSize < 0 || c.ChunkSize%chunkAlign != 0 {
		return fmt.Errorf("%w: chunk size %d: want a multiple of 256 KiB", ErrBadConfig, c.ChunkSize)
	}
	if c.Endpoint != "" {
		u, err := url.Parse(c.Endpoint)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.User != nil {
			return fmt.Errorf("%w: endpoint: want an http:// or https:// URL without credentials", ErrBadConfig)
		}
	}
	return nil
}

func (c Config) chunkSize() int {
	if c.ChunkSize == 0 {
		return DefaultChunkSize
	}
	return c.ChunkSize
}
