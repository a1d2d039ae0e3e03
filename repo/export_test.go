package repo

import (
	"context"

	"github.com/cairnbackup/cairn/backend"
)

// SaveTestObject seals and stores an object as another process would.
func (r *Repository) SaveTestObject(ctx context.Context, t backend.FileType, plain []byte) (ID, error) {
	return r.saveObject(ctx, t, plain)
}
