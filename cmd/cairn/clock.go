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
