package repo

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/cairnbackup/cairn/crypto"
)

// FormatVersion is the repository format this cairn writes and reads.
const FormatVersion = 1

// configMagic starts the config object, readable without a key.
var configMagic = []byte("CAIRNCFG")

// configHeaderLen is magic ‖ version (uint16 LE) ‖ repository id.
const configHeaderLen = 8 + 2 + crypto.IDSize

// Compression levels for blobs, named after zstd's levels
// (klauspost/compress: SpeedFastest, SpeedDefault, SpeedBetterCompression,
// SpeedBestCompression). Off stores blobs raw.
const (
	CompressionOff     = "off"
	CompressionFastest = "fastest"
	CompressionDefault = "default"
	CompressionBetter  = "better"
	CompressionMax     = "max"
)

// CompressionAuto, given where a level is chosen (init, a snapshot, a
// job), means the repository's own level (at init: the default for new
// repositories). It is never stored in a config.
const CompressionAuto = "auto"

// CompressionLevels lists the names a user may give, auto first.
var CompressionLevels = []string{CompressionAuto, CompressionOff, CompressionFastest, CompressionDefault, CompressionBetter, CompressionMax}

// CheckCompression refuses a name that is not one of CompressionLevels.
func CheckCompression(name string) error {
	if !slices.Contains(CompressionLevels, name) {
		return fmt.Errorf("compression %q: use one of %s", name, strings.Join(CompressionLevels, ", "))
	}
	return nil
}

// NewRepositoryCompression is the level of new repositories: zstd's
// fastest level compresses application logs as small as its default level
// (stored/raw 0.218 against 0.220 on our log corpus) at 1.7x the speed,
// and costs about 2% on source trees. See docs/design.md.
const NewRepositoryCompression = CompressionFastest

// DefaultPackSize is the target size of pack files.
const DefaultPackSize = 16 << 20

// Config is the repository's sealed settings.
type Config struct {
	Version     int       `json:"version"`
	ID          crypto.ID `json:"id"`
	Polynomial  uint64    `json:"chunker_polynomial"`
	PackSize    int       `json:"pack_size"`
	Compression string    `json:"compression"`
	Created     time.Time `json:"created"`
}

func (c *Config) validate() error {
	switch {
	case c.Version != FormatVersion:
		return fmt.Errorf("%w: config: version %d, this cairn reads %d", ErrMalformed, c.Version, FormatVersion)
	case c.Polynomial == 0:
		return fmt.Errorf("%w: config: no chunker polynomial", ErrMalformed)
	case c.PackSize < 1<<20 || c.PackSize > 1<<30:
		return fmt.Errorf("%w: config: pack size %d out of range 1 MiB..1 GiB", ErrMalformed, c.PackSize)
	}
	switch c.Compression {
	case CompressionOff, CompressionFastest, CompressionDefault, CompressionBetter, CompressionMax:
	default:
		return fmt.Errorf("%w: config: unknown compression %q", ErrMalformed, c.Compression)
	}
	return nil
}

func configAD(version uint16, id crypto.ID) []byte {
	ad := append([]byte("cairn config v1"), byte(version), byte(version>>8))
	return append(ad, id[:]...)
}

// encodeConfig seals c with k behind the public header.
func encodeConfig(c *Config, k *crypto.Key) ([]byte, error) {
	plain, err := json.Marshal(c)
	if err != nil {
		return nil, err
	}
	b := make([]byte, 0, configHeaderLen+crypto.Overhead+len(plain))
	b = append(b, configMagic...)
	b = binary.LittleEndian.AppendUint16(b, uint16(c.Version))
	b = append(b, c.ID[:]...)
	return k.Seal(b, plain, configAD(uint16(c.Version), c.ID)), nil
}

// ConfigHeader is the part of the config readable without a key.
type ConfigHeader struct {
	Version int
	ID      crypto.ID
}

// parseConfigHeader reads the public header and refuses other formats.
func parseConfigHeader(b []byte) (ConfigHeader, error) {
	if len(b) < len(configMagic) || !bytes.Equal(b[:len(configMagic)], configMagic) {
		return ConfigHeader{}, fmt.Errorf("%w: config: this is not a cairn repository config (bad magic)", ErrMalformed)
	}
	if len(b) < configHeaderLen+crypto.Overhead {
		return ConfigHeader{}, fmt.Errorf("%w: config: truncated (%d bytes)", ErrMalformed, len(b))
	}
	h := ConfigHeader{Version: int(binary.LittleEndian.Uint16(b[8:]))}
	copy(h.ID[:], b[10:configHeaderLen])
	if h.Version > FormatVersion {
		return h, fmt.Errorf("%w: format %d is newer than this cairn, which reads format %d: upgrade cairn", ErrNewerFormat, h.Version, FormatVersion)
	}
	if h.Version < 1 {
		return h, fmt.Errorf("%w: config: format version %d", ErrMalformed, h.Version)
	}
	return h, nil
}

// decodeConfig opens the sealed part of a config with k.
func decodeConfig(b []byte, k *crypto.Key) (*Config, error) {
	h, err := parseConfigHeader(b)
	if err != nil {
		return nil, err
	}
	plain, err := k.Open(nil, b[configHeaderLen:], configAD(uint16(h.Version), h.ID))
	if err != nil {
		return nil, fmt.Errorf("%w: config: sealed part does not open with the master key (damaged or swapped)", ErrCorrupt)
	}
	var c Config
	if err := json.Unmarshal(plain, &c); err != nil {
		return nil, fmt.Errorf("%w: config: %v", ErrMalformed, err)
	}
	if c.ID != h.ID {
		return nil, fmt.Errorf("%w: config: sealed id %s differs from header id %s", ErrCorrupt, c.ID.Short(), h.ID.Short())
	}
	if c.Version != h.Version {
		return nil, fmt.Errorf("%w: config: sealed version %d, header says %d", ErrMalformed, c.Version, h.Version)
	}
	if err := c.validate(); err != nil {
		return nil, err
	}
	return &c, nil
}
