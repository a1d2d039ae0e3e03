package repo

import (
	"fmt"
	"hash"
	"math"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/cairnbackup/cairn/crypto"
)

// NodeType is the kind of a file system entry.
type NodeType uint8

// Node types.
const (
	NodeFile NodeType = iota + 1
	NodeDir
	NodeSymlink
	NodeFifo
	NodeCharDev
	NodeBlockDev
	NodeSocket
)

var nodeTypeNames = map[NodeType]string{
	NodeFile: "file", NodeDir: "dir", NodeSymlink: "symlink", NodeFifo: "fifo",
	NodeCharDev: "chardev", NodeBlockDev: "blockdev", NodeSocket: "socket",
}

// String returns a short name such as "file" or "dir".
func (t NodeType) String() string {
	if s, ok := nodeTypeNames[t]; ok {
		return s
	}
	return fmt.Sprintf("nodetype(%d)", uint8(t))
}

// MarshalText encodes the type by name, for JSON.
func (t NodeType) MarshalText() ([]byte, error) { return []byte(t.String()), nil }

// Xattr is one extended attribute.
type Xattr struct {
	Name  string `json:"name"`
	Value []byte `json:"value"`
}

// Extent is one piece of a file's content: a data blob of Length bytes, or
// a hole of Length bytes (Hole set, Blob zero) that restore recreates sparse.
type Extent struct {
	Blob   ID     `json:"blob,omitzero"`
	Length uint64 `json:"length"`
	Hole   bool   `json:"hole,omitempty"`
}

// Node is one entry of a tree. Access times are not recorded, so an
// unchanged directory always encodes to the same tree.
type Node struct {
	Name       string    `json:"name"`
	Type       NodeType  `json:"type"`
	Mode       uint32    `json:"mode"` // permission bits plus setuid, setgid, sticky (0o7777)
	UID        uint32    `json:"uid"`
	GID        uint32    `json:"gid"`
	User       string    `json:"user,omitempty"`
	Group      string    `json:"group,omitempty"`
	ModTime    time.Time `json:"mtime"`
	ChangeTime time.Time `json:"ctime"`
	Size       uint64    `json:"size"`
	Inode      uint64    `json:"inode,omitempty"`
	Device     uint64    `json:"device,omitempty"`
	Links      uint64    `json:"links,omitempty"`
	Rdev       uint64    `json:"rdev,omitempty"` // device number of device nodes
	LinkTarget string    `json:"linktarget,omitempty"`
	Xattrs     []Xattr   `json:"xattrs,omitempty"`
	Content    []Extent  `json:"content,omitempty"` // files
	Hash       ID        `json:"hash,omitzero"`     // files: BLAKE3-256 of the whole content
	Subtree    ID        `json:"subtree,omitzero"`  // directories
}

// Tree is a directory listing, sorted by name.
type Tree struct {
	Nodes []Node `json:"nodes"`
}

// Sort orders the nodes by name (and each node's xattrs), as Encode requires.
func (t *Tree) Sort() {
	slices.SortFunc(t.Nodes, func(a, b Node) int { return strings.Compare(a.Name, b.Name) })
	for i := range t.Nodes {
		slices.SortFunc(t.Nodes[i].Xattrs, func(a, b Xattr) int { return strings.Compare(a.Name, b.Name) })
	}
}

// Find returns the node called name, or nil.
func (t *Tree) Find(name string) *Node {
	i, ok := slices.BinarySearchFunc(t.Nodes, name, func(n Node, s string) int { return strings.Compare(n.Name, s) })
	if !ok {
		return nil
	}
	return &t.Nodes[i]
}

// ValidName reports an error for a name that cannot be a tree entry: empty,
// "." or "..", or holding "/" or NUL. Restore relies on this to never write
// outside its target.
func ValidName(name string) error {
	switch {
	case name == "" || name == "." || name == "..":
		return fmt.Errorf("entry name %q is not allowed", name)
	case strings.ContainsAny(name, "/\x00"):
		return fmt.Errorf("entry name %q holds a slash or NUL", name)
	}
	return nil
}

