package crypto

import (
	"encoding/hex"
	"fmt"
	"runtime"
	"runtime/debug"
	"strings"
	"sync"

	"golang.org/x/crypto/argon2"
)

// SaltSize is the length of the random salt stored in each key file.
const SaltSize = 32

// KDFParams are the argon2id cost parameters stored in a key file.
type KDFParams struct {
	Time      uint32 `json:"time"`       // passes over memory
	MemoryKiB uint32 `json:"memory_kib"` // memory in KiB
	Threads   uint8  `json:"threads"`    // lanes
}

// DefaultKDF is RFC 9106 section 4's second recommended option: argon2id
// with 3 passes over 64 MiB and 4 lanes. It costs about 100 ms on a 2-core
// server (BenchmarkKDF: 80 ms of hashing, 20 ms to map the memory; see
// prefault), under the 0.2 s we allow for opening a repository, and its
// memory hardness keeps GPU guessing expensive.
var DefaultKDF = KDFParams{Time: 3, MemoryKiB: 64 * 1024, Threads: 4}

// Validate rejects parameters that are missing or absurd. Upper bounds (16
// passes, 1 GiB) stop a hostile key file from making every open of the
// repository allocate gigabytes or spin for minutes.
func (p KDFParams) Validate() error {
	switch {
	case p.Time < 1 || p.Time > 16:
		return fmt.Errorf("%w: argon2id time %d out of range 1..16", ErrBadKey, p.Time)
	case p.MemoryKiB < 8*uint32(max(p.Threads, 1)) || p.MemoryKiB > 1024*1024:
		return fmt.Errorf("%w: argon2id memory %d KiB out of range", ErrBadKey, p.MemoryKiB)
	case p.Threads < 1:
		return fmt.Errorf("%w: argon2id threads must be at least 1", ErrBadKey)
	}
	return nil
}

// DeriveKey derives a key-encryption key from a password with argon2id.
func DeriveKey(password, salt []byte, p KDFParams) (*Key, error) {
	if err := p.Validate(); err != nil {
		return nil, err
	}
	if len(salt) < 16 {
		return nil, fmt.Errorf("%w: salt of %d bytes is too short", ErrBadKey, len(salt))
	}
	prefault(int(p.MemoryKiB) << 10)
	k := argon2.IDKey(password, salt, p.Time, p.MemoryKiB, p.Threads, KeySize)
	defer clear(k)
	// argon2 leaves its whole memory (64 MiB by default) as garbage: hand it
	// back to the operating system now, so that it does not stay resident
	// underneath whatever the command does next and add to its peak.
	debug.FreeOSMemory()
	return NewKey(k)
}

// prefault leaves n bytes of the heap mapped and free just before argon2
// allocates its memory, so that argon2 finds pages it can use without a
// page fault. Its lanes write their fresh memory from several threads at
// once, and the faults that causes cost more than the hashing: on a
// 2-core machine 64 MiB took 240 ms, 0.3 s of it in the kernel, against
// 80 ms after one thread touched the pages first (20 ms). One toucher per
// core, each on its own stretch, halves that again (64 MiB: 31-33 ms on
// one thread, 16-20 ms on two, page faults and the collection after them).
// The runtime reuses the freed span for argon2's allocation of the same
// size; should it not (a low GOMEMLIMIT returns free memory at once), the
// key is the same, only slower.
func prefault(n int) {
	const page = 4096
	b := make([]byte, n+page)
	parts := min(runtime.GOMAXPROCS(0), 4)
	stretch := (len(b)/parts + page - 1) &^ (page - 1)
	var wg sync.WaitGroup
	for lo := 0; lo < len(b); lo += stretch {
		wg.Go(func() {
			for i := lo; i < min(lo+stretch, len(b)); i += page {
				b[i] = 1
			}
		})
	}
	wg.Wait()
	runtime.KeepAlive(b)
	runtime.GC()
}

// ParseKEK parses 64 hexadecimal digits (surrounding white space allowed)
// into a key-encryption key used without a KDF (CAIRN_KEY_FILE). The error
// never echoes the input.
func ParseKEK(text string) (*Key, error) {
	s := strings.TrimSpace(text)
	if len(s) != 2*KeySize {
		return nil, fmt.Errorf("%w: a key must be %d hexadecimal digits, found %d characters", ErrBadKey, 2*KeySize, len(s))
	}
	b, err := hex.DecodeString(s)
	if err != nil {
		return nil, fmt.Errorf("%w: a key must be %d hexadecimal digits (0-9, a-f)", ErrBadKey, 2*KeySize)
	}
	defer clear(b)
	return NewKey(b)
}

// NewKEKText returns 64 fresh hexadecimal digits for a generated key file.
func NewKEKText() string {
	b := RandomBytes(KeySize)
	defer clear(b)
	return hex.EncodeToString(b)
}
