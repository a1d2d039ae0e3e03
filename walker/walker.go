// Package walker visits the trees of a snapshot depth first, in name order,
// calling a visitor for every node, for the commands that read trees
// without restoring them: ls, find, stats and diff.
package walker

import (
	"context"
	"errors"
	"fmt"

	"github.com/cairnbackup/cairn/repo"
)

// TreeLoader loads trees; *repo.Repository is one.
type TreeLoader interface {
	LoadTree(ctx context.Context, id repo.ID) (*repo.Tree, error)
}

// ErrSkipTree, returned by Visitor.Node for a folder, skips what lies below it
// (Leave is not called for it). Returned for another node it is ignored.
var ErrSkipTree = errors.New("walker: skip this folder")

// Visitor is told about the nodes below a tree.
type Visitor struct {
	// Node is called for every node at path, before what lies below a
	// folder. An error other than ErrSkipTree stops the walk and is returned.
	Node func(path string, n *repo.Node) error
	// Leave, if set, is called after the contents of the folder at path
	// (holding tree id) were visited.
	Leave func(path string, id repo.ID) error
}

// Walk visits what lies below the folder dir, which holds tree id. A tree
// that cannot be loaded stops the walk with an error naming its folder.
func Walk(ctx context.Context, l TreeLoader, id repo.ID, dir string, v Visitor) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	tree, err := l.LoadTree(ctx, id)
	if err != nil {
		return fmt.Errorf("read folder %s: %w", dir, err)
	}
	for i := range tree.Nodes {
		n := &tree.Nodes[i]
		p := Join(dir, n.Name)
		err := v.Node(p, n)
		switch {
		case errors.Is(err, ErrSkipTree):
			continue
		case err != nil:
			return err
		}
		if n.Type == repo.NodeDir {
			if err := Walk(ctx, l, n.Subtree, p, v); err != nil {
				return err
			}
		}
	}
	if v.Leave != nil {
		return v.Leave(dir, id)
	}
	return nil
}

// Join returns the path of name inside the folder dir ("/" or "" is the
// root). Tree names never hold "/" or "..", so no cleaning is needed.
func Join(dir, name string) string {
	if dir == "/" || dir == "" {
		return "/" + name
	}
	return dir + "/" + name
}
