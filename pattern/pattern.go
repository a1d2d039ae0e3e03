// Package pattern matches slash-separated paths against glob patterns, for
// the include and exclude filters of snapshot and restore.
//
// A pattern is split at "/" into parts; each part is matched against one
// path component with path.Match syntax (*, ?, [...]), and a part "**"
// matches any number of components, none included. A pattern starting with
// "/" is anchored at the root; any other pattern may match at any depth, as
// if it started with "**/". A pattern matches a path when it matches the
// whole path or one of its parent folders, so "/var/cache" also matches
// "/var/cache/apt/pkgcache.bin".
package pattern

import (
	"bufio"
	"fmt"
	"io"
	"path"
	"strings"
)

// Pattern is one parsed glob.
type Pattern struct {
	text  string
	parts []string
}

// Parse checks and parses one pattern.
func Parse(text string) (Pattern, error) {
	t := strings.TrimSpace(text)
	if t == "" {
		return Pattern{}, fmt.Errorf("pattern: empty pattern")
	}
	anchored := strings.HasPrefix(t, "/")
	var parts []string
	if !anchored {
		parts = append(parts, "**")
	}
	for _, p := range strings.Split(strings.Trim(t, "/"), "/") {
		if p == "" || p == "." {
			continue
		}
		if p != "**" {
			if _, err := path.Match(p, ""); err != nil {
				return Pattern{}, fmt.Errorf("pattern %q: %w", text, err)
			}
		}
		// Consecutive "**" are the same as one.
		if p == "**" && len(parts) > 0 && parts[len(parts)-1] == "**" {
			continue
		}
		parts = append(parts, p)
	}
	return Pattern{text: t, parts: parts}, nil
}

// String returns the pattern as given.
func (p Pattern) String() string { return p.text }

// split turns an absolute or relative slash path into components.
func split(name string) []string {
	name = strings.Trim(name, "/")
	if name == "" {
		return nil
	}
	return strings.Split(name, "/")
}

// Match reports whether the pattern matches name or one of its parents.
func (p Pattern) Match(name string) bool {
	comps := split(name)
	for n := len(comps); n >= 0; n-- {
		if match(p.parts, comps[:n]) {
			return true
		}
	}
	return false
}

// MatchExact reports whether the pattern matches name itself, not through
// one of its parent folders: what a search for entries wants, where Match
// suits filters that keep or drop whole folders.
func (p Pattern) MatchExact(name string) bool {
	return match(p.parts, split(name))
}

// MayMatchBelow reports whether the pattern could match something inside
// the folder dir (or dir itself), so an include filter knows to descend.
func (p Pattern) MayMatchBelow(dir string) bool {
	return prefixMatch(p.parts, split(dir))
}

// match reports whether parts match exactly the components comps.
func match(parts, comps []string) bool {
	for len(parts) > 0 {
		if parts[0] == "**" {
			rest := parts[1:]
			for i := 0; i <= len(comps); i++ {
				if match(rest, comps[i:]) {
					return true
				}
			}
			return false
		}
		if len(comps) == 0 {
			return false
		}
		if ok, _ := path.Match(parts[0], comps[0]); !ok {
			return false
		}
		parts, comps = parts[1:], comps[1:]
	}
	return len(comps) == 0
}

// prefixMatch reports whether comps could be the start of a path that parts
// match (or of one inside a folder they match).
func prefixMatch(parts, comps []string) bool {
	for len(comps) > 0 {
		if len(parts) == 0 {
			return true // a parent matched: everything below matches too
		}
		if parts[0] == "**" {
			return true
		}
		if ok, _ := path.Match(parts[0], comps[0]); !ok {
			return false
		}
		parts, comps = parts[1:], comps[1:]
	}
	return true
}

// List is a set of patterns; it matches when any of its patterns does.
type List []Pattern

// ParseList parses several patterns.
func ParseList(texts []string) (List, error) {
	var l List
	for _, t := range texts {
		p, err := Parse(t)
		if err != nil {
			return nil, err
		}
		l = append(l, p)
	}
	return l, nil
}

// ReadList reads one pattern per line from r, skipping blank lines and
// lines starting with "#".
func ReadList(r io.Reader, source string) (List, error) {
	var l List
	sc := bufio.NewScanner(r)
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		p, err := Parse(line)
		if err != nil {
			return nil, fmt.Errorf("%s line %d: %w", source, n, err)
		}
		l = append(l, p)
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("read %s: %w", source, err)
	}
	return l, nil
}

// Match reports whether any pattern matches name.
func (l List) Match(name string) bool {
	for _, p := range l {
		if p.Match(name) {
			return true
		}
	}
	return false
}

// MayMatchBelow reports whether any pattern could match inside dir.
func (l List) MayMatchBelow(dir string) bool {
	for _, p := range l {
		if p.MayMatchBelow(dir) {
			return true
		}
	}
	return false
}

// Filter combines include and exclude lists: a path is selected when no
// exclude pattern matches it and, if there are include patterns, one of
// them matches it.
type Filter struct {
	Include List
	Exclude List
}

// Selected reports whether the file or folder name is kept.
func (f Filter) Selected(name string) bool {
	if f.Exclude.Match(name) {
		return false
	}
	return len(f.Include) == 0 || f.Include.Match(name)
}

// Descend reports whether a folder that is not itself selected must still
// be walked because something below it may be.
func (f Filter) Descend(dir string) bool {
	if f.Exclude.Match(dir) {
		return false
	}
	return len(f.Include) == 0 || f.Include.MayMatchBelow(dir)
}
