// Command cairn backs up servers: compressed, encrypted, deduplicated
// snapshots in local and S3-compatible repositories.
package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"runtime"
	"runtime/debug"
	"runtime/pprof"
	"runtime/trace"
	"syscall"

	"github.com/cairnbackup/cairn/internal/memlimit"
)

// softMemoryLimit is the Go runtime's soft memory limit while the live
// heap is under half of it (see memlimit).
const softMemoryLimit = 80 << 20

// gcPercent is the collector's default growth target (GOGC): the heap may
// grow to 1.5x what is live instead of 2x.
const gcPercent = 50

func main() {
	tuneRuntime(os.Getenv)
	testHooks(os.Getenv)
	// CAIRN_CPUPROFILE, CAIRN_TRACE and CAIRN_MEMPROFILE name files for a
	// CPU profile, an execution trace and a heap profile of the whole run,
	// for bench/ and for reports of slow runs.
	if f := diagnosticFile("CAIRN_CPUPROFILE"); f != nil {
		pprof.StartCPUProfile(f)
	}
	if f := diagnosticFile("CAIRN_TRACE"); f != nil {
		trace.Start(f)
	}
	ctx, stop := signalContext(os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Args, os.Stdin, os.Stdout, os.Stderr)
	stop()
	if f := diagnosticFile("CAIRN_MEMPROFILE"); f != nil {
		pprof.Lookup("heap").WriteTo(f, 0)
		f.Close()
	}
	pprof.StopCPUProfile() // a no-op unless CAIRN_CPUPROFILE started one
	trace.Stop()           // a no-op unless CAIRN_TRACE started one
	os.Exit(code)
}

// diagnosticFile creates (0600) the file that the environment variable
// name names, or returns nil when it is unset. One that cannot be created
// is reported, naming the variable, and the run goes on without it.
func diagnosticFile(name string) *os.File {
	path := os.Getenv(name)
	if path == "" {
		return nil
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o600)
	if err != nil {
		fmt.Fprintf(os.Stderr, "cairn: %s: %v (the run goes on without it)\n", name, err)
		return nil
	}
	return f
}

// signalContext returns a context cancelled by the first of sigs, with
// a signalError naming it as the cause (SIGTERM and SIGINT exit with
// different codes), and a function that stops catching the signals.
func signalContext(sigs ...os.Signal) (context.Context, func()) {
	ctx, cancel := context.WithCancelCause(context.Background())
	ch := make(chan os.Signal, 1)
	signal.Notify(ch, sigs...)
	done := make(chan struct{})
	go func() {
		select {
		case s := <-ch:
			cancel(signalError{s})
		case <-done:
		}
	}()
	return ctx, func() {
		signal.Stop(ch)
		close(done)
		cancel(nil)
	}
}

// tuneRuntime sets the Go runtime's memory defaults; the environment's
// GOMEMLIMIT and GOGC win over them. It returns a function that stops
// the memory limit's keeper.
func tuneRuntime(getenv func(string) string) (stop func()) {
	stop = func() {}
	// cairn's live heap is mostly small (blob buffers in flight, a bounded
	// budget), but it allocates megabytes per chunk: a soft limit makes the
	// collector work harder only when the heap nears it, so peak memory
	// stays flat without paying for frequent collections when it is small.
	// Where the work itself holds more (merging a large repository's
	// index, millions of files), the limit follows the live heap, so the
	// collector never runs back to back. GOMEMLIMIT in the environment
	// still wins.
	if getenv("GOMEMLIMIT") == "" {
		stop = memlimit.Keep(softMemoryLimit)
	}
	// Below the limit, a restore holds ~36 MiB of long-lived buffers (one
	// set per pack reader) and allocates little: at GOGC=100 its heap grew
	// to 68 MiB for 36 live, at 50 it peaks 6-10 MiB lower at the same
	// speed. Snapshots sit at the soft limit either way. GOGC still wins.
	if getenv("GOGC") == "" {
		debug.SetGCPercent(gcPercent)
	}
	return stop
}

// writerProcs returns restore's Writing hook: a batch of large files (1
// MiB or more on average) is written with two more Ps than the process
// has. A worker in a pwrite keeps its P until the runtime's monitor takes
// it back (0.4 ms on average, up to 14 ms in a traced restore), and with
// one P per core the runnable workers waited while a core sat idle: 1 GiB
// of logs on 2 cores, 10 interleaved runs, median 1.453 -> 1.059 s into
// ext4, 1.245 -> 1.110 s into tmpfs. Many small files are left alone:
// their cost is creating them, where more threads contend in the kernel
// (a million files: 50.7 s against 46.9). Snapshots and check --read-data
// were no faster with more Ps. GOMAXPROCS in the environment wins (nil).
func writerProcs(getenv func(string) string) func(files int, bytes uint64) func() {
	if getenv("GOMAXPROCS") != "" {
		return nil
	}
	return func(files int, bytes uint64) func() {
		if files == 0 || bytes/uint64(files) < 1<<20 {
			return func() {}
		}
		prev := runtime.GOMAXPROCS(runtime.GOMAXPROCS(0) + 2)
		return func() { runtime.GOMAXPROCS(prev) }
	}
}
