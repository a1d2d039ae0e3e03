package azure

import (
	"fmt"
	"net/url"
	"regexp"
	"strings"

	"github.com/cairnbackup/cairn/backend/objectstore"
)

// Upload sizes. An object of up to SingleMax bytes goes up in one Put Blob,
// streamed from the source; a larger one in blocks (Put Block for each,
// then Put Block List, which makes the blob appear whole), BlockSize bytes
// a block, Concurrency blocks in flight, each a buffer in memory. Blocks
// cost a request each and a last one, and their gain, resending only a
// failed block, is not taken (a failed upload is retried whole), so every
// pack of the default pack size goes up in one request, as on S3.
const (
	DefaultSingleMax   = 128 << 20
	DefaultBlockSize   = 4 << 20
	DefaultConcurrency = 2
	minBlockSize       = 1 << 20
	maxBlockSize       = 4000 << 20 // Azure's limit for one block
	maxPutBlob         = 5000 << 20 // Azure's limit for one Put Blob
	addressScheme      = "azure:"
	addressForm        = "azure:ACCOUNT/CONTAINER[/PREFIX]"
)

// Config says where a repository lives in Azure Blob Storage and how to
// reach it. Account and Container are required. Its String method hides
// the secrets, so a Config may be printed.
type Config struct {
	// Account is the storage account's name.
	Account string
	// Container is the blob container's name.
	Container string
	// Prefix is the name prefix the repository's blobs live under, without
	// leading or trailing slashes; empty means the container's root.
	Prefix string

	// Endpoint is the blob service's URL for the account, for Azurite
	// ("http://127.0.0.1:10000/devstoreaccount1") and sovereign clouds
	// ("https://ACCOUNT.blob.core.usgovcloudapi.net"). Empty means the
	// connection string's, else https://ACCOUNT.blob.core.windows.net.
	Endpoint string

	// ConnectionString, AccountKey and SASToken are explicit credentials,
	// tried in this order. Without any, the environment is used
	// (AZURE_STORAGE_CONNECTION_STRING, then AZURE_STORAGE_KEY or
	// AZURE_STORAGE_SAS_TOKEN), and last DefaultAzureCredential (managed
	// identity, workload identity, the Azure CLI's login, ...).
	ConnectionString, AccountKey, SASToken string

	// SingleMax is the largest object sent in one Put Blob (default 128
	// MiB, at most 5000 MiB); BlockSize the size of a larger object's
	// blocks (default 4 MiB, at least 1 MiB); Concurrency how many blocks
	// of one upload are in flight (default 2). Each in-flight block is a
	// buffer in memory.
	SingleMax   int64
	BlockSize   int64
	Concurrency int
}

// Names as Azure allows them: accounts of 3-24 lowercase letters and
// digits; containers of 3-63 lowercase letters, digits and single hyphens,
// starting and ending with a letter or digit.
var (
	accountName   = regexp.MustCompile(`^[a-z0-9]{3,24}$`)
	containerName = regexp.MustCompile(`^[a-z0-9](?:[a-z0-9]|-[a-z0-9]){2,62}$`)
)

// ParseAddress parses a repository address of the form
// azure:ACCOUNT/CONTAINER[/PREFIX]. The endpoint and credentials are never
// part of an address.
func ParseAddress(s string) (Config, error) {
	rest, ok := strings.CutPrefix(s, addressScheme)
	if !ok {
		return Config{}, addrErr("it does not start with %q", addressScheme)
	}
	if strings.Contains(rest, "://") || strings.HasPrefix(rest, "//") {
		return Config{}, addrErr("it names no endpoint; give one in the configuration file (endpoint:) or in AZURE_STORAGE_CONNECTION_STRING")
	}
	if strings.ContainsAny(rest, "?#@;") {
		return Config{}, addrErr("it must not contain a query, a fragment, credentials or a connection string")
	}
	parts := strings.SplitN(rest, "/", 3)
	if len(parts) < 2 {
		return Config{}, addrErr("no container")
	}
	cfg := Config{Account: parts[0], Container: parts[1]}
	if len(parts) == 3 {
		cfg.Prefix = strings.TrimSuffix(parts[2], "/")
	}
	if err := cfg.checkNames(); err != nil {
		return Config{}, err
	}
	return cfg, nil
}

