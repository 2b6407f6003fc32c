package main

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"syscall"
)

// checkoutDir is where a checkout keeps its cluster when the caller runs
// the server itself (not root): with the checkout's other local data, so
// that removing .data forgets everything.
const checkoutDir = ".data/postgres"

// sharedBase is the directory under which root keeps the clusters of
// checkouts: one the postgres user can enter wherever the checkout is (a
// root user's 0700 home, a CI workspace), and that outlives a reboot,
// unlike /tmp on many systems. A variable so that tests use their own.
var sharedBase = "/var/tmp"

// clusterDirFor returns the directory of the cluster of the checkout at
// checkout, the same each time for the same checkout:
//
//   - a cluster already made in the checkout's .data/postgres stays there;
//   - otherwise, run as root, the cluster goes to
//     /var/tmp/callconnect-<first 12 hex digits of the SHA-256 of the
//     checkout's absolute path, symlinks resolved>/postgres, because
//     PostgreSQL then runs as the postgres user, which must enter every
//     directory above the cluster, and a checkout's parents may be closed
//     to it;
//   - otherwise (an ordinary user, who runs the server itself and can
//     always reach its own checkout), .data/postgres in the checkout.
func clusterDirFor(checkout string, root bool) (string, error) {
	abs, err := canonicalPath(checkout)
	if err != nil {
		return "", err
	}
	local := filepath.Join(abs, checkoutDir)
	if _, err := os.Stat(filepath.Join(local, dataSubdir, "PG_VERSION")); err == nil || !root {
		return local, nil
	}
	return filepath.Join(sharedParentFor(abs), "postgres"), nil
}

// sharedParentFor is the directory under sharedBase named after the
// checkout at abs (absolute, symlinks resolved).
func sharedParentFor(abs string) string {
	sum := sha256.Sum256([]byte(abs))
	return filepath.Join(sharedBase, "callconnect-"+hex.EncodeToString(sum[:])[:12])
}

// canonicalPath is path made absolute with its symlinks resolved, so that a
// checkout reached by two paths is one checkout.
func canonicalPath(path string) (string, error) {
	abs, err := filepath.Abs(path)
	if err != nil {
		return "", fmt.Errorf("resolve the checkout %q: %w", path, err)
	}
	fi, err := os.Stat(abs)
	if err != nil {
		return "", fmt.Errorf("the checkout %s: %w", abs, err)
	}
	if !fi.IsDir() {
		return "", fmt.Errorf("the checkout %s is not a directory", abs)
	}
	if real, err := filepath.EvalSymlinks(abs); err == nil {
		abs = real
	}
	return abs, nil
}

// checkoutNote is the file, next to a cluster kept outside its checkout,
// that names the checkout: whoever finds the directory under /var/tmp can
// tell whose it is.
const checkoutNote = "checkout"

// noteCheckout writes down, beside a cluster kept outside its checkout,
// which checkout it belongs to. A cluster in the checkout needs no note.
func noteCheckout(clusterDir, checkout string) error {
	abs, err := canonicalPath(checkout)
	if err != nil {
		return err
	}
	parent := filepath.Dir(clusterDir)
	if parent != sharedParentFor(abs) {
		return nil
	}
	note := filepath.Join(parent, checkoutNote)
	if err := os.WriteFile(note, []byte(abs+"\n"), 0o644); err != nil {
		return fmt.Errorf("write %s: %w", note, err)
	}
	return nil
}

// checkParent refuses to put a cluster in a directory that someone else
// controls: a directory in a world-writable place such as /var/tmp, whose
// name anyone can predict, could have been made beforehand by another user
// (or be a symlink to elsewhere), who would then reach the cluster root
// hands to postgres. The parent must be owned by the caller or root, and
// be writable by nobody else unless sticky.
func checkParent(dir string) error {
	parent := filepath.Dir(dir)
	for _, stat := range []func(string) (fs.FileInfo, error){os.Lstat, os.Stat} {
		fi, err := stat(parent)
		if err != nil {
			return fmt.Errorf("stat %s: %w", parent, err)
		}
		st, ok := fi.Sys().(*syscall.Stat_t)
		if !ok {
			return nil
		}
		if st.Uid != 0 && int(st.Uid) != os.Geteuid() {
			return fmt.Errorf("%s, where the cluster %s would go, belongs to %s, not to you or root: "+
				"remove it if you do not know why it is there, or choose another -dir", parent, dir, userName(st.Uid))
		}
		if fi.IsDir() && fi.Mode().Perm()&0o022 != 0 && fi.Mode()&fs.ModeSticky == 0 {
			return fmt.Errorf("%s, where the cluster %s would go, may be written by others (mode %04o): "+
				"chmod go-w %s, or choose another -dir", parent, dir, fi.Mode().Perm(), parent)
		}
	}
	return nil
}

// errBothPlaces: -dir and -checkout name the cluster twice.
var errBothPlaces = errors.New("-dir and -checkout both name the cluster: give one")
