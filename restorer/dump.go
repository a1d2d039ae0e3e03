package restorer

import (
	"archive/tar"
	"context"
	"fmt"
	"io"
	"strings"
	"sync"

	"golang.org/x/sys/unix"

	"github.com/cairnbackup/cairn/repo"
)

// TreeLoader loads trees.
type TreeLoader interface {
	LoadTree(ctx context.Context, id repo.ID) (*repo.Tree, error)
}

// Lookup returns the node at path (absolute, slash-separated) below the
// root tree, loading only the trees on the way. "/" is the root folder.
func Lookup(ctx context.Context, r TreeLoader, root repo.ID, path string) (*repo.Node, error) {
	node := &repo.Node{Name: "", Type: repo.NodeDir, Subtree: root, Mode: 0o755}
	walked := ""
	for _, name := range strings.Split(strings.Trim(path, "/"), "/") {
		if name == "" {
			continue
		}
		if node.Type != repo.NodeDir {
			return nil, fmt.Errorf("%w: %s is not a folder in the snapshot", ErrNoSuchPath, walked)
		}
		tree, err := r.LoadTree(ctx, node.Subtree)
		if err != nil {
			return nil, fmt.Errorf("read folder %s: %w", walked+"/", err)
		}
		walked += "/" + name
		if node = tree.Find(name); node == nil {
			return nil, fmt.Errorf("%s: %w in the snapshot", walked, ErrNoSuchPath)
		}
	}
	return node, nil
}

// Dump writes a file's content to w, or a folder as a tar stream. It
// reads only the blobs it writes, coalescing neighbours in a pack.
func Dump(ctx context.Context, r Repo, node *repo.Node, w io.Writer) error {
	if node.Type == repo.NodeDir {
		tw := tar.NewWriter(w)
		d := &tarDumper{r: r, tw: tw, links: map[[2]uint64]string{}}
		if err := d.dir(ctx, node.Subtree, ""); err != nil {
			return err
		}
		return tw.Close()
	}
	if node.Type != repo.NodeFile {
		return fmt.Errorf("%s is a %s, not a file or folder", node.Name, node.Type)
	}
	return writeContent(ctx, r, node, w)
}

// Dump reads ahead: up to dumpAhead runs (more when the storage serves
// more requests at once well) of blobs are fetched and opened
// at once, each of at most dumpRunBytes of plaintext (plus one blob), and
// written in file order. That keeps both cores opening blobs and several
// requests in flight against a distant store, with memory bounded by
// dumpAhead runs whatever the file's size.
const (
	dumpAhead    = 8
	dumpRunBytes = 4 << 20
)

// contentPiece is one step of a file's content in order: a hole, or a run
// of blobs being read into data by a fetcher.
type contentPiece struct {
	hole uint64
	run  []repo.BlobLocation
	ext  []repo.Extent // the file's extents the run's blobs fill
	data []byte
	err  error
	done chan struct{}
}

// writeContent streams a file's extents in order, reading runs of blobs
// ahead in parallel.
func writeContent(ctx context.Context, r Repo, node *repo.Node, w io.Writer) error {
	if err := repo.CheckContent(node); err != nil {
		return err
	}
	pieces, err := planContent(r, node.Content)
	if err != nil {
		return fmt.Errorf("dump %s: %w", node.Name, err)
	}
	if len(pieces) == 1 && pieces[0].run != nil {
		// One run: no reading ahead to do, and no goroutines for the many
		// small files of a folder's tar stream.
		p := &pieces[0]
		if p.data, err = readRun(ctx, r, p.run, p.ext); err != nil {
			return fmt.Errorf("dump %s: %w", node.Name, err)
		}
		_, err = w.Write(p.data)
		return err
	}
	// The queue holds the pieces in file order; a piece enters it as its
	// fetch starts, so at most dumpAhead runs are read or wait to be written.
	ctx, cancel := context.WithCancel(ctx)
	var fetchers sync.WaitGroup
	defer func() { cancel(); fetchers.Wait() }()
	queue := make(chan *contentPiece, max(dumpAhead, parallelism(r)))
	fetchers.Add(1)
	go func() {
		defer fetchers.Done()
		defer close(queue)
		for i := range pieces {
			p := &pieces[i]
			p.done = make(chan struct{})
			select {
			case queue <- p:
			case <-ctx.Done():
				return
			}
			if p.run == nil {
				close(p.done)
				continue
			}
			fetchers.Add(1)
			go func() {
				defer fetchers.Done()
				p.data, p.err = readRun(ctx, r, p.run, p.ext)
				close(p.done)
			}()
		}
	}()
	for p := range queue {
		<-p.done
		if p.err != nil {
			return fmt.Errorf("dump %s: %w", node.Name, p.err)
		}
		if p.run == nil {
			err = writeZeros(w, p.hole)
		} else {
			_, err = w.Write(p.data)
			p.data = nil
		}
		if err != nil {
			return err
		}
	}
	return ctx.Err()
}

// planContent cuts a file's extents into holes and runs of blobs that lie
// close together in one pack.
func planContent(r Repo, ext []repo.Extent) ([]contentPiece, error) {
	var out []contentPiece
	for i := 0; i < len(ext); {
		if ext[i].Hole {
			out = append(out, contentPiece{hole: ext[i].Length})
			i++
			continue
		}
		run, err := blobRun(r, ext[i:])
		if err != nil {
			return nil, err
		}
		out = append(out, contentPiece{run: run, ext: ext[i : i+len(run)]})
		i += len(run)
	}
	return out, nil
}

