package audiostore

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"time"

	"callconnect/ports"
)

// spoolPrefix starts the names of the files that spools keep their content in.
const spoolPrefix = ".spool"

// removeSpoolFiles removes the spools' files in dir last written before
// the given time: what a process that died while reading a recording left.
// Nothing else in dir is touched. It returns how many it removed.
func removeSpoolFiles(dir string, before time.Time) (int, error) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return 0, fmt.Errorf("audio store: list: %w", err)
	}
	removed := 0
	for _, e := range entries {
		if !e.Type().IsRegular() || !strings.HasPrefix(e.Name(), spoolPrefix+tempInfix) {
			continue
		}
		fi, err := e.Info()
		if err != nil || !fi.ModTime().Before(before) {
			continue
		}
		if err := os.Remove(filepath.Join(dir, e.Name())); err == nil {
			removed++
		} else if !errors.Is(err, fs.ErrNotExist) {
			return removed, err
		}
	}
	return removed, nil
}

// parallelHashMin is the smallest write a spool hashes on another goroutine.
const parallelHashMin = 64 << 10

// errSpoolStored is a Write after Store, or a use after Close.
var errSpoolStored = errors.New("audio store: the spool is stored or closed")

// fileSpool keeps a recording in a temporary file as it arrives, hashing it
// on the way: the part of ports.AudioSpool both stores share. Its content
// stays readable (ReaderAt) until Close, even once the file is renamed.
type fileSpool struct {
	f      *os.File
	name   string // the temporary file; "" once it is renamed into a store or removed
	hash   hash.Hash
	size   int64
	key    string // the content's key, once Store asked for it
	err    error  // the first write failure; Store reports it
	closed bool
	// durable: the file becomes the object, so it is fsynced first.
	durable bool
	// writeback is how far the disk was asked to start writing the file
	// (startWriteback), a writebackChunk at a time.
	writeback int64
}

// writebackChunk is how much a durable spool writes between two
// startWriteback: the size of Put's chunks.
const writebackChunk = copyChunk

func newFileSpool(ctx context.Context, dir string, durable bool) (*fileSpool, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	f, err := os.CreateTemp(dir, spoolPrefix+tempInfix+"*")
	if err != nil {
		return nil, fmt.Errorf("audio store: spool: %w", err)
	}
	return &fileSpool{f: f, name: f.Name(), hash: sha256.New(), durable: durable}, nil
}

func (s *fileSpool) Write(p []byte) (int, error) {
	if s.closed || s.key != "" {
		return 0, errSpoolStored
	}
	if s.err != nil {
		return 0, s.err
	}
	var n int
	var err error
	if len(p) >= parallelHashMin {
		// Hash on another core while the file takes the bytes: the write
		// then costs no time of its own (as with Put's copyHashing).
		hashed := make(chan struct{})
		go func() {
			s.hash.Write(p)
			close(hashed)
		}()
		n, err = s.f.Write(p)
		<-hashed
		if err == nil && n < len(p) {
			err = io.ErrShortWrite
		}
	} else {
		n, err = s.f.Write(p)
		s.hash.Write(p[:n])
	}
	s.size += int64(n)
	if s.durable && s.size-s.writeback >= writebackChunk {
		// The fsync of finish then has little left to write.
		startWriteback(s.f, s.writeback, s.size-s.writeback)
		s.writeback = s.size
	}
	if err != nil {
		s.err = fmt.Errorf("audio store: spool: %w", err)
		return n, s.err
	}
	return n, nil
}

// finish ends the writing: the key of what was written, once the file
// holds it durably.
func (s *fileSpool) finish(ctx context.Context) (string, error) {
	if s.closed {
		return "", errSpoolStored
	}
	if s.err != nil {
		return "", s.err
	}
	if err := ctx.Err(); err != nil {
		return "", err
	}
	if s.key == "" {
		if s.durable {
			if err := s.f.Sync(); err != nil {
				return "", fmt.Errorf("audio store: spool: %w", err)
			}
		}
		s.key = hex.EncodeToString(s.hash.Sum(nil))
	}
	return s.key, nil
}

// content reads what was written, from its start.
func (s *fileSpool) content() io.Reader { return io.NewSectionReader(s.f, 0, s.size) }

func (s *fileSpool) Close() error {
	if s.closed {
		return nil
	}
	s.closed = true
	err := s.f.Close()
	if s.name != "" {
		if rerr := os.Remove(s.name); rerr != nil && !errors.Is(rerr, os.ErrNotExist) && err == nil {
			err = rerr
		}
	}
	return err
}

// fsSpool spools in the store's root, on the file system of the objects:
// the first Store renames the file into place, copying nothing.
type fsSpool struct {
	*fileSpool
	store *FS
}

// Spool implements ports.AudioStore. The content goes to a temporary file
// in the root (".spool.tmp-*", which RemoveTemp sweeps after a crash); the
// first Store fsyncs it and renames it to <key>, as Put does with its own
// temporary file, and a later Store (the object deleted meanwhile) copies it
// again from the file, still open.
func (s *FS) Spool(ctx context.Context) (ports.AudioSpool, error) {
	f, err := newFileSpool(ctx, s.root, true)
	if err != nil {
		return nil, err
	}
	return &fsSpool{fileSpool: f, store: s}, nil
}

func (s *fsSpool) Store(ctx context.Context, contentType string) (string, int64, error) {
	key, err := s.finish(ctx)
	if err != nil {
		return "", 0, err
	}
	if s.name == "" {
		return key, s.size, s.store.Put(ctx, key, contentType, s.content(), s.size)
	}
	dir := s.store.dir(key)
	if err := s.store.mkdirShard(dir); err != nil {
		return "", 0, fmt.Errorf("audio store: put %s: %w", key, err)
	}
	if err := s.store.writeType(dir, key, contentTypeOrDefault(contentType)); err != nil {
		return "", 0, fmt.Errorf("audio store: put %s: content type: %w", key, err)
	}
	if err := os.Rename(s.name, s.store.path(key)); err != nil {
		return "", 0, fmt.Errorf("audio store: put %s: %w", key, err)
	}
	s.name = ""
	if err := syncDir(dir); err != nil {
		return "", 0, fmt.Errorf("audio store: put %s: %w", key, err)
	}
	return key, s.size, nil
}

// s3Spool spools in a local temporary directory; Store uploads the file
// with Put, which the key now known lets the server verify.
type s3Spool struct {
	*fileSpool
	store *S3
}

// Spool implements ports.AudioStore: the content goes to a temporary file
// in S3Config.SpoolDir, and each Store uploads it with Put.
func (s *S3) Spool(ctx context.Context) (ports.AudioSpool, error) {
	f, err := newFileSpool(ctx, s.spoolDir, false)
	if err != nil {
		return nil, err
	}
	return &s3Spool{fileSpool: f, store: s}, nil
}

func (s *s3Spool) Store(ctx context.Context, contentType string) (string, int64, error) {
	key, err := s.finish(ctx)
	if err != nil {
		return "", 0, err
	}
	return key, s.size, s.store.Put(ctx, key, contentType, s.content(), s.size)
}