func addrErr(format string, args ...any) error {
	return fmt.Errorf("%w: %s; want %s", ErrBadAddress, fmt.Sprintf(format, args...), addressForm)
}

func (c Config) checkNames() error {
	switch {
	case !accountName.MatchString(c.Account):
		return addrErr("account %q: use 3 to 24 lowercase letters and digits", c.Account)
	case !containerName.MatchString(c.Container):
		return addrErr("container %q: use 3 to 63 lowercase letters, digits and single hyphens, starting and ending with a letter or digit", c.Container)
	}
	if msg := objectstore.CheckPrefix(c.Prefix); msg != "" {
		return fmt.Errorf("%w: prefix %q %s", ErrBadAddress, c.Prefix, msg)
	}
	return nil
}

// Location returns the configuration as an address, which never holds a
// secret.
func (c Config) Location() string {
	loc := addressScheme + c.Account + "/" + c.Container
	if c.Prefix != "" {
		loc += "/" + c.Prefix
	}
	return loc
}

// String describes the configuration without its secrets.
func (c Config) String() string {
	creds := "from the environment"
	switch {
	case c.ConnectionString != "":
		creds = "connection string"
	case c.AccountKey != "":
		creds = "account key"
	case c.SASToken != "":
		creds = "SAS token"
	}
	endpoint := c.Endpoint
	if endpoint == "" {
		endpoint = "default"
	}
	return fmt.Sprintf("%s (endpoint %s, credentials %s)", c.Location(), endpoint, creds)
}

// GoString keeps secrets out of %#v.
func (c Config) GoString() string { return "azure.Config{" + c.String() + "}" }

// validate checks a Config built by hand as well as one from ParseAddress.
func (c Config) validate() error {
	if err := c.checkNames(); err != nil {
		return err
	}
	if c.Endpoint != "" {
		if err := checkEndpoint(c.Endpoint); err != nil {
			return err
		}
	}
	if c.BlockSize != 0 && (c.BlockSize < minBlockSize || c.BlockSize > maxBlockSize) {
		return fmt.Errorf("%w: block size %d: want 1 MiB to 4000 MiB", ErrBadConfig, c.BlockSize)
	}
	if c.SingleMax < 0 || c.SingleMax > maxPutBlob {
		return fmt.Errorf("%w: single upload limit %d: want at most 5000 MiB", ErrBadConfig, c.SingleMax)
	}
	if c.Concurrency < 0 || c.Concurrency > 64 {
		return fmt.Errorf("%w: concurrency %d: want 1 to 64", ErrBadConfig, c.Concurrency)
	}
	return nil
}

// checkEndpoint accepts an http(s) URL without credentials, query or
// fragment.
func checkEndpoint(s string) error {
	u, err := url.Parse(s)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return fmt.Errorf("%w: endpoint: want an http:// or https:// URL of the blob service", ErrBadConfig)
	}
	if u.User != nil || u.RawQuery != "" || u.Fragment != "" {
		return fmt.Errorf("%w: endpoint: no credentials, query or fragment (give a SAS token as sas_token)", ErrBadConfig)
	}
	return nil
}

func (c Config) singleMax() int64 {
	if c.SingleMax == 0 {
		return DefaultSingleMax
	}
	return c.SingleMax
}

func (c Config) blockSize() int64 {
	if c.BlockSize == 0 {
		return DefaultBlockSize
	}
	return c.BlockSize
}

func (c Config) concurrency() int {
	if c.Concurrency == 0 {
		return DefaultConcurrency
	}
	return c.Concurrency
}
