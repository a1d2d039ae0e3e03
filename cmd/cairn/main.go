// Command cairn backs up servers: compressed, encrypted, deduplicated
// snapshots in local and S3-compatible repositories.
package main

import (
	"context"
	"os"
	"os/signal"
	"runtime/debug"
	"runtime/pprof"
	"syscall"
)

// softMemoryLimit is the Go runtime's default soft memory limit.
const softMemoryLimit = 80 << 20

func main() {
	// cairn's live heap is small (blob buffers in flight, a bounded
	// budget), but it allocates megabytes per chunk: a soft limit makes the
	// collector work harder only when the heap nears it, so peak memory
	// stays flat without paying for frequent collections when it is small.
	// GOMEMLIMIT in the environment still wins.
	if os.Getenv("GOMEMLIMIT") == "" {
		debug.SetMemoryLimit(softMemoryLimit)
	}
	// CAIRN_CPUPROFILE=FILE writes a CPU profile of the whole run, for
	// bench/ and for reports of slow runs.
	if path := os.Getenv("CAIRN_CPUPROFILE"); path != "" {
		if f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o600); err == nil {
			pprof.StartCPUProfile(f)
		}
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Args, os.Stdin, os.Stdout, os.Stderr)
	stop()
	if path := os.Getenv("CAIRN_MEMPROFILE"); path != "" {
		if f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o600); err == nil {
			pprof.Lookup("heap").WriteTo(f, 0)
			f.Close()
		}
	}
	pprof.StopCPUProfile() // a no-op unless CAIRN_CPUPROFILE started one
	os.Exit(code)
}
