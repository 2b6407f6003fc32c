package main

import (
	"archive/tar"
	"debug/elf"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
)

// imageEngine returns podman or buildah when one of them can build an image
// here, and skips the test otherwise, saying why.
func imageEngine(t *testing.T) string {
	t.Helper()
	var tried []string
	for _, engine := range []string{"podman", "buildah"} {
		if _, err := exec.LookPath(engine); err != nil {
			tried = append(tried, engine+" is not installed")
			continue
		}
		// A probe: an empty image FROM scratch, which pulls nothing.
		dir := t.TempDir()
		if err := os.WriteFile(filepath.Join(dir, "Containerfile"), []byte("FROM scratch\nLABEL callconnect.probe=1\n"), 0o644); err != nil {
			t.Fatal(err)
		}
		tag := fmt.Sprintf("localhost/callconnect-probe:%d", os.Getpid())
		out, err := exec.Command(engine, "build", "-t", tag, "-f", filepath.Join(dir, "Containerfile"), dir).CombinedOutput()
		if err != nil {
			tried = append(tried, fmt.Sprintf("%s cannot build here: %v: %s", engine, err, lastLine(out)))
			continue
		}
		_ = exec.Command(engine, "rmi", tag).Run()
		return engine
	}
	t.Skipf("make image is not tested: neither podman nor buildah can build an image here (%s); apt-get install podman",
		strings.Join(tried, "; "))
	return ""
}

func lastLine(b []byte) string {
	lines := strings.Split(strings.TrimSpace(string(b)), "\n")
	return lines[len(lines)-1]
}

// imageConfig is what the test reads of the image's configuration (docker's
// format, which has the health check).
type imageConfig struct {
	Config struct {
		User        string
		Env         []string
		Entrypoint  []string
		Cmd         []string
		Labels      map[string]string
		Healthcheck struct{ Test []string }
	} `json:"config"`
}

// imageFile is one entry of the image's filesystem.
type imageFile struct {
	mode     int64
	uid, gid int
}

// readImage unpacks a docker-archive: the configuration, and the layers'
// files (the binary written to dir/callconnect).
func readImage(t *testing.T, archive, dir string) (imageConfig, map[string]imageFile) {
	t.Helper()
	entries := map[string][]byte{}
	f, err := os.Open(archive)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	tr := tar.NewReader(f)
	for {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		if h.Typeflag == tar.TypeReg {
			b, err := io.ReadAll(tr)
			if err != nil {
				t.Fatal(err)
			}
			entries[h.Name] = b
		}
	}
	var manifest []struct {
		Config string
		Layers []string
	}
	if err := json.Unmarshal(entries["manifest.json"], &manifest); err != nil || len(manifest) != 1 {
		t.Fatalf("the archive's manifest.json: %v (%d images)", err, len(manifest))
	}
	var cfg imageConfig
	if err := json.Unmarshal(entries[manifest[0].Config], &cfg); err != nil {
		t.Fatalf("the image's configuration: %v", err)
	}
	files := map[string]imageFile{}
	for _, layer := range manifest[0].Layers {
		lr := tar.NewReader(strings.NewReader(string(entries[layer])))
		for {
			h, err := lr.Next()
			if errors.Is(err, io.EOF) {
				break
			}
			if err != nil {
				t.Fatalf("layer %s: %v", layer, err)
			}
			name := strings.TrimSuffix(strings.TrimPrefix(h.Name, "./"), "/")
			files[name] = imageFile{mode: h.Mode, uid: h.Uid, gid: h.Gid}
			if name == "callconnect" {
				b, err := io.ReadAll(lr)
				if err != nil {
					t.Fatal(err)
				}
				if err := os.WriteFile(filepath.Join(dir, "callconnect"), b, 0o755); err != nil {
					t.Fatal(err)
				}
			}
		}
	}
	return cfg, files
}

