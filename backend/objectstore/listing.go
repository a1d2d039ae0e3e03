package objectstore

import (
	"fmt"
	"sync"

	"github.com/cairnbackup/cairn/backend"
)

// ErrListLoop is returned when a server answers a listing page with a page
// token (continuation token, marker) it already gave in the same listing:
// following it would list the same pages again, forever. It wraps
// backend.ErrCorrupt.
var ErrListLoop = fmt.Errorf("%w: the server repeated a listing page token (the listing would never end)", backend.ErrCorrupt)

// PageTokens are the page tokens one listing has followed. It is safe for
// concurrent use; the zero value is ready.
type PageTokens struct {
	mu   sync.Mutex
	seen map[string]bool
}

// Follow records token, the next page's, and fails with ErrListLoop when
// the listing followed it before. The empty token (no next page) passes.
func (p *PageTokens) Follow(token string) error {
	if token == "" {
		return nil
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.seen[token] {
		return ErrListLoop
	}
	if p.seen == nil {
		p.seen = map[string]bool{}
	}
	p.seen[token] = true
	return nil
}

// ListedSize checks the size a listing gives the object key: a negative
// one is backend.ErrCorrupt.
func ListedSize(key string, size int64) error {
	if size < 0 {
		return fmt.Errorf("%w: the listing gives %q a size of %d", backend.ErrCorrupt, key, size)
	}
	return nil
}
