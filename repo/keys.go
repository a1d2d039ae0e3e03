package repo

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"strings"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/cairnbackup/cairn/backend"
	"github.com/cairnbackup/cairn/crypto"
)

// timeNow is the package clock for values not tied to an open repository.
var timeNow = time.Now

// unlockKey tries every key file of the matching kind with creds. pre,
// when not nil, holds the key files read already (ReadConfigAndKeys).
func (r *Repository) unlockKey(ctx context.Context, creds Credentials, pre *keyFiles) error {
	keys, err := r.decodeKeys(ctx, pre)
	if err != nil {
		return err
	}
	if len(keys) == 0 {
		return noKeys(r.be)
	}
	// argon2id leaves 64 MiB of garbage per try: crypto.DeriveKey collects
	// it and hands it back before it returns.
	for _, k := range keys {
		mk, ok, err := k.unwrap(creds)
		if err != nil {
			return fmt.Errorf("key file %s: %w", k.id.Short(), err)
		}
		if ok {
			r.key, r.keyID = mk, k.id
			return nil
		}
	}
	what := "password"
	if creds.KEK != nil {
		what = "key"
	}
	return fmt.Errorf("%w: no key file of %s opens with this %s", ErrWrongPassword, r.be.Location(), what)
}

// keyFiles are the key files as read from storage, not yet parsed.
type keyFiles struct {
	ids  []ID
	raws [][]byte
	errs []error // one per key file
}

// readAllKeyFiles lists the key files and reads them.
func (r *Repository) readAllKeyFiles(ctx context.Context) (*keyFiles, error) {
	ids, err := r.listIDs(ctx, backend.KeyFile)
	if err != nil {
		return nil, err
	}
	raws, errs := r.readKeyFiles(ctx, ids)
	return &keyFiles{ids: ids, raws: raws, errs: errs}, nil
}

// decodeKeys parses the key files pre, or those read now when pre is nil.
// A malformed one is reported and skipped so that one damaged key never
// locks a user out.
func (r *Repository) decodeKeys(ctx context.Context, pre *keyFiles) ([]*KeyFile, error) {
	if pre == nil {
		var err error
		if pre, err = r.readAllKeyFiles(ctx); err != nil {
			return nil, err
		}
	}
	ids, raws, errs := pre.ids, pre.raws, pre.errs
	var keys []*KeyFile
	var bad []string
	for i, id := range ids {
		b, err := raws[i], errs[i]
		if err != nil {
			bad = append(bad, err.Error())
			continue
		}
		k, err := decodeKeyFile(b)
		if err != nil {
			bad = append(bad, fmt.Sprintf("keys/%s: %v", id, err))
			continue
		}
		k.id = id
		keys = append(keys, k)
	}
	for _, msg := range bad {
		r.logf("skipping damaged key file: %s", msg)
	}
	if len(keys) == 0 && len(bad) > 0 {
		return nil, fmt.Errorf("%w: every key file is damaged: %s", ErrMalformed, strings.Join(bad, "; "))
	}
	sort.Slice(keys, func(i, j int) bool { return keys[i].Created.Before(keys[j].Created) })
	return keys, nil
}

// readKeyFiles reads the key files ids several at once: on a distant store
// each read is a round trip, and a repository often has a few (a password,
// a key file). Each key's error is its own: one bad key stops no other.
func (r *Repository) readKeyFiles(ctx context.Context, ids []ID) (raws [][]byte, errs []error) {
	raws, errs = make([][]byte, len(ids)), make([]error, len(ids))
	var g errgroup.Group
	g.SetLimit(8)
	for i, id := range ids {
		g.Go(func() error {
			raws[i], errs[i] = r.loadRaw(ctx, backend.KeyFile, id)
			return nil
		})
	}
	g.Wait()
	return raws, errs
}

