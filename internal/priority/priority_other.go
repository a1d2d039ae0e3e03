//go:build !linux

package priority

import (
	"errors"
	"fmt"
)

var errUnsupported = fmt.Errorf("thread priorities on this system: %w", errors.ErrUnsupported)

// SetThreadIO is not supported here.
func SetThreadIO(class IOClass, level int) error {
	if class == IONone {
		return nil
	}
	return errUnsupported
}

// ThreadIO is not supported here.
func ThreadIO() (IOClass, int, error) { return IONone, 0, errUnsupported }

// SetThreadNice is not supported here.
func SetThreadNice(n int) error { return errUnsupported }

// ThreadNice is not supported here.
func ThreadNice() (int, error) { return 0, errUnsupported }

// SetProcessNice is not supported here.
func SetProcessNice(n int) error { return errUnsupported }

// SetProcessIO is not supported here.
func SetProcessIO(class IOClass, level int) error {
	if class == IONone {
		return nil
	}
	return errUnsupported
}
