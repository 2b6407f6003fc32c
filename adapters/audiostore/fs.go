package audiostore

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"callconnect/ports"
)

// DefaultDir is where FS keeps recordings when no directory is configured,
// relative to the service's working directory.
const DefaultDir = ".data/recordings"

// FS keeps recordings as files under a root directory:
//
//	<root>/ab/cd/<key>       the content (mode 0600)
//	<root>/ab/cd/<key>.type  its content type, as text
//
// where ab and cd are the key's first two pairs of hex digits: 65,536
// directories, so that a million recordings make some fifteen per directory. Directories are created 0700.
//
// Put writes into a temporary file beside the object (".<key>.tmp-*"),
// hashing as it copies (on another core, while the write goes on) and, on
// Linux, starting the disk's writeback of each chunk as it is written, so
// that the fsync at the end waits for the last chunk rather than the whole
// file; it then renames the file over <key> and fsyncs the directory: the
// object appears whole or not at all, a crash or a full disk leaves at most
// a temporary file (RemoveTemp sweeps those), and a reader of the old file
// keeps reading the old file. Several processes may share one root.
//
// The type file is written (the same way) before the object is renamed into
// place, so an object is never without it; after a crash in between, a type
// file without its object is left, which List ignores and the next Put of
// that content overwrites. An object without a type file (a Delete racing a
// Put) opens as application/octet-stream.
type FS struct {
	root string
	// createTemp is os.CreateTemp; tests put a failing disk in its place.
	createTemp func(dir, pattern string) (tempFile, error)
}

// tempFile is what Put needs of the temporary file it writes.
type tempFile interface {
	io.Writer
	Sync() error
	Close() error
	Name() string
}

func osCreateTemp(dir, pattern string) (tempFile, error) { return os.CreateTemp(dir, pattern) }

const (
	dirMode    = 0o700
	typeSuffix = ".type"
	tempInfix  = ".tmp-"
	// maxTypeLen bounds what Open reads of a type file.
	maxTypeLen = 1024
)

// NewFS returns the store under dir (DefaultDir when empty), creating dir
// with mode 0700 if it does not exist.
func NewFS(dir string) (*FS, error) {
	if dir == "" {
		dir = DefaultDir
	}
	if err := os.MkdirAll(dir, dirMode); err != nil {
		return nil, fmt.Errorf("audio store: %w", err)
	}
	return &FS{root: dir, createTemp: osCreateTemp}, nil
}

// Root is the directory the store keeps its files in.
func (s *FS) Root() string { return s.root }

func (s *FS) dir(key string) string  { return filepath.Join(s.root, key[0:2], key[2:4]) }
func (s *FS) path(key string) string { return filepath.Join(s.dir(key), key) }

// Put implements ports.AudioStore.
func (s *FS) Put(ctx context.Context, key, contentType string, r io.Reader, size int64) error {
	if err := checkKey(key); err != nil {
		return err
	}
	if err := checkSize(size); err != nil {
		return err
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	dir := s.dir(key)
	if err := s.mkdirShard(dir); err != nil {
		return fmt.Errorf("audio store: put %s: %w", key, err)
	}
	v := newVerifyingReader(ctx, r, size)
	f, err := s.createTemp(dir, "."+key+tempInfix+"*")
	if err != nil {
		return fmt.Errorf("audio store: put %s: %w", key, err)
	}
	tmp, open, renamed := f.Name(), true, false
	defer func() {
		if open {
			f.Close()
		}
		if !renamed {
			os.Remove(tmp)
		}
	}()
	if _, err := copyHashing(f, v); err != nil {
		if v.err != nil {
			return fmt.Errorf("audio store: put %s: reading: %w", key, v.err)
		}
		return fmt.Errorf("audio store: put %s: writing: %w", key, err)
	}
	if err := v.check(key); err != nil {
		return fmt.Errorf("audio store: put %s: %w", key, err)
	}
	if err := f.Sync(); err != nil {
		return fmt.Errorf("audio store: put %s: %w", key, err)
	}
	open = false
	if err := f.Close(); err != nil {
		return fmt.Errorf("audio store: put %s: %w", key, err)
	}
	if err := s.writeType(dir, key, contentTypeOrDefault(contentType)); err != nil {
		return fmt.Errorf("audio store: put %s: content type: %w", key, err)
	}
	if err := os.Rename(tmp, s.path(key)); err != nil {
		return fmt.Errorf("audio store: put %s: %w", key, err)
	}
	renamed = true
	// Until the directory is on disk, so is not the rename.
	if err := syncDir(dir); err != nil {
		return fmt.Errorf("audio store: put %s: %w", key, err)
	}
	return nil
}

// writeType stores the content type of key, unless it is already what is
// stored: the common case of storing a recording again costs no write.
func (s *FS) writeType(dir, key, contentType string) error {
	name := filepath.Join(dir, key+typeSuffix)
	if old, err := readType(name); err == nil && old == contentType {
		return nil
	}
	f, err := s.createTemp(dir, "."+key+typeSuffix+tempInfix+"*")
	if err != nil {
		return err
	}
	tmp := f.Name()
	_, err = io.WriteString(f, contentType)
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp, name)
	}
	if err != nil {
		os.Remove(tmp)
	}
	return err
}

// readType returns the content of a type file; fs.ErrNotExist when there is none.
func readType(name string) (string, error) {
	f, err := os.Open(name)
	if err != nil {
		return "", err
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, maxTypeLen))
	if err != nil {
		return "", err
	}
	return string(bytes.TrimSpace(b)), nil
}

