package check

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"golang.org/x/sys/unix"

	"github.com/cairnbackup/cairn/repo"
	"github.com/cairnbackup/cairn/restorer"
)

// drillCompare walks a snapshot's trees beside the drill folder and
// compares every selected entry: present, of the right type, size and
// mode, and (through the restore's own verification, reported as
// warnings) with the right content hash.
type drillCompare struct {
	c     *checker
	dir   string
	sel   func(string, *repo.Node) bool
	warns map[string]error // by absolute path in the snapshot
	res   *DrillResult
}

// tree compares the entries of one tree, found at rel below the root.
func (d *drillCompare) tree(ctx context.Context, id repo.ID, rel string) error {
	t, err := d.c.loadTree(ctx, id)
	if err != nil {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		d.fail("/"+rel, fmt.Sprintf("folder contents cannot be read: %v", err))
		return nil
	}
	for i := range t.Nodes {
		if err := ctx.Err(); err != nil {
			return err
		}
		n := &t.Nodes[i]
		childRel := n.Name
		if rel != "" {
			childRel = rel + "/" + n.Name
		}
		abs := "/" + childRel
		if n.Type != repo.NodeDir && !d.sel(abs, n) {
			continue
		}
		d.res.Entries++
		if n.Type == repo.NodeFile {
			d.res.Files++
		}
		d.entry(n, abs, filepath.Join(d.dir, filepath.FromSlash(childRel)))
		if n.Type == repo.NodeDir {
			if err := d.tree(ctx, n.Subtree, childRel); err != nil {
				return err
			}
		}
	}
	return nil
}

// entry compares one restored entry with its node.
func (d *drillCompare) entry(n *repo.Node, abs, path string) {
	var faults []string
	warn := d.warns[abs]
	if warn != nil && isMetadataWarning(warn) {
		d.warning(abs, warn.Error())
		warn = nil
	}
	if warn != nil {
		faults = append(faults, warn.Error())
	}
	var st unix.Stat_t
	if err := unix.Lstat(path, &st); err != nil {
		if warn == nil {
			faults = append(faults, "not restored: "+err.Error())
		}
		d.fail(abs, strings.Join(faults, "; "))
		return
	}
	faults = append(faults, compareStat(n, &st, path)...)
	if len(faults) > 0 {
		d.fail(abs, strings.Join(faults, "; "))
	}
}

// compareStat lists how a restored entry differs from its node.
func compareStat(n *repo.Node, st *unix.Stat_t, path string) []string {
	var faults []string
	want := map[repo.NodeType]uint32{
		repo.NodeFile: unix.S_IFREG, repo.NodeDir: unix.S_IFDIR, repo.NodeSymlink: unix.S_IFLNK, repo.NodeFifo: unix.S_IFIFO,
	}[n.Type]
	if st.Mode&unix.S_IFMT != want {
		return []string{fmt.Sprintf("restored as another type of entry (mode %o), snapshot says %s", st.Mode, n.Type)}
	}
	switch n.Type {
	case repo.NodeFile:
		if uint64(st.Size) != n.Size {
			faults = append(faults, fmt.Sprintf("%d bytes, snapshot says %d", st.Size, n.Size))
		}
	case repo.NodeSymlink:
		if target, err := os.Readlink(path); err != nil || target != n.LinkTarget {
			faults = append(faults, fmt.Sprintf("link target %q, snapshot says %q", target, n.LinkTarget))
		}
	}
	if n.Type != repo.NodeSymlink && st.Mode&0o7777 != n.Mode&0o7777 {
		faults = append(faults, fmt.Sprintf("mode %04o, snapshot says %04o", st.Mode&0o7777, n.Mode&0o7777))
	}
	return faults
}

// isMetadataWarning tells a restore warning about metadata this process
// may not set (extended attributes, ownership) from lost or wrong content.
func isMetadataWarning(err error) bool {
	return !errors.Is(err, restorer.ErrVerify) && strings.HasPrefix(err.Error(), "metadata:")
}

func (d *drillCompare) fail(path, fault string) {
	if len(d.res.Failures) < maxDrillFailures {
		d.res.Failures = append(d.res.Failures, DrillFailure{Path: path, Fault: fault})
	}
}

func (d *drillCompare) warning(path, fault string) {
	if len(d.res.Warnings) < maxDrillFailures {
		d.res.Warnings = append(d.res.Warnings, DrillFailure{Path: path, Fault: fault})
	}
}
