//go:build linux

package index

import (
	"bytes"
	"os"
	"runtime"
	"strconv"
	"sync"
	"sync/atomic"
	"unsafe"

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

// faultWindow is the span one page fault maps around the faulting address
// (the kernel's fault_around_bytes, 64 KiB unless an administrator changed
// it), so releasing a touched page means releasing its whole window.
const faultWindow = 64 << 10

// addrOf returns the address of b's first byte as an integer.
func addrOf(b []byte) uintptr { return uintptr(unsafe.Pointer(unsafe.SliceData(b))) }

// preciseRelease is cleared when the kernel cannot release a list of
// ranges in one call (process_madvise with MADV_DONTNEED on oneself needs
// Linux 6.13); the pager then releases the whole mapping instead.
var preciseRelease atomic.Bool

func init() { preciseRelease.Store(true) }

var self struct {
	once  sync.Once
	pidfd int
	err   error
}

// iovec is struct iovec: two machine words, an address and a length.
type iovec struct{ base, len uintptr }

// releaseWindows releases the fault windows at the given file offsets of
// the mapping at base (see releaseMapping for why this is safe; the same
// rules apply: the caller holds a transaction and no window reaches past
// size) in as few system calls as possible. offs must be sorted.
func releaseWindows(base uintptr, size int64, offs []int64) error {
	self.once.Do(func() { self.pidfd, self.err = unix.PidfdOpen(os.Getpid(), 0) })
	if self.err != nil {
		preciseRelease.Store(false)
		return self.err
	}
	iov := make([]iovec, 0, len(offs))
	for i, off := range offs {
		if off >= size || (i > 0 && off == offs[i-1]) {
			continue
		}
		iov = append(iov, iovec{base: base + uintptr(off), len: uintptr(min(faultWindow, size-off))})
	}
	for len(iov) > 0 {
		n := min(len(iov), 1024) // UIO_MAXIOV
		_, _, errno := unix.Syscall6(unix.SYS_PROCESS_MADVISE, uintptr(self.pidfd),
			uintptr(unsafe.Pointer(&iov[0])), uintptr(n), unix.MADV_DONTNEED, 0, 0)
		runtime.KeepAlive(iov)
		if errno != 0 {
			preciseRelease.Store(false)
			return errno
		}
		iov = iov[n:]
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
