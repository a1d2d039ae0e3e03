package archiver

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/user"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"golang.org/x/sys/unix"

	"github.com/cairnbackup/cairn/repo"
)

// nodeFromInfo fills a node from lstat results. Directories carry no
// inode, device or link count so that their trees stay the same across
// reboots and file systems that renumber devices.
func (a *archiver) nodeFromInfo(name, path string, fi fs.FileInfo) (repo.Node, error) {
	st, ok := fi.Sys().(*syscall.Stat_t)
	if !ok {
		return repo.Node{}, fmt.Errorf("no stat data for %s", path)
	}
	n := repo.Node{
		Name:       name,
		Mode:       uint32(st.Mode & 0o7777),
		UID:        st.Uid,
		GID:        st.Gid,
		ModTime:    time.Unix(st.Mtim.Sec, st.Mtim.Nsec).UTC(),
		ChangeTime: time.Unix(st.Ctim.Sec, st.Ctim.Nsec).UTC(),
		User:       a.names.user(st.Uid),
		Group:      a.names.group(st.Gid),
	}
	switch st.Mode & syscall.S_IFMT {
	case syscall.S_IFREG:
		n.Type, n.Size = repo.NodeFile, uint64(st.Size)
	case syscall.S_IFDIR:
		n.Type = repo.NodeDir
	case syscall.S_IFLNK:
		n.Type = repo.NodeSymlink
		target, err := os.Readlink(path)
		if err != nil {
			return n, fmt.Errorf("read symlink: %w", err)
		}
		n.LinkTarget, n.Size = target, uint64(len(target))
	case syscall.S_IFIFO:
		n.Type = repo.NodeFifo
	case syscall.S_IFCHR:
		n.Type, n.Rdev = repo.NodeCharDev, st.Rdev
	case syscall.S_IFBLK:
		n.Type, n.Rdev = repo.NodeBlockDev, st.Rdev
	case syscall.S_IFSOCK:
		n.Type = repo.NodeSocket
	default:
		return n, fmt.Errorf("unknown file type %#o", st.Mode&syscall.S_IFMT)
	}
	if n.Type != repo.NodeDir {
		n.Inode, n.Device, n.Links = st.Ino, st.Dev, uint64(st.Nlink)
	}
	xattrs, err := readXattrs(path)
	if err != nil {
		a.notice(path, fmt.Sprintf("extended attributes not saved: %v", err))
	}
	n.Xattrs = xattrs
	return n, nil
}

// readXattrs returns the extended attributes of path (not following
// symlinks), sorted by name. File systems without xattrs give none.
func readXattrs(path string) ([]repo.Xattr, error) {
	size, err := unix.Llistxattr(path, nil)
	if err != nil || size == 0 {
		if err != nil && !unsupported(err) {
			return nil, err
		}
		return nil, nil
	}
	buf := make([]byte, size)
	size, err = unix.Llistxattr(path, buf)
	if err != nil {
		return nil, err
	}
	var out []repo.Xattr
	for _, name := range strings.Split(strings.TrimRight(string(buf[:size]), "\x00"), "\x00") {
		if name == "" {
			continue
		}
		v, err := getXattr(path, name)
		if err != nil {
			if errors.Is(err, unix.ENODATA) {
				continue
			}
			return out, fmt.Errorf("%s: %w", name, err)
		}
		out = append(out, repo.Xattr{Name: name, Value: v})
	}
	slices.SortFunc(out, func(a, b repo.Xattr) int { return strings.Compare(a.Name, b.Name) })
	return out, nil
}

func getXattr(path, name string) ([]byte, error) {
	for size := 256; ; size *= 4 {
		buf := make([]byte, size)
		n, err := unix.Lgetxattr(path, name, buf)
		if errors.Is(err, unix.ERANGE) && size < 1<<20 {
			continue
		}
		if err != nil {
			return nil, err
		}
		return buf[:n], nil
	}
}

func unsupported(err error) bool {
	return errors.Is(err, unix.ENOTSUP) || errors.Is(err, unix.EOPNOTSUPP) || errors.Is(err, unix.ENODATA)
}

// names caches uid and gid lookups, which read /etc/passwd each time.
type names struct {
	mu     sync.Mutex
	users  map[uint32]string
	groups map[uint32]string
}

func newNames() *names {
	return &names{users: map[uint32]string{}, groups: map[uint32]string{}}
}

func (n *names) user(uid uint32) string {
	n.mu.Lock()
	defer n.mu.Unlock()
	if v, ok := n.users[uid]; ok {
		return v
	}
	var name string
	if u, err := user.LookupId(strconv.FormatUint(uint64(uid), 10)); err == nil {
		name = u.Username
	}
	n.users[uid] = name
	return name
}

func (n *names) group(gid uint32) string {
	n.mu.Lock()
	defer n.mu.Unlock()
	if v, ok := n.groups[gid]; ok {
		return v
	}
	var name string
	if g, err := user.LookupGroupId(strconv.FormatUint(uint64(gid), 10)); err == nil {
		name = g.Name
	}
	n.groups[gid] = name
	return name
}
