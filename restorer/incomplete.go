package restorer

import (
	"cmp"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"
)

// IncompleteSuffix is added to the name of a file whose content could not
// all be restored (a damaged or missing blob), so that it never passes
// for a restored file.
const IncompleteSuffix = ".cairn-incomplete"

// Range is a stretch of a file's bytes.
type Range struct {
	Offset uint64 `json:"offset"`
	Length uint64 `json:"length"`
}

// String returns the range as "bytes FIRST-LAST".
func (r Range) String() string {
	return fmt.Sprintf("bytes %d-%d", r.Offset, r.Offset+r.Length-1)
}

// IncompleteFile is a file that could not be restored whole. What could be
// restored is kept under SavedAs (its name with IncompleteSuffix), with
// zeros where Lost says; if it could not be renamed it was removed, and
// SavedAs is empty. Its metadata is not restored.
type IncompleteFile struct {
	Path    string  `json:"path"`
	SavedAs string  `json:"saved_as,omitempty"`
	Lost    []Range `json:"lost"`
	Error   string  `json:"error"`
}

// String describes the file in one line.
func (f IncompleteFile) String() string {
	var b strings.Builder
	b.WriteString(f.Path)
	b.WriteString(": ")
	for i, r := range f.Lost {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString(r.String())
	}
	b.WriteString(" not restored (")
	b.WriteString(f.Error)
	if f.SavedAs != "" {
		b.WriteString("); the rest is in ")
		b.WriteString(f.SavedAs)
	} else {
		b.WriteString("); removed")
	}
	return b.String()
}

// Err summarises the problems of a restore: nil when there were none, else
// how many, and each file that could not be restored whole.
func (r Result) Err() error {
	if r.Errors == 0 {
		return nil
	}
	msg := fmt.Sprintf("restore finished with %d error(s), listed above", r.Errors)
	if len(r.Incomplete) > 0 {
		lines := make([]string, len(r.Incomplete))
		for i, f := range r.Incomplete {
			lines[i] = "  " + f.String()
		}
		msg += fmt.Sprintf("; %d file(s) could not be restored whole (run `cairn check --read-data` to find the damage):\n%s",
			len(r.Incomplete), strings.Join(lines, "\n"))
	}
	return errors.New(msg)
}

// lose records that length bytes at off in the file were not written.
func (rs *restorer) lose(fs *fileState, off, length int64, err error) {
	rs.mu.Lock()
	defer rs.mu.Unlock()
	fs.lost = append(fs.lost, Range{Offset: uint64(off), Length: uint64(length)})
	if fs.cause == nil {
		fs.cause = err
	}
}

// setAsideIncomplete renames each file that failed after it was created
// to its name with IncompleteSuffix (never replacing anything: a taken
// name gets a number), or removes it when that fails, and lists it.
func (rs *restorer) setAsideIncomplete() {
	for _, fs := range rs.files {
		if !fs.created || !fs.failed.Load() {
			continue
		}
		f := IncompleteFile{Path: rs.display(fs.rel), Lost: mergeRanges(fs.lost)}
		if fs.cause != nil {
			f.Error = fs.cause.Error()
		}
		if saved, err := rs.renameAside(fs.rel); err == nil {
			f.SavedAs = rs.display(saved)
		} else if err := rs.root.remove(fs.rel); err != nil {
			rs.warn(fs.rel, fmt.Errorf("incomplete file neither renamed nor removed: %w", err))
			continue
		}
		rs.res.Incomplete = append(rs.res.Incomplete, f)
	}
	slices.SortFunc(rs.res.Incomplete, func(a, b IncompleteFile) int { return strings.Compare(a.Path, b.Path) })
}

// renameAside renames rel to a free name with IncompleteSuffix.
func (rs *restorer) renameAside(rel string) (string, error) {
	var err error
	for i := 1; i <= 100; i++ {
		suffix := IncompleteSuffix
		if i > 1 {
			suffix += "-" + strconv.Itoa(i)
		}
		err = rs.root.at(rel, func(dirfd int, name string) error {
			return unix.Renameat2(dirfd, name, dirfd, name+suffix, unix.RENAME_NOREPLACE)
		})
		if err == nil {
			return rel + suffix, nil
		}
		if !errors.Is(err, unix.EEXIST) {
			return "", err
		}
	}
	return "", err
}

// mergeRanges sorts ranges and joins those that touch or overlap.
func mergeRanges(rs []Range) []Range {
	slices.SortFunc(rs, func(a, b Range) int { return cmp.Compare(a.Offset, b.Offset) })
	var out []Range
	for _, r := range rs {
		if n := len(out); n > 0 && r.Offset <= out[n-1].Offset+out[n-1].Length {
			end := max(out[n-1].Offset+out[n-1].Length, r.Offset+r.Length)
			out[n-1].Length = end - out[n-1].Offset
			continue
		}
		out = append(out, r)
	}
	return out
}
