package repo

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"sync"
	"syscall"
	"time"

	"github.com/cairnbackup/cairn/backend"
	"github.com/cairnbackup/cairn/crypto"
)

// LockKind distinguishes writers' sessions from the exclusive prune lock.
type LockKind string

// Lock kinds. Sessions never exclude each other nor prune; a prune lock
// excludes other prunes. Prune reads sessions to know which writers may
// still reference packs it condemned.
const (
	SessionLock LockKind = "session"
	PruneLock   LockKind = "prune"
)

// Lock timing. A lock is refreshed every LockRefreshInterval; one whose
// last refresh is older than LockStaleTimeout, or whose process is gone on
// this host, is stale and ignored.
const (
	LockRefreshInterval = 5 * time.Minute
	LockStaleTimeout    = 30 * time.Minute
)

// LockInfo is the content of a lock object.
type LockInfo struct {
	Kind      LockKind  `json:"kind"`
	Host      string    `json:"host"`
	PID       int       `json:"pid"`
	User      string    `json:"user,omitempty"`
	Start     time.Time `json:"start"`
	Refreshed time.Time `json:"refreshed"`
	Nonce     []byte    `json:"nonce"` // makes every lock object's name unique

	ID ID `json:"-"`
}

// Stale reports whether a lock can be ignored at time now on host.
func (l LockInfo) Stale(now time.Time, host string) bool {
	if now.Sub(l.Refreshed) > LockStaleTimeout {
		return true
	}
	return l.Host == host && !processAlive(l.PID)
}

func processAlive(pid int) bool {
	if pid <= 0 {
		return false
	}
	err := syscall.Kill(pid, 0)
	return err == nil || errors.Is(err, syscall.EPERM)
}

// Lock is a held lock, refreshed in the background until Release.
type Lock struct {
	r      *Repository
	mu     sync.Mutex
	info   LockInfo
	ctx    context.Context
	cancel context.CancelCauseFunc
	stop   chan struct{}
	done   chan struct{}
}

// Context is derived from the context Lock was given and is also
// cancelled when the lock is lost (it could not be refreshed before others
// would consider it stale): work that needs the lock runs under it.
func (l *Lock) Context() context.Context { return l.ctx }

// Info returns the lock's current content.
func (l *Lock) Info() LockInfo {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.info
}

// Locks lists every lock object. Unreadable ones are returned as errors in
// the second value so that `cairn unlock` can still remove them.
func (r *Repository) Locks(ctx context.Context) ([]LockInfo, map[ID]error, error) {
	ids, err := r.listIDs(ctx, backend.LockFile)
	if err != nil {
		return nil, nil, err
	}
	var out []LockInfo
	bad := map[ID]error{}
	for _, id := range ids {
		b, err := r.loadObject(ctx, backend.LockFile, id)
		if errors.Is(err, backend.ErrNotFound) {
			continue // released while we listed
		}
		var li LockInfo
		if err == nil {
			err = json.Unmarshal(b, &li)
		}
		if err != nil {
			bad[id] = err
			continue
		}
		li.ID = id
		out = append(out, li)
	}
	return out, bad, nil
}

// LiveSessions returns the session locks that are not stale: writers that
// may still reference packs in the blobs they are about to commit.
func (r *Repository) LiveSessions(ctx context.Context) ([]LockInfo, error) {
	locks, _, err := r.Locks(ctx)
	if err != nil {
		return nil, err
	}
	host, _ := hostUser()
	var live []LockInfo
	for _, l := range locks {
		if l.Kind == SessionLock && !l.Stale(r.now(), host) {
			live = append(live, l)
		}
	}
	return live, nil
}

// Lock takes a lock of the given kind. For PruneLock it fails with
// ErrLocked while another live prune lock exists. The lock is refreshed in
// the background until Release.
func (r *Repository) Lock(ctx context.Context, kind LockKind) (*Lock, error) {
	host, user := hostUser()
	if kind == PruneLock {
		if err := r.checkPruneLocks(ctx, host, ID{}); err != nil {
			return nil, err
		}
	}
	now := r.now()
	info := LockInfo{Kind: kind, Host: host, PID: os.Getpid(), User: user, Start: now, Refreshed: now, Nonce: crypto.RandomBytes(8)}
	id, err := r.saveLock(ctx, info)
	if err != nil {
		return nil, err
	}
	info.ID = id
	if kind == PruneLock {
		// Two prunes may have written at once: the older lock wins.
		if err := r.checkPruneLocks(ctx, host, id); err != nil {
			r.removeLock(context.WithoutCancel(ctx), id)
			return nil, err
		}
	}
	l := &Lock{r: r, info: info, stop: make(chan struct{}), done: make(chan struct{})}
	l.ctx, l.cancel = context.WithCancelCause(ctx)
	go l.refresher()
	if kind == SessionLock {
		// The index was read when the repository was opened, perhaps before
		// a prune condemned some packs. Reading it again now that the session
		// is visible keeps the promise prune relies on: a writer whose index
		// predates a condemnation holds a session that started before it, so
		// the condemned packs wait for that session to end (see repo/prune).
		if err := r.SyncIndex(l.ctx); err != nil {
			l.Release(context.WithoutCancel(ctx))
			return nil, err
		}
	}
	return l, nil
}

