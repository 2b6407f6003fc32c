package main

import (
	"crypto/sha256"
	"encoding/hex"
	"net"
	"os"
	"os/user"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"

	"pgregory.net/rapid"
)

// useSharedBase points the clusters root keeps outside checkouts at a
// fresh directory of the test, enterable by the postgres user.
func useSharedBase(t *testing.T) string {
	t.Helper()
	base := filepath.Dir(testDir(t))
	saved := sharedBase
	sharedBase = base
	t.Cleanup(func() { sharedBase = saved })
	return base
}

func hash12(path string) string {
	sum := sha256.Sum256([]byte(path))
	return hex.EncodeToString(sum[:])[:12]
}

// A checkout's cluster is .data/postgres in it for an ordinary user and,
// for root, callconnect-<12 hex digits of the SHA-256 of the checkout's
// path>/postgres under the shared base; a cluster already in .data stays
// there; a checkout reached through a symlink or a relative path is the
// same checkout.
func TestClusterDirOfACheckout(t *testing.T) {
	base := useSharedBase(t)
	checkout := t.TempDir()
	checkout, err := filepath.EvalSymlinks(checkout)
	if err != nil {
		t.Fatal(err)
	}
	link := filepath.Join(t.TempDir(), "link")
	if err := os.Symlink(checkout, link); err != nil {
		t.Fatal(err)
	}
	withLegacy := t.TempDir()
	if err := os.MkdirAll(filepath.Join(withLegacy, ".data/postgres/data"), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(withLegacy, ".data/postgres/data/PG_VERSION"), []byte("17\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	wd, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	relative, err := filepath.Rel(wd, checkout)
	if err != nil {
		t.Fatal(err)
	}
	shared := filepath.Join(base, "callconnect-"+hash12(checkout), "postgres")
	for _, tc := range []struct {
		name, checkout string
		root           bool
		want           string
	}{
		{"an ordinary user", checkout, false, filepath.Join(checkout, ".data/postgres")},
		{"root", checkout, true, shared},
		{"root, through a symlink", link, true, shared},
		{"root, by a relative path", relative, true, shared},
		{"root, a cluster already in .data", withLegacy, true, filepath.Join(withLegacy, ".data/postgres")},
	} {
		got, err := clusterDirFor(tc.checkout, tc.root)
		if err != nil || got != tc.want {
			t.Errorf("%s: %q, %v; want %q", tc.name, got, err, tc.want)
		}
	}
	if _, err := clusterDirFor(filepath.Join(checkout, "missing"), true); err == nil {
		t.Error("a checkout that does not exist has a cluster directory")
	}

	// pgcluster dir prints it, and nothing else.
	out, _, err := pgcluster(t, "dir", "-checkout", checkout)
	want := filepath.Join(checkout, ".data/postgres")
	if os.Geteuid() == 0 {
		want = shared
	}
	if err != nil || out != want+"\n" {
		t.Errorf("pgcluster dir = %q, %v; want %q", out, err, want)
	}
	for _, args := range [][]string{{"dir"}, {"start", "-dir", "x", "-checkout", checkout}, {"stop"}} {
		if _, _, err := pgcluster(t, args...); err == nil {
			t.Errorf("pgcluster %q succeeded; want an error", args)
		}
	}
}

// The name under the shared base is the same for the same path and tells
// any two paths apart (as far as 48 bits of SHA-256 do), and is a safe
// single path element.
func TestSharedParentNames(t *testing.T) {
	name := regexp.MustCompile(`^callconnect-[0-9a-f]{12}$`)
	rapid.Check(t, func(t *rapid.T) {
		a := "/" + rapid.StringMatching(`[a-zA-Z0-9 ._/-]{0,40}`).Draw(t, "a")
		b := "/" + rapid.StringMatching(`[a-zA-Z0-9 ._/-]{0,40}`).Draw(t, "b")
		pa, pb := sharedParentFor(a), sharedParentFor(b)
		if filepath.Dir(pa) != sharedBase || !name.MatchString(filepath.Base(pa)) {
			t.Fatalf("the parent of %q is %q", a, pa)
		}
		if pa != sharedParentFor(a) {
			t.Fatalf("two names for %q", a)
		}
		if (a == b) != (pa == pb) {
			t.Fatalf("%q and %q: %q and %q", a, b, pa, pb)
		}
	})
}

// A directory where the cluster would go that someone else owns, or that
// others may write, is refused before anything is handed to postgres.
func TestClusterParentMustBeOurs(t *testing.T) {
	open := filepath.Dir(testDir(t))
	if err := os.Chmod(open, 0o777); err != nil {
		t.Fatal(err)
	}
	_, _, err := pgcluster(t, "start", "-ephemeral", "-dir", filepath.Join(open, "pg"))
	if err == nil || !strings.Contains(err.Error(), "may be written by others") {
		t.Fatalf("err = %v; want a refusal of the world-writable parent", err)
	}
	if os.Geteuid() != 0 {
		return
	}
	nobody, err := user.Lookup("nobody")
	if err != nil {
		t.Skip("no nobody user to own a directory")
	}
	uid, _ := strconv.Atoi(nobody.Uid)
	theirs := filepath.Join(filepath.Dir(testDir(t)), "theirs")
	if err := os.Mkdir(theirs, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Chown(theirs, uid, -1); err != nil {
		t.Fatal(err)
	}
	_, _, err = pgcluster(t, "start", "-ephemeral", "-dir", filepath.Join(theirs, "pg"))
	if err == nil || !strings.Contains(err.Error(), "belongs to nobody") {
		t.Fatalf("err = %v; want a refusal of the parent nobody owns", err)
	}
}

// As root, a checkout under a 0700 directory (a root home, a CI
// workspace) gets a cluster the postgres user can reach, outside it, and
// stop finds it again from the checkout alone.
func TestRootClusterOfAPrivateCheckout(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("only root hands the cluster to the postgres user")
	}
	base := useSharedBase(t)
	private := t.TempDir()
	if err := os.Chmod(private, 0o700); err != nil {
		t.Fatal(err)
	}
	checkout := filepath.Join(private, "cc")
	if err := os.Mkdir(checkout, 0o755); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { pgcluster(t, "stop", "-checkout", checkout) })

	url, stderr, err := pgcluster(t, "start", "-ephemeral", "-checkout", checkout)
	if err != nil {
		t.Fatalf("start: %v\n%s", err, stderr)
	}
	m := urlPattern.FindStringSubmatch(url)
	if m == nil {
		t.Fatalf("start printed %q", url)
	}
	conn, err := net.Dial("tcp", "127.0.0.1:"+m[1])
	if err != nil {
		t.Fatalf("the server does not accept connections: %v", err)
	}
	conn.Close()

	real, _ := filepath.EvalSymlinks(checkout)
	parent := filepath.Join(base, "callconnect-"+hash12(real))
	fi, err := os.Stat(filepath.Join(parent, "postgres"))
	if err != nil {
		t.Fatalf("no cluster in %s: %v", parent, err)
	}
	pg, err := user.Lookup("postgres")
	if err != nil {
		t.Fatal(err)
	}
	if st := fi.Sys().(*syscall.Stat_t); strconv.Itoa(int(st.Uid)) != pg.Uid || fi.Mode().Perm() != 0o700 {
		t.Errorf("the cluster directory: mode %04o, uid %d; want 0700 and postgres's", fi.Mode().Perm(), st.Uid)
	}
	if note, err := os.ReadFile(filepath.Join(parent, checkoutNote)); err != nil || string(note) != real+"\n" {
		t.Errorf("the note beside the cluster: %q, %v; want the checkout %s", note, err, real)
	}
	if _, err := os.Stat(filepath.Join(checkout, ".data")); !os.IsNotExist(err) {
		t.Errorf("the cluster left something in the checkout: %v", err)
	}

	if again, _, err := pgcluster(t, "url", "-checkout", checkout); err != nil || again != url {
		t.Fatalf("url -checkout = %q, %v; want %q", again, err, url)
	}
	_, stderr, err = pgcluster(t, "stop", "-checkout", checkout)
	if err != nil || !strings.Contains(stderr, "stopped the cluster in "+filepath.Join(parent, "postgres")) {
		t.Fatalf("stop -checkout: %v\n%s", err, stderr)
	}
}
