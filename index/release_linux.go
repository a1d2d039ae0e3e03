//go:build linux

package index

import (
	"bytes"
	"os"
	"strconv"

	"golang.org/x/sys/unix"
)

// releaseMapping drops this process's page-table entries for the first size
// bytes of bbolt's read-only mapping of the cache file, so that pages a
// transaction touched stop counting towards the process's resident set.
//
// Why this is safe: bbolt maps the file PROT_READ and MAP_SHARED and writes
// it only with pwrite, so every mapped page is a clean view of the page
// cache. MADV_DONTNEED on such a mapping unmaps pages and nothing else; the
// next access faults the same page back in from the page cache (or the
// disk) with the contents the file has at that moment, which is exactly
// what the mapping would have shown. Concurrent readers inside bbolt
// transactions therefore see no difference. The one real hazard would be
// advising an address range that is no longer bbolt's mapping (after a
// remap it could belong to the Go heap, and MADV_DONTNEED zeroes anonymous
// memory). Callers prevent that by calling this only while they hold a
// bbolt transaction, which keeps the mapping in place (read transactions
// hold bbolt's mmap lock, and the single writer only remaps inside Commit),
// and by passing a size no larger than that transaction's view of the file
// (tx.Size()), which the mapping always covers.
//
// base is the mapping's address, from db.Info().Data. It is passed to the
// system call as an integer so that no Go pointer is made from it.
func releaseMapping(base uintptr, size int64) error {
	if base == 0 || size <= 0 {
		return nil
	}
	_, _, errno := unix.Syscall(unix.SYS_MADVISE, base, uintptr(size), unix.MADV_DONTNEED)
	if errno != 0 {
		return errno
	}
	return nil
}

// mappedFileBytes reports how many bytes of file-backed (and shared) memory
// the process has resident, from /proc/self/statm.
func mappedFileBytes() (int64, bool) {
	b, err := os.ReadFile("/proc/self/statm")
	if err != nil {
		return 0, false
	}
	f := bytes.Fields(b)
	if len(f) < 3 {
		return 0, false
	}
	pages, err := strconv.ParseInt(string(f[2]), 10, 64)
	if err != nil {
		return 0, false
	}
	return pages * int64(os.Getpagesize()), true
}

// bootID identifies the running kernel boot, so that a cache left unclean
// by a killed process (whose writes all reached the page cache) can be told
// from one left by a crashed system (whose unsynced writes may be lost).
func bootID() string {
	b, err := os.ReadFile("/proc/sys/kernel/random/boot_id")
	if err != nil {
		return ""
	}
	return string(bytes.TrimSpace(b))
}
