package walker_test

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/cairnbackup/cairn/internal/repotest"
	"github.com/cairnbackup/cairn/repo"
	"github.com/cairnbackup/cairn/walker"
)

var ctx = context.Background()

// saveDir saves a folder tree given as nested maps (a nil value is a
// file) and returns its id.
func saveDir(t *testing.T, r *repo.Repository, d map[string]any) repo.ID {
	t.Helper()
	tree := &repo.Tree{}
	for name, v := range d {
		n := repo.Node{Name: name, Type: repo.NodeFile}
		if sub, ok := v.(map[string]any); ok {
			n.Type, n.Subtree = repo.NodeDir, saveDir(t, r, sub)
		}
		tree.Nodes = append(tree.Nodes, n)
	}
	tree.Sort()
	id, err := r.SaveTree(ctx, tree)
	if err != nil {
		t.Fatal(err)
	}
	return id
}

func TestWalkOrderSkipAndLeave(t *testing.T) {
	r := repotest.New(t)
	root := saveDir(t, r, map[string]any{
		"b": map[string]any{"z": nil, "y": map[string]any{"deep": nil}},
		"a": nil,
		"c": map[string]any{"skipped": nil},
	})
	if err := r.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	var got []string
	err := walker.Walk(ctx, r, root, "/", walker.Visitor{
		Node: func(path string, n *repo.Node) error {
			got = append(got, path)
			if path == "/c" {
				return walker.ErrSkipTree
			}
			return nil
		},
		Leave: func(path string, id repo.ID) error {
			got = append(got, "leave "+path)
			return nil
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	want := "/a /b /b/y /b/y/deep leave /b/y /b/z leave /b /c leave /"
	if strings.Join(got, " ") != want {
		t.Fatalf("visited\n %s\nwant\n %s", strings.Join(got, " "), want)
	}
}

func TestWalkStopsAndNamesTheFolder(t *testing.T) {
	r := repotest.New(t)
	root := saveDir(t, r, map[string]any{"a": map[string]any{"b": nil}, "c": nil})
	if err := r.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	stop := errors.New("stop")
	var n int
	err := walker.Walk(ctx, r, root, "/", walker.Visitor{Node: func(string, *repo.Node) error {
		n++
		return stop
	}})
	if !errors.Is(err, stop) || n != 1 {
		t.Fatalf("err %v after %d nodes, want stop after 1", err, n)
	}
	var missing repo.ID
	missing[0] = 1
	err = walker.Walk(ctx, r, missing, "/srv/app", walker.Visitor{Node: func(string, *repo.Node) error { return nil }})
	if err == nil || !strings.Contains(err.Error(), "read folder /srv/app") {
		t.Fatalf("a tree that cannot be loaded: %v", err)
	}
}

func TestJoin(t *testing.T) {
	for _, c := range [][3]string{{"/", "etc", "/etc"}, {"", "etc", "/etc"}, {"/etc", "app", "/etc/app"}} {
		if got := walker.Join(c[0], c[1]); got != c[2] {
			t.Errorf("Join(%q, %q) = %q, want %q", c[0], c[1], got, c[2])
		}
	}
}