// make image builds an image FROM scratch holding the static binary and the
// CA certificates only, running as a non-root user, serve by default, with
// the binary's healthcheck as its health check; the binary found in it says
// its version and lists its configuration.
func TestMakeImage(t *testing.T) {
	t.Parallel()
	if testing.Short() {
		t.Skip("building the image compiles the service and takes a minute")
	}
	engine := imageEngine(t)
	tag := fmt.Sprintf("localhost/callconnect-imagetest:%d", os.Getpid())
	build := exec.Command("make", "-C", "../..", "image", "IMAGE="+tag, "ENGINE="+engine)
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("make image: %v\n%s", err, out)
	}
	t.Cleanup(func() { _ = exec.Command(engine, "rmi", tag).Run() })

	dir := t.TempDir()
	archive := filepath.Join(dir, "image.tar")
	save := exec.Command("podman", "image", "save", "--format", "docker-archive", "-o", archive, tag)
	if engine == "buildah" {
		save = exec.Command("buildah", "push", tag, "docker-archive:"+archive)
	}
	if out, err := save.CombinedOutput(); err != nil {
		t.Fatalf("saving the image: %v\n%s", err, out)
	}
	cfg, files := readImage(t, archive, dir)

	// Nothing but the binary, the certificates and two empty directories
	// the service user writes in.
	var names []string
	for name := range files {
		names = append(names, name)
	}
	slices.Sort(names)
	want := []string{"callconnect", "data", "etc", "etc/ssl", "etc/ssl/certs", "etc/ssl/certs/ca-certificates.crt", "tmp"}
	if !slices.Equal(names, want) {
		t.Errorf("the image's files: %q, want %q", names, want)
	}
	for _, d := range []string{"tmp", "data"} {
		if f := files[d]; f.uid != 65532 || f.mode&0o700 != 0o700 {
			t.Errorf("/%s: owner %d, mode %o; want the service user's (65532)", d, f.uid, f.mode)
		}
	}
	c := cfg.Config
	if c.User != "65532:65532" {
		t.Errorf("the image runs as %q, want 65532:65532", c.User)
	}
	if !slices.Equal(c.Entrypoint, []string{"/callconnect"}) || !slices.Equal(c.Cmd, []string{"serve"}) {
		t.Errorf("entrypoint %q, cmd %q; want /callconnect serve", c.Entrypoint, c.Cmd)
	}
	if !slices.Equal(c.Healthcheck.Test, []string{"CMD", "/callconnect", "healthcheck"}) {
		t.Errorf("health check %q, want the binary's healthcheck", c.Healthcheck.Test)
	}
	if !slices.Contains(c.Env, "HTTP_ADDR=0.0.0.0:8080") {
		t.Errorf("environment %q: the service must listen beyond the container's loopback", c.Env)
	}
	if !regexp.MustCompile(`^[0-9a-f]{40}$`).MatchString(c.Labels["org.opencontainers.image.revision"]) ||
		c.Labels["org.opencontainers.image.version"] == "" {
		t.Errorf("labels %v: want the version and revision", c.Labels)
	}

	// The binary is static: no dynamic loader, no shared library.
	bin := filepath.Join(dir, "callconnect")
	ef, err := elf.Open(bin)
	if err != nil {
		t.Fatal(err)
	}
	libs, _ := ef.ImportedLibraries()
	for _, p := range ef.Progs {
		if p.Type == elf.PT_INTERP {
			t.Error("the binary asks for a dynamic loader (CGO_ENABLED=0 makes it static)")
		}
	}
	ef.Close()
	if len(libs) > 0 {
		t.Errorf("the binary needs shared libraries %q", libs)
	}

	out, err := exec.Command(bin, "version").Output()
	if err != nil {
		t.Fatalf("callconnect version: %v", err)
	}
	if !strings.HasPrefix(string(out), "callconnect "+c.Labels["org.opencontainers.image.version"]+"\n") ||
		!regexp.MustCompile(`(?m)^revision: [0-9a-f]{40}$`).Match(out) {
		t.Errorf("callconnect version in the image:\n%s\nwant the version %q and a revision", out, c.Labels["org.opencontainers.image.version"])
	}
	help, err := exec.Command(bin, "--help").Output()
	if err != nil {
		t.Fatalf("callconnect --help: %v", err)
	}
	for _, name := range documentedVariables(t) {
		if !strings.Contains(string(help), name) {
			t.Errorf("callconnect --help in the image does not list %s", name)
		}
	}
}
