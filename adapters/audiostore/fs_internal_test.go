package audiostore

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"callconnect/ports"
)

// faultyFile is a temporary file on a disk that fails: Write runs out of
// room after room bytes, Sync or Close fail with their error. It has no
// ReadFrom, so that Put's copy goes through Write.
type faultyFile struct {
	f        *os.File
	room     int64 // -1: no limit
	syncErr  error
	closeErr error
}

func (w *faultyFile) Write(p []byte) (int, error) {
	if w.room >= 0 && int64(len(p)) > w.room {
		n, _ := w.f.Write(p[:w.room])
		w.room = 0
		return n, &fs.PathError{Op: "write", Path: w.f.Name(), Err: syscall.ENOSPC}
	}
	if w.room >= 0 {
		w.room -= int64(len(p))
	}
	return w.f.Write(p)
}

func (w *faultyFile) Sync() error {
	if w.syncErr != nil {
		return w.syncErr
	}
	return w.f.Sync()
}

func (w *faultyFile) Close() error {
	err := w.f.Close()
	if w.closeErr != nil {
		return w.closeErr
	}
	return err
}

func (w *faultyFile) Name() string { return w.f.Name() }

// Whatever part of writing fails — the object's file filling the disk, its
// fsync or close, the type file, creating either — Put fails with the
// cause, nothing is left under the key, no temporary file is left behind,
// and an object already stored is as it was.
func TestFSFailingDisk(t *testing.T) {
	b := bytes.Repeat([]byte("0123456789abcdef"), 3<<16) // 3 MiB
	sum := sha256.Sum256(b)
	key := hex.EncodeToString(sum[:])
	eio := &fs.PathError{Op: "sync", Path: "x", Err: syscall.EIO}

	for _, tc := range []struct {
		name string
		// fault makes the n-th temporary file that Put creates (0: the
		// object's, 1: the type file's) faulty, or fails to create it.
		fault func(n int, f *os.File) (tempFile, error)
		want  error
	}{
		{"disk full at once", func(n int, f *os.File) (tempFile, error) {
			return &faultyFile{f: f, room: 0}, nil
		}, syscall.ENOSPC},
		{"disk full after 1 MiB", func(n int, f *os.File) (tempFile, error) {
			return &faultyFile{f: f, room: 1 << 20}, nil
		}, syscall.ENOSPC},
		{"disk full on the last byte", func(n int, f *os.File) (tempFile, error) {
			return &faultyFile{f: f, room: int64(len(b)) - 1}, nil
		}, syscall.ENOSPC},
		{"fsync fails", func(n int, f *os.File) (tempFile, error) {
			return &faultyFile{f: f, room: -1, syncErr: eio}, nil
		}, syscall.EIO},
		{"close fails", func(n int, f *os.File) (tempFile, error) {
			return &faultyFile{f: f, room: -1, closeErr: &fs.PathError{Op: "close", Path: "x", Err: syscall.ENOSPC}}, nil
		}, syscall.ENOSPC},
		{"no room for the type file", func(n int, f *os.File) (tempFile, error) {
			return &faultyFile{f: f, room: map[bool]int64{true: 0, false: -1}[n == 1]}, nil
		}, syscall.ENOSPC},
		{"type file fsync fails", func(n int, f *os.File) (tempFile, error) {
			if n == 1 {
				return &faultyFile{f: f, room: -1, syncErr: eio}, nil
			}
			return f, nil
		}, syscall.EIO},
		{"no inode for the temporary file", func(n int, f *os.File) (tempFile, error) {
			f.Close()
			os.Remove(f.Name())
			return nil, &fs.PathError{Op: "open", Path: f.Name(), Err: syscall.ENOSPC}
		}, syscall.ENOSPC},
	} {
		t.Run(tc.name, func(t *testing.T) {
			for _, existing := range []bool{false, true} {
				root := t.TempDir()
				s, err := NewFS(root)
				if err != nil {
					t.Fatal(err)
				}
				if existing {
					// Stored under another type, so that the type file is rewritten.
					if err := s.Put(t.Context(), key, "audio/wav", bytes.NewReader(b), int64(len(b))); err != nil {
						t.Fatal(err)
					}
				}
				created := 0
				s.createTemp = func(dir, pattern string) (tempFile, error) {
					f, err := os.CreateTemp(dir, pattern)
					if err != nil {
						return nil, err
					}
					created++
					return tc.fault(created-1, f)
				}
				err = s.Put(t.Context(), key, "audio/mpeg", bytes.NewReader(b), int64(len(b)))
				if !errors.Is(err, tc.want) {
					t.Fatalf("existing %v: Put = %v; want an error wrapping %v", existing, err, tc.want)
				}
				s.createTemp = osCreateTemp
				files := filesUnder(t, root)
				if !existing {
					if _, err := s.Open(t.Context(), key); !errors.Is(err, ports.ErrNotFound) {
						t.Errorf("Open after a failed Put = %v; want ErrNotFound", err)
					}
					// An orphan type file is allowed (see FS); nothing else.
					for _, f := range files {
						if !strings.HasSuffix(f, key+typeSuffix) {
							t.Errorf("left behind: %s", f)
						}
					}
					continue
				}
				obj, err := s.Open(t.Context(), key)
				if err != nil {
					t.Fatalf("Open of the stored object after a failed Put: %v", err)
				}
				got, _ := io.ReadAll(obj)
				obj.Close()
				if !bytes.Equal(got, b) || obj.ContentType != "audio/wav" {
					t.Errorf("stored object after a failed Put: %d bytes, type %q", len(got), obj.ContentType)
				}
				if len(files) != 2 {
					t.Errorf("files after a failed Put over a stored object: %v", files)
				}
			}
		})
	}
}

