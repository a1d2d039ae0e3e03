package repo

import (
	"context"
	"errors"
	"fmt"
	"os"
	"sync"

	"github.com/cairnbackup/cairn/backend"
	"github.com/cairnbackup/cairn/crypto"
	"github.com/cairnbackup/cairn/index"
	"github.com/cairnbackup/cairn/pack"
)

// maxPackBlobs ends a pack of tiny blobs before its target size: its
// header (45 bytes a blob) stays under 1.5 MiB, and the blobs that wait in
// open and uploading packs for an index segment stay few.
const maxPackBlobs = 1 << 15

// packerManager fills one open pack per blob type and uploads full packs
// in the background, with a bounded number of uploads in flight. Packs are
// written to files rather than memory, so the process's memory does not
// grow with the pack size or the number of uploads in flight: in place when
// the backend can stage objects (a local folder), else to temporary files
// (unlinked at once, so a crash leaves nothing) that are then uploaded.
type packerManager struct {
	be       backend.Backend
	sealer   *crypto.Key
	packSize int
	tmpDir   string                                               // where pack files are built; "" means os.TempDir
	uploaded func(ctx context.Context, info index.PackInfo) error // called after a pack is durable

	mu      sync.Mutex
	open    map[pack.BlobType]*openPack
	err     error // first upload failure; sticky
	noStage bool  // the backend cannot stage packs in place

	slots chan struct{} // one token per upload in flight
	wg    sync.WaitGroup
}

// openPack is a pack being filled: either staged in the backend or in a
// temporary file to upload.
type openPack struct {
	staged backend.Staged
	f      *os.File
	w      *pack.Writer
}

// discard drops a pack that will not be stored.
func (op *openPack) discard() {
	if op.staged != nil {
		op.staged.Abort()
		return
	}
	op.f.Close()
}

func newPackerManager(be backend.Backend, sealer *crypto.Key, packSize, uploads int, tmpDir string, uploaded func(context.Context, index.PackInfo) error) *packerManager {
	return &packerManager{
		be: be, sealer: sealer, packSize: packSize, tmpDir: tmpDir, uploaded: uploaded,
		open:  make(map[pack.BlobType]*openPack),
		slots: make(chan struct{}, max(uploads, 1)),
	}
}

// newOpenPack stages a pack in the backend or, when it cannot stage,
// creates an anonymous temporary file for it. Called with m.mu held.
func (m *packerManager) newOpenPack(ctx context.Context) (*openPack, error) {
	if st, ok := m.be.(backend.Stager); ok && !m.noStage {
		staged, err := st.Stage(ctx, backend.PackFile)
		if err == nil {
			return &openPack{staged: staged, w: pack.NewWriter(staged)}, nil
		}
		if !errors.Is(err, errors.ErrUnsupported) {
			return nil, fmt.Errorf("stage pack: %w", err)
		}
		m.noStage = true
	}
	if m.tmpDir != "" {
		if err := os.MkdirAll(m.tmpDir, 0o700); err != nil {
			return nil, fmt.Errorf("create folder for temporary packs: %w", err)
		}
	}
	f, err := os.CreateTemp(m.tmpDir, "pack-*")
	if err != nil {
		return nil, fmt.Errorf("create temporary pack file: %w", err)
	}
	os.Remove(f.Name()) // the open descriptor keeps it until Close
	return &openPack{f: f, w: pack.NewWriter(f)}, nil
}

// add appends a sealed blob to the open pack of its type, and uploads the
// pack once it reaches the target size. ctx must stay valid until flush.
func (m *packerManager) add(ctx context.Context, s sealed) error {
	m.mu.Lock()
	if m.err != nil {
		m.mu.Unlock()
		return m.err
	}
	op := m.open[s.t]
	if op == nil {
		var err error
		if op, err = m.newOpenPack(ctx); err != nil {
			m.mu.Unlock()
			return err
		}
		m.open[s.t] = op
	}
	err := op.w.Add(s.t, s.id, s.bytes, s.rawLen)
	var full *openPack
	if err == nil && (op.w.Size() >= int64(m.packSize) || op.w.Count() >= maxPackBlobs) {
		full = op
		delete(m.open, s.t)
	}
	m.mu.Unlock()
	if err != nil {
		return err
	}
	if full != nil {
		return m.upload(ctx, full)
	}
	return nil
}

// upload finishes op and stores it in the background once a slot is free.
func (m *packerManager) upload(ctx context.Context, op *openPack) error {
	info, err := op.w.Finish(m.sealer)
	if err != nil {
		op.discard()
		return m.setErr(fmt.Errorf("finish pack: %w", err))
	}
	select {
	case m.slots <- struct{}{}:
	case <-ctx.Done():
		op.discard()
		return m.setErr(fmt.Errorf("pack of %d blobs not uploaded: %w", len(info.Entries), ctx.Err()))
	}
	m.wg.Add(1)
	go func() {
		defer m.wg.Done()
		defer func() { <-m.slots }()
		err := m.store(ctx, op, info)
		if err != nil {
			m.setErr(err)
		}
	}()
	return nil
}

// setErr records the first failure. It is sticky: blobs of a pack that was
// not stored were already reported saved, so nothing may be flushed or
// committed after it.
func (m *packerManager) setErr(err error) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.err == nil {
		m.err = err
	}
	return err
}

// store makes a finished pack durable under its name, then reports it.
func (m *packerManager) store(ctx context.Context, op *openPack, info pack.Info) error {
	var err error
	if op.staged != nil {
		err = op.staged.Commit(ctx, info.ID.String())
	} else {
		h := backend.Handle{Type: backend.PackFile, Name: info.ID.String()}
		err = m.be.Save(ctx, h, backend.NewSectionReader(op.f, info.Size))
		op.f.Close()
	}
	if err != nil {
		return fmt.Errorf("upload pack %s: %w", info.ID.Short(), err)
	}
	return m.uploaded(ctx, index.PackInfo{ID: info.ID, Size: info.Size, Blobs: info.Entries})
}

// flush uploads the open packs and waits for every upload.
func (m *packerManager) flush(ctx context.Context) error {
	m.mu.Lock()
	var todo []*openPack
	for t, op := range m.open {
		todo = append(todo, op)
		delete(m.open, t)
	}
	m.mu.Unlock()
	var first error
	for _, op := range todo {
		if err := m.upload(ctx, op); err != nil && first == nil {
			first = err
		}
	}
	m.wg.Wait()
	m.mu.Lock()
	defer m.mu.Unlock()
	if first == nil {
		first = m.err
	}
	return first
}
