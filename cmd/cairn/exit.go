package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"syscall"

	"github.com/cairnbackup/cairn/backend"
	"github.com/cairnbackup/cairn/repo"
)

// Exit codes, documented in `cairn --help` and the README.
const (
	exitOK          = 0
	exitFailure     = 1
	exitPartial     = 3   // snapshot written, but some files could not be read
	exitNoRepo      = 10  // no repository at the location
	exitLocked      = 11  // a lock is held by another process
	exitBadPassword = 12  // wrong password or key
	exitInterrupted = 130 // interrupted by SIGINT (Ctrl-C): 128 + 2
	exitTerminated  = 143 // stopped by SIGTERM: 128 + 15
)

const exitCodesHelp = `EXIT CODES:
   0    success
   1    failure (the message says what and what to do)
   3    snapshot written, but some files could not be read (they are listed)
   10   no repository at the location
   11   the repository is locked by another process
   12   wrong password or key
   130  interrupted (SIGINT, Ctrl-C)
   143  stopped by SIGTERM (cairn daemon exits 0 once it has stopped cleanly)`

// errPartial marks a snapshot that was written with some files missing.
var errPartial = errors.New("some files could not be read")

// exitError carries an explicit exit code.
type exitError struct {
	code int
	err  error
}

func (e *exitError) Error() string { return e.err.Error() }
func (e *exitError) Unwrap() error { return e.err }

// exitCode maps an error to the process exit code.
func exitCode(ctx context.Context, err error) int {
	var ee *exitError
	switch {
	case err == nil:
		return exitOK
	case errors.As(err, &ee):
		return ee.code
	case errors.Is(err, errPartial):
		return exitPartial
	case ctx.Err() != nil && errors.Is(err, context.Canceled):
		return interruptCode(ctx)
	case errors.Is(err, repo.ErrNoRepository):
		return exitNoRepo
	case errors.Is(err, repo.ErrLocked):
		return exitLocked
	case errors.Is(err, repo.ErrWrongPassword):
		return exitBadPassword
	}
	return exitFailure
}

// signalError is the cause of the run's cancellation: the signal that
// arrived. It is a context.Canceled, so that code reporting a context's
// cause (a hook stopped) still reads as cancelled.
type signalError struct{ sig os.Signal }

func (e signalError) Error() string { return "stopped by signal " + e.sig.String() }
func (e signalError) Unwrap() error { return context.Canceled }

// interruptCode is the exit code of a run that a signal cancelled: 143
// for SIGTERM, as a shell reports a process it killed, else 130.
func interruptCode(ctx context.Context) int {
	var se signalError
	if errors.As(context.Cause(ctx), &se) && se.sig == syscall.SIGTERM {
		return exitTerminated
	}
	return exitInterrupted
}

// interruptedBy says what cancelled the run.
func interruptedBy(ctx context.Context) string {
	if interruptCode(ctx) == exitTerminated {
		return "stopped by SIGTERM"
	}
	return "interrupted"
}

// errorLines are the final error's message, and a hint where one
// helps; none for a partial snapshot, whose command listed what it
// skipped.
func errorLines(ctx context.Context, err error) []string {
	switch {
	case errors.Is(err, errPartial):
		return nil
	case ctx.Err() != nil && errors.Is(err, context.Canceled):
		return []string{interruptedBy(ctx) + "; nothing half-written was left under a real name"}
	case errors.Is(err, backend.ErrNoSpace):
		return []string{err.Error(), "the repository's storage is full: free space (or raise the quota) and run the command again; nothing half-written was left under a real name"}
	}
	return []string{err.Error()}
}

// printError writes the final error, once: as text lines, or with --json
// as one JSON object.
func (g *globalOptions) printError(ctx context.Context, err error, args []string) {
	lines := errorLines(ctx, err)
	if len(lines) == 0 {
		return
	}
	if g.json || jsonRequested(args) {
		g.printErrorJSON(err, lines, exitCode(ctx, err))
		return
	}
	for _, l := range lines {
		fmt.Fprintf(g.stderr, "cairn: %s\n", l)
	}
}
