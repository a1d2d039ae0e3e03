package limit

import (
	"context"
	"io"
	"strings"
	"testing"

	"github.com/cairnbackup/cairn/backend"
	"github.com/cairnbackup/cairn/backend/mem"
)

// Each cap slows only its own direction: an upload cap hands loads the
// store's own reader, and a download cap leaves saves untouched; no
// timing is needed to see it.
func TestCapsApplyToTheirDirectionOnly(t *testing.T) {
	ctx := context.Background()
	h := backend.Handle{Type: backend.PackFile, Name: strings.Repeat("d", 64)}
	m := mem.New()
	if err := m.Save(ctx, h, backend.NewByteReader([]byte("pack bytes"))); err != nil {
		t.Fatal(err)
	}
	up := New(m, Rates{Upload: 1})
	err := up.Load(ctx, h, 0, 0, func(rd io.Reader) error {
		if _, limited := rd.(*reader); limited {
			t.Error("an upload cap limited a load")
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if up.down != nil || New(m, Rates{Download: 1}).up != nil {
		t.Error("a cap in one direction made a bucket in the other")
	}
	down := New(m, Rates{Download: 1 << 20})
	err = down.Load(ctx, h, 0, 0, func(rd io.Reader) error {
		if _, limited := rd.(*reader); !limited {
			t.Error("a download cap did not limit a load")
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}
