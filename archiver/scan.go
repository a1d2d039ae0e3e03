package archiver

import (
	"context"
	"io/fs"
	"os"
	"path/filepath"
)

// Totals is what Scan found.
type Totals struct {
	Files, Dirs, Bytes uint64
}

// Scan counts the files, folders and bytes a snapshot with opts would
// visit, so progress can show an ETA. It walks with the same filters and
// ignores errors; it reads no file content.
func Scan(ctx context.Context, opts Options) Totals {
	var t Totals
	paths, err := CleanPaths(opts.Paths, opts.Stdin != nil, opts.StdinName)
	if err != nil || opts.Stdin != nil {
		return t
	}
	for _, root := range paths {
		var rootDev uint64
		if fi, err := os.Lstat(root); err == nil {
			rootDev = deviceOf(fi)
		}
		filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
			if ctx.Err() != nil {
				return ctx.Err()
			}
			if err != nil {
				return nil
			}
			if d.IsDir() {
				if p != root && !opts.Filter.Descend(p) {
					return filepath.SkipDir
				}
				t.Dirs++
				if markedPath(p, opts.ExcludeIfPresent) {
					return filepath.SkipDir
				}
				if opts.OneFileSystem && p != root {
					if fi, err := d.Info(); err == nil && deviceOf(fi) != rootDev {
						return filepath.SkipDir
					}
				}
				return nil
			}
			if !d.Type().IsRegular() || !opts.Filter.Selected(p) {
				return nil
			}
			if fi, err := d.Info(); err == nil {
				if opts.ExcludeLargerThan > 0 && fi.Size() > opts.ExcludeLargerThan {
					return nil
				}
				t.Files++
				t.Bytes += uint64(fi.Size())
			}
			return nil
		})
	}
	return t
}
