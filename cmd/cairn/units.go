package main

import (
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"

	"github.com/cairnbackup/cairn/config"
)

// parseSize reads a byte count: a number with an optional binary unit
// (K, M, G, T, with or without "iB"/"B"), e.g. 500M, 2GiB, 1024 (the
// syntax of sizes in the configuration file too).
func parseSize(s string) (int64, error) { return config.ParseSize(s) }

// parsePercent reads a share written as "5%" or "5" (percent), or
// "unlimited" (returned as +Inf).
func parsePercent(s string) (float64, error) {
	t := strings.TrimSpace(s)
	if t == "unlimited" {
		return math.Inf(1), nil
	}
	v, err := strconv.ParseFloat(strings.TrimSuffix(t, "%"), 64)
	if err != nil || v < 0 || v > 100 {
		return 0, fmt.Errorf("%q: use a percentage from 0%% to 100%% (such as 5%%), or unlimited", s)
	}
	return v / 100, nil
}

// parseAge reads a duration as Go writes them (90m, 36h) or in days
// (2d, 1d12h).
func parseAge(s string) (time.Duration, error) {
	t := strings.TrimSpace(s)
	if t == "" {
		return 0, fmt.Errorf("empty duration: use hours or days, such as 36h or 2d")
	}
	var days int
	if i := strings.IndexByte(t, 'd'); i > 0 {
		n, err := strconv.Atoi(t[:i])
		if err != nil {
			return 0, fmt.Errorf("duration %q: use hours or days, such as 36h or 2d", s)
		}
		days, t = n, t[i+1:]
	}
	var rest time.Duration
	if t != "" {
		var err error
		if rest, err = time.ParseDuration(t); err != nil {
			return 0, fmt.Errorf("duration %q: use hours or days, such as 36h or 2d", s)
		}
	}
	d := time.Duration(days)*24*time.Hour + rest
	if d < 0 || days < 0 || days > 100000 {
		return 0, fmt.Errorf("duration %q is out of range", s)
	}
	return d, nil
}