// CheckContent reports an error for a file node whose content cannot be
// what it claims: extents whose lengths do not add up to its size (or
// overflow), or a data extent longer than any blob can be. A tree that
// decodes may still hold such a node if whoever wrote it was hostile or
// broken; restore, dump and check refuse the file instead of writing,
// or streaming, an amount of data that only the claim bounds.
func CheckContent(n *Node) error {
	if n.Type != NodeFile {
		return nil
	}
	var sum uint64
	for i, e := range n.Content {
		if !e.Hole && (e.Length == 0 || e.Length > MaxBlobSize) {
			return fmt.Errorf("%w: file %q: extent %d claims %d bytes, a blob holds 1 to %d", ErrMalformed, n.Name, i, e.Length, MaxBlobSize)
		}
		if sum+e.Length < sum {
			return fmt.Errorf("%w: file %q: extent lengths overflow", ErrMalformed, n.Name)
		}
		sum += e.Length
	}
	if sum != n.Size {
		return fmt.Errorf("%w: file %q: size %d but its extents hold %d bytes", ErrMalformed, n.Name, n.Size, sum)
	}
	if n.Size > math.MaxInt64 {
		return fmt.Errorf("%w: file %q: size %d too large", ErrMalformed, n.Name, n.Size)
	}
	return nil
}

// tree encoding version
const treeVersion = 1

// EncodeTree returns the deterministic encoding of t, which must be sorted
// with unique, valid names (see Sort and ValidName).
func EncodeTree(t *Tree) ([]byte, error) {
	e := encoder{b: make([]byte, 0, 64+len(t.Nodes)*160)}
	e.b = append(e.b, treeVersion)
	e.uvarint(uint64(len(t.Nodes)))
	for i := range t.Nodes {
		n := &t.Nodes[i]
		if err := ValidName(n.Name); err != nil {
			return nil, err
		}
		if i > 0 && t.Nodes[i-1].Name >= n.Name {
			return nil, fmt.Errorf("tree entries not sorted and unique at %q", n.Name)
		}
		if err := encodeNode(&e, n); err != nil {
			return nil, fmt.Errorf("entry %q: %w", n.Name, err)
		}
	}
	return e.b, nil
}

func encodeNode(e *encoder, n *Node) error {
	if _, ok := nodeTypeNames[n.Type]; !ok {
		return fmt.Errorf("unknown node type %d", n.Type)
	}
	e.str(n.Name)
	e.b = append(e.b, byte(n.Type))
	e.uvarint(uint64(n.Mode))
	e.uvarint(uint64(n.UID))
	e.uvarint(uint64(n.GID))
	e.str(n.User)
	e.str(n.Group)
	e.time(n.ModTime)
	e.time(n.ChangeTime)
	for _, v := range []uint64{n.Size, n.Inode, n.Device, n.Links, n.Rdev} {
		e.uvarint(v)
	}
	e.str(n.LinkTarget)
	e.uvarint(uint64(len(n.Xattrs)))
	for i, x := range n.Xattrs {
		if i > 0 && n.Xattrs[i-1].Name >= x.Name {
			return fmt.Errorf("xattrs not sorted and unique at %q", x.Name)
		}
		e.str(x.Name)
		e.str(string(x.Value))
	}
	e.uvarint(uint64(len(n.Content)))
	for _, x := range n.Content {
		if x.Hole {
			e.b = append(e.b, 1)
		} else {
			e.b = append(e.b, 0)
			e.b = append(e.b, x.Blob[:]...)
		}
		e.uvarint(x.Length)
	}
	switch n.Type {
	case NodeFile:
		e.b = append(e.b, n.Hash[:]...)
	case NodeDir:
		e.b = append(e.b, n.Subtree[:]...)
	}
	return nil
}

