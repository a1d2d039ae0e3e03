package repo

import "path/filepath"

// CacheDir returns the folder of this repository's local cache (beside
// the index cache), where commands may keep their own disposable state,
// such as copy's map of blob ids between two repositories.
func (r *Repository) CacheDir() (string, error) {
	dir := r.opts.CacheDir
	if dir == "" {
		var err error
		if dir, err = DefaultCacheDir(); err != nil {
			return "", err
		}
	}
	return filepath.Join(dir, r.cfg.ID.String()), nil
}
