// Package repotest is the test fixture kit for packages above repo: a
// repository on an in-memory backend (or one the test gives) with cheap key
// derivation, fully checked (structure and every byte of data) when the
// test ends, so any test that leaves a repository damaged fails.
package repotest

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"github.com/cairnbackup/cairn/backend"
	"github.com/cairnbackup/cairn/backend/mem"
	"github.com/cairnbackup/cairn/check"
	"github.com/cairnbackup/cairn/crypto"
	"github.com/cairnbackup/cairn/internal/kdftest"
	"github.com/cairnbackup/cairn/repo"
)

// Password opens repositories made by New.
var Password = repo.Credentials{Password: []byte("repotest")}

// config is what the options of New set.
type config struct {
	be      backend.Backend
	init    repo.InitOptions
	open    repo.Options
	creds   repo.Credentials
	noCheck bool
}

// Option changes how New makes a repository.
type Option func(*config)

// WithBackend makes the repository in be instead of a fresh memory backend.
// The repository closes be when it closes.
func WithBackend(be backend.Backend) Option { return func(c *config) { c.be = be } }

// WithPackSize sets the target pack size in bytes.
func WithPackSize(n int) Option { return func(c *config) { c.init.PackSize = n } }

// WithCompression sets the repository's compression (repo.CompressionOff,
// a level name, ...).
func WithCompression(level string) Option { return func(c *config) { c.init.Compression = level } }

// WithKDF sets the key derivation cost; the default is kdftest.Cheap.
func WithKDF(p crypto.KDFParams) Option { return func(c *config) { c.init.KDF = p } }

// WithOptions sets the options the repository is opened with. An empty
// CacheDir is replaced by a temporary folder of the test.
func WithOptions(o repo.Options) Option { return func(c *config) { c.open = o } }

// WithCredentials opens the repository with creds instead of Password.
func WithCredentials(creds repo.Credentials) Option { return func(c *config) { c.creds = creds } }

// WithoutCheck skips the full check at the end of the test, for tests that
// damage the repository on purpose. The repository is still closed.
func WithoutCheck() Option { return func(c *config) { c.noCheck = true } }

// New returns a new repository, in memory unless WithBackend says
// otherwise. At the end of the test it runs a full check with read-data and
// reports every problem found, then closes the repository.
func New(t testing.TB, opts ...Option) *repo.Repository {
	t.Helper()
	c := config{init: repo.InitOptions{KDF: kdftest.Cheap}, creds: Password}
	for _, o := range opts {
		o(&c)
	}
	if c.be == nil {
		c.be = mem.New()
	}
	if c.open.CacheDir == "" {
		c.open.CacheDir = t.TempDir()
	}
	r, err := repo.Init(context.Background(), c.be, c.creds, c.init, c.open)
	if err != nil {
		t.Fatalf("repotest: init: %v", err)
	}
	t.Cleanup(func() {
		defer r.Close()
		if c.noCheck || t.Failed() {
			return
		}
		Check(t, r)
	})
	return r
}

// NewWithBackend is New on a fresh memory backend that it also returns,
// for tests that damage objects or open the repository a second time.
func NewWithBackend(t testing.TB, opts ...Option) (*repo.Repository, *mem.Backend) {
	t.Helper()
	be := mem.New()
	return New(t, append(opts, WithBackend(be))...), be
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
