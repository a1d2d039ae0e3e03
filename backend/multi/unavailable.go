package multi

import (
	"context"
	"fmt"
	"io"

	"github.com/cairnbackup/cairn/backend"
)

// Unavailable returns a backend standing in for a location that could not
// be opened (its server was down at start): every call fails with err,
// wrapped as backend.ErrTransient when it is not already a down error, so
// that a Backend marks the location unhealthy on first use and carries on
// with the others.
func Unavailable(location string, err error) backend.Backend {
	if !IsDown(err) {
		err = fmt.Errorf("%w: %v", backend.ErrTransient, err)
	}
	return &unavailable{location: location, err: fmt.Errorf("%s could not be opened: %w", location, err)}
}

type unavailable struct {
	location string
	err      error
}

func (u *unavailable) Location() string { return u.location }

func (u *unavailable) Save(context.Context, backend.Handle, backend.RewindReader) error {
	return u.err
}

func (u *unavailable) Load(context.Context, backend.Handle, int, int64, func(io.Reader) error) error {
	return u.err
}

func (u *unavailable) Stat(context.Context, backend.Handle) (backend.FileInfo, error) {
	return backend.FileInfo{}, u.err
}

func (u *unavailable) List(context.Context, backend.FileType, func(backend.FileInfo) error) error {
	return u.err
}

func (u *unavailable) Remove(context.Context, backend.Handle) error { return u.err }

func (u *unavailable) Close() error { return nil }
