package counted_test

import (
	"strings"
	"testing"

	"github.com/cairnbackup/cairn/backend"
	"github.com/cairnbackup/cairn/backend/counted"
	"github.com/cairnbackup/cairn/backend/mem"
	"github.com/cairnbackup/cairn/backend/retry"
)

// throttled is a store that reports throttling answers, as the object
// stores do.
type throttled struct {
	*mem.Backend
	n int64
}

func (t *throttled) Throttled() int64 { return t.n }
func (t *throttled) ListPages() int64 { return 7 }

func TestThrottledFoundBelowDecorators(t *testing.T) {
	store := &throttled{Backend: mem.New(), n: 3}
	cb := counted.New(retry.New(store, retry.Options{}))
	s := cb.Stats()
	if s.Throttled != 3 || s.ListPages != 7 {
		t.Fatalf("stats %+v: want 3 throttled and 7 pages from the store below retry", s)
	}
	if !strings.Contains(s.String(), "3 throttled (retried)") {
		t.Errorf("String() = %q does not mention throttling", s)
	}
	if d := s.Sub(s); d.Throttled != 0 {
		t.Errorf("Sub: %+v", d)
	}
	if sum := s.Add(s); sum.Throttled != 6 || sum.ListPages != 14 {
		t.Errorf("Add: %+v", sum)
	}
	if strings.Contains(counted.New(mem.New()).Stats().String(), "throttled") {
		t.Error("a store without throttling mentions it")
	}
	var _ backend.Backend = store
}
