package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/rogpeppe/go-internal/testscript"
)

// faultCmds are testscript commands for storage fault tests.
var faultCmds = map[string]func(ts *testscript.TestScript, neg bool, args []string){
	"corruptpacks": cmdCorruptPacks,
	"corruptbig":   cmdCorruptBiggest,
	"tcpproxy":     cmdTCPProxy,
	"objects":      cmdObjects,
	"s3rm":         cmdS3Remove,
}

// cmdCorruptPacks flips one byte in the middle of every pack of a local
// repository: corruptpacks REPO
func cmdCorruptPacks(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) != 1 {
		ts.Fatalf("usage: corruptpacks REPO")
	}
	n := 0
	err := filepath.WalkDir(filepath.Join(ts.MkAbs(args[0]), "data"), func(p string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() || strings.HasPrefix(d.Name(), ".") {
			return err
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		b[len(b)/2] ^= 0x40
		n++
		return os.WriteFile(p, b, 0o600)
	})
	if err != nil || n == 0 {
		ts.Fatalf("corruptpacks: %d packs, %v", n, err)
	}
}

// cmdCorruptBiggest flips one byte in the middle of the largest pack of a
// local repository (the data pack of a snapshot with one big file):
// corruptbig REPO
func cmdCorruptBiggest(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) != 1 {
		ts.Fatalf("usage: corruptbig REPO")
	}
	var biggest string
	var size int64
	err := filepath.WalkDir(filepath.Join(ts.MkAbs(args[0]), "data"), func(p string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() || strings.HasPrefix(d.Name(), ".") {
			return err
		}
		if fi, err := d.Info(); err == nil && fi.Size() > size {
			biggest, size = p, fi.Size()
		}
		return nil
	})
	if err != nil || biggest == "" {
		ts.Fatalf("corruptbig: no pack (%v)", err)
	}
	b, err := os.ReadFile(biggest)
	ts.Check(err)
	b[len(b)/2] ^= 0x40
	ts.Check(os.WriteFile(biggest, b, 0o600))
}

// cmdObjects prints the objects of one type of a local repository, one
// name a line, leaving out temporary files: objects REPO TYPE
func cmdObjects(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) != 2 {
		ts.Fatalf("usage: objects REPO TYPE")
	}
	filepath.WalkDir(filepath.Join(ts.MkAbs(args[0]), args[1]), func(p string, d os.DirEntry, err error) error {
		if err == nil && !d.IsDir() && !strings.HasPrefix(d.Name(), ".tmp-") {
			fmt.Fprintln(ts.Stdout(), d.Name())
		}
		return nil
	})
}

const s3Hint = `the S3 tests need a real server: from the repository root run
    eval "$(scripts/start-s3.sh)"
which builds (once) and starts versitygw on a free port of 127.0.0.1 and exports S3_ENDPOINT,
S3_ACCESS_KEY and S3_SECRET_KEY (stop it with scripts/stop-s3.sh), or set CAIRN_SKIP_S3=1 to
skip these tests`

// TestS3Scripts runs the scripts of testdata/s3 against the real S3 server
// named by S3_ENDPOINT, each in a bucket of its own ($BUCKET, created by
// the script with init --create-bucket).
func TestS3Scripts(t *testing.T) {
	endpoint, access, secret := os.Getenv("S3_ENDPOINT"), os.Getenv("S3_ACCESS_KEY"), os.Getenv("S3_SECRET_KEY")
	if endpoint == "" || access == "" || secret == "" {
		if os.Getenv("CAIRN_SKIP_S3") == "1" {
			t.Skip("!!! CAIRN_SKIP_S3=1: SKIPPING the S3 end-to-end scripts; S3 is NOT tested in this run !!!")
		}
		t.Fatal("S3_ENDPOINT, S3_ACCESS_KEY or S3_SECRET_KEY is not set: " + s3Hint)
	}
	p := scriptParams("testdata/s3")
	setup := p.Setup
	p.Setup = func(env *testscript.Env) error {
		if err := setup(env); err != nil {
			return err
		}
		var b [6]byte
		rand.Read(b[:])
		env.Setenv("BUCKET", "cairn-e2e-"+hex.EncodeToString(b[:]))
		env.Setenv("S3_ENDPOINT", endpoint)
		env.Setenv("AWS_ACCESS_KEY_ID", access)
		env.Setenv("AWS_SECRET_ACCESS_KEY", secret)
		env.Setenv("AWS_REGION", "us-east-1")
		return nil
	}
	testscript.Run(t, p)
}

// maxDumpGETs bounds the GETs of `cairn dump` of one small file with a
// warm index cache, whatever the size of the repository's data: the config
// (read twice: its public header, then the sealed settings), one key file,
// each snapshot (to resolve "latest"), one tree per folder on the file's
// path (the root tree included), and the file's one pack range.
func maxDumpGETs(snapshots, folders int) int64 { return 2 + 1 + int64(snapshots) + int64(folders) + 1 }

// TestDumpOneFileFromALargeRepository checks that dump of a small file
// reads only a handful of objects from a repository of many packs.
func TestDumpOneFileFromALargeRepository(t *testing.T) {
	if testing.Short() {
		t.Skip("writes 48 MiB")
	}
	dir := t.TempDir()
	src := filepath.Join(dir, "src")
	os.MkdirAll(filepath.Join(src, "logs"), 0o755)
	for i := range 6 {
		os.WriteFile(filepath.Join(src, "logs", fmt.Sprintf("big%d", i)), randomContent(uint64(i+10), 8<<20), 0o644)
	}
	os.WriteFile(filepath.Join(src, "small.conf"), []byte("listen = 8080\n"), 0o644)
	pw := filepath.Join(dir, "pw")
	os.WriteFile(pw, []byte("pw"), 0o600)
	base := []string{"cairn", "-r", filepath.Join(dir, "repo"), "--password-file", pw, "--cache-dir", filepath.Join(dir, "cache")}
	cairn := func(args ...string) (string, string) {
		var out, errb bytes.Buffer
		if code := run(context.Background(), append(base, args...), nil, &out, &errb); code != 0 {
			t.Fatalf("cairn %v: exit %d: %s", args, code, errb.String())
		}
		return out.String(), errb.String()
	}
	cairn("init", "--pack-size", "1")
	cairn("snapshot", src)
	cairn("snapshot", "--force", src)                               // a second snapshot: more objects to not read
	cairn("-v", "dump", "latest", filepath.Join(src, "small.conf")) // warms the index cache
	out, stderr := cairn("-v", "dump", "latest", filepath.Join(src, "small.conf"))
	if out != "listen = 8080\n" {
		t.Fatalf("dump wrote %q", out)
	}
	m := regexp.MustCompile(`storage: \d+ PUT, (\d+) GET`).FindStringSubmatch(stderr)
	if m == nil {
		t.Fatalf("no storage line in %q", stderr)
	}
	gets, _ := strconv.ParseInt(m[1], 10, 64)
	folders := strings.Count(filepath.Join(src, "small.conf"), "/") // "/a/b/f": the root, a and b
	if bound := maxDumpGETs(2, folders); gets > bound {
		t.Errorf("dump of one small file made %d GETs, want at most %d (%s)", gets, bound, strings.TrimSpace(stderr))
	}
	t.Logf("dump made %d GETs from a repository of 48 MiB in ~50 packs: %s", gets, strings.TrimSpace(stderr))
}
