package main

import (
	"os"
	"strings"
	"time"
)

// testClockEnv names a file that, for tests only, moves the clock of
// repository operations (lock times, condemnation times, prune's grace
// period): it holds a duration such as "25h" that is added to the time.
// Several cairn processes reading one file share one fake clock, which a
// test moves forward by rewriting the file. Unset, the clock is the
// system's.
const testClockEnv = "CAIRN_TEST_CLOCK_FILE"

// testLockRefreshEnv, for tests only, sets how often a lock is refreshed
// (a Go duration such as 50ms), so that locks keep up with a clock that
// CAIRN_TEST_CLOCK_FILE moves forward faster than time passes.
const testLockRefreshEnv = "CAIRN_TEST_LOCK_REFRESH"

// lockRefresh returns the lock refresh interval (0: the default).
func lockRefresh(getenv func(string) string) time.Duration {
	d, err := time.ParseDuration(getenv(testLockRefreshEnv))
	if err != nil || d <= 0 {
		return 0
	}
	return d
}

// repoClock returns the clock for repository operations.
func repoClock(getenv func(string) string) func() time.Time {
	path := getenv(testClockEnv)
	if path == "" {
		return time.Now
	}
	return func() time.Time {
		b, err := os.ReadFile(path)
		if err != nil {
			return time.Now()
		}
		d, err := time.ParseDuration(strings.TrimSpace(string(b)))
		if err != nil {
			return time.Now()
		}
		return time.Now().Add(d)
	}
}
