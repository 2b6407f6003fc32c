package audiostore

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"io"
)

// Errors of Put for content that does not fit its key or size, and of every
// method for a key that is not one. They are the caller's mistakes, not the
// store's failures.
var (
	ErrInvalidKey   = errors.New("audio key is not 64 lowercase hexadecimal digits")
	ErrHashMismatch = errors.New("audio content does not match its key")
	ErrSizeMismatch = errors.New("audio content is not of the size given")
)

// DefaultContentType is stored for a Put without a content type.
const DefaultContentType = "application/octet-stream"

// checkKey accepts the lowercase hex SHA-256 only, so a key can name nothing
// but a file or object of the store: no "..", no slash, no upper case twin.
func checkKey(key string) error {
	if len(key) != sha256.Size*2 {
		return fmt.Errorf("%w: %q", ErrInvalidKey, key)
	}
	for i := range len(key) {
		if c := key[i]; (c < '0' || c > '9') && (c < 'a' || c > 'f') {
			return fmt.Errorf("%w: %q", ErrInvalidKey, key)
		}
	}
	return nil
}

func checkSize(size int64) error {
	if size < 0 {
		return fmt.Errorf("%w: negative size %d", ErrSizeMismatch, size)
	}
	return nil
}

func contentTypeOrDefault(contentType string) string {
	if contentType == "" {
		return DefaultContentType
	}
	return contentType
}

// verifyingReader passes on exactly size bytes of r, hashing them, and fails
// when r ends early, has more, or ctx ends. Its first error sticks, so that
// Put can return the cause rather than what a consumer made of it.
type verifyingReader struct {
	ctx       context.Context
	r         io.Reader
	size      int64
	remaining int64
	hash      hash.Hash
	atEOF     bool // r said io.EOF after size bytes
	err       error
}

func newVerifyingReader(ctx context.Context, r io.Reader, size int64) *verifyingReader {
	return &verifyingReader{ctx: ctx, r: r, size: size, remaining: size, hash: sha256.New()}
}

func (v *verifyingReader) Read(p []byte) (int, error) {
	if v.err != nil {
		return 0, v.err
	}
	if err := v.ctx.Err(); err != nil {
		v.err = err
		return 0, err
	}
	if v.remaining == 0 {
		if !v.atEOF {
			v.probeEOF()
		}
		if v.err != nil {
			return 0, v.err
		}
		return 0, io.EOF
	}
	if int64(len(p)) > v.remaining {
		p = p[:v.remaining]
	}
	n, err := v.r.Read(p)
	v.hash.Write(p[:n])
	v.remaining -= int64(n)
	switch {
	case err == io.EOF && v.remaining > 0:
		v.err = fmt.Errorf("%w: %d bytes, %d given as size", ErrSizeMismatch, v.size-v.remaining, v.size)
		return n, v.err
	case err == io.EOF:
		v.atEOF = true
		return n, nil
	case err != nil:
		v.err = err
	}
	return n, err
}

// probeEOF reads one more byte of r, which must not have one.
func (v *verifyingReader) probeEOF() {
	var one [1]byte
	for range 100 {
		n, err := v.r.Read(one[:])
		if n > 0 {
			v.err = fmt.Errorf("%w: more than the %d bytes given as size", ErrSizeMismatch, v.size)
			return
		}
		if err == io.EOF {
			v.atEOF = true
			return
		}
		if err != nil {
			v.err = err
			return
		}
	}
	v.err = io.ErrNoProgress
}

// check tells whether what passed through was exactly the content of key.
// A consumer that stopped short of size bytes is a failure too.
func (v *verifyingReader) check(key string) error {
	if v.err == nil && v.remaining > 0 {
		v.err = fmt.Errorf("%w: only %d of %d bytes were taken", ErrSizeMismatch, v.size-v.remaining, v.size)
	}
	if v.err == nil && !v.atEOF {
		v.probeEOF()
	}
	if v.err != nil {
		return v.err
	}
	if got := hex.EncodeToString(v.hash.Sum(nil)); got != key {
		return fmt.Errorf("%w: %d bytes of SHA-256 %s stored as %s", ErrHashMismatch, v.size, got, key)
	}
	return nil
}
