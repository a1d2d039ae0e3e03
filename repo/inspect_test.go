package repo_test

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/cairnbackup/cairn/backend/mem"
	"github.com/cairnbackup/cairn/repo"
)

// cat and list show every kind of object decoded, by id or prefix, and
// never key material.
func TestCatAndList(t *testing.T) {
	ctx := context.Background()
	be := mem.New()
	r, _ := newRepo(t, nopClose{be})
	data := randBytes(7, 3000)
	blob, _, err := r.SaveBlob(ctx, repo.DataBlob, data)
	if err != nil {
		t.Fatal(err)
	}
	file := repo.Node{Name: "f", Type: repo.NodeFile, Mode: 0o644, Size: 3000, Content: []repo.Extent{{Blob: blob, Length: 3000}}}
	sub, err := r.SaveTree(ctx, &repo.Tree{Nodes: []repo.Node{file}})
	if err != nil {
		t.Fatal(err)
	}
	root, err := r.SaveTree(ctx, &repo.Tree{Nodes: []repo.Node{{Name: "etc", Type: repo.NodeDir, Mode: 0o755, Subtree: sub}}})
	if err != nil {
		t.Fatal(err)
	}
	if err := r.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	snap, err := r.SaveSnapshot(ctx, &repo.Snapshot{Time: time.Unix(1700000000, 0), Tree: root, Paths: []string{"/etc"}, Hostname: "web1"})
	if err != nil {
		t.Fatal(err)
	}

	lists := map[string][]repo.ID{}
	for kind := range repo.ListKinds {
		if err := r.ListObjects(ctx, kind, func(id repo.ID) error { lists[kind] = append(lists[kind], id); return nil }); err != nil {
			t.Fatalf("list %s: %v", kind, err)
		}
	}
	if len(lists["snapshots"]) != 1 || lists["snapshots"][0] != snap || len(lists["keys"]) != 1 || len(lists["index"]) != 1 || len(lists["packs"]) != 2 || len(lists["locks"]) != 0 {
		t.Errorf("lists %v", lists)
	}
	if err := r.ListObjects(ctx, "blobs", func(repo.ID) error { return nil }); !errors.Is(err, repo.ErrUnknownKind) {
		t.Errorf("list blobs: %v", err)
	}

	show := func(kind, name string) string {
		t.Helper()
		v, err := r.CatObject(ctx, kind, name)
		if err != nil {
			t.Fatalf("cat %s %s: %v", kind, name, err)
		}
		b, err := json.Marshal(v)
		if err != nil {
			t.Fatal(err)
		}
		for _, secret := range []string{"salt", "master", "encrypt", "mac_key", "sealed"} {
			if strings.Contains(strings.ToLower(string(b)), secret) {
				t.Errorf("cat %s shows %q: %s", kind, secret, b)
			}
		}
		return string(b)
	}
	cfg := r.Config()
	if got := show("config", ""); !strings.Contains(got, `"id":"`+cfg.ID.String()+`"`) || !strings.Contains(got, `"pack_size":1048576`) {
		t.Errorf("config %s", got)
	}
	for _, name := range []string{snap.String()[:6], "latest"} {
		if got := show("snapshot", name); !strings.Contains(got, `"tree":"`+root.String()+`"`) || !strings.Contains(got, `"hostname":"web1"`) {
			t.Errorf("snapshot %s: %s", name, got)
		}
	}
	for _, name := range []string{root.String(), "latest", snap.String()[:6] + ":/"} {
		if got := show("tree", name); !strings.Contains(got, `"name":"etc"`) || !strings.Contains(got, `"subtree":"`+sub.String()+`"`) {
			t.Errorf("tree %s: %s", name, got)
		}
	}
	if got := show("tree", "latest:/etc"); !strings.Contains(got, `"name":"f"`) || !strings.Contains(got, blob.String()) {
		t.Errorf("tree latest:/etc: %s", got)
	}
	seg := show("index", lists["index"][0].String()[:8])
	if !strings.Contains(seg, blob.String()) || !strings.Contains(seg, `"type":"data"`) || !strings.Contains(seg, `"type":"tree"`) {
		t.Errorf("index segment %s", seg)
	}
	loc, err := r.LookupBlob(repo.DataBlob, blob)
	if err != nil {
		t.Fatal(err)
	}
	if got := show("pack", loc.Pack.String()[:8]); !strings.Contains(got, `"id":"`+blob.String()+`","type":"data","offset":0,`) {
		t.Errorf("pack %s", got)
	}

	for _, c := range []struct {
		kind, name string
		want       error
	}{
		{"snapshot", "ffff", repo.ErrNotFound},
		{"pack", "zz", nil},
		{"tree", "latest:/etc/f", nil},
		{"tree", "latest:/nope", repo.ErrNotFound},
		{"key", "abcd", repo.ErrUnknownKind},
		{"index", "", nil},
	} {
		if _, err := r.CatObject(ctx, c.kind, c.name); err == nil || (c.want != nil && !errors.Is(err, c.want)) {
			t.Errorf("cat %s %q: %v, want %v", c.kind, c.name, err, c.want)
		}
	}
}
