package priority

import (
	"fmt"
	"os"
	"strconv"

	"golang.org/x/sys/unix"
)

const ioprioWhoProcess = 1 // IOPRIO_WHO_PROCESS: a thread id (0: the caller)

func ioprio(class IOClass, level int) uintptr {
	return uintptr(class)<<13 | uintptr(level&7)
}

// SetThreadIO sets the I/O class and level (0 highest to 7 lowest, for
// best-effort) of the calling OS thread. The caller locks its goroutine
// to the thread.
func SetThreadIO(class IOClass, level int) error {
	if class == IONone {
		return nil
	}
	if _, _, e := unix.Syscall(unix.SYS_IOPRIO_SET, ioprioWhoProcess, 0, ioprio(class, level)); e != 0 {
		return fmt.Errorf("ioprio_set: %w", e)
	}
	return nil
}

// ThreadIO returns the calling thread's I/O class and level.
func ThreadIO() (IOClass, int, error) {
	v, _, e := unix.Syscall(unix.SYS_IOPRIO_GET, ioprioWhoProcess, 0, 0)
	if e != 0 {
		return IONone, 0, fmt.Errorf("ioprio_get: %w", e)
	}
	return IOClass(v >> 13), int(v & 7), nil
}

// SetThreadNice sets the calling OS thread's niceness (-20 to 19); only
// root may lower it.
func SetThreadNice(n int) error {
	if err := unix.Setpriority(unix.PRIO_PROCESS, unix.Gettid(), n); err != nil {
		return fmt.Errorf("setpriority %d: %w", n, err)
	}
	return nil
}

// ThreadNice returns the calling OS thread's niceness.
func ThreadNice() (int, error) {
	// getpriority returns 20 - nice, to keep the result positive.
	v, err := unix.Getpriority(unix.PRIO_PROCESS, unix.Gettid())
	if err != nil {
		return 0, fmt.Errorf("getpriority: %w", err)
	}
	return 20 - v, nil
}

// SetProcessNice sets the niceness of every thread of the process; the
// threads the runtime starts later inherit it.
func SetProcessNice(n int) error {
	return eachThread(func(tid int) error { return unix.Setpriority(unix.PRIO_PROCESS, tid, n) })
}

// SetProcessIO sets the I/O class and level of every thread of the
// process.
func SetProcessIO(class IOClass, level int) error {
	if class == IONone {
		return nil
	}
	return eachThread(func(tid int) error {
		if _, _, e := unix.Syscall(unix.SYS_IOPRIO_SET, ioprioWhoProcess, uintptr(tid), ioprio(class, level)); e != 0 {
			return e
		}
		return nil
	})
}

func eachThread(fn func(tid int) error) error {
	entries, err := os.ReadDir("/proc/self/task")
	if err != nil {
		return fmt.Errorf("list threads: %w", err)
	}
	for _, e := range entries {
		tid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		if err := fn(tid); err != nil && err != unix.ESRCH { // a thread that just ended
			return fmt.Errorf("thread %d: %w", tid, err)
		}
	}
	return nil
}
