package access

import "errors"

// LocationError is an error about one repository location: it could not
// be opened, holds no repository, or refused a key. Its message is the
// wrapped error's (which names the location already); the field lets a
// caller report the location on its own (the command line's --json).
type LocationError struct {
	Location string
	Err      error
}

func (e *LocationError) Error() string { return e.Err.Error() }
func (e *LocationError) Unwrap() error { return e.Err }

// atLocation wraps err, when not nil, as being about location addr,
// unless it already names a location.
func atLocation(addr string, err error) error {
	var le *LocationError
	if err == nil || errors.As(err, &le) {
		return err
	}
	return &LocationError{Location: addr, Err: err}
}