// A crash midway through Put leaves a temporary file: no one sees it, and
// RemoveTemp takes it away once it is old enough.
func TestFSLeftoverTemporaryFiles(t *testing.T) {
	root := t.TempDir()
	s, err := NewFS(root)
	if err != nil {
		t.Fatal(err)
	}
	b := []byte("a recording")
	sum := sha256.Sum256(b)
	key := hex.EncodeToString(sum[:])
	dir := s.dir(key)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	old := filepath.Join(dir, "."+key+tempInfix+"123")
	recent := filepath.Join(dir, "."+key+typeSuffix+tempInfix+"456")
	for _, name := range []string{old, recent} {
		if err := os.WriteFile(name, b[:5], 0o600); err != nil {
			t.Fatal(err)
		}
	}
	hourAgo := time.Now().Add(-time.Hour)
	if err := os.Chtimes(old, hourAgo, hourAgo); err != nil {
		t.Fatal(err)
	}

	if _, err := s.Open(t.Context(), key); !errors.Is(err, ports.ErrNotFound) {
		t.Errorf("Open with only a temporary file = %v", err)
	}
	if err := s.List(t.Context(), func(key string, _ time.Time) error {
		t.Errorf("List reported %s", key)
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	removed, err := s.RemoveTemp(t.Context(), time.Now().Add(-time.Minute))
	if err != nil || removed != 1 {
		t.Fatalf("RemoveTemp = %d, %v; want 1", removed, err)
	}
	if got := filesUnder(t, root); len(got) != 1 || filepath.Base(got[0]) != filepath.Base(recent) {
		t.Errorf("left after RemoveTemp: %v; want the recent one", got)
	}
	// The Put that was cut short can be done again.
	if err := s.Put(t.Context(), key, "audio/mpeg", bytes.NewReader(b), int64(len(b))); err != nil {
		t.Fatal(err)
	}
}

// Keys are checked before any path is made from them.
func TestFSKeysStayInTheRoot(t *testing.T) {
	parent := t.TempDir()
	root := filepath.Join(parent, "recordings")
	s, err := NewFS(root)
	if err != nil {
		t.Fatal(err)
	}
	for _, key := range []string{"../../x", "../" + strings.Repeat("a", 61), strings.Repeat("a", 62) + "/."} {
		s.Put(t.Context(), key, "", strings.NewReader("x"), 1)
		s.Delete(t.Context(), key)
	}
	if got := filesUnder(t, parent); len(got) != 0 {
		t.Errorf("files written: %v", got)
	}
}

func filesUnder(t *testing.T, root string) []string {
	t.Helper()
	var files []string
	err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if !d.IsDir() {
			files = append(files, path)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return files
}

// A crash while a spool is written leaves its file in the root: List does
// not report it, RemoveTemp takes it away once it is old enough, and a spool
// in progress keeps its own.
func TestFSLeftoverSpoolFiles(t *testing.T) {
	root := t.TempDir()
	s, err := NewFS(root)
	if err != nil {
		t.Fatal(err)
	}
	live, err := s.Spool(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	defer live.Close()
	if _, err := live.Write([]byte("ID3 in progress")); err != nil {
		t.Fatal(err)
	}
	crashed := filepath.Join(root, spoolPrefix+tempInfix+"789")
	if err := os.WriteFile(crashed, []byte("ID3 cut short"), 0o600); err != nil {
		t.Fatal(err)
	}
	hourAgo := time.Now().Add(-time.Hour)
	if err := os.Chtimes(crashed, hourAgo, hourAgo); err != nil {
		t.Fatal(err)
	}
	if err := s.List(t.Context(), func(key string, _ time.Time) error {
		t.Errorf("List reported %s", key)
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	removed, err := s.RemoveTemp(t.Context(), time.Now().Add(-time.Minute))
	if err != nil || removed != 1 {
		t.Fatalf("RemoveTemp = %d, %v; want 1", removed, err)
	}
	if _, err := os.Stat(crashed); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("the old spool file is still there: %v", err)
	}
	key, size, err := live.Store(t.Context(), "audio/mpeg")
	if err != nil || size != 15 {
		t.Fatalf("the spool in progress: %d bytes, %v", size, err)
	}
	if got := filesUnder(t, root); len(got) != 2 || filepath.Base(got[0]) != key && filepath.Base(got[1]) != key {
		t.Errorf("files after the spool is stored: %v", got)
	}
}
