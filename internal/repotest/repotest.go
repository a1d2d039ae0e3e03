// Package repotest is the test fixture kit for packages above repo: a
// repository on an in-memory backend with cheap key derivation, fully
// checked (structure and every byte of data) when the test ends, so any
// test that leaves a repository damaged fails.
package repotest

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"github.com/cairnbackup/cairn/backend/mem"
	"github.com/cairnbackup/cairn/check"
	"github.com/cairnbackup/cairn/crypto"
	"github.com/cairnbackup/cairn/repo"
)

// Password opens repositories made by New.
var Password = repo.Credentials{Password: []byte("repotest")}

// CheapKDF keeps tests fast; real repositories use crypto.DefaultKDF.
var CheapKDF = crypto.KDFParams{Time: 1, MemoryKiB: 64, Threads: 1}

// New returns a new repository in memory. At the end of the test it runs
// a full check with read-data and reports every problem found.
func New(t testing.TB) *repo.Repository {
	t.Helper()
	r, _ := NewWithBackend(t)
	return r
}

// NewWithBackend is New that also returns the backend, for tests that
// damage objects or open the repository a second time.
func NewWithBackend(t testing.TB) (*repo.Repository, *mem.Backend) {
	t.Helper()
	be := mem.New()
	r, err := repo.Init(context.Background(), be, Password, repo.InitOptions{KDF: CheapKDF},
		repo.Options{CacheDir: t.TempDir()})
	if err != nil {
		t.Fatalf("repotest: init: %v", err)
	}
	t.Cleanup(func() {
		defer r.Close()
		if t.Failed() {
			return
		}
		Check(t, r)
	})
	return r, be
}

// Check runs a full check (structure and read-data) and fails the test on
// any damage.
func Check(t testing.TB, r *repo.Repository) {
	t.Helper()
	all, err := check.ParseSubset("all")
	if err != nil {
		t.Fatal(err)
	}
	rep, err := check.Run(context.Background(), r, check.Options{ReadData: all, ReadHeaders: true})
	if err != nil {
		t.Fatalf("repotest: check: %v", err)
	}
	if rep.Damaged() {
		var lines []string
		for _, p := range rep.Problems {
			lines = append(lines, fmt.Sprintf("%s %s: %s", p.Kind, p.Object, strings.Join(p.Faults, "; ")))
		}
		t.Fatalf("repotest: the repository is damaged after the test:\n%s", strings.Join(lines, "\n"))
	}
}
