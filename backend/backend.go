// Package backend defines where a repository's objects live: one small
// interface, implemented by local directories, object stores (S3-compatible
// stores, Azure Blob Storage, Google Cloud Storage) and an
// in-memory store for tests, and decorated by retry and multi-location
// wrappers.
//
// Objects are immutable: a name is either absent or holds the bytes that were
// saved under it. Every name except the config is the hash of the object's
// bytes, so saving the same name twice saves the same bytes, and decorators may
// replay a Save without harm.
package backend

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
)

// FileType is the kind of an object; it is also the folder (or key prefix)
// the object lives under.
type FileType string

// The object kinds of repository format 1.
const (
	ConfigFile   FileType = "config"
	KeyFile      FileType = "keys"
	PackFile     FileType = "data"
	IndexFile    FileType = "index"
	SnapshotFile FileType = "snapshots"
	LockFile     FileType = "locks"
	HistoryFile  FileType = "history"
)

// AllTypes lists every object kind, config first.
var AllTypes = []FileType{ConfigFile, KeyFile, PackFile, IndexFile, SnapshotFile, LockFile, HistoryFile}

// Handle names one object. The config has an empty Name.
type Handle struct {
	Type FileType
	Name string
}

// String returns the object's path relative to the repository root,
// e.g. "data/3f/3f09...", which is also how every backend lays it out.
func (h Handle) String() string {
	return Path(h)
}

// Valid reports an error for a handle that cannot name an object: an unknown
// type, a config with a name, or a name that could escape its folder.
func (h Handle) Valid() error {
	switch h.Type {
	case ConfigFile:
		if h.Name != "" {
			return fmt.Errorf("%w: config takes no name", ErrInvalidHandle)
		}
		return nil
	case KeyFile, PackFile, IndexFile, SnapshotFile, LockFile, HistoryFile:
	default:
		return fmt.Errorf("%w: unknown type %q", ErrInvalidHandle, h.Type)
	}
	if h.Name == "" || strings.ContainsAny(h.Name, "/\\\x00") || h.Name == "." || h.Name == ".." || strings.HasPrefix(h.Name, ".") {
		return fmt.Errorf("%w: bad name %q", ErrInvalidHandle, h.Name)
	}
	return nil
}

// Path returns the slash-separated path of an object below the repository
// root. Packs are spread over 256 folders by the first two characters of
// their name.
func Path(h Handle) string {
	switch {
	case h.Type == ConfigFile:
		return "config"
	case h.Type == PackFile && len(h.Name) >= 2:
		return "data/" + h.Name[:2] + "/" + h.Name
	default:
		return string(h.Type) + "/" + h.Name
	}
}

// FileInfo describes a stored object.
type FileInfo struct {
	Name string
	Size int64
}

// Backend stores a repository's objects. Implementations are safe for
// concurrent use by many goroutines.
type Backend interface {
	// Location describes where the objects live, for messages: a path, or
	// an s3:, azure: or gs: address. It never holds a secret.
	Location() string

	// Save stores rd's bytes under h atomically: readers see either no object
	// or all of it, never a prefix, and a failed or cancelled Save leaves no
	// object under h (temporary names are allowed and ignored by List). When
	// Save returns nil the object is durable and readable by the next Load,
	// Stat and List. Saving a name that exists replaces it. Save reads rd from
	// its start; wrappers that retry call rd.Rewind first.
	Save(ctx context.Context, h Handle, rd RewindReader) error

	// Load calls fn with a reader of length bytes of h starting at offset;
	// length 0 means to the end of the object. The reader is valid only
	// during fn and yields exactly the requested bytes or fails with
	// ErrShortRead. fn may be called more than once when a wrapper retries;
	// it must start over each time. A missing object returns ErrNotFound
	// without calling fn; fn's own error is returned as it is.
	Load(ctx context.Context, h Handle, length int, offset int64, fn func(rd io.Reader) error) error

	// Stat returns the size of h, or ErrNotFound.
	Stat(ctx context.Context, h Handle) (FileInfo, error)

	// List calls fn for every object of type t, in no particular order. For
	// ConfigFile it reports the config if present. An error from fn stops
	// the listing and is returned.
	List(ctx context.Context, t FileType, fn func(FileInfo) error) error

	// Remove deletes h. Removing a missing object returns ErrNotFound.
	Remove(ctx context.Context, h Handle) error

	// Close releases resources held by the backend.
	Close() error
}

// Stager is implemented by backends that can build an object in place when
// its name is known only once it is complete (a pack is named by the hash
// of its bytes): the caller writes the object once, instead of to a
// temporary file that Save then copies. A decorator that cannot pass
// staging through returns an error wrapping errors.ErrUnsupported.
type Stager interface {
	Stage(ctx context.Context, t FileType) (Staged, error)
}

// StageIn stages an object of type t in be when be can stage, and fails
// with errors.ErrUnsupported when it cannot: what a decorator's Stage
// passes through before it wraps the staged object.
func StageIn(ctx context.Context, be Backend, t FileType) (Staged, error) {
	st, ok := be.(Stager)
	if !ok {
		return nil, fmt.Errorf("stage %s on %s: %w", t, be.Location(), errors.ErrUnsupported)
	}
	return st.Stage(ctx, t)
}

// Staged is an object being written. Nothing is visible under any name
// until Commit, which gives the object its name with the guarantees of
// Save; Abort (or a failed Commit) discards it. Exactly one of the two must
// be called.
type Staged interface {
	io.Writer
	Commit(ctx context.Context, name string) error
	Abort()
}

// Unwrapper is implemented by decorators so that callers can reach the
// backend they wrap (for example to read its request counters).
type Unwrapper interface {
	Unwrap() Backend
}

// LoadAll reads a whole object into memory.
func LoadAll(ctx context.Context, be Backend, h Handle) ([]byte, error) {
	var buf []byte
	err := be.Load(ctx, h, 0, 0, func(rd io.Reader) error {
		var err error
		buf, err = io.ReadAll(rd)
		return err
	})
	return buf, err
}

// LoadRange reads length bytes at offset into a new slice; a shorter
// object is an ErrShortRead.
func LoadRange(ctx context.Context, be Backend, h Handle, length int, offset int64) ([]byte, error) {
	if length <= 0 {
		return nil, fmt.Errorf("load %s: %w: range length %d", h, ErrInvalidHandle, length)
	}
	buf := make([]byte, length)
	err := be.Load(ctx, h, length, offset, func(rd io.Reader) error {
		_, err := io.ReadFull(rd, buf)
		if err == io.ErrUnexpectedEOF || err == io.EOF {
			return fmt.Errorf("%w: %v", ErrShortRead, err)
		}
		return err
	})
	return buf, err
}

// Parallel is implemented by backends that serve requests best many at a
// time, such as object stores, where every request waits a round trip.
type Parallel interface {
	// Parallelism is how many requests at once keep the store busy.
	Parallelism() int
}

// Parallelism returns how many requests at once be serves well: what be, or
// the first backend it wraps that says, answers; 0 when none does, as for
// a local folder, where the caller's own worker count fits.
func Parallelism(be Backend) int {
	for be != nil {
		if p, ok := be.(Parallel); ok {
			return p.Parallelism()
		}
		u, ok := be.(Unwrapper)
		if !ok {
			return 0
		}
		be = u.Unwrap()
	}
	return 0
}
