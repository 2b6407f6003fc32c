package main

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
)

// findBinDir returns the directory that holds initdb, pg_ctl and postgres.
// version is the major version that created the cluster, when one exists:
// a cluster only starts under the major version that created it.
func findBinDir(version string) (string, error) {
	if d := os.Getenv("PG_BINDIR"); d != "" {
		if !hasServer(d) {
			return "", fmt.Errorf("PG_BINDIR=%s does not hold initdb, pg_ctl and postgres", d)
		}
		return d, nil
	}
	if version != "" {
		if d := filepath.Join("/usr/lib/postgresql", version, "bin"); hasServer(d) {
			return d, nil
		}
	}
	if p, err := exec.LookPath("pg_ctl"); err == nil {
		// Resolve symlinks so that initdb and postgres come from the same installation.
		if real, err := filepath.EvalSymlinks(p); err == nil && hasServer(filepath.Dir(real)) {
			return filepath.Dir(real), nil
		}
	}
	// Debian and Ubuntu keep the server binaries off PATH, one directory per
	// major version; RPM-based systems use /usr/pgsql-NN.
	var dirs []string
	for _, pattern := range []string{"/usr/lib/postgresql/*/bin", "/usr/pgsql-*/bin"} {
		m, _ := filepath.Glob(pattern)
		dirs = append(dirs, m...)
	}
	sort.SliceStable(dirs, func(i, j int) bool { return majorOf(dirs[i]) > majorOf(dirs[j]) })
	for _, d := range dirs {
		if hasServer(d) {
			return d, nil
		}
	}
	return "", errors.New("no PostgreSQL server binaries (initdb, pg_ctl, postgres) found on PATH or under /usr/lib/postgresql/*/bin: " +
		"install them (Debian/Ubuntu: apt-get install postgresql) or point PG_BINDIR at their directory")
}

func hasServer(dir string) bool {
	for _, name := range []string{"initdb", "pg_ctl", "postgres"} {
		fi, err := os.Stat(filepath.Join(dir, name))
		if err != nil || fi.IsDir() || fi.Mode()&0o111 == 0 {
			return false
		}
	}
	return true
}

// majorOf reads the version out of /usr/lib/postgresql/15/bin or /usr/pgsql-15/bin.
func majorOf(bindir string) float64 {
	v := filepath.Base(filepath.Dir(bindir))
	v = strings.TrimPrefix(v, "pgsql-")
	f, _ := strconv.ParseFloat(v, 64)
	return f
}