// DecodeTree parses an encoded tree and rejects anything EncodeTree would
// not have written.
func DecodeTree(b []byte) (*Tree, error) {
	d := decoder{b: b}
	if v := d.byte(); v != treeVersion && d.err == nil {
		return nil, fmt.Errorf("%w: tree version %d, want %d", ErrMalformed, v, treeVersion)
	}
	n := d.count(minNodeSize)
	t := &Tree{Nodes: make([]Node, 0, n)}
	for i := 0; i < n && d.err == nil; i++ {
		node := decodeNode(&d)
		if d.err != nil {
			break
		}
		if err := ValidName(node.Name); err != nil {
			return nil, fmt.Errorf("%w: tree: %v", ErrMalformed, err)
		}
		if i > 0 && t.Nodes[i-1].Name >= node.Name {
			return nil, fmt.Errorf("%w: tree: entries not sorted and unique at %q", ErrMalformed, node.Name)
		}
		t.Nodes = append(t.Nodes, node)
	}
	if d.err == nil && len(d.b) != 0 {
		d.fail("%d trailing bytes", len(d.b))
	}
	if d.err != nil {
		return nil, fmt.Errorf("%w: tree: %v", ErrMalformed, d.err)
	}
	return t, nil
}

// minNodeSize is the fewest bytes an encoded node can take.
const minNodeSize = 1 + 1 + 3 + 2 + 2 + 5 + 1 + 1 + 1

func decodeNode(d *decoder) Node {
	var n Node
	n.Name = d.str()
	n.Type = NodeType(d.byte())
	if _, ok := nodeTypeNames[n.Type]; !ok && d.err == nil {
		d.fail("entry %q: unknown type %d", n.Name, n.Type)
	}
	n.Mode = d.uint32()
	n.UID, n.GID = d.uint32(), d.uint32()
	n.User, n.Group = d.str(), d.str()
	n.ModTime, n.ChangeTime = d.time(), d.time()
	n.Size, n.Inode, n.Device, n.Links, n.Rdev = d.uvarint(), d.uvarint(), d.uvarint(), d.uvarint(), d.uvarint()
	n.LinkTarget = d.str()
	if k := d.count(2); k > 0 {
		n.Xattrs = make([]Xattr, k)
		for i := range n.Xattrs {
			n.Xattrs[i] = Xattr{Name: d.str(), Value: []byte(d.str())}
			if i > 0 && n.Xattrs[i-1].Name >= n.Xattrs[i].Name && d.err == nil {
				d.fail("entry %q: xattrs not sorted and unique", n.Name)
			}
		}
	}
	if k := d.count(2); k > 0 {
		n.Content = make([]Extent, k)
		for i := range n.Content {
			n.Content[i] = d.extent()
		}
	}
	switch n.Type {
	case NodeFile:
		n.Hash = d.id()
	case NodeDir:
		n.Subtree = d.id()
	}
	return n
}

// NewContentHasher returns the hasher for a file's content hash (Node.Hash):
// unkeyed BLAKE3-256, the value `b3sum` prints.
func NewContentHasher() hash.Hash { return crypto.NewHasher() }

// contentHashers recycles content hashers: a BLAKE3 hasher is a few
// kilobytes, zeroed when made, and a snapshot of a million small files
// made a million of them.
var contentHashers = sync.Pool{New: func() any { return crypto.NewHasher() }}

// GetContentHasher returns a reset content hasher from a pool; give it
// back with PutContentHasher when its digest has been read.
func GetContentHasher() hash.Hash {
	h := contentHashers.Get().(hash.Hash)
	h.Reset()
	return h
}

// PutContentHasher returns a hasher to the pool.
func PutContentHasher(h hash.Hash) { contentHashers.Put(h) }

// ContentHashOf returns the content hash of a whole file held in memory.
func ContentHashOf(b []byte) ID { return crypto.Hash(b) }

// IDFromHasher reads a content hasher's digest as an ID.
func IDFromHasher(h hash.Hash) ID { return crypto.IDFromHasher(h) }
