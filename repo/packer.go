package repo

import (
	"bytes"
	"context"
	"fmt"
	"sync"

	"github.com/cairnbackup/cairn/backend"
	"github.com/cairnbackup/cairn/crypto"
	"github.com/cairnbackup/cairn/index"
	"github.com/cairnbackup/cairn/pack"
)

// packerManager fills one open pack per blob type and uploads full packs
// in the background, with a bounded number of uploads in flight. Memory is
// bounded by (open packs + uploads) × pack size.
type packerManager struct {
	be       backend.Backend
	sealer   *crypto.Key
	packSize int
	uploaded func(ctx context.Context, info index.PackInfo) error // called after a pack is durable

	mu   sync.Mutex
	open map[pack.BlobType]*openPack
	err  error // first upload failure; sticky

	slots chan struct{} // one token per upload in flight
	wg    sync.WaitGroup
	pool  sync.Pool // *bytes.Buffer of about packSize
}

type openPack struct {
	buf *bytes.Buffer
	w   *pack.Writer
}

func newPackerManager(be backend.Backend, sealer *crypto.Key, packSize, uploads int, uploaded func(context.Context, index.PackInfo) error) *packerManager {
	return &packerManager{
		be: be, sealer: sealer, packSize: packSize, uploaded: uploaded,
		open:  make(map[pack.BlobType]*openPack),
		slots: make(chan struct{}, max(uploads, 1)),
	}
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
		buf, _ := m.pool.Get().(*bytes.Buffer)
		if buf == nil {
			buf = bytes.NewBuffer(make([]byte, 0, m.packSize+m.packSize/8))
		}
		buf.Reset()
		op = &openPack{buf: buf, w: pack.NewWriter(buf)}
		m.open[s.t] = op
	}
	err := op.w.Add(s.t, s.id, s.bytes, s.rawLen)
	var full *openPack
	if err == nil && op.w.Size() >= int64(m.packSize) {
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
		return err
	}
	select {
	case m.slots <- struct{}{}:
	case <-ctx.Done():
		return ctx.Err()
	}
	m.wg.Add(1)
	go func() {
		defer m.wg.Done()
		defer func() { <-m.slots }()
		err := m.store(ctx, op.buf.Bytes(), info)
		m.pool.Put(op.buf)
		if err != nil {
			m.mu.Lock()
			if m.err == nil {
				m.err = err
			}
			m.mu.Unlock()
		}
	}()
	return nil
}

func (m *packerManager) store(ctx context.Context, b []byte, info pack.Info) error {
	h := backend.Handle{Type: backend.PackFile, Name: info.ID.String()}
	if err := m.be.Save(ctx, h, backend.NewByteReader(b)); err != nil {
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