// checkPruneLocks fails with ErrLocked if a live prune lock other than ours
// exists that is older than ours (or any, when ours is zero).
func (r *Repository) checkPruneLocks(ctx context.Context, host string, ours ID) error {
	locks, _, err := r.Locks(ctx)
	if err != nil {
		return err
	}
	var mine *LockInfo
	for i := range locks {
		if locks[i].ID == ours {
			mine = &locks[i]
		}
	}
	for _, l := range locks {
		if l.Kind != PruneLock || l.ID == ours || l.Stale(r.now(), host) {
			continue
		}
		if mine == nil || l.Start.Before(mine.Start) || (l.Start.Equal(mine.Start) && l.ID.String() < ours.String()) {
			return fmt.Errorf("%w: prune lock %s held by pid %d on %s since %s (if that process is gone, run `cairn unlock`)",
				ErrLocked, l.ID.Short(), l.PID, l.Host, l.Start.Local().Format(time.RFC3339))
		}
	}
	return nil
}

func (r *Repository) saveLock(ctx context.Context, info LockInfo) (ID, error) {
	b, err := json.Marshal(info)
	if err != nil {
		return ID{}, err
	}
	id, err := r.saveObject(ctx, backend.LockFile, b)
	if err != nil {
		return id, fmt.Errorf("write lock: %w", err)
	}
	return id, nil
}

func (r *Repository) removeLock(ctx context.Context, id ID) error {
	err := r.be.Remove(ctx, backend.Handle{Type: backend.LockFile, Name: id.String()})
	if err != nil && !errors.Is(err, backend.ErrNotFound) {
		return fmt.Errorf("remove lock %s: %w", id.Short(), err)
	}
	return nil
}

func (l *Lock) refresher() {
	defer close(l.done)
	interval := l.r.opts.LockRefresh
	if interval <= 0 {
		interval = LockRefreshInterval
	}
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-l.stop:
			return
		case <-t.C:
			if err := l.refresh(); err != nil {
				l.r.logf("refresh lock: %v", err)
				if l.r.now().Sub(l.Info().Refreshed) > LockStaleTimeout-interval {
					l.cancel(fmt.Errorf("%w: lost the %s lock: %v", ErrLocked, l.info.Kind, err))
					return
				}
			}
		}
	}
}

// refresh writes a lock object with a new time and removes the old one.
func (l *Lock) refresh() error {
	l.mu.Lock()
	info := l.info
	l.mu.Unlock()
	old := info.ID
	info.Refreshed = l.r.now()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	id, err := l.r.saveLock(ctx, info)
	if err != nil {
		return err
	}
	info.ID = id
	l.mu.Lock()
	l.info = info
	l.mu.Unlock()
	return l.r.removeLock(ctx, old)
}

// Release stops refreshing and removes the lock object.
func (l *Lock) Release(ctx context.Context) error {
	select {
	case <-l.stop:
		return nil
	default:
	}
	close(l.stop)
	<-l.done
	l.cancel(errors.New("lock released"))
	return l.r.removeLock(ctx, l.Info().ID)
}

// RemoveLocks removes stale locks (and unreadable ones), or every lock when
// all is set, and returns how many it removed.
func (r *Repository) RemoveLocks(ctx context.Context, all bool) (int, error) {
	locks, bad, err := r.Locks(ctx)
	if err != nil {
		return 0, err
	}
	host, _ := hostUser()
	n := 0
	for _, l := range locks {
		if all || l.Stale(r.now(), host) {
			if err := r.removeLock(ctx, l.ID); err != nil {
				return n, err
			}
			n++
		}
	}
	for id := range bad {
		if err := r.removeLock(ctx, id); err != nil {
			return n, err
		}
		n++
	}
	return n, nil
}
