package repo

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/cairnbackup/cairn/backend"
)

var errStop = errors.New("stop")

// repositoryKinds are the object kinds a repository holds besides its
// config, in the order a location is searched for them.
var repositoryKinds = []backend.FileType{backend.KeyFile, backend.SnapshotFile, backend.IndexFile, backend.PackFile}

// strayObjects returns the kinds of repository objects be holds (at most
// one listing request each, stopped at the first object).
func strayObjects(ctx context.Context, be backend.Backend) ([]backend.FileType, error) {
	var kinds []backend.FileType
	for _, t := range repositoryKinds {
		found := false
		err := be.List(ctx, t, func(backend.FileInfo) error { found = true; return errStop })
		if err != nil && !errors.Is(err, errStop) {
			return nil, fmt.Errorf("list %s at %s: %w", t, be.Location(), err)
		}
		if found {
			kinds = append(kinds, t)
		}
	}
	return kinds, nil
}

// noConfig is the error for a location without a config object. An empty
// location is a repository still to create; one that holds repository
// objects is most likely a copy whose first `cairn sync` stopped before
// its last step (the config is copied last), which running the sync again
// completes.
func noConfig(ctx context.Context, be backend.Backend) error {
	kinds, err := strayObjects(ctx, be)
	if err != nil || len(kinds) == 0 {
		return fmt.Errorf("%w at %s: it has no config object; create one with `cairn init`", ErrNoRepository, be.Location())
	}
	return fmt.Errorf("%w at %s: it holds repository objects (%s) but no config object: a `cairn sync` to it stopped before it finished (run that sync again: it completes the copy), or it is not a cairn repository", ErrNoRepository, be.Location(), kindList(kinds))
}

// noKeys is the error for a repository whose config has no key files
// beside it.
func noKeys(be backend.Backend) error {
	return fmt.Errorf("%w at %s: it has a config object but no key files: if it is a copy that `cairn sync` filled, run the sync again from a complete copy; otherwise its keys were removed and nothing can open it", ErrNoRepository, be.Location())
}

// kindList names object kinds as their folders: "keys/, data/".
func kindList(kinds []backend.FileType) string {
	names := make([]string, len(kinds))
	for i, k := range kinds {
		names[i] = string(k) + "/"
	}
	return strings.Join(names, ", ")
}
