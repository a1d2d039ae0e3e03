package main

import (
	"context"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/rogpeppe/go-internal/testscript"

	"github.com/cairnbackup/cairn/backend/local"
	"github.com/cairnbackup/cairn/repo"
	"github.com/cairnbackup/cairn/restorer"
)

// storageCmds look into a local repository from outside cairn's command
// line: which blobs a file has, whether any pack still holds them, and
// how many bytes the packs take.
var storageCmds = map[string]func(ts *testscript.TestScript, neg bool, args []string){
	"blobids":   cmdBlobIDs,
	"blobsgone": cmdBlobsGone,
	"packbytes": cmdPackBytes,
	"shrunk":    cmdShrunk,
}

// openScriptRepo opens the local repository at dir with the password in
// file pw, with a cache of its own.
func openScriptRepo(ts *testscript.TestScript, dir, pw string) *repo.Repository {
	be, err := local.Open(ts.MkAbs(dir))
	if err != nil {
		ts.Fatalf("open %s: %v", dir, err)
	}
	b, err := os.ReadFile(ts.MkAbs(pw))
	if err != nil {
		ts.Fatalf("%v", err)
	}
	cache, err := os.MkdirTemp(ts.MkAbs("."), "inspect-cache-")
	if err != nil {
		ts.Fatalf("%v", err)
	}
	r, err := repo.Open(context.Background(), be, repo.Credentials{Password: []byte(strings.TrimRight(string(b), "\r\n"))}, repo.Options{CacheDir: cache})
	if err != nil {
		ts.Fatalf("open repository %s: %v", dir, err)
	}
	return r
}

// cmdBlobIDs writes the data blob ids of a file in a snapshot to a file,
// one a line: blobids REPO PWFILE SNAPSHOT PATH OUT
func cmdBlobIDs(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) != 5 {
		ts.Fatalf("usage: blobids REPO PWFILE SNAPSHOT PATH OUT")
	}
	ctx := context.Background()
	r := openScriptRepo(ts, args[0], args[1])
	defer r.Close()
	snaps, err := r.Snapshots(ctx, nil)
	ts.Check(err)
	s, err := repo.FindSnapshot(snaps, args[2])
	ts.Check(err)
	n, err := restorer.Lookup(ctx, r, s.Tree, args[3])
	ts.Check(err)
	var b strings.Builder
	for _, e := range n.Content {
		if !e.Hole {
			fmt.Fprintln(&b, e.Blob)
		}
	}
	if b.Len() == 0 {
		ts.Fatalf("%s has no data blobs", args[3])
	}
	ts.Check(os.WriteFile(ts.MkAbs(args[4]), []byte(b.String()), 0o644))
}

// cmdBlobsGone checks that neither the index nor any pack's header names
// one of the blob ids listed in a file (with !, that one of them is still
// stored): blobsgone REPO PWFILE IDS
func cmdBlobsGone(ts *testscript.TestScript, neg bool, args []string) {
	if len(args) != 3 {
		ts.Fatalf("usage: blobsgone REPO PWFILE IDS")
	}
	ctx := context.Background()
	r := openScriptRepo(ts, args[0], args[1])
	defer r.Close()
	want := map[repo.ID]bool{}
	for _, line := range strings.Fields(ts.ReadFile(args[2])) {
		id, err := repo.ParseID(line)
		ts.Check(err)
		want[id] = true
	}
	var found []string
	for id := range want {
		if locs, err := r.BlobLocations(repo.DataBlob, id); err == nil && len(locs) > 0 {
			found = append(found, fmt.Sprintf("the index names blob %s in %d pack(s)", id.Short(), len(locs)))
		}
	}
	ts.Check(r.ListPacks(ctx, func(p repo.StoredPack) error {
		entries, err := r.ReadPackHeader(ctx, p.ID, p.Size)
		if err != nil {
			return err
		}
		for _, e := range entries {
			if want[e.ID] {
				found = append(found, fmt.Sprintf("pack %s holds blob %s", p.ID.Short(), e.ID.Short()))
			}
		}
		return nil
	}))
	switch {
	case !neg && len(found) > 0:
		ts.Fatalf("the blobs are still stored:\n%s", strings.Join(found, "\n"))
	case neg && len(found) == 0:
		ts.Fatalf("no index entry or pack holds any of the blobs")
	}
	ts.Logf("%s", strings.Join(found, "\n"))
}

// cmdPackBytes sets a variable to the bytes of a local repository's
// packs: packbytes REPO VAR
func cmdPackBytes(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) != 2 {
		ts.Fatalf("usage: packbytes REPO VAR")
	}
	var total int64
	ts.Check(filepath.WalkDir(filepath.Join(ts.MkAbs(args[0]), "data"), func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || strings.HasPrefix(d.Name(), ".") {
			return err
		}
		fi, err := d.Info()
		if err == nil {
			total += fi.Size()
		}
		return err
	}))
	ts.Setenv(args[1], strconv.FormatInt(total, 10))
}

// cmdShrunk fails unless BEFORE - AFTER is at least MIN bytes:
// shrunk BEFORE AFTER MIN
func cmdShrunk(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) != 3 {
		ts.Fatalf("usage: shrunk BEFORE AFTER MIN")
	}
	var v [3]int64
	for i, a := range args {
		n, err := strconv.ParseInt(a, 10, 64)
		if err != nil {
			ts.Fatalf("shrunk: %q is not a number", a)
		}
		v[i] = n
	}
	if v[0]-v[1] < v[2] {
		ts.Fatalf("the packs went from %d to %d bytes: less than %d freed", v[0], v[1], v[2])
	}
}
