package main

import (
	"math"
	"testing"
	"time"
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
