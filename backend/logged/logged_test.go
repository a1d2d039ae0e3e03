package logged_test

import (
	"bytes"
	"context"
	"log/slog"
	"strings"
	"testing"

	"github.com/cairnbackup/cairn/backend"
	"github.com/cairnbackup/cairn/backend/backendtest"
	"github.com/cairnbackup/cairn/backend/logged"
	"github.com/cairnbackup/cairn/backend/mem"
)

func TestConformance(t *testing.T) {
	log := slog.New(slog.NewTextHandler(&bytes.Buffer{}, &slog.HandlerOptions{Level: slog.LevelDebug}))
	backendtest.Run(t, func(t *testing.T) backend.Backend { return logged.New(mem.New(), log) })
}

// TestLogsEveryRequest: one line per request with its kind, object, bytes
// and time taken, failures with their error, and never the bytes stored.
func TestLogsEveryRequest(t *testing.T) {
	ctx := context.Background()
	var out bytes.Buffer
	lb := logged.New(mem.New(), slog.New(slog.NewTextHandler(&out, &slog.HandlerOptions{Level: slog.LevelDebug})))
	h := backend.Handle{Type: backend.SnapshotFile, Name: strings.Repeat("a", 64)}
	secret := []byte("the stored bytes, never logged")
	if err := lb.Save(ctx, h, backend.NewByteReader(secret)); err != nil {
		t.Fatal(err)
	}
	if _, err := backend.LoadRange(ctx, lb, h, 5, 4); err != nil {
		t.Fatal(err)
	}
	lb.Stat(ctx, backend.Handle{Type: backend.LockFile, Name: "missing"})
	lb.List(ctx, backend.SnapshotFile, func(backend.FileInfo) error { return nil })
	lb.Remove(ctx, h)
	lines := strings.Split(strings.TrimSpace(out.String()), "\n")
	want := []string{
		"op=PUT object=snapshots/" + h.Name + " bytes=30 took=",
		"offset=4 length=5 op=GET object=snapshots/" + h.Name + " bytes=5 took=",
		"op=HEAD object=locks/missing bytes=0 took=",
		"op=LIST object=snapshots/ objects=1 took=",
		"op=DELETE object=snapshots/" + h.Name + " bytes=0 took=",
	}
	if len(lines) != len(want) {
		t.Fatalf("%d lines, want %d:\n%s", len(lines), len(want), out.String())
	}
	for i, w := range want {
		if !strings.Contains(lines[i], w) {
			t.Errorf("line %d = %q, want it to hold %q", i, lines[i], w)
		}
	}
	if !strings.Contains(lines[2], "error=") {
		t.Errorf("a failed request is logged without its error: %q", lines[2])
	}
	if strings.Contains(out.String(), "stored bytes") {
		t.Error("object contents were logged")
	}
}
