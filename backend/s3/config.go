package s3

import (
	"errors"
	"fmt"
	"net/url"
	"strconv"
	"strings"

	"github.com/minio/minio-go/v7/pkg/s3utils"

	"github.com/cairnbackup/cairn/backend/objectstore"
)

// BucketLookup chooses how the bucket is named in requests: in the path
// (https://host/bucket/key) or in the host name (https://bucket.host/key).
type BucketLookup string

// The bucket lookup modes. The zero value is LookupAuto.
const (
	// LookupAuto uses virtual-host style where the endpoint is known to
	// support it (Amazon, Google, Aliyun endpoints) and path style elsewhere,
	// which suits IP addresses and most self-hosted servers.
	LookupAuto BucketLookup = "auto"
	// LookupPath always puts the bucket in the path.
	LookupPath BucketLookup = "path"
	// LookupVirtual always puts the bucket in the host name.
	LookupVirtual BucketLookup = "virtual"
)

// ParseBucketLookup accepts "auto" (or ""), "path" and "virtual"
// ("dns" and "virtual-host" are accepted as synonyms).
func ParseBucketLookup(s string) (BucketLookup, error) {
	switch strings.ToLower(strings.TrimSpace(s)) {
	case "", "auto":
		return LookupAuto, nil
	case "path":
		return LookupPath, nil
	case "virtual", "virtual-host", "dns":
		return LookupVirtual, nil
	}
	return "", fmt.Errorf("%w: bucket lookup %q: want auto, path or virtual", ErrBadConfig, s)
}

// Default upload sizes. Objects up to DefaultMultipartThreshold go up in one
// streamed PUT (no copy in memory); larger ones are sent in parts of
// DefaultPartSize, one part buffered at a time.
const (
	DefaultPartSize           = 16 << 20
	DefaultMultipartThreshold = 128 << 20
	minPartSize               = 5 << 20 // S3's minimum for all parts but the last
	maxSinglePut              = 5 << 30 // S3's limit for one PUT
	maxObjectSize             = 5 << 40 // S3's limit for one object
	defaultMakeBucketRegion   = "us-east-1"
	addressScheme             = "s3:"
	addressForm               = "s3:http(s)://HOST[:PORT]/BUCKET[/PREFIX]"
)

// Config says where a repository lives in an S3-compatible store and how to
// reach it. Only Endpoint and Bucket are required. Its String method hides
// the secrets, so a Config may be printed.
type Config struct {
	// Endpoint is the server's host name or IP address, with an optional
	// port: "s3.eu-west-1.amazonaws.com", "127.0.0.1:9000". No scheme.
	Endpoint string
	// Bucket is the bucket's name.
	Bucket string
	// Prefix is the key prefix the repository's objects live under, without
	// leading or trailing slashes; empty means the bucket's root.
	Prefix string
	// UseTLS selects https.
	UseTLS bool
	// Region is the bucket's region. Empty asks the server once per bucket
	// (GetBucketLocation), which some stores and policies do not allow.
	Region string
	// Lookup chooses path-style or virtual-host-style requests.
	Lookup BucketLookup

	// AccessKey, SecretKey and SessionToken are explicit credentials. When
	// AccessKey is empty, credentials come from AWS_ACCESS_KEY_ID,
	// AWS_SECRET_ACCESS_KEY and AWS_SESSION_TOKEN, then from the shared
	// credentials file (AWS_SHARED_CREDENTIALS_FILE or ~/.aws/credentials,
	// and ~/.aws/config) in profile Profile (or AWS_PROFILE, or "default").
	AccessKey, SecretKey, SessionToken string
	// Profile names the shared credentials file's profile to use.
	Profile string

	// CACertFile is a PEM file of certificate authorities trusted for TLS,
	// in addition to the system's.
	CACertFile string
	// InsecureSkipVerify turns off TLS certificate verification. It exposes
	// the credentials and the data to anyone on the path; tests only.
	InsecureSkipVerify bool

	// PartSize is the size of a multipart upload's parts (default 16 MiB,
	// at least 5 MiB).
	PartSize int64
	// MultipartThreshold is the largest object sent in a single PUT
	// (default 128 MiB, at most 5 GiB); larger objects use multipart.
	MultipartThreshold int64
}

// ParseAddress parses a repository address of the form
// s3:http(s)://HOST[:PORT]/BUCKET[/PREFIX]. Credentials are never part of an
// address, and error messages never repeat what looks like one.
func ParseAddress(s string) (Config, error) {
	rest, ok := strings.CutPrefix(s, addressScheme)
	if !ok {
		return Config{}, addrErr("it does not start with %q", addressScheme)
	}
	if strings.HasPrefix(rest, "//") {
		return Config{}, addrErr("s3://BUCKET addresses name no endpoint; write s3:https://HOST/BUCKET")
	}
	scheme, _, found := strings.Cut(rest, "://")
	if !found || (scheme != "http" && scheme != "https") {
		return Config{}, addrErr("the endpoint must start with http:// or https://")
	}
	u, err := url.Parse(rest)
	if err != nil {
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err // the url.Error would repeat the whole address
		}
		return Config{}, addrErr("malformed URL: %v", err)
	}
	if u.User != nil {
		return Config{}, addrErr("it must not contain credentials (user:password@); use AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY or the configuration file")
	}
	if u.RawQuery != "" || u.ForceQuery || u.Fragment != "" {
		return Config{}, addrErr("it must not contain a query (?) or a fragment (#)")
	}
	if err := checkHost(u); err != nil {
		return Config{}, addrErr("%v", err)
	}
	bucket, prefix, _ := strings.Cut(strings.TrimPrefix(u.Path, "/"), "/")
	cfg := Config{
		Endpoint: u.Host,
		Bucket:   bucket,
		Prefix:   strings.TrimSuffix(prefix, "/"),
		UseTLS:   u.Scheme == "https",
	}
	if err := cfg.checkBucketAndPrefix(); err != nil {
		return Config{}, err
	}
	return cfg, nil
}

