package audiostore_test

import (
	"io/fs"
	"os"
	"path/filepath"
	"testing"

	"callconnect/adapters/audiostore"
	"callconnect/ports"
	"callconnect/ports/portstest"
)

func TestFSContract(t *testing.T) {
	portstest.RunAudioStore(t, func(t *testing.T) ports.AudioStore {
		s, err := audiostore.NewFS(filepath.Join(t.TempDir(), "recordings"))
		if err != nil {
			t.Fatal(err)
		}
		return s
	})
}

// The layout on disk is for operators too: backups, du, finding a file.
func TestFSLayout(t *testing.T) {
	root := filepath.Join(t.TempDir(), "a", "recordings")
	s, err := audiostore.NewFS(root)
	if err != nil {
		t.Fatal(err)
	}
	b := content(1000, 1)
	key := put(t, s, b)

	for _, tc := range []struct {
		path string
		mode fs.FileMode
	}{
		{root, fs.ModeDir | 0o700},
		{filepath.Join(root, key[:2]), fs.ModeDir | 0o700},
		{filepath.Join(root, key[:2], key[2:4]), fs.ModeDir | 0o700},
		{filepath.Join(root, key[:2], key[2:4], key), 0o600},
		{filepath.Join(root, key[:2], key[2:4], key+".type"), 0o600},
	} {
		fi, err := os.Stat(tc.path)
		if err != nil {
			t.Fatal(err)
		}
		if fi.Mode() != tc.mode {
			t.Errorf("%s: mode %v, want %v", tc.path, fi.Mode(), tc.mode)
		}
	}
	if got, _ := os.ReadFile(filepath.Join(root, key[:2], key[2:4], key)); string(got) != string(b) {
		t.Error("the object's file does not hold the content")
	}
	if got, _ := os.ReadFile(filepath.Join(root, key[:2], key[2:4], key+".type")); string(got) != "audio/mpeg" {
		t.Errorf("type file: %q", got)
	}
	files := regularFiles(t, root)
	if len(files) != 2 {
		t.Errorf("files under the root: %v; want the object and its type", files)
	}
}

func TestFSDefaultDir(t *testing.T) {
	t.Chdir(t.TempDir())
	s, err := audiostore.NewFS("")
	if err != nil {
		t.Fatal(err)
	}
	if s.Root() != audiostore.DefaultDir {
		t.Errorf("Root = %q", s.Root())
	}
	fi, err := os.Stat(".data/recordings")
	if err != nil || fi.Mode() != fs.ModeDir|0o700 {
		t.Fatalf("stat .data/recordings: %v, %v", fi, err)
	}
	if err := s.Check(t.Context()); err != nil {
		t.Errorf("Check: %v", err)
	}
}

// Two stores on one root, as two processes on one machine are, see each
// other's objects.
func TestFSSharedRoot(t *testing.T) {
	root := t.TempDir()
	a, _ := audiostore.NewFS(root)
	b, _ := audiostore.NewFS(root)
	key := put(t, a, content(100, 2))
	wantStored(t, b, content(100, 2))
	if err := b.Delete(t.Context(), key); err != nil {
		t.Fatal(err)
	}
	wantMissing(t, a, key)
}

// A type file lost (or an object stored by hand) opens as octet-stream.
func TestFSMissingTypeFile(t *testing.T) {
	root := t.TempDir()
	s, _ := audiostore.NewFS(root)
	key := put(t, s, content(100, 3))
	if err := os.Remove(filepath.Join(root, key[:2], key[2:4], key+".type")); err != nil {
		t.Fatal(err)
	}
	obj, err := s.Open(t.Context(), key)
	if err != nil {
		t.Fatal(err)
	}
	defer obj.Close()
	if obj.ContentType != audiostore.DefaultContentType {
		t.Errorf("ContentType = %q", obj.ContentType)
	}
}

// regularFiles lists the files under root, relative to it.
func regularFiles(t *testing.T, root string) []string {
	t.Helper()
	var files []string
	err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.Type().IsRegular() {
			rel, _ := filepath.Rel(root, path)
			files = append(files, rel)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return files
}
