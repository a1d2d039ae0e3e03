package main

import (
	"bytes"
	"context"
	"fmt"
	"slices"

	"github.com/cairnbackup/cairn/repo"
	"github.com/cairnbackup/cairn/walker"
)

// differ compares two trees entry by entry, reporting each difference to
// emit as it goes and counting them in stats.
type differ struct {
	r        *repo.Repository
	metadata bool // name what metadata changed
	emit     func(diffChange)
	stats    diffStats
}

// trees compares the folders holding trees a and b at dir. Equal ids mean
// equal contents, so nothing below is read.
func (d *differ) trees(ctx context.Context, a, b repo.ID, dir string) error {
	if a == b {
		return nil
	}
	ta, err := d.load(ctx, a, dir)
	if err != nil {
		return err
	}
	tb, err := d.load(ctx, b, dir)
	if err != nil {
		return err
	}
	na, nb := ta.Nodes, tb.Nodes
	for len(na) > 0 || len(nb) > 0 {
		var err error
		switch {
		case len(nb) == 0 || len(na) > 0 && na[0].Name < nb[0].Name:
			err = d.side(ctx, &na[0], walker.Join(dir, na[0].Name), "-")
			na = na[1:]
		case len(na) == 0 || nb[0].Name < na[0].Name:
			err = d.side(ctx, &nb[0], walker.Join(dir, nb[0].Name), "+")
			nb = nb[1:]
		default:
			err = d.both(ctx, &na[0], &nb[0], walker.Join(dir, na[0].Name))
			na, nb = na[1:], nb[1:]
		}
		if err != nil {
			return err
		}
	}
	return nil
}

// load reads the tree of the folder dir.
func (d *differ) load(ctx context.Context, id repo.ID, dir string) (*repo.Tree, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	t, err := d.r.LoadTree(ctx, id)
	if err != nil {
		return nil, fmt.Errorf("read folder %s: %w", dir, err)
	}
	return t, nil
}

// side reports a node that only one snapshot has ("+" added or "-"
// removed), and everything below it.
func (d *differ) side(ctx context.Context, n *repo.Node, path, mod string) error {
	d.emit(diffChange{Path: displayPath(path, n), Modifier: mod})
	d.count(n, mod)
	if n.Type != repo.NodeDir {
		return nil
	}
	return d.contents(ctx, n.Subtree, path, mod)
}

// contents reports every entry below a folder that only one snapshot has.
func (d *differ) contents(ctx context.Context, id repo.ID, dir, mod string) error {
	return walker.Walk(ctx, d.r, id, dir, walker.Visitor{Node: func(path string, n *repo.Node) error {
		d.emit(diffChange{Path: displayPath(path, n), Modifier: mod})
		d.count(n, mod)
		return nil
	}})
}

// count adds an added or removed node to the statistics.
func (d *differ) count(n *repo.Node, mod string) {
	files, dirs, others, data := &d.stats.FilesAdded, &d.stats.DirsAdded, &d.stats.OthersAdded, &d.stats.BytesAdded
	if mod == "-" {
		files, dirs, others, data = &d.stats.FilesRemoved, &d.stats.DirsRemoved, &d.stats.OthersRemoved, &d.stats.BytesRemoved
	}
	switch n.Type {
	case repo.NodeFile:
		*files++
		*data += extentBytes(n.Content, nil)
	case repo.NodeDir:
		*dirs++
	default:
		*others++
	}
}

// both compares a node both snapshots have.
func (d *differ) both(ctx context.Context, a, b *repo.Node, path string) error {
	if a.Type != b.Type {
		return d.typeChanged(ctx, a, b, path)
	}
	change := diffChange{Path: displayPath(path, b)}
	meta := metadataChanges(a, b)
	switch {
	case contentChanged(a, b):
		change.Modifier = "M"
		d.stats.Changed++
		d.stats.BytesAdded += extentBytes(b.Content, a.Content)
		d.stats.BytesRemoved += extentBytes(a.Content, b.Content)
	case len(meta) > 0:
		change.Modifier = "U"
		d.stats.MetadataChanged++
	}
	if change.Modifier != "" {
		if d.metadata {
			change.Metadata = meta
		}
		d.emit(change)
	}
	if a.Type == repo.NodeDir {
		return d.trees(ctx, a.Subtree, b.Subtree, path)
	}
	return nil
}

// typeChanged reports a node whose type differs: the old folder's contents
// count as removed and the new one's as added.
func (d *differ) typeChanged(ctx context.Context, a, b *repo.Node, path string) error {
	d.emit(diffChange{Path: displayPath(path, b), Modifier: "T"})
	d.stats.TypeChanged++
	d.stats.BytesRemoved += extentBytes(a.Content, nil)
	d.stats.BytesAdded += extentBytes(b.Content, nil)
	if a.Type == repo.NodeDir {
		if err := d.contents(ctx, a.Subtree, path, "-"); err != nil {
			return err
		}
	}
	if b.Type == repo.NodeDir {
		return d.contents(ctx, b.Subtree, path, "+")
	}
	return nil
}

// displayPath marks folders with a trailing slash.
func displayPath(path string, n *repo.Node) string {
	if n.Type == repo.NodeDir {
		return path + "/"
	}
	return path
}

// contentChanged reports whether two nodes of the same type differ in
// what they hold: file data (hash, size or chunks), link target, device.
func contentChanged(a, b *repo.Node) bool {
	switch a.Type {
	case repo.NodeFile:
		return a.Hash != b.Hash || a.Size != b.Size || !slices.Equal(a.Content, b.Content)
	case repo.NodeSymlink:
		return a.LinkTarget != b.LinkTarget
	case repo.NodeCharDev, repo.NodeBlockDev:
		return a.Rdev != b.Rdev
	}
	return false
}

// metadataChanges names the metadata that differs: "mode", "owner",
// "mtime", "xattrs".
func metadataChanges(a, b *repo.Node) []string {
	var out []string
	if a.Mode != b.Mode {
		out = append(out, "mode")
	}
	if a.UID != b.UID || a.GID != b.GID || a.User != b.User || a.Group != b.Group {
		out = append(out, "owner")
	}
	if !a.ModTime.Equal(b.ModTime) {
		out = append(out, "mtime")
	}
	if !slices.EqualFunc(a.Xattrs, b.Xattrs, func(x, y repo.Xattr) bool {
		return x.Name == y.Name && bytes.Equal(x.Value, y.Value)
	}) {
		out = append(out, "xattrs")
	}
	return out
}

// extentBytes sums the lengths of the distinct data chunks of ext that
// other does not hold.
func extentBytes(ext, other []repo.Extent) uint64 {
	skip := make(map[repo.ID]struct{}, len(other)+len(ext))
	for _, e := range other {
		skip[e.Blob] = struct{}{}
	}
	var n uint64
	for _, e := range ext {
		if e.Hole {
			continue
		}
		if _, ok := skip[e.Blob]; ok {
			continue
		}
		skip[e.Blob] = struct{}{}
		n += e.Length
	}
	return n
}
