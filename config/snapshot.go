package config

import (
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"
)

// CompressionLevels are the names a job's compression may take: auto (the
// repository's own level), off, and zstd's levels from fastest to max.
// They are repo.CompressionLevels (package job tests that both agree).
var CompressionLevels = []string{"auto", "off", "fastest", "default", "better", "max"}

// ParseSize reads a byte count: a number with an optional binary unit
// (K, M, G, T, with or without "iB"/"B"), e.g. 500M, 2GiB, 1024.
func ParseSize(s string) (int64, error) {
	t := strings.TrimSpace(s)
	upper := strings.ToUpper(t)
	upper = strings.TrimSuffix(strings.TrimSuffix(upper, "IB"), "B")
	mult := int64(1)
	if n := len(upper); n > 0 {
		if i := strings.IndexByte("KMGT", upper[n-1]); i >= 0 {
			mult = int64(1) << (10 * (i + 1))
			upper = upper[:n-1]
		}
	}
	v, err := strconv.ParseFloat(strings.TrimSpace(upper), 64)
	if err != nil || v < 0 || math.IsInf(v, 0) || math.IsNaN(v) || v*float64(mult) > math.MaxInt64/2 {
		return 0, fmt.Errorf("size %q: use a number of bytes with an optional unit, such as 500M or 2G", s)
	}
	return int64(v * float64(mult)), nil
}

// ExcludeLargerThanBytes returns the job's exclude_larger_than in bytes,
// 0 when unset.
func (j *Job) ExcludeLargerThanBytes() int64 {
	if j.ExcludeLargerThan == "" {
		return 0
	}
	n, _ := ParseSize(j.ExcludeLargerThan) // validated
	return n
}

// validateSnapshot checks the keys that tune what a job's snapshot
// stores and how.
func (j *Job) validateSnapshot(at string) error {
	if j.Compression != "" && !slices.Contains(CompressionLevels, j.Compression) {
		return invalid(at+".compression", "job %q: compression %q: use one of %s", j.Name, j.Compression, strings.Join(CompressionLevels, ", "))
	}
	for k, name := range j.ExcludeIfPresent {
		if name == "" || name == "." || name == ".." || strings.ContainsAny(name, "/\x00") {
			return invalid(fmt.Sprintf("%s.exclude_if_present[%d]", at, k), "job %q: exclude_if_present %q: give a file name, without a folder", j.Name, name)
		}
	}
	if j.ExcludeLargerThan != "" {
		n, err := ParseSize(j.ExcludeLargerThan)
		if err != nil {
			return invalid(at+".exclude_larger_than", "job %q: exclude_larger_than: %v", j.Name, err)
		}
		if n == 0 {
			return invalid(at+".exclude_larger_than", "job %q: exclude_larger_than %q would leave out every file with content; give a size such as 100M", j.Name, j.ExcludeLargerThan)
		}
	}
	return nil
}
