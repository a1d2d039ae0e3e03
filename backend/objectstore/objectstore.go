// Package objectstore holds what the backends of object stores (s3, azure,
// gcs) share: where objects live under a prefix and how a listed key maps
// back to an object, request counting at the HTTP transport, network
// failures worth retrying, and readers that hold uploads and downloads to
// their exact length.
package objectstore

import (
	"strings"

	"github.com/cairnbackup/cairn/backend"
)

// ObjectName returns the name of the object of type t at rel, a key
// relative to the type's folder, if rel is where backend.Path puts it.
// Other keys (folder markers, temporary or foreign objects) are not
// objects of the repository.
func ObjectName(t backend.FileType, rel string) (string, bool) {
	name := rel
	if t == backend.PackFile {
		dir, n, ok := strings.Cut(rel, "/")
		if !ok || len(n) < 2 || n[:2] != dir {
			return "", false
		}
		name = n
	}
	h := backend.Handle{Type: t, Name: name}
	if h.Valid() != nil || backend.Path(h) != string(t)+"/"+rel {
		return "", false
	}
	return name, true
}

// RepositoryTopLevel reports whether a key directly under a repository's
// prefix can belong to a repository: "config", or one of the type folders
// as a listing with a delimiter reports them ("keys/", "data/", ...).
func RepositoryTopLevel(key string) bool {
	if key == string(backend.ConfigFile) {
		return true
	}
	for _, t := range backend.AllTypes[1:] {
		if key == string(t)+"/" {
			return true
		}
	}
	return false
}

// CheckPrefix checks a key prefix (without leading or trailing slashes):
// no empty, "." or ".." segments, no backslash or NUL, segments of at most
// 255 bytes. It returns a message for the caller to wrap, or "".
func CheckPrefix(prefix string) string {
	if prefix == "" {
		return ""
	}
	for _, seg := range strings.Split(prefix, "/") {
		switch {
		case seg == "":
			return "has an empty path segment (a leading, trailing or doubled slash)"
		case seg == "." || seg == "..":
			return "has a \"" + seg + "\" segment"
		case strings.ContainsAny(seg, "\\\x00"):
			return "has a backslash or NUL"
		case len(seg) > 255:
			return "has a segment longer than 255 bytes"
		}
	}
	return ""
}

// Parallelism is how many requests object store backends keep in flight
// for bulk reads (restore, check, sync): enough to hide a round trip of
// tens of milliseconds behind the transfers of the others, few enough to
// stay far below any store's rate limits.
const Parallelism = 16
