package backend

import "errors"

// Sentinel errors. Backends wrap provider errors onto them while keeping the
// provider's message: fmt.Errorf("%w: %v", backend.ErrNotFound, err).
var (
	// ErrNotFound: the object (or the repository location) does not exist.
	ErrNotFound = errors.New("backend: not found")
	// ErrAccessDenied: the credentials or file permissions do not allow this.
	ErrAccessDenied = errors.New("backend: access denied")
	// ErrNoSpace: the storage is full or over quota.
	ErrNoSpace = errors.New("backend: no space left")
	// ErrShortRead: the object is shorter than the requested range.
	ErrShortRead = errors.New("backend: object shorter than requested range")
	// ErrInvalidHandle: the handle cannot name an object.
	ErrInvalidHandle = errors.New("backend: invalid handle")
	// ErrTransient: a failure worth retrying (timeouts, resets, 5xx, throttling).
	ErrTransient = errors.New("backend: transient failure")
	// ErrCorrupt: the bytes read do not match their name's hash.
	ErrCorrupt = errors.New("backend: object corrupt")
)

// IsTransient reports whether err is worth retrying.
func IsTransient(err error) bool {
	return errors.Is(err, ErrTransient)
}
