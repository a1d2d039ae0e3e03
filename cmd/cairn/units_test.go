package main

import (
	"fmt"
	"math"
	"testing"
	"time"

	"github.com/cairnbackup/cairn/config"
	"github.com/cairnbackup/cairn/policy"
)

func TestParseSize(t *testing.T) {
	good := map[string]int64{"0": 0, "1024": 1024, "1K": 1024, "500M": 500 << 20, "2G": 2 << 30, "2GiB": 2 << 30, "1.5k": 1536, "3 MB": 3 << 20, "1T": 1 << 40}
	for in, want := range good {
		if got, err := parseSize(in); err != nil || got != want {
			t.Errorf("parseSize(%q) = %d, %v; want %d", in, got, err, want)
		}
	}
	for _, in := range []string{"", "M", "-1", "1X", "abc", "1e400"} {
		if _, err := parseSize(in); err == nil {
			t.Errorf("parseSize(%q) accepted", in)
		}
	}
}

func TestParsePercent(t *testing.T) {
	good := map[string]float64{"5%": 0.05, "5": 0.05, "0%": 0, "100%": 1, "12.5%": 0.125}
	for in, want := range good {
		if got, err := parsePercent(in); err != nil || math.Abs(got-want) > 1e-9 {
			t.Errorf("parsePercent(%q) = %v, %v; want %v", in, got, err, want)
		}
	}
	if got, err := parsePercent("unlimited"); err != nil || !math.IsInf(got, 1) {
		t.Errorf("unlimited: %v, %v", got, err)
	}
	for _, in := range []string{"", "-1%", "101%", "x"} {
		if _, err := parsePercent(in); err == nil {
			t.Errorf("parsePercent(%q) accepted", in)
		}
	}
}

func TestParseAge(t *testing.T) {
	good := map[string]time.Duration{"24h": 24 * time.Hour, "2d": 48 * time.Hour, "1d12h": 36 * time.Hour, "0": 0, "90m": 90 * time.Minute, "0d": 0}
	for in, want := range good {
		if got, err := parseAge(in); err != nil || got != want {
			t.Errorf("parseAge(%q) = %v, %v; want %v", in, got, err, want)
		}
	}
	for _, in := range []string{"", "d", "xd", "1w", "-1h", "-1d"} {
		if _, err := parseAge(in); err == nil {
			t.Errorf("parseAge(%q) accepted", in)
		}
	}
}

// The configuration file checks keep-within durations without importing
// package policy; both must accept the same strings.
func TestRetentionSyntaxAgrees(t *testing.T) {
	for _, d := range []string{"90d", "1y2m3d", "36h", "1y2m3d4h", "4h3d", "0d", " 7d ", "1000000d", "999999d", "",
		"5", "d", "1x", "-1d", "1d1d", "1.5d", "1 d", "1w", "90days"} {
		_, perr := policy.ParseDuration(d)
		yaml := fmt.Sprintf("jobs:\n  - name: j\n    sources: [/x]\n    retention:\n      keep_daily: 1\n      keep_within: %q\n", d)
		_, cerr := config.Parse("x.yaml", []byte(yaml))
		if d == "" {
			perr = nil // an empty keep_within is an unused rule in the file
		}
		if (perr == nil) != (cerr == nil) {
			t.Errorf("duration %q: policy says %v, the configuration check says %v", d, perr, cerr)
		}
	}
}
