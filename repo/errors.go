package repo

import (
	"errors"
	"fmt"

	"github.com/cairnbackup/cairn/backend"
)

// Sentinel errors. The command line maps them to exit codes.
var (
	// ErrNoRepository: there is no repository at the location (exit 10).
	ErrNoRepository = errors.New("repo: no repository")
	// ErrWrongPassword: no key file opens with the given password or key (exit 12).
	ErrWrongPassword = errors.New("repo: wrong password or key")
	// ErrLocked: another process holds a lock that excludes this one (exit 11).
	ErrLocked = errors.New("repo: locked by another process")
	// ErrNewerFormat: the repository was written by a newer cairn.
	ErrNewerFormat = errors.New("repo: repository format is newer than this cairn")
	// ErrExists: init found a repository already there.
	ErrExists = errors.New("repo: repository already exists")
	// ErrMalformed: an object decoded from storage is not well formed.
	ErrMalformed = errors.New("repo: malformed object")
	// ErrCorrupt: an object's bytes do not match its name, or a blob does
	// not match its id. It wraps backend.ErrCorrupt, so a multi-location
	// backend whose Load callback fails with it reads another copy.
	ErrCorrupt = fmt.Errorf("repo: %w", backend.ErrCorrupt)
	// ErrBlobNotFound: no index entry (outside condemned packs) holds the blob.
	ErrBlobNotFound = errors.New("repo: blob not in index")
	// ErrNotFound: no snapshot or key matches a name.
	ErrNotFound = errors.New("repo: not found")
	// ErrAmbiguous: a prefix matches more than one snapshot or key.
	ErrAmbiguous = errors.New("repo: ambiguous prefix")
)
