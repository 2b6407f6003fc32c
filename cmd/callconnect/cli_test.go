package main

import (
	"bytes"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// operationsDoc is the operators' guide, which holds the configuration table.
const operationsDoc = "../../docs/operations.md"

// documentedVariables returns the names in the first column of the
// configuration table of docs/operations.md (`OTEL_*` as it is written).
func documentedVariables(t *testing.T) []string {
	t.Helper()
	doc, err := os.ReadFile(operationsDoc)
	if err != nil {
		t.Fatal(err)
	}
	_, table, ok := strings.Cut(string(doc), "| variable | default | meaning |")
	if !ok {
		t.Fatal("docs/operations.md has no configuration table (| variable | default | meaning |)")
	}
	name := regexp.MustCompile("`([A-Z][A-Z0-9_]*\\*?)`")
	var names []string
	for _, line := range strings.Split(table, "\n")[2:] {
		if !strings.HasPrefix(line, "|") {
			break
		}
		first := strings.Split(line, "|")[1]
		for _, m := range name.FindAllStringSubmatch(first, -1) {
			names = append(names, m[1])
		}
	}
	if len(names) < 10 {
		t.Fatalf("read only %d variables from the table of docs/operations.md: %q", len(names), names)
	}
	return names
}

func runCLI(t *testing.T, env map[string]string, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	var out, errOut bytes.Buffer
	code = run(args, envOf(env), &out, &errOut)
	return code, out.String(), errOut.String()
}

// --help, help and serve --help list every variable of the documented table,
// and every setting with its default and meaning.
func TestHelpListsEveryVariable(t *testing.T) {
	documented := documentedVariables(t)
	for _, args := range [][]string{{"--help"}, {"-h"}, {"help"}, {"serve", "--help"}, {"migrate", "-h"}} {
		code, out, errOut := runCLI(t, nil, args...)
		if code != 0 || errOut != "" {
			t.Errorf("%q: exit %d, stderr %q", args, code, errOut)
		}
		for _, name := range documented {
			if !strings.Contains(out, name) {
				t.Errorf("%q does not list %s, which the table of docs/operations.md has", args, name)
			}
		}
		for _, s := range settings {
			line := "  " + s.name + " (no default)"
			if s.def != "" {
				line = "  " + s.name + " (default " + s.def + ")"
			}
			if !strings.Contains(out, line+"\n      "+s.help+"\n") {
				t.Errorf("%q does not show %s with its default and meaning (%q)", args, s.name, line)
			}
			if s.secret && !strings.Contains(out, s.name+"_FILE") {
				t.Errorf("%q does not say that %s may come from %s_FILE", args, s.name, s.name)
			}
		}
	}
	if _, out, _ := runCLI(t, nil, "serve", "--help"); !strings.Contains(out, "-no-migrate") {
		t.Errorf("serve --help does not show its flag:\n%s", out)
	}
	if code, _, errOut := runCLI(t, nil, "serve", "--bogus"); code != 2 || !strings.Contains(errOut, "bogus") {
		t.Errorf("a bad flag: exit %d, stderr %q", code, errOut)
	}
}

// Secret settings may come from a file; the variable and its _FILE are
// never both set, and a failure never shows the secret.
func TestSecretsFromFiles(t *testing.T) {
	dir := t.TempDir()
	file := func(name, content string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	key := "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA="
	token := "a-token-from-a-file-0123456789abcdef"
	c, err := LoadConfig(envOf(map[string]string{
		"CALLCONNECT_ADMIN_TOKEN_FILE":   file("token", token+"\n"),
		"CALLCONNECT_SECRETS_KEY_FILE":   file("key", key+"\r\n"),
		"DATABASE_URL_FILE":              file("db", "postgres://u:p@db/cc"),
		"CALLCONNECT_S3_ACCESS_KEY_FILE": file("ak", "AKIA\n"),
		"CALLCONNECT_S3_SECRET_KEY_FILE": file("sk", "s3cr3t\n"),
	}))
	if err != nil {
		t.Fatal(err)
	}
	if c.AdminToken != token || len(c.SecretsKey) != 32 || c.DatabaseURL != "postgres://u:p@db/cc" ||
		c.S3.AccessKey != "AKIA" || c.S3.SecretKey != "s3cr3t" {
		t.Fatalf("values from files: %+v", c)
	}

	for _, tc := range []struct {
		name string
		env  map[string]string
		want string // in the error
	}{
		{"both set", map[string]string{"CALLCONNECT_ADMIN_TOKEN": token, "CALLCONNECT_ADMIN_TOKEN_FILE": file("t2", token)},
			"CALLCONNECT_ADMIN_TOKEN: set CALLCONNECT_ADMIN_TOKEN or CALLCONNECT_ADMIN_TOKEN_FILE, not both"},
		{"missing file", map[string]string{"DATABASE_URL_FILE": filepath.Join(dir, "absent")}, "DATABASE_URL: DATABASE_URL_FILE: cannot read"},
		{"empty file", map[string]string{"CALLCONNECT_S3_SECRET_KEY_FILE": file("empty", "\n")}, "CALLCONNECT_S3_SECRET_KEY_FILE: " + dir},
		{"bad key in a file", map[string]string{"CALLCONNECT_SECRETS_KEY_FILE": file("badkey", "bm90LWEta2V5LXNlY3JldA==\n")},
			"CALLCONNECT_SECRETS_KEY: must be the base64 of exactly 32 bytes"},
	} {
		_, err := LoadConfig(envOf(tc.env))
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: got %v, want an error with %q", tc.name, err, tc.want)
			continue
		}
		if strings.Contains(err.Error(), token) || strings.Contains(err.Error(), "bm90LWEta2V5LXNlY3JldA") {
			t.Errorf("%s: the error shows the secret: %v", tc.name, err)
		}
	}
	// Only secrets are read from files.
	if c, err := LoadConfig(envOf(map[string]string{"HTTP_ADDR_FILE": file("addr", "0.0.0.0:1\n")})); err != nil || c.HTTPAddr != "127.0.0.1:8080" {
		t.Errorf("HTTP_ADDR_FILE was read: %v %q", err, c.HTTPAddr)
	}
}

func TestMetricsAddrSetting(t *testing.T) {
	for _, tc := range []struct {
		value, want string // want "": refused
	}{
		{"", ""}, {"127.0.0.1:9090", "127.0.0.1:9090"}, {":9090", ":9090"},
	} {
		c, err := LoadConfig(envOf(map[string]string{"CALLCONNECT_METRICS_ADDR": tc.value}))
		if err != nil || c.MetricsAddr != tc.want {
			t.Errorf("%q: %v, MetricsAddr %q", tc.value, err, c.MetricsAddr)
		}
	}
	for _, bad := range []string{"9090", "http://x:9090", "127.0.0.1:8080"} { // the last is HTTP_ADDR's default
		if _, err := LoadConfig(envOf(map[string]string{"CALLCONNECT_METRICS_ADDR": bad})); err == nil ||
			!strings.Contains(err.Error(), "CALLCONNECT_METRICS_ADDR: must") {
			t.Errorf("%q: got %v, want it refused", bad, err)
		}
	}
}

func TestBuildInfoShort(t *testing.T) {
	rev := "0123456789abcdef0123456789abcdef01234567"
	for _, tc := range []struct {
		b    buildInfo
		want string
	}{
		{buildInfo{Label: "v1.4.0-3-gabc", Module: "(devel)", Revision: rev}, "v1.4.0-3-gabc"},
		{buildInfo{Module: "v1.2.3", Revision: rev}, "v1.2.3"},
		{buildInfo{Module: "(devel)", Revision: rev}, "devel+0123456789ab"},
		{buildInfo{Module: "(devel)", Revision: rev, Modified: true}, "devel+0123456789ab-dirty"},
		{buildInfo{Module: "(devel)"}, "devel"},
	} {
		if got := tc.b.Short(); got != tc.want {
			t.Errorf("%+v: Short() = %q, want %q", tc.b, got, tc.want)
		}
	}
}

// The binary built from this checkout says which commit it is.
func TestVersionPrintsTheRevision(t *testing.T) {
	t.Parallel()
	if _, err := exec.LookPath("git"); err != nil {
		t.Skip("git is not installed: the go command stamps no VCS information without it")
	}
	if err := exec.Command("git", "rev-parse", "--git-dir").Run(); err != nil {
		t.Skip("not a git checkout: the go command stamps no VCS information")
	}
	// -buildvcs=true: the go command's default (auto) is off where GOFLAGS
	// says -buildvcs=false, as on some build machines.
	bin := filepath.Join(t.TempDir(), "callconnect")
	if out, err := exec.Command("go", "build", "-buildvcs=true", "-o", bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	for _, arg := range []string{"--version", "version"} {
		out, err := exec.Command(bin, arg).Output()
		if err != nil {
			t.Fatalf("%s: %v", arg, err)
		}
		m := regexp.MustCompile(`(?m)^revision: ([0-9a-f]{40})$`).FindSubmatch(out)
		if m == nil {
			t.Fatalf("%s prints no revision:\n%s", arg, out)
		}
		// The revision is a commit of this repository (HEAD may have moved
		// since the build: others commit while tests run).
		if err := exec.Command("git", "cat-file", "-e", string(m[1])+"^{commit}").Run(); err != nil {
			t.Errorf("%s: revision %s is no commit of this repository", arg, m[1])
		}
		for _, want := range []string{"time:     ", "modified: "} {
			if !bytes.Contains(out, []byte(want)) {
				t.Errorf("%s: no %q in:\n%s", arg, want, out)
			}
		}
		// The version's first line names the commit too: the go command's
		// pseudo-version (v0.0.0-<time>-<rev>) or devel+<rev>.
		first, _, _ := bytes.Cut(out, []byte("\n"))
		if !bytes.HasPrefix(first, []byte("callconnect ")) || !bytes.Contains(first, m[1][:12]) {
			t.Errorf("%s: the first line %q does not name commit %s", arg, first, m[1][:12])
		}
	}
}

func TestHealthcheck(t *testing.T) {
	status := http.StatusOK
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/healthz" {
			http.NotFound(w, r)
			return
		}
		w.WriteHeader(status)
	}))
	defer srv.Close()
	addr := strings.TrimPrefix(srv.URL, "http://")
	_, port, _ := strings.Cut(addr, ":")
	for _, tc := range []struct {
		name   string
		env    map[string]string
		args   []string
		status int
		want   int
	}{
		{"HTTP_ADDR", map[string]string{"HTTP_ADDR": addr}, nil, 200, 0},
		{"every address reached on loopback", map[string]string{"HTTP_ADDR": "0.0.0.0:" + port}, nil, 200, 0},
		{"an unhealthy answer", map[string]string{"HTTP_ADDR": addr}, nil, 503, 1},
		{"--url", nil, []string{"--url", srv.URL + "/healthz"}, 200, 0},
		{"nothing listening", map[string]string{"HTTP_ADDR": freeAddr(t)}, nil, 200, 1},
		{"a bad HTTP_ADDR", map[string]string{"HTTP_ADDR": "nowhere"}, nil, 200, 2},
	} {
		status = tc.status
		code, _, errOut := runCLI(t, tc.env, append([]string{"healthcheck"}, tc.args...)...)
		if code != tc.want {
			t.Errorf("%s: exit %d, want %d (%s)", tc.name, code, tc.want, errOut)
		}
	}
}
