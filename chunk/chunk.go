// Package chunk cuts byte streams into content-defined chunks with a Rabin
// fingerprint (github.com/restic/chunker) over the repository's own random
// polynomial, so that an insertion early in a file only changes the chunks
// around it, and chunk boundaries do not reveal content across repositories.
//
// Sizes: at least MinSize (512 KiB) except for a file's last chunk, about
// 1 MiB on average, at most MaxSize (8 MiB). The same bytes and polynomial
// always give the same boundaries.
package chunk

import (
	"bytes"
	"errors"
	"fmt"
	"io"

	"github.com/restic/chunker"
)

// Chunk size bounds. The average is 2^AverageBits bytes.
const (
	MinSize     = chunker.MinSize
	MaxSize     = chunker.MaxSize
	AverageBits = 20
)

// RandomPolynomial draws an irreducible polynomial of degree 53 from the
// CSPRNG, for a new repository.
func RandomPolynomial() (uint64, error) {
	p, err := chunker.RandomPolynomial()
	if err != nil {
		return 0, fmt.Errorf("chunk: draw polynomial: %w", err)
	}
	return uint64(p), nil
}

// ValidPolynomial reports an error unless p is an irreducible polynomial of
// degree 53, as every repository's is.
func ValidPolynomial(p uint64) error {
	pol := chunker.Pol(p)
	if pol.Deg() != 53 || !pol.Irreducible() {
		return fmt.Errorf("chunk: %#x is not an irreducible polynomial of degree 53", p)
	}
	return nil
}

// Chunker splits a reader into chunks. Reuse one per goroutine with Reset to
// avoid reallocating its buffer. Not safe for concurrent use.
type Chunker struct {
	pol chunker.Pol
	c   *chunker.Chunker
	buf []byte
}

// New returns a Chunker for the polynomial p (see ValidPolynomial). Its
// buffer grows to the largest chunk it has cut, so chunking small files
// costs little memory.
func New(p uint64) *Chunker {
	return &Chunker{pol: chunker.Pol(p)}
}

// Reset starts chunking rd.
func (c *Chunker) Reset(rd io.Reader) {
	if c.c == nil {
		c.c = chunker.New(rd, c.pol)
		return
	}
	c.c.Reset(rd, c.pol)
}

// Next returns the next chunk. The slice is valid until the next call to
// Next or Reset. At the end it returns io.EOF.
func (c *Chunker) Next() ([]byte, error) {
	if c.c == nil {
		return nil, io.EOF
	}
	ch, err := c.c.Next(c.buf[:0])
	if err != nil {
		if errors.Is(err, io.EOF) {
			return nil, io.EOF
		}
		return nil, err
	}
	c.buf = ch.Data[:0] // keep what append grew
	return ch.Data, nil
}

// Split returns the lengths of the chunks data is cut into: a pure function
// of data and p, for tests, fuzzing and benchmarks.
func Split(data []byte, p uint64) []int {
	c := New(p)
	c.Reset(bytes.NewReader(data))
	var sizes []int
	for {
		b, err := c.Next()
		if err != nil {
			return sizes
		}
		sizes = append(sizes, len(b))
	}
}