// mkdirShard creates the two levels of dir that do not exist yet, and makes
// their entries durable in their parents.
func (s *FS) mkdirShard(dir string) error {
	if fi, err := os.Stat(dir); err == nil && fi.IsDir() {
		return nil
	}
	if err := os.MkdirAll(dir, dirMode); err != nil {
		return err
	}
	parent := filepath.Dir(dir)
	if err := syncDir(parent); err != nil {
		return err
	}
	return syncDir(filepath.Dir(parent))
}

// syncDir fsyncs a directory, so that the entries created or renamed in it
// survive a crash. Filesystems that cannot (EINVAL) are let be.
func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	if err := d.Sync(); err != nil && !errors.Is(err, syscall.EINVAL) {
		return err
	}
	return nil
}

// Open implements ports.AudioStore. The object is the *os.File: Seek and
// Read cost what they cost on a file, and an object deleted while open
// stays readable until closed.
func (s *FS) Open(ctx context.Context, key string) (ports.AudioObject, error) {
	if err := checkKey(key); err != nil {
		return ports.AudioObject{}, err
	}
	f, err := os.Open(s.path(key))
	if errors.Is(err, fs.ErrNotExist) {
		return ports.AudioObject{}, fmt.Errorf("audio store: %s: %w", key, ports.ErrNotFound)
	}
	if err != nil {
		return ports.AudioObject{}, fmt.Errorf("audio store: open %s: %w", key, err)
	}
	fi, err := f.Stat()
	if err != nil {
		f.Close()
		return ports.AudioObject{}, fmt.Errorf("audio store: open %s: %w", key, err)
	}
	contentType, err := readType(filepath.Join(s.dir(key), key+typeSuffix))
	switch {
	case errors.Is(err, fs.ErrNotExist) || (err == nil && contentType == ""):
		contentType = DefaultContentType
	case err != nil:
		f.Close()
		return ports.AudioObject{}, fmt.Errorf("audio store: open %s: content type: %w", key, err)
	}
	return ports.AudioObject{ReadSeekCloser: f, Size: fi.Size(), ContentType: contentType}, nil
}

// Delete implements ports.AudioStore.
func (s *FS) Delete(ctx context.Context, key string) error {
	if err := checkKey(key); err != nil {
		return err
	}
	for _, name := range []string{s.path(key), s.path(key) + typeSuffix} {
		if err := os.Remove(name); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return fmt.Errorf("audio store: delete %s: %w", key, err)
		}
	}
	return nil
}

// List implements ports.AudioStore: the time is the object's modification
// time, which is when its latest Put renamed it into place.
func (s *FS) List(ctx context.Context, fn func(key string, written time.Time) error) error {
	return s.walk(ctx, func(dir string, e fs.DirEntry) error {
		if checkKey(e.Name()) != nil || !strings.HasPrefix(e.Name(), filepath.Base(filepath.Dir(dir))+filepath.Base(dir)) {
			return nil
		}
		fi, err := e.Info()
		if errors.Is(err, fs.ErrNotExist) { // deleted meanwhile
			return nil
		}
		if err != nil {
			return err
		}
		return fn(e.Name(), fi.ModTime())
	})
}

// RemoveTemp removes the temporary files that Puts cut short by a crash left
// behind, if they were last written before the given time (give one well in
// the past, an hour say, so that no Put in progress loses its file). It
// returns how many it removed.
func (s *FS) RemoveTemp(ctx context.Context, before time.Time) (int, error) {
	// Spools keep their files in the root, the rest beside their objects.
	removed, err := removeSpoolFiles(s.root, before)
	if err != nil {
		return removed, err
	}
	err = s.walk(ctx, func(dir string, e fs.DirEntry) error {
		if !strings.HasPrefix(e.Name(), ".") || !strings.Contains(e.Name(), tempInfix) {
			return nil
		}
		fi, err := e.Info()
		if err != nil || !fi.ModTime().Before(before) {
			return nil
		}
		if err := os.Remove(filepath.Join(dir, e.Name())); err == nil {
			removed++
		} else if !errors.Is(err, fs.ErrNotExist) {
			return err
		}
		return nil
	})
	return removed, err
}

// walk calls fn for every regular file in the shard directories.
func (s *FS) walk(ctx context.Context, fn func(dir string, e fs.DirEntry) error) error {
	level1, err := os.ReadDir(s.root)
	if err != nil {
		return fmt.Errorf("audio store: list: %w", err)
	}
	for _, d1 := range level1 {
		if !isShard(d1) {
			continue
		}
		level2, err := readDir(filepath.Join(s.root, d1.Name()))
		if err != nil {
			return fmt.Errorf("audio store: list: %w", err)
		}
		for _, d2 := range level2 {
			if !isShard(d2) {
				continue
			}
			if err := ctx.Err(); err != nil {
				return err
			}
			dir := filepath.Join(s.root, d1.Name(), d2.Name())
			files, err := readDir(dir)
			if err != nil {
				return fmt.Errorf("audio store: list: %w", err)
			}
			for _, e := range files {
				if !e.Type().IsRegular() {
					continue
				}
				if err := fn(dir, e); err != nil {
					return err
				}
			}
		}
	}
	return nil
}

// readDir is os.ReadDir, for which a directory removed meanwhile is empty.
func readDir(dir string) ([]fs.DirEntry, error) {
	entries, err := os.ReadDir(dir)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	return entries, err
}

func isShard(e fs.DirEntry) bool {
	name := e.Name()
	return e.IsDir() && len(name) == 2 && checkKey(strings.Repeat(name, 32)) == nil
}

// Check tells whether the root is a directory the store can write in, for
// a readiness probe.
func (s *FS) Check(ctx context.Context) error {
	f, err := os.CreateTemp(s.root, ".check"+tempInfix+"*")
	if err != nil {
		return fmt.Errorf("audio store: %w", err)
	}
	name := f.Name()
	f.Close()
	return os.Remove(name)
}
