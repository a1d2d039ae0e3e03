package backend

import (
	"bytes"
	"fmt"
	"io"
)

// RewindReader is an upload source that can be read again from the start,
// so retries and multi-location writes can replay it without buffering.
type RewindReader interface {
	io.Reader
	// Rewind moves back to the first byte.
	Rewind() error
	// Length is the total number of bytes.
	Length() int64
}

// ByteReader is a RewindReader over a byte slice.
type ByteReader struct {
	*bytes.Reader
	buf []byte
}

// NewByteReader returns a RewindReader over buf, which must not change
// while the reader is in use.
func NewByteReader(buf []byte) *ByteReader {
	return &ByteReader{Reader: bytes.NewReader(buf), buf: buf}
}

// Rewind implements RewindReader.
func (b *ByteReader) Rewind() error {
	_, err := b.Reader.Seek(0, io.SeekStart)
	return err
}

// Length implements RewindReader.
func (b *ByteReader) Length() int64 { return int64(len(b.buf)) }

// Bytes returns the underlying slice, letting backends skip a copy.
func (b *ByteReader) Bytes() []byte { return b.buf }

// SectionReader is a RewindReader over part of an io.ReaderAt (a file).
type SectionReader struct {
	*io.SectionReader
}

// NewSectionReader returns a RewindReader over size bytes of r from offset 0.
func NewSectionReader(r io.ReaderAt, size int64) *SectionReader {
	return &SectionReader{io.NewSectionReader(r, 0, size)}
}

// Rewind implements RewindReader.
func (s *SectionReader) Rewind() error {
	_, err := s.SectionReader.Seek(0, io.SeekStart)
	return err
}

// Length implements RewindReader.
func (s *SectionReader) Length() int64 { return s.SectionReader.Size() }

// ReadAllFrom rewinds rd and reads it completely, checking its length.
func ReadAllFrom(rd RewindReader) ([]byte, error) {
	if b, ok := rd.(*ByteReader); ok {
		return b.Bytes(), nil
	}
	if err := rd.Rewind(); err != nil {
		return nil, err
	}
	buf := make([]byte, rd.Length())
	if _, err := io.ReadFull(rd, buf); err != nil {
		return nil, fmt.Errorf("read upload source: %w", err)
	}
	return buf, nil
}

// TrackingReader wraps a reader and remembers the error (other than
// io.EOF) it last failed with, so a decorator can tell a failing source or
// stream from an error its caller's callback made up.
type TrackingReader struct {
	R   io.Reader
	Err error
}

// Read implements io.Reader.
func (t *TrackingReader) Read(p []byte) (int, error) {
	n, err := t.R.Read(p)
	if err != nil && err != io.EOF {
		t.Err = err
	}
	return n, err
}
