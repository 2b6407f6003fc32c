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
	// hashLater leaves the hashing to the consumer (copyHashing), which
	// writes what it read into hash before check.
	hashLater bool
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
	if !v.hashLater {
		v.hash.Write(p[:n])
	}
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

// copyChunk is what copyHashing reads, hashes and writes at a time.
const copyChunk = 1 << 20

// copyHashing copies v to dst and hashes it into v.hash, hashing each chunk
// while it is being written: on a disk, hashing costs no time of its own
// when there is a core to spare. It holds two chunks in memory.
func copyHashing(dst io.Writer, v *verifyingReader) (written int64, err error) {
	v.hashLater = true
	toHash := make(chan []byte, 1)
	hashed := make(chan struct{}, 2)
	go func() {
		for b := range toHash {
			v.hash.Write(b)
			hashed <- struct{}{}
		}
	}()
	pending := 0 // chunks sent to be hashed whose hashing is not known to be over
	defer func() {
		close(toHash)
		for ; pending > 0; pending-- {
			<-hashed
		}
	}()
	chunks := [2][]byte{make([]byte, copyChunk), make([]byte, copyChunk)}
	for i := 0; ; i++ {
		chunk := chunks[i%2]
		if pending == 2 { // the chunk before the last is still in this buffer
			<-hashed
			pending--
		}
		n, rerr := io.ReadFull(v, chunk)
		if n > 0 {
			toHash <- chunk[:n]
			pending++
			wn, werr := dst.Write(chunk[:n])
			startWriteback(dst, written, int64(wn))
			written += int64(wn)
			if werr == nil && wn < n {
				werr = io.ErrShortWrite
			}
			if werr != nil {
				return written, werr
			}
		}
		switch rerr {
		case nil:
		case io.EOF, io.ErrUnexpectedEOF:
			return written, nil
		default:
			return written, rerr
		}
	}
}
