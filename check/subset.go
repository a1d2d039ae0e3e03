package check

import (
	"encoding/binary"
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/cairnbackup/cairn/repo"
)

// SubsetKind says how read-data chooses packs.
type SubsetKind int

// Subset kinds.
const (
	SubsetNone    SubsetKind = iota // read no data
	SubsetAll                       // read every pack
	SubsetModulo                    // read the packs whose id falls in part N of M
	SubsetPercent                   // read P% of the packs, least recently verified first
)

// Subset chooses the packs a read-data pass reads.
type Subset struct {
	Kind    SubsetKind
	N, M    uint64  // SubsetModulo: part N (1-based) of M
	Percent float64 // SubsetPercent: 0 < Percent <= 100
}

// ParseSubset reads "all", "N/M" (1 <= N <= M) or "P%" (0 < P <= 100).
//
// N/M takes the packs whose id, read as a big-endian number from its first
// 8 bytes, is N-1 modulo M: the parts are fixed, so M runs with N = 1..M
// read every pack once. P% takes that share of the packs (at least one),
// never-verified packs first, then those verified longest ago, so that
// regular runs cover new packs first and every pack in turn.
func ParseSubset(s string) (Subset, error) {
	s = strings.TrimSpace(s)
	switch {
	case s == "all":
		return Subset{Kind: SubsetAll}, nil
	case strings.HasSuffix(s, "%"):
		p, err := strconv.ParseFloat(strings.TrimSuffix(s, "%"), 64)
		if err != nil || math.IsNaN(p) || p <= 0 || p > 100 {
			return Subset{}, fmt.Errorf("read-data subset %q: give a percentage above 0 and at most 100, like 10%%", s)
		}
		return Subset{Kind: SubsetPercent, Percent: p}, nil
	case strings.Contains(s, "/"):
		a, b, _ := strings.Cut(s, "/")
		n, err1 := strconv.ParseUint(a, 10, 64)
		m, err2 := strconv.ParseUint(b, 10, 64)
		if err1 != nil || err2 != nil || n < 1 || m < 1 || n > m {
			return Subset{}, fmt.Errorf("read-data subset %q: give N/M with 1 <= N <= M, like 1/4", s)
		}
		return Subset{Kind: SubsetModulo, N: n, M: m}, nil
	}
	return Subset{}, fmt.Errorf("read-data subset %q: use N/M (like 2/4) or a percentage (like 10%%)", s)
}

// String returns the subset as ParseSubset reads it ("" for none).
func (s Subset) String() string {
	switch s.Kind {
	case SubsetAll:
		return "all"
	case SubsetModulo:
		return fmt.Sprintf("%d/%d", s.N, s.M)
	case SubsetPercent:
		return strconv.FormatFloat(s.Percent, 'f', -1, 64) + "%"
	}
	return ""
}

// InPart reports whether a pack id belongs to part N of M.
func (s Subset) InPart(id repo.ID) bool {
	return binary.BigEndian.Uint64(id[:8])%s.M == s.N-1
}

// candidate is a pack read-data may read.
type candidate struct {
	id   repo.ID
	size int64
}

// choose returns the candidates the subset selects, in a stable order.
// verified holds each pack's last verification time (absent: never).
func (s Subset) choose(cands []candidate, verified map[repo.ID]time.Time) []candidate {
	switch s.Kind {
	case SubsetAll:
		return cands
	case SubsetModulo:
		var out []candidate
		for _, c := range cands {
			if s.InPart(c.id) {
				out = append(out, c)
			}
		}
		return out
	case SubsetPercent:
		n := int(math.Ceil(s.Percent / 100 * float64(len(cands))))
		n = min(max(n, 1), len(cands))
		sorted := slices.Clone(cands)
		slices.SortStableFunc(sorted, func(a, b candidate) int {
			ta, oka := verified[a.id]
			tb, okb := verified[b.id]
			switch {
			case !oka && okb:
				return -1
			case oka && !okb:
				return 1
			}
			if c := ta.Compare(tb); c != 0 {
				return c
			}
			return slices.Compare(a.id[:], b.id[:])
		})
		return sorted[:n]
	}
	return nil
}
