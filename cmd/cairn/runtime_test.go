package main

import (
	"bytes"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"strings"
	"testing"
)

// TestTuneRuntime: cairn's memory defaults apply unless the environment
// sets GOMEMLIMIT or GOGC.
func TestTuneRuntime(t *testing.T) {
	origGC, origLimit := debug.SetGCPercent(100), debug.SetMemoryLimit(-1)
	t.Cleanup(func() {
		debug.SetGCPercent(origGC)
		debug.SetMemoryLimit(origLimit)
	})

	debug.SetMemoryLimit(math.MaxInt64)
	stop := tuneRuntime(func(string) string { return "" })
	stop()
	if got := debug.SetGCPercent(100); got != gcPercent {
		t.Errorf("GC percent %d, want %d", got, gcPercent)
	}
	if got := debug.SetMemoryLimit(math.MaxInt64); got != softMemoryLimit {
		t.Errorf("memory limit %d, want %d", got, softMemoryLimit)
	}

	tuneRuntime(func(string) string { return "set" })()
	if got := debug.SetGCPercent(100); got != 100 {
		t.Errorf("with GOGC set: GC percent %d, want it left at 100", got)
	}
	if got := debug.SetMemoryLimit(-1); got != math.MaxInt64 {
		t.Errorf("with GOMEMLIMIT set: memory limit %d, want it left alone", got)
	}
}

// TestWriterProcs: a batch of large files is written with two more Ps
// than the process has, and the count comes back after; small files and
// a GOMAXPROCS in the environment leave it alone.
func TestWriterProcs(t *testing.T) {
	orig := runtime.GOMAXPROCS(3)
	t.Cleanup(func() { runtime.GOMAXPROCS(orig) })
	writing := writerProcs(func(string) string { return "" })
	done := writing(4, 4<<20)
	if got := runtime.GOMAXPROCS(0); got != 5 {
		t.Errorf("GOMAXPROCS %d while large files are written, want 5", got)
	}
	done()
	if got := runtime.GOMAXPROCS(0); got != 3 {
		t.Errorf("GOMAXPROCS %d after, want 3 again", got)
	}
	for _, tc := range []struct {
		files int
		bytes uint64
	}{{1000, 1000 << 10}, {0, 0}} {
		done := writing(tc.files, tc.bytes)
		if got := runtime.GOMAXPROCS(0); got != 3 {
			t.Errorf("%d files of %d bytes: GOMAXPROCS %d, want 3", tc.files, tc.bytes, got)
		}
		done()
	}
	if writerProcs(func(k string) string { return map[string]string{"GOMAXPROCS": "3"}[k] }) != nil {
		t.Error("a hook with GOMAXPROCS set in the environment")
	}
}

// TestDiagnosticFiles: the real binary writes the CPU profile, heap
// profile and execution trace that CAIRN_CPUPROFILE, CAIRN_MEMPROFILE and
// CAIRN_TRACE name, readable by their owner only (a trace or profile shows
// paths and timings of a backup).
func TestDiagnosticFiles(t *testing.T) {
	bin := cairnBinary(t)
	dir := t.TempDir()
	files := map[string]string{
		"CAIRN_CPUPROFILE": filepath.Join(dir, "cpu.pprof"),
		"CAIRN_MEMPROFILE": filepath.Join(dir, "mem.pprof"),
		"CAIRN_TRACE":      filepath.Join(dir, "run.trace"),
	}
	cmd := exec.Command(bin, "version")
	cmd.Env = os.Environ()
	for k, v := range files {
		cmd.Env = append(cmd.Env, k+"="+v)
	}
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("cairn version: %v\n%s", err, out)
	}
	for k, path := range files {
		b, err := os.ReadFile(path)
		if err != nil {
			t.Errorf("%s: %v", k, err)
			continue
		}
		// pprof profiles are gzipped; a runtime trace opens with "go 1.".
		if k == "CAIRN_TRACE" && !bytes.HasPrefix(b, []byte("go 1.")) ||
			k != "CAIRN_TRACE" && !bytes.HasPrefix(b, []byte{0x1f, 0x8b}) {
			t.Errorf("%s: %d bytes starting %q: not a profile or trace", k, len(b), b[:min(len(b), 8)])
		}
		if fi, err := os.Stat(path); err == nil && fi.Mode().Perm() != 0o600 {
			t.Errorf("%s: mode %v, want 0600", k, fi.Mode().Perm())
		}
	}
	// A file that cannot be made is named, and the run goes on.
	cmd = exec.Command(bin, "version")
	cmd.Env = append(os.Environ(), "CAIRN_TRACE="+filepath.Join(dir, "missing", "run.trace"))
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("cairn version with an unwritable CAIRN_TRACE: %v\n%s", err, stderr.String())
	}
	if !strings.Contains(stderr.String(), "CAIRN_TRACE:") || !strings.Contains(stderr.String(), "no such file or directory") {
		t.Errorf("stderr %q: want the variable and the reason", stderr.String())
	}
}