func addrErr(format string, args ...any) error {
	return fmt.Errorf("%w: %s; want %s", ErrBadAddress, fmt.Sprintf(format, args...), addressForm)
}

// checkHost accepts HOST[:PORT] with a port from 1 to 65535.
func checkHost(u *url.URL) error {
	if u.Hostname() == "" {
		return errors.New("no host")
	}
	if p := u.Port(); p != "" {
		n, err := strconv.Atoi(p)
		if err != nil || n < 1 || n > 65535 {
			return fmt.Errorf("bad port %q", p)
		}
	} else if strings.HasSuffix(u.Host, ":") {
		return errors.New("empty port")
	}
	return nil
}

// Location returns the configuration as an address, which never holds a
// secret.
func (c Config) Location() string {
	scheme := "http"
	if c.UseTLS {
		scheme = "https"
	}
	loc := addressScheme + scheme + "://" + c.Endpoint + "/" + c.Bucket
	if c.Prefix != "" {
		loc += "/" + c.Prefix
	}
	return loc
}

// String describes the configuration without its secrets.
func (c Config) String() string {
	key := "none"
	switch {
	case c.AccessKey != "":
		key = "explicit"
	case c.Profile != "":
		key = "profile " + c.Profile
	}
	return fmt.Sprintf("%s (region %q, lookup %s, credentials %s)", c.Location(), c.Region, c.lookup(), key)
}

// GoString keeps secrets out of %#v.
func (c Config) GoString() string { return "s3.Config{" + c.String() + "}" }

func (c Config) lookup() BucketLookup {
	if c.Lookup == "" {
		return LookupAuto
	}
	return c.Lookup
}

// validate checks a Config built by hand as well as one from ParseAddress.
func (c Config) validate() error {
	if c.Endpoint == "" {
		return fmt.Errorf("%w: no endpoint", ErrBadConfig)
	}
	if strings.Contains(c.Endpoint, "@") {
		return fmt.Errorf("%w: the endpoint must not contain credentials (user:password@)", ErrBadConfig)
	}
	u, err := url.Parse("http://" + c.Endpoint)
	if err != nil || u.Host != c.Endpoint || u.User != nil || u.Path != "" {
		return fmt.Errorf("%w: endpoint %q must be HOST[:PORT], without scheme or path", ErrBadConfig, c.Endpoint)
	}
	if err := checkHost(u); err != nil {
		return fmt.Errorf("%w: endpoint %q: %v", ErrBadConfig, c.Endpoint, err)
	}
	if _, err := ParseBucketLookup(string(c.Lookup)); err != nil {
		return err
	}
	if c.PartSize != 0 && (c.PartSize < minPartSize || c.PartSize > maxSinglePut) {
		return fmt.Errorf("%w: part size %d: want 5 MiB to 5 GiB", ErrBadConfig, c.PartSize)
	}
	if c.MultipartThreshold < 0 || c.MultipartThreshold > maxSinglePut {
		return fmt.Errorf("%w: multipart threshold %d: want at most 5 GiB", ErrBadConfig, c.MultipartThreshold)
	}
	if (c.AccessKey == "") != (c.SecretKey == "") {
		return fmt.Errorf("%w: an access key needs a secret key and the other way round", ErrBadConfig)
	}
	return c.checkBucketAndPrefix()
}

func (c Config) checkBucketAndPrefix() error {
	if c.Bucket == "" {
		return fmt.Errorf("%w: no bucket; want %s", ErrBadAddress, addressForm)
	}
	if err := s3utils.CheckValidBucketName(c.Bucket); err != nil {
		return fmt.Errorf("%w: bucket %q: %v", ErrBadAddress, c.Bucket, err)
	}
	if c.Prefix == "" {
		return nil
	}
	if msg := objectstore.CheckPrefix(c.Prefix); msg != "" {
		return fmt.Errorf("%w: prefix %q %s", ErrBadAddress, c.Prefix, msg)
	}
	return nil
}

func (c Config) partSize() int64 {
	if c.PartSize == 0 {
		return DefaultPartSize
	}
	return c.PartSize
}

func (c Config) multipartThreshold() int64 {
	if c.MultipartThreshold == 0 {
		return DefaultMultipartThreshold
	}
	return c.MultipartThreshold
}
