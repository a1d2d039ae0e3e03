package objectstore

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"

	"github.com/cairnbackup/cairn/backend"
)

// StatFunc is a backend's Stat.
type StatFunc func(ctx context.Context, h backend.Handle) (backend.FileInfo, error)

// ReadFailed finishes a ranged GET that failed with err (already mapped
// onto the sentinels). A range that starts exactly at the end of the
// object and runs to its end is an empty read (HTTP servers answer 416 to
// it), so fn gets no bytes; other ranges past the end are ErrShortRead.
func ReadFailed(ctx context.Context, stat StatFunc, h backend.Handle, length int, offset int64, fn func(io.Reader) error, err error) error {
	if errors.Is(err, backend.ErrShortRead) && length == 0 {
		fi, serr := stat(ctx, h)
		if serr == nil && fi.Size == offset {
			return fn(bytes.NewReader(nil))
		}
		if serr == nil {
			return fmt.Errorf("load %s: %w: offset %d beyond %d bytes", h, backend.ErrShortRead, offset, fi.Size)
		}
	}
	return fmt.Errorf("load %s: %w", h, err)
}

// ListConfig is List for backend.ConfigFile: the config, if present,
// found with one Stat.
func ListConfig(ctx context.Context, stat StatFunc, fn func(backend.FileInfo) error) error {
	fi, err := stat(ctx, backend.Handle{Type: backend.ConfigFile})
	if errors.Is(err, backend.ErrNotFound) {
		return nil
	}
	if err != nil {
		return err
	}
	return fn(fi)
}

// StatusSentinel classifies an HTTP error status for answers whose
// provider code says nothing more: 401 and 403 deny access, 404 is not
// found, 416 a short read, 413 and 507 no space, 408, 429 and 5xx are
// worth retrying. It returns nil for other statuses.
func StatusSentinel(status int) error {
	switch s := status; {
	case s == http.StatusUnauthorized || s == http.StatusForbidden:
		return backend.ErrAccessDenied
	case s == http.StatusNotFound:
		return backend.ErrNotFound
	case s == http.StatusRequestedRangeNotSatisfiable:
		return backend.ErrShortRead
	case s == http.StatusInsufficientStorage || s == http.StatusRequestEntityTooLarge:
		return backend.ErrNoSpace
	case s == http.StatusRequestTimeout || s == http.StatusTooManyRequests || s >= 500:
		return backend.ErrTransient
	}
	return nil
}

// Preparation readies a bucket prefix for a new repository.
type Preparation struct {
	// List returns up to max names directly under the prefix ("config",
	// "data/", ...), relative to it, or backend.ErrNotFound when the bucket
	// is missing.
	List func(ctx context.Context, max int) ([]string, error)
	// Make makes the missing bucket, when MakeBucket allows it.
	Make       func(ctx context.Context) error
	MakeBucket bool
	// Bucket names the bucket in messages: `bucket "b"`, `container "c"`.
	Bucket string
	// Prefix is the prefix with its trailing slash, for messages.
	Prefix string
	// NotEmpty is the error for a prefix holding foreign objects.
	NotEmpty error
}

// Run makes a missing bucket (or says it is missing) and refuses a prefix
// whose top level holds anything but repository objects. A prefix that
// holds a repository already is accepted: the caller looks for a config.
func (p Preparation) Run(ctx context.Context) error {
	names, err := p.List(ctx, 100)
	if errors.Is(err, backend.ErrNotFound) {
		if !p.MakeBucket {
			return MissingBucket(err, p.Bucket)
		}
		return p.Make(ctx)
	}
	if err != nil {
		return err
	}
	for _, n := range names {
		if !RepositoryTopLevel(n) {
			return fmt.Errorf("%w: found %q; choose an empty prefix or a new one", p.NotEmpty, p.Prefix+n)
		}
	}
	return nil
}

// MissingBucket adds to err, a listing's backend.ErrNotFound, that the
// bucket (or container: what names it, `bucket "b"`) does not exist and
// how to have cairn make it. Other errors are returned as they are.
func MissingBucket(err error, what string) error {
	if !errors.Is(err, backend.ErrNotFound) {
		return err
	}
	return fmt.Errorf("%w (%s does not exist: create it, or let cairn make it with --create-bucket: `cairn init --create-bucket` for a new repository, `cairn sync --to LOCATION --create-bucket` for a copy of one)", err, what)
}

// SaveSize checks what every Save checks before its first request: a
// valid handle, a live context, a source that rewinds and has a length.
// It returns that length.
func SaveSize(ctx context.Context, h backend.Handle, rd backend.RewindReader) (int64, error) {
	if err := h.Valid(); err != nil {
		return 0, err
	}
	if err := ctx.Err(); err != nil {
		return 0, err
	}
	if err := rd.Rewind(); err != nil {
		return 0, fmt.Errorf("save %s: rewind source: %w", h, err)
	}
	size := rd.Length()
	if size < 0 {
		return 0, fmt.Errorf("save %s: source has negative length %d", h, size)
	}
	return size, nil
}

// CheckLoad checks what every Load checks before its request: a valid
// handle, a live context, a range that is not negative.
func CheckLoad(ctx context.Context, h backend.Handle, length int, offset int64) error {
	if err := h.Valid(); err != nil {
		return err
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	if length < 0 || offset < 0 {
		return fmt.Errorf("load %s: %w: negative range", h, backend.ErrInvalidHandle)
	}
	return nil
}

// CheckLength fails with ErrShortRead when a ranged answer of n bytes does
// not hold the length bytes asked for (length 0: to the end, any n), and
// with ErrCorrupt when it announces more than was asked for.
func CheckLength(h backend.Handle, length int, offset, n int64) error {
	if length > 0 && n < int64(length) {
		return fmt.Errorf("load %s: %w: want %d bytes at %d, got %d", h, backend.ErrShortRead, length, offset, n)
	}
	if length > 0 && n > int64(length) {
		// More than asked for: the server ignored or mangled the range.
		return fmt.Errorf("load %s: %w: asked for %d bytes at %d, the server announced %d", h, backend.ErrCorrupt, length, offset, n)
	}
	return nil
}
