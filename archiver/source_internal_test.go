package archiver

import (
	"errors"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"syscall"
	"testing"
)

// A source file reads by offset as io.ReaderAt says (io.EOF with a short
// read at the end), names itself in its errors, never follows a symlink,
// and opens a fifo without blocking so that the caller sees it is not a
// regular file.
func TestSourceFile(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "f")
	if err := os.WriteFile(path, []byte("0123456789"), 0o600); err != nil {
		t.Fatal(err)
	}
	f, err := openSource(path)
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		len  int
		off  int64
		want string
		err  error
	}{{4, 3, "3456", nil}, {16, 0, "0123456789", io.EOF}, {4, 8, "89", io.EOF}, {4, 20, "", io.EOF}, {0, 0, "", nil}} {
		p := make([]byte, tc.len)
		n, err := f.ReadAt(p, tc.off)
		if string(p[:n]) != tc.want || err != tc.err {
			t.Errorf("ReadAt(%d bytes, %d) = %q, %v; want %q, %v", tc.len, tc.off, p[:n], err, tc.want, tc.err)
		}
	}
	st, err := f.stat()
	if err != nil || st.Size != 10 || st.Mode&syscall.S_IFMT != syscall.S_IFREG {
		t.Fatalf("stat: %+v, %v", st, err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := f.stat(); !errors.Is(err, syscall.EBADF) {
		t.Fatalf("stat after Close: %v, want EBADF", err)
	}

	link := filepath.Join(dir, "link")
	if err := os.Symlink(path, link); err != nil {
		t.Fatal(err)
	}
	var pe *fs.PathError
	if _, err := openSource(link); !errors.As(err, &pe) || pe.Op != "open" || pe.Path != link || !errors.Is(err, syscall.ELOOP) {
		t.Fatalf("open of a symlink: %v, want an open error naming it (ELOOP)", err)
	}
	if _, err := openSource(filepath.Join(dir, "missing")); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("open of a missing file: %v", err)
	}

	fifo := filepath.Join(dir, "fifo")
	if err := syscall.Mkfifo(fifo, 0o600); err != nil {
		t.Fatal(err)
	}
	f, err = openSource(fifo) // would block for ever without O_NONBLOCK
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if st, err := f.stat(); err != nil || st.Mode&syscall.S_IFMT != syscall.S_IFIFO {
		t.Fatalf("stat of a fifo: %+v, %v", st, err)
	}
}
