package main

import (
	"bytes"
	"context"
	"flag"
	"os"
	"path/filepath"
	"testing"
)

var updateMan = flag.Bool("update-man", false, "rewrite docs/cairn.1 from the commands")

// The manual page in docs/ is what `cairn man` prints: after changing a
// command, a flag or a help text, run
//
//	go test ./cmd/cairn -run TestManPageUpToDate -update-man
func TestManPageUpToDate(t *testing.T) {
	var out, errb bytes.Buffer
	if code := run(context.Background(), []string{"cairn", "man"}, nil, &out, &errb); code != 0 {
		t.Fatalf("cairn man: exit %d: %s", code, errb.String())
	}
	path := filepath.Join("..", "..", manPage)
	if *updateMan {
		if err := os.WriteFile(path, out.Bytes(), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	have, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(have, out.Bytes()) {
		t.Fatalf("%s is not what `cairn man` prints; regenerate it with\n\tgo test ./cmd/cairn -run TestManPageUpToDate -update-man", manPage)
	}
}
