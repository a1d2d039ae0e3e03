//go:build !linux

package index

// releaseMapping does nothing outside Linux: the mapped cache file then
// counts fully towards the resident set, which is harmless but larger.
func releaseMapping(base uintptr, size int64) error { return nil }

// mappedFileBytes is unknown outside Linux.
func mappedFileBytes() (int64, bool) { return 0, false }

// bootID is unknown outside Linux, so an unclean cache is always rebuilt.
func bootID() string { return "" }