// addKey stores a new key file wrapping the master key for creds.
func (r *Repository) addKey(ctx context.Context, creds Credentials, params crypto.KDFParams) (crypto.ID, error) {
	host, user := hostUser()
	k, err := newKeyFile(r.key, creds, params, r.now(), host, user)
	if err != nil {
		return crypto.ID{}, err
	}
	b, err := json.MarshalIndent(k, "", "  ")
	if err != nil {
		return crypto.ID{}, err
	}
	return r.saveRaw(ctx, backend.KeyFile, b)
}

// KeyInfo describes a key file for `cairn key list`.
type KeyInfo struct {
	ID      ID        `json:"id"`
	Current bool      `json:"current"`
	KDF     string    `json:"kdf"`
	Created time.Time `json:"created"`
	Host    string    `json:"host"`
	User    string    `json:"user"`
}

// Keys lists the repository's key files, oldest first.
func (r *Repository) Keys(ctx context.Context) ([]KeyInfo, error) {
	keys, err := r.decodeKeys(ctx, nil)
	if err != nil {
		return nil, err
	}
	out := make([]KeyInfo, len(keys))
	for i, k := range keys {
		out[i] = KeyInfo{ID: k.id, Current: k.id == r.keyID, KDF: k.KDF, Created: k.Created, Host: k.Host, User: k.User}
	}
	return out, nil
}

// AddKey adds a key file for creds and returns its id.
func (r *Repository) AddKey(ctx context.Context, creds Credentials, params crypto.KDFParams) (ID, error) {
	if params == (crypto.KDFParams{}) {
		params = crypto.DefaultKDF
	}
	return r.addKey(ctx, creds, params)
}

// RemoveKey removes the key file whose id starts with prefix. It refuses
// the last key, and the key in use unless force is set.
func (r *Repository) RemoveKey(ctx context.Context, prefix string, force bool) (ID, error) {
	keys, err := r.Keys(ctx)
	if err != nil {
		return ID{}, err
	}
	ids := make([]ID, len(keys))
	for i, k := range keys {
		ids[i] = k.ID
	}
	id, err := resolvePrefix(ids, prefix, "key")
	if err != nil {
		return ID{}, err
	}
	if len(keys) == 1 {
		return id, fmt.Errorf("refusing to remove key %s: it is the only key, and without it nobody can open the repository", id.Short())
	}
	if id == r.keyID && !force {
		return id, fmt.Errorf("refusing to remove key %s: it is the key in use (add --force if you can open the repository with another key)", id.Short())
	}
	if err := r.be.Remove(ctx, backend.Handle{Type: backend.KeyFile, Name: id.String()}); err != nil {
		return id, fmt.Errorf("remove key %s: %w", id.Short(), err)
	}
	return id, nil
}

// ChangePassword adds a key file for creds and then removes the one in use,
// in that order so that a failure never leaves the repository without it.
func (r *Repository) ChangePassword(ctx context.Context, creds Credentials, params crypto.KDFParams) (ID, error) {
	old := r.keyID
	id, err := r.AddKey(ctx, creds, params)
	if err != nil {
		return ID{}, err
	}
	if err := r.be.Remove(ctx, backend.Handle{Type: backend.KeyFile, Name: old.String()}); err != nil && !errors.Is(err, backend.ErrNotFound) {
		return id, fmt.Errorf("new key %s added, but removing the old key %s failed: %w", id.Short(), old.Short(), err)
	}
	r.keyID = id
	return id, nil
}

// resolvePrefix finds the one id among ids starting with prefix (at least
// 4 hex digits).
func resolvePrefix(ids []ID, prefix, what string) (ID, error) {
	prefix = strings.ToLower(prefix)
	if len(prefix) < 4 {
		return ID{}, fmt.Errorf("%s name %q is too short: give at least 4 hex digits", what, prefix)
	}
	var found []ID
	for _, id := range ids {
		if strings.HasPrefix(id.String(), prefix) {
			found = append(found, id)
		}
	}
	switch len(found) {
	case 0:
		return ID{}, fmt.Errorf("%w: no %s starts with %q", ErrNotFound, what, prefix)
	case 1:
		return found[0], nil
	}
	return ID{}, fmt.Errorf("%w: %d %ss start with %q; give more digits", ErrAmbiguous, len(found), what, prefix)
}
