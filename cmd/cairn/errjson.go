package main

import (
	"cmp"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"slices"

	"github.com/cairnbackup/cairn/access"
)

// errorReport is the final error as --json prints it on standard error,
// with the object it is about where there is one.
type errorReport struct {
	MessageType string `json:"message_type"` // "error"
	Message     string `json:"message"`
	Hint        string `json:"hint,omitempty"`
	ExitCode    int    `json:"exit_code"`
	Path        string `json:"path,omitempty"`     // a file or folder
	Snapshot    string `json:"snapshot,omitempty"` // a snapshot id, or the name given when none matched
	Location    string `json:"location,omitempty"` // a repository location
}

// printErrorJSON writes the error as one line of JSON to standard error.
func (g *globalOptions) printErrorJSON(err error, lines []string, code int) {
	rep := errorReport{MessageType: "error", Message: lines[0], ExitCode: code}
	if len(lines) > 1 {
		rep.Hint = lines[1]
	}
	rep.Path, rep.Snapshot, rep.Location = errorObjects(err)
	b, jerr := json.Marshal(rep)
	if jerr != nil {
		fmt.Fprintf(g.stderr, "cairn: %s\n", lines[0])
		return
	}
	fmt.Fprintf(g.stderr, "%s\n", b)
}

// objectError says which object an error is about, where the code that
// fails knows it better than the message does.
type objectError struct {
	kind string // "path", "snapshot" or "location"
	name string
	err  error
}

func (e *objectError) Error() string { return e.err.Error() }
func (e *objectError) Unwrap() error { return e.err }

// about marks err, when not nil, as being about the object kind name.
func about(kind, name string, err error) error {
	if err == nil {
		return nil
	}
	return &objectError{kind: kind, name: name, err: err}
}

// errorObjects finds the path, snapshot and location an error names.
func errorObjects(err error) (path, snapshot, location string) {
	for e := err; e != nil; e = errors.Unwrap(e) {
		var name *string
		switch x := e.(type) {
		case *objectError:
			name = map[string]*string{"path": &path, "snapshot": &snapshot, "location": &location}[x.kind]
			if name != nil && *name == "" {
				*name = x.name
			}
			continue
		case *access.LocationError:
			if location == "" {
				location = x.Location
			}
			continue
		case *fs.PathError:
			if path == "" {
				path = x.Path
			}
			continue
		}
		if joined, ok := e.(interface{ Unwrap() []error }); ok {
			for _, je := range joined.Unwrap() {
				p, s, l := errorObjects(je)
				path, snapshot, location = cmp.Or(path, p), cmp.Or(snapshot, s), cmp.Or(location, l)
			}
			break
		}
	}
	return path, snapshot, location
}

// jsonRequested reports whether the arguments ask for --json, for an
// error met before the flags were parsed (an unknown flag).
func jsonRequested(args []string) bool {
	if i := slices.Index(args, "--"); i >= 0 {
		args = args[:i]
	}
	return slices.Contains(args, "--json") || slices.Contains(args, "--json=true")
}
