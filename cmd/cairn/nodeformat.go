package main

import (
	"fmt"
	"strconv"
	"time"

	"github.com/cairnbackup/cairn/repo"
)

// timeLayout is how times are shown to people, in local time.
const timeLayout = "2006-01-02 15:04:05"

// typeChars is the first letter ls -l shows for each node type.
var typeChars = map[repo.NodeType]byte{
	repo.NodeFile: '-', repo.NodeDir: 'd', repo.NodeSymlink: 'l', repo.NodeFifo: 'p',
	repo.NodeCharDev: 'c', repo.NodeBlockDev: 'b', repo.NodeSocket: 's',
}

// modeString renders a node's type and permission bits as ls -l does,
// for example "drwxr-xr-x" or "-rwsr-x--T".
func modeString(n *repo.Node) string {
	b := []byte("?---------")
	if c, ok := typeChars[n.Type]; ok {
		b[0] = c
	}
	const rwx = "rwxrwxrwx"
	for i := range 9 {
		if n.Mode&(1<<(8-i)) != 0 {
			b[i+1] = rwx[i]
		}
	}
	special := func(bit uint32, pos int, set, unset byte) {
		if n.Mode&bit == 0 {
			return
		}
		if b[pos] == 'x' {
			b[pos] = set
		} else {
			b[pos] = unset
		}
	}
	special(0o4000, 3, 's', 'S')
	special(0o2000, 6, 's', 'S')
	special(0o1000, 9, 't', 'T')
	return string(b)
}

// ownerNames returns the user and group names recorded in the node, or
// the numeric ids where no name was.
func ownerNames(n *repo.Node) (user, group string) {
	user, group = n.User, n.Group
	if user == "" {
		user = strconv.FormatUint(uint64(n.UID), 10)
	}
	if group == "" {
		group = strconv.FormatUint(uint64(n.GID), 10)
	}
	return user, group
}

// longLine formats a node as ls -l does: mode, owner, group, size, local
// modification time, path, and "-> target" for a symbolic link.
func longLine(path string, n *repo.Node) string {
	user, group := ownerNames(n)
	line := fmt.Sprintf("%s %-8s %-8s %10d %s %s", modeString(n), user, group, n.Size,
		n.ModTime.Local().Format(timeLayout), path)
	if n.Type == repo.NodeSymlink {
		line += " -> " + n.LinkTarget
	}
	return line
}

// nodeJSON is the JSON form of one listed entry (ls, find).
type nodeJSON struct {
	Path        string        `json:"path"`
	Name        string        `json:"name"`
	Type        repo.NodeType `json:"type"`
	Mode        uint32        `json:"mode"`        // permission bits, setuid, setgid, sticky
	Permissions string        `json:"permissions"` // as ls -l shows them
	Size        uint64        `json:"size"`
	UID         uint32        `json:"uid"`
	GID         uint32        `json:"gid"`
	User        string        `json:"user,omitempty"`
	Group       string        `json:"group,omitempty"`
	ModTime     time.Time     `json:"mtime"`
	ChangeTime  time.Time     `json:"ctime"`
	Inode       uint64        `json:"inode,omitempty"`
	Links       uint64        `json:"links,omitempty"`
	LinkTarget  string        `json:"linktarget,omitempty"`
	Hash        repo.ID       `json:"hash,omitzero"`    // files: BLAKE3-256 of the content
	Subtree     repo.ID       `json:"subtree,omitzero"` // folders: the tree id
}

// newNodeJSON describes the node at path.
func newNodeJSON(path string, n *repo.Node) nodeJSON {
	return nodeJSON{
		Path: path, Name: n.Name, Type: n.Type, Mode: n.Mode, Permissions: modeString(n),
		Size: n.Size, UID: n.UID, GID: n.GID, User: n.User, Group: n.Group,
		ModTime: n.ModTime, ChangeTime: n.ChangeTime, Inode: n.Inode, Links: n.Links,
		LinkTarget: n.LinkTarget, Hash: n.Hash, Subtree: n.Subtree,
	}
}
