package job

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
)

// ReadFilesFrom reads a list of sources: one path a line, surrounding
// spaces and a trailing carriage return dropped, blank lines and lines
// starting with # skipped. name is used in messages.
func ReadFilesFrom(r io.Reader, name string) ([]string, error) {
	var out []string
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 64<<10), 1<<20)
	for line := 1; sc.Scan(); line++ {
		p := strings.TrimSpace(sc.Text())
		if p == "" || strings.HasPrefix(p, "#") {
			continue
		}
		if strings.ContainsRune(p, 0) {
			return nil, fmt.Errorf("--files-from %s:%d: a path holds a NUL byte", name, line)
		}
		out = append(out, p)
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("--files-from %s: %w", name, err)
	}
	return out, nil
}

// readFilesFromFile reads the list in file name; a list that names
// nothing is an error, so that an empty or truncated list does not pass
// for a backup.
func readFilesFromFile(name string) ([]string, error) {
	f, err := os.Open(name)
	if err != nil {
		return nil, fmt.Errorf("--files-from: %w", err)
	}
	defer f.Close()
	paths, err := ReadFilesFrom(f, name)
	if err == nil && len(paths) == 0 {
		err = errors.New("--files-from " + name + " names no path (only blank lines and comments): nothing to back up")
	}
	return paths, err
}
