package repo_test

import (
	"context"
	"encoding/json"
	"errors"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/cairnbackup/cairn/backend"
	"github.com/cairnbackup/cairn/backend/faulty"
	"github.com/cairnbackup/cairn/backend/mem"
	"github.com/cairnbackup/cairn/repo"
)

// fakeClock is a settable clock for lock tests.
type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *fakeClock) now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *fakeClock) add(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

func lockRepo(t *testing.T, clock *fakeClock, be backend.Backend) *repo.Repository {
	t.Helper()
	opts := repo.Options{CacheDir: t.TempDir(), Now: clock.now}
	r, err := repo.Open(context.Background(), be, pw, opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { r.Close() })
	return r
}

func TestPruneLockExcludesOtherPrunesNotSessions(t *testing.T) {
	ctx := context.Background()
	be := mem.New()
	newRepo(t, nopClose{be})
	clock := &fakeClock{t: time.Now()}
	a, b := lockRepo(t, clock, nopClose{be}), lockRepo(t, clock, nopClose{be})
	s1, err := a.Lock(ctx, repo.SessionLock)
	if err != nil {
		t.Fatal(err)
	}
	s2, err := b.Lock(ctx, repo.SessionLock)
	if err != nil {
		t.Fatalf("a second session was refused: %v", err)
	}
	p1, err := a.Lock(ctx, repo.PruneLock)
	if err != nil {
		t.Fatalf("prune refused while sessions run: %v", err)
	}
	if _, err := b.Lock(ctx, repo.PruneLock); !errors.Is(err, repo.ErrLocked) {
		t.Fatalf("second prune: %v, want ErrLocked", err)
	}
	if _, err := b.Lock(ctx, repo.SessionLock); err != nil {
		t.Fatalf("a session was blocked by prune: %v", err)
	}
	for _, l := range []*repo.Lock{s1, s2, p1} {
		if err := l.Release(ctx); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := b.Lock(ctx, repo.PruneLock); err != nil {
		t.Fatalf("prune after release: %v", err)
	}
}

// plantLock writes a lock object as another process would have.
func plantLock(t *testing.T, r *repo.Repository, info repo.LockInfo) {
	t.Helper()
	b, _ := json.Marshal(info)
	if _, err := r.SaveTestObject(context.Background(), backend.LockFile, b); err != nil {
		t.Fatal(err)
	}
}

func TestStaleLocks(t *testing.T) {
	ctx := context.Background()
	be := mem.New()
	newRepo(t, nopClose{be})
	clock := &fakeClock{t: time.Now()}
	r := lockRepo(t, clock, nopClose{be})
	host, _ := os.Hostname()
	// A prune lock of a process that no longer exists on this host is stale.
	plantLock(t, r, repo.LockInfo{Kind: repo.PruneLock, Host: host, PID: 1 << 30, Start: clock.now(), Refreshed: clock.now()})
	l, err := r.Lock(ctx, repo.PruneLock)
	if err != nil {
		t.Fatalf("a dead process's prune lock blocked prune: %v", err)
	}
	l.Release(ctx)
	// One on another host is live until its refresh is too old.
	plantLock(t, r, repo.LockInfo{Kind: repo.PruneLock, Host: "elsewhere", PID: 1, Start: clock.now(), Refreshed: clock.now()})
	if _, err := r.Lock(ctx, repo.PruneLock); !errors.Is(err, repo.ErrLocked) {
		t.Fatalf("a live remote prune lock: %v, want ErrLocked", err)
	}
	clock.add(repo.LockStaleTimeout + time.Minute)
	l, err = r.Lock(ctx, repo.PruneLock)
	if err != nil {
		t.Fatalf("a remote lock past the stale timeout blocked prune: %v", err)
	}
	l.Release(ctx)
	n, err := r.RemoveLocks(ctx, false)
	if err != nil || n != 2 {
		t.Fatalf("unlock removed %d stale locks (%v), want 2", n, err)
	}
	live, _ := r.Lock(ctx, repo.SessionLock)
	if n, _ := r.RemoveLocks(ctx, false); n != 0 {
		t.Fatalf("unlock removed a live lock")
	}
	if n, _ := r.RemoveLocks(ctx, true); n != 1 {
		t.Fatalf("unlock --remove-all removed %d, want 1", n)
	}
	live.Release(ctx)
}

func TestLockRefresh(t *testing.T) {
	ctx := context.Background()
	be := mem.New()
	newRepo(t, nopClose{be})
	clock := &fakeClock{t: time.Now()}
	opts := repo.Options{CacheDir: t.TempDir(), Now: clock.now, LockRefresh: 10 * time.Millisecond}
	r, err := repo.Open(ctx, nopClose{be}, pw, opts)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	l, err := r.Lock(ctx, repo.SessionLock)
	if err != nil {
		t.Fatal(err)
	}
	first := l.Info()
	clock.add(time.Minute)
	deadline := time.Now().Add(5 * time.Second)
	for l.Info().ID == first.ID && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
	if l.Info().ID == first.ID || !l.Info().Refreshed.After(first.Refreshed) {
		t.Fatal("lock was not refreshed")
	}
	locks, _, _ := r.Locks(ctx)
	if len(locks) != 1 {
		t.Fatalf("%d lock objects after refresh, want 1 (old one removed)", len(locks))
	}
	if err := l.Release(ctx); err != nil {
		t.Fatal(err)
	}
	if locks, _, _ := r.Locks(ctx); len(locks) != 0 {
		t.Fatal("lock object left after release")
	}
}

func TestLockLostCancelsWork(t *testing.T) {
	ctx := context.Background()
	be := faulty.New(mem.New())
	newRepo(t, nopClose{be})
	clock := &fakeClock{t: time.Now()}
	opts := repo.Options{CacheDir: t.TempDir(), Now: clock.now, LockRefresh: 10 * time.Millisecond}
	r, err := repo.Open(ctx, nopClose{be}, pw, opts)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	l, err := r.Lock(ctx, repo.SessionLock)
	if err != nil {
		t.Fatal(err)
	}
	// Storage stops accepting lock refreshes; once the lock would be stale
	// for others, its context ends.
	be.Inject(faulty.Fault{Op: faulty.OpSave, Kind: faulty.Fail, Times: -1, Err: errors.New("storage gone")})
	clock.add(repo.LockStaleTimeout)
	select {
	case <-l.Context().Done():
		if !errors.Is(context.Cause(l.Context()), repo.ErrLocked) {
			t.Fatalf("cause %v, want ErrLocked", context.Cause(l.Context()))
		}
	case <-time.After(5 * time.Second):
		t.Fatal("work was not cancelled after the lock was lost")
	}
}
