//go:build !linux

package index

import "sync/atomic"

// releaseMapping does nothing outside Linux: the mapped cache file then
// counts fully towards the resident set, which is harmless but larger.
func releaseMapping(base uintptr, size int64) error { return nil }

// mappedFileBytes is unknown outside Linux.
func mappedFileBytes() (int64, bool) { return 0, false }

// bootID is unknown outside Linux, so an unclean cache is always rebuilt.
func bootID() string { return "" }

const faultWindow = 64 << 10

// addrOf is not needed outside Linux.
func addrOf(b []byte) uintptr { return 0 }

// preciseRelease is never available outside Linux.
var preciseRelease atomic.Bool

// releaseWindows does nothing outside Linux.
func releaseWindows(base uintptr, size int64, offs []int64) error { return nil }
