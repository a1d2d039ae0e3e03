package pack

import "errors"

// Errors of pack parsing. Messages name the fault; callers add the pack id.
var (
	ErrTooShort     = errors.New("pack: too short to hold a header")
	ErrHeaderLength = errors.New("pack: header length out of range")
	ErrHeaderAuth   = errors.New("pack: header does not authenticate (wrong key or damaged bytes)")
	ErrHeaderFormat = errors.New("pack: malformed header")
	ErrLayout       = errors.New("pack: blob layout does not match the pack")
	ErrTooLarge     = errors.New("pack: too large")
)
