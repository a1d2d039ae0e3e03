package main

import (
	"os"
	"strconv"
	"sync"
	"syscall"

	"github.com/cairnbackup/cairn/backend"
	"github.com/cairnbackup/cairn/internal/crashpoint"
	"github.com/cairnbackup/cairn/repo"
)

// testKillAtCallEnv, for tests only, names a backend call (counting from
// 1, over every location the process opens: Save, Load, Stat, List, Remove
// and the commit of a staged pack) on entering which the process kills
// itself with SIGKILL, so that crash tests can stop a command at every
// point where it touches storage. Unset or not a positive number, nothing
// is counted.
const testKillAtCallEnv = "CAIRN_TEST_KILL_AT_CALL"

// testDeferRowsEnv, for tests only, sets how many blobs the index cache
// must hold before a session's index rows are deferred to its end
// (repo.DeferRowsAbove), so that crash tests reach that path with small
// repositories. Unset or not a number, the default holds.
const testDeferRowsEnv = "CAIRN_TEST_DEFER_ROWS_ABOVE"

// testHooks applies the test-only settings the environment asks for.
func testHooks(getenv func(string) string) {
	if n, err := strconv.Atoi(getenv(testDeferRowsEnv)); err == nil && n >= 0 {
		repo.DeferRowsAbove(n)
	}
}

var (
	crashOnce    sync.Once
	crashCounter *crashpoint.Counter
)

// crashHook returns the storage decorator that testKillAtCallEnv asks
// for, or nil. Every backend of the process shares one count.
func crashHook(getenv func(string) string) func(backend.Backend) backend.Backend {
	n, err := strconv.ParseInt(getenv(testKillAtCallEnv), 10, 64)
	if err != nil || n <= 0 {
		return nil
	}
	crashOnce.Do(func() {
		crashCounter = crashpoint.New(n, func() {
			syscall.Kill(os.Getpid(), syscall.SIGKILL)
			select {} // the signal is on its way; nothing more may reach storage
		})
	})
	return crashCounter.Wrap
}