// readRun reads one run of blobs in a single request and returns their
// plaintexts, concatenated in order. When a copy of the repository serves
// a damaged blob the callback fails, and a multi-location backend reads
// the run again from another copy. A blob whose length differs from its
// extent's is an error: the file would come out shifted.
func readRun(ctx context.Context, r Repo, run []repo.BlobLocation, ext []repo.Extent) ([]byte, error) {
	var bufs repo.OpenBuffers
	size := uint64(0)
	for _, e := range ext {
		size += e.Length
	}
	var out []byte
	err := r.ReadPack(ctx, run[0].Pack, int64(run[0].Offset), runLength(run), func(rd io.Reader) error {
		// The extents' lengths are checked against every blob below; the
		// room made ahead is bounded whatever they claim.
		out = make([]byte, 0, min(size, 2*dumpRunBytes))
		pos := int64(run[0].Offset)
		for k, loc := range run {
			if skip := int64(loc.Offset) - pos; skip > 0 {
				if _, err := io.CopyN(io.Discard, rd, skip); err != nil {
					return err
				}
			}
			if _, err := io.ReadFull(rd, bufs.Sealed(int(loc.Length))); err != nil {
				return err
			}
			pos = int64(loc.Offset) + int64(loc.Length)
			plain, err := r.OpenBlobAt(loc, &bufs)
			if err != nil {
				return err
			}
			if want := ext[k].Length; uint64(len(plain)) != want {
				return fmt.Errorf("%w: blob %s holds %d bytes where the file's extent says %d", repo.ErrMalformed, loc.ID.Short(), len(plain), want)
			}
			out = append(out, plain...)
		}
		return nil
	})
	return out, err
}

// blobRun returns the locations of the leading data extents that lie in
// one pack in increasing order, close enough to read in one request.
func blobRun(r Repo, ext []repo.Extent) ([]repo.BlobLocation, error) {
	var run []repo.BlobLocation
	plain := uint64(0)
	for _, e := range ext {
		if plain >= dumpRunBytes {
			break
		}
		if e.Hole {
			break
		}
		loc, err := r.LookupBlob(repo.DataBlob, e.Blob)
		if err != nil {
			if len(run) > 0 {
				break
			}
			return nil, fmt.Errorf("%w: blob %s: %v", errMissing, e.Blob.Short(), err)
		}
		if len(run) > 0 {
			last := run[len(run)-1]
			end := int64(last.Offset) + int64(last.Length)
			if loc.Pack != last.Pack || int64(loc.Offset) < end || int64(loc.Offset)-end > maxGap {
				break
			}
		}
		run = append(run, loc)
		plain += e.Length
	}
	return run, nil
}

func runLength(run []repo.BlobLocation) int {
	last := run[len(run)-1]
	return int(int64(last.Offset) + int64(last.Length) - int64(run[0].Offset))
}

func writeZeros(w io.Writer, n uint64) error {
	buf := make([]byte, min(n, 1<<20))
	for n > 0 {
		k := min(n, uint64(len(buf)))
		if _, err := w.Write(buf[:k]); err != nil {
			return err
		}
		n -= k
	}
	return nil
}

// tarDumper writes a folder as a tar stream.
type tarDumper struct {
	r     Repo
	tw    *tar.Writer
	links map[[2]uint64]string
}

func (d *tarDumper) dir(ctx context.Context, id repo.ID, prefix string) error {
	tree, err := d.r.LoadTree(ctx, id)
	if err != nil {
		return err
	}
	for i := range tree.Nodes {
		n := &tree.Nodes[i]
		if err := repo.ValidName(n.Name); err != nil {
			return fmt.Errorf("%w: %v", ErrUnsafePath, err)
		}
		name := prefix + n.Name
		if err := d.entry(ctx, n, name); err != nil {
			return err
		}
		if n.Type == repo.NodeDir {
			if err := d.dir(ctx, n.Subtree, name+"/"); err != nil {
				return err
			}
		}
	}
	return nil
}

func (d *tarDumper) entry(ctx context.Context, n *repo.Node, name string) error {
	h := &tar.Header{Name: name, Mode: int64(n.Mode), Uid: int(n.UID), Gid: int(n.GID), Uname: n.User, Gname: n.Group,
		ModTime: n.ModTime, ChangeTime: n.ChangeTime, Format: tar.FormatPAX}
	switch n.Type {
	case repo.NodeDir:
		h.Typeflag, h.Name = tar.TypeDir, name+"/"
	case repo.NodeSymlink:
		h.Typeflag, h.Linkname = tar.TypeSymlink, n.LinkTarget
	case repo.NodeFifo:
		h.Typeflag = tar.TypeFifo
	case repo.NodeCharDev, repo.NodeBlockDev:
		h.Typeflag = tar.TypeChar
		if n.Type == repo.NodeBlockDev {
			h.Typeflag = tar.TypeBlock
		}
		h.Devmajor, h.Devminor = int64(unix.Major(n.Rdev)), int64(unix.Minor(n.Rdev))
	case repo.NodeSocket:
		return nil // tar has no sockets
	case repo.NodeFile:
		key := [2]uint64{n.Device, n.Inode}
		if first, ok := d.links[key]; ok && n.Links > 1 {
			h.Typeflag, h.Linkname = tar.TypeLink, first
			return d.tw.WriteHeader(h)
		}
		if n.Links > 1 {
			d.links[key] = name
		}
		h.Typeflag, h.Size = tar.TypeReg, int64(n.Size)
		if err := d.tw.WriteHeader(h); err != nil {
			return err
		}
		return writeContent(ctx, d.r, n, d.tw)
	}
	return d.tw.WriteHeader(h)
}
