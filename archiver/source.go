package archiver

import (
	"errors"
	"io"
	"io/fs"
	"syscall"

	"golang.org/x/sys/unix"
)

// sourceFile is a file open for a snapshot to read: a bare descriptor,
// read at stated offsets (pread). It is not an *os.File, which registers
// every descriptor with the runtime's poller (an epoll_ctl that fails for
// every regular file) and sets a cleanup on it: a cost that a million
// small files pay a million times.
type sourceFile struct {
	fd   int
	name string
}

// openSource opens a regular file for reading without updating its access
// time where allowed, never following a symlink, and never blocking on a
// fifo that replaced the file since it was listed.
func openSource(path string) (*sourceFile, error) {
	flags := unix.O_RDONLY | unix.O_NOFOLLOW | unix.O_NONBLOCK | unix.O_CLOEXEC
	fd, err := openRetry(path, flags|unix.O_NOATIME)
	if errors.Is(err, unix.EPERM) { // O_NOATIME on a file of another owner
		fd, err = openRetry(path, flags)
	}
	if err != nil {
		return nil, &fs.PathError{Op: "open", Path: path, Err: err}
	}
	return &sourceFile{fd: fd, name: path}, nil
}

func openRetry(path string, flags int) (int, error) {
	for {
		fd, err := unix.Open(path, flags, 0)
		if err != unix.EINTR {
			return fd, err
		}
	}
}

// ReadAt implements io.ReaderAt: it reads len(p) bytes at off, or fewer
// with io.EOF at the end of the file.
func (f *sourceFile) ReadAt(p []byte, off int64) (int, error) {
	n := 0
	for n < len(p) {
		m, err := unix.Pread(f.fd, p[n:], off+int64(n))
		switch {
		case err == unix.EINTR:
			continue
		case err != nil:
			return n, &fs.PathError{Op: "read", Path: f.name, Err: err}
		case m == 0:
			return n, io.EOF
		}
		n += m
	}
	return n, nil
}

// stat returns the open file's status.
func (f *sourceFile) stat() (*syscall.Stat_t, error) {
	var st syscall.Stat_t
	for {
		err := syscall.Fstat(f.fd, &st)
		if err == syscall.EINTR {
			continue
		}
		if err != nil {
			return nil, &fs.PathError{Op: "stat", Path: f.name, Err: err}
		}
		return &st, nil
	}
}

// Close closes the file.
func (f *sourceFile) Close() error {
	return unix.Close(f.fd)
}
