package callconnect_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"go/build"
	"go/parser"
	"go/token"
	"io"
	"os/exec"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"
	"testing"
)

// The dependency rule, checked on every file that `go list ./...`
// sees. Code that goes into the binary must point inward:
//
//	domain      the standard library only
//	ports       domain
//	app         domain, ports
//	adapters    domain, ports, app, migrations (the embedded SQL), their own
//	            packages, and the shared leaves below
//	migrations  nothing of the module
//	cmd         anything
//
// An adapter (a directory of adapters/) never imports another: what two of
// them share is a port, or a shared leaf, an adapter named for what it holds
// that imports no other adapter itself (sharedLeaves).
//
// domain and app never import a wire format (encoding/json): the partner
// protocol's bytes are adapters/cvio's, the API's httpapi's. Nor do domain,
// ports or app reach the database's drivers (pgx, River), directly or
// through another package: the database is the adapters' business.
//
// Tests may reach outward (app tests use adapters/memory, adapter tests use
// ports/portstest), but no code outside cmd ever imports cmd. Only cmd and the
// module.go (and module_test.go) of an adapter know fx.
//
// A new top-level package fails the check until it gets a row in allowed.

// allowed maps each top-level part of the module to the parts that its
// non-test files may import.
var allowed = map[string][]string{
	"domain":     {"domain"},
	"ports":      {"domain", "ports"},
	"app":        {"domain", "ports", "app"},
	"adapters":   {"domain", "ports", "app", "adapters", "migrations"}, // adapters: see checkAdapterImport
	"migrations": {"migrations"},
	"cmd":        nil, // anything
	"":           {},  // the root package: documentation and this test
}

// sharedLeaves are the adapters that other adapters may import, each with
// what it holds.
var sharedLeaves = map[string]string{
	"cvio":       "the partner wire protocol (the payloads, the callbacks' bodies and receipts)",
	"httpguard":  "the admin tokens, trusted proxies and rate limits the HTTP API and the console guard their doors with",
	"kindstatus": "the table from a domain error's kind to its HTTP status",
	"outbox":     "the contract by which the store hands the job queue the jobs of its transactions",
}

// databaseDrivers are the modules through which the adapters reach
// PostgreSQL; domain, ports and app never import them.
var databaseDrivers = []string{"github.com/jackc/pgx", "github.com/riverqueue/river"}

// wireFormats are encodings that domain and app never speak: they take and
// give typed values, and the adapters at the edge read and write the bytes.
var wireFormats = []string{"encoding/json", "encoding/xml"}

// fxModules are the import paths that only cmd and adapters' module.go know.
var fxModules = []string{"go.uber.org/fx", "go.uber.org/dig"}

// goFile is one Go file and what it imports.
type goFile struct {
	path    string // relative to the module root, slash-separated
	test    bool
	imports []string
}

// goPackage is one package directory of the module.
type goPackage struct {
	importPath string
	files      []goFile
}

func TestDependencyRule(t *testing.T) {
	module, pkgs := loadPackages(t)
	if len(pkgs) < 2 {
		t.Fatalf("go list found %d packages; expected the whole module", len(pkgs))
	}
	for _, v := range violations(module, pkgs) {
		t.Error(v)
	}
	for _, v := range driverDeps(listDeps(t, "./domain/...", "./ports/...", "./app/...")) {
		t.Error(v)
	}
}

// driverDeps lists the database drivers among deps, the packages that the
// inner layers' non-test files depend on, directly or not.
func driverDeps(deps []string) []string {
	var out []string
	for _, d := range deps {
		if isDriver(d) {
			out = append(out, fmt.Sprintf("domain, ports or app depend on %q: the database is the adapters' business", d))
		}
	}
	return out
}

func TestDriverDepsCatches(t *testing.T) {
	if got := driverDeps([]string{"context", "m/domain", "github.com/google/uuid"}); len(got) != 0 {
		t.Errorf("reported although allowed: %v", got)
	}
	if got := driverDeps([]string{"m/ports", "github.com/jackc/pgx/v5/pgconn"}); len(got) != 1 {
		t.Errorf("a dependency on pgx: %v, want it reported", got)
	}
}

// TestDependencyRuleCatches makes sure that the check above bites: each case
// breaks one rule and must be reported.
func TestDependencyRuleCatches(t *testing.T) {
	file := func(path string, test bool, imports ...string) goFile {
		return goFile{path: path, test: test, imports: imports}
	}
	pkg := func(importPath string, files ...goFile) goPackage {
		return goPackage{importPath: importPath, files: files}
	}
	cases := []struct {
		name string
		pkg  goPackage
		bad  bool
	}{
		{"domain imports stdlib", pkg("m/domain", file("domain/a.go", false, "time", "errors")), false},
		{"domain imports a third-party module", pkg("m/domain", file("domain/a.go", false, "github.com/google/uuid")), true},
		{"domain imports ports", pkg("m/domain", file("domain/a.go", false, "m/ports")), true},
		{"domain imports cgo", pkg("m/domain", file("domain/a.go", false, "C")), true},
		{"domain scans JSON", pkg("m/domain", file("domain/a.go", false, "encoding/json")), true},
		{"app writes JSON", pkg("m/app", file("app/a.go", false, "encoding/json")), true},
		{"app test reads JSON", pkg("m/app", file("app/a_test.go", true, "encoding/json")), false},
		{"domain test uses rapid", pkg("m/domain", file("domain/a_test.go", true, "pgregory.net/rapid", "m/domain")), false},
		{"ports imports domain", pkg("m/ports", file("ports/a.go", false, "m/domain", "context")), false},
		{"ports imports app", pkg("m/ports", file("ports/a.go", false, "m/app")), true},
		{"portstest imports ports", pkg("m/ports/portstest", file("ports/portstest/a.go", false, "m/ports", "m/domain", "testing")), false},
		{"portstest imports an adapter", pkg("m/ports/portstest", file("ports/portstest/a.go", false, "m/adapters/memory")), true},
		{"app imports ports and domain", pkg("m/app", file("app/a.go", false, "m/ports", "m/domain")), false},
		{"app imports an adapter", pkg("m/app", file("app/a.go", false, "m/adapters/postgres")), true},
		{"app test uses the memory adapter", pkg("m/app", file("app/a_test.go", true, "m/adapters/memory")), false},
		{"app imports pgx", pkg("m/app", file("app/a.go", false, "github.com/jackc/pgx/v5")), true},
		{"app imports River", pkg("m/app", file("app/a.go", false, "github.com/riverqueue/river")), true},
		{"ports imports pgx", pkg("m/ports", file("ports/a.go", false, "github.com/jackc/pgx/v5/pgconn")), true},
		{"app test imports pgx", pkg("m/app", file("app/a_test.go", true, "github.com/jackc/pgx/v5")), false},
		{"adapter imports pgx", pkg("m/adapters/postgres", file("adapters/postgres/a.go", false, "github.com/jackc/pgx/v5")), false},
		{"adapter imports app", pkg("m/adapters/httpapi", file("adapters/httpapi/a.go", false, "m/app", "m/ports", "m/domain")), false},
		{"adapter imports another adapter", pkg("m/adapters/console", file("adapters/console/a.go", false, "m/adapters/httpapi")), true},
		{"adapter imports another adapter's package", pkg("m/adapters/jobs", file("adapters/jobs/a.go", false, "m/adapters/postgres/gen")), true},
		{"adapter imports a shared leaf", pkg("m/adapters/httpapi", file("adapters/httpapi/a.go", false, "m/adapters/cvio", "m/adapters/httpguard")), false},
		{"adapter imports its own package", pkg("m/adapters/postgres", file("adapters/postgres/a.go", false, "m/adapters/postgres/gen")), false},
		{"adapter's package imports its adapter", pkg("m/adapters/postgres/pgtest", file("adapters/postgres/pgtest/a.go", false, "m/adapters/postgres")), false},
		{"shared leaf imports another adapter", pkg("m/adapters/cvio", file("adapters/cvio/a.go", false, "m/adapters/memory")), true},
		{"shared leaf imports another leaf", pkg("m/adapters/outbox", file("adapters/outbox/a.go", false, "m/adapters/cvio")), true},
		{"adapter test imports another adapter", pkg("m/adapters/console", file("adapters/console/a_test.go", true, "m/adapters/memory")), false},
		{"adapter imports migrations", pkg("m/adapters/postgres", file("adapters/postgres/migrate.go", false, "m/migrations")), false},
		{"adapter imports cmd", pkg("m/adapters/httpapi", file("adapters/httpapi/a.go", false, "m/cmd/callconnect")), true},
		{"adapter test imports cmd", pkg("m/adapters/httpapi", file("adapters/httpapi/a_test.go", true, "m/cmd/callconnect")), true},
		{"adapter module.go uses fx", pkg("m/adapters/postgres", file("adapters/postgres/module.go", false, "go.uber.org/fx")), false},
		{"adapter module_test.go uses fxtest", pkg("m/adapters/postgres", file("adapters/postgres/module_test.go", true, "go.uber.org/fx/fxtest")), false},
		{"adapter elsewhere uses fx", pkg("m/adapters/postgres", file("adapters/postgres/pool.go", false, "go.uber.org/fx")), true},
		{"app uses fx", pkg("m/app", file("app/module.go", false, "go.uber.org/fx")), true},
		{"domain uses dig", pkg("m/domain", file("domain/a.go", false, "go.uber.org/dig")), true},
		{"cmd uses fx and everything", pkg("m/cmd/callconnect", file("cmd/callconnect/main.go", false, "go.uber.org/fx", "m/adapters/postgres", "m/app")), false},
		{"migrations imports embed", pkg("m/migrations", file("migrations/embed.go", false, "embed")), false},
		{"migrations imports domain", pkg("m/migrations", file("migrations/embed.go", false, "m/domain")), true},
		{"unknown top-level package", pkg("m/util", file("util/a.go", false, "strings")), true},
		{"root imports an adapter", pkg("m", file("doc.go", false, "m/adapters/memory")), true},
		{"module path prefix is not the module", pkg("m/domain", file("domain/a.go", false, "mx/other")), true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got := violations("m", []goPackage{tc.pkg})
			if tc.bad && len(got) == 0 {
				t.Errorf("not reported")
			}
			if !tc.bad && len(got) > 0 {
				t.Errorf("reported although allowed: %v", got)
			}
		})
	}
}

// violations lists every import that breaks the rules, one sentence each.
func violations(module string, pkgs []goPackage) []string {
	var out []string
	for _, p := range pkgs {
		layer, known := layerOf(module, p.importPath)
		if !known {
			out = append(out, fmt.Sprintf("package %s is outside the layout (domain, ports, app, adapters, migrations, cmd): "+
				"move it into one of them, or give its top-level directory a row in the rules of layout_test.go", p.importPath))
			continue
		}
		for _, f := range p.files {
			for _, imp := range f.imports {
				if msg := checkImport(module, layer, f, imp); msg != "" {
					out = append(out, fmt.Sprintf("%s imports %q: %s", f.path, imp, msg))
				}
			}
		}
	}
	sort.Strings(out)
	return out
}

// checkImport returns why file f of layer may not import imp, or "".
func checkImport(module, layer string, f goFile, imp string) string {
	if isFx(imp) {
		moduleFile := layer == "adapters" && (filepath.Base(f.path) == "module.go" || filepath.Base(f.path) == "module_test.go")
		if layer != "cmd" && !moduleFile {
			return "only cmd/ and an adapter's module.go know fx; constructors stay plain functions"
		}
		return ""
	}
	if (layer == "domain" || layer == "app") && !f.test && slices.Contains(wireFormats, imp) {
		return "wire formats are the adapters' business (the partner protocol is adapters/cvio, the API's JSON is httpapi's): domain and app deal in typed values"
	}
	if (layer == "domain" || layer == "ports" || layer == "app") && !f.test && isDriver(imp) {
		return "the database's drivers are the adapters' business (adapters/postgres, adapters/jobs): domain, ports and app deal in ports"
	}
	internal, ok := layerOf(module, imp)
	if !ok && isModule(module, imp) {
		return "the imported package is outside the layout"
	}
	if !isModule(module, imp) {
		if layer == "domain" && !f.test && !isStandard(imp) {
			return "domain imports the standard library only"
		}
		return ""
	}
	if internal == "cmd" && layer != "cmd" {
		return "nothing outside cmd/ imports cmd/"
	}
	if f.test || layer == "cmd" {
		return ""
	}
	if !slices.Contains(allowed[layer], internal) {
		who := layer
		if who == "" {
			who = "the root package"
		}
		if len(allowed[layer]) == 0 {
			return fmt.Sprintf("%s imports nothing of the module (dependencies point inward)", who)
		}
		return fmt.Sprintf("%s may import only %s of the module (dependencies point inward)", who, strings.Join(allowed[layer], ", "))
	}
	if layer == "adapters" && internal == "adapters" {
		return checkAdapterImport(module, f, imp)
	}
	return ""
}

// checkAdapterImport returns why a non-test file f of an adapter may not
// import imp, another package of adapters/, or "".
func checkAdapterImport(module string, f goFile, imp string) string {
	from := adapterOf(f.path)
	to := adapterOf(strings.TrimPrefix(imp, module+"/"))
	switch {
	case from == to:
		return ""
	case sharedLeaves[from] != "":
		return fmt.Sprintf("adapters/%s is a shared leaf (it holds %s): it imports no other adapter", from, sharedLeaves[from])
	case sharedLeaves[to] == "":
		return "an adapter imports no other adapter: share a port (ports/), or a leaf package named for what it holds, listed in sharedLeaves"
	}
	return ""
}

// adapterOf names the adapter of a slash-separated path under adapters/
// (a file's or a package's).
func adapterOf(path string) string {
	parts := strings.Split(path, "/")
	if len(parts) < 2 || parts[0] != "adapters" {
		return ""
	}
	return parts[1]
}

func isDriver(path string) bool {
	for _, m := range databaseDrivers {
		if path == m || strings.HasPrefix(path, m+"/") {
			return true
		}
	}
	return false
}

func isModule(module, path string) bool {
	return path == module || strings.HasPrefix(path, module+"/")
}

// layerOf returns the top-level directory of a module package ("" for the
// root) and whether the rules know it.
func layerOf(module, path string) (string, bool) {
	if !isModule(module, path) {
		return "", false
	}
	rest := strings.TrimPrefix(strings.TrimPrefix(path, module), "/")
	top, _, _ := strings.Cut(rest, "/")
	_, known := allowed[top]
	return top, known
}

// isStandard tells standard-library paths, as the go/build package finds them
// in GOROOT. cgo's "C" is not the standard library.
func isStandard(path string) bool {
	if path == "C" {
		return false
	}
	p, err := build.Default.Import(path, "", build.FindOnly)
	return err == nil && p.Goroot
}

func isFx(path string) bool {
	for _, m := range fxModules {
		if path == m || strings.HasPrefix(path, m+"/") {
			return true
		}
	}
	return false
}

// listDeps asks the go command for every package that the non-test files
// of patterns depend on, directly or not.
func listDeps(t *testing.T, patterns ...string) []string {
	t.Helper()
	cmd := exec.Command("go", append([]string{"list", "-deps", "-f", "{{.ImportPath}}"}, patterns...)...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("go list -deps: %v\n%s", err, stderr.Bytes())
	}
	return strings.Fields(string(out))
}

// loadPackages asks the go command for the module's packages and files (so
// build constraints and ignored directories are the compiler's) and reads each
// file's imports itself, so that a broken rule is reported with its file.
func loadPackages(t *testing.T) (string, []goPackage) {
	t.Helper()
	goBin, err := exec.LookPath("go")
	if err != nil {
		t.Fatalf("the go command is needed to list the packages: %v", err)
	}
	cmd := exec.Command(goBin, "list", "-e", "-json=ImportPath,Dir,Module,GoFiles,CgoFiles,TestGoFiles,XTestGoFiles", "./...")
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("go list ./...: %v\n%s", err, stderr.Bytes())
	}
	type listed struct {
		ImportPath string
		Dir        string
		Module     *struct{ Path, Dir string }
		GoFiles    []string
		CgoFiles   []string
		TestGoFiles,
		XTestGoFiles []string
	}
	var module, root string
	var pkgs []goPackage
	fset := token.NewFileSet()
	dec := json.NewDecoder(bytes.NewReader(out))
	for {
		var l listed
		if err := dec.Decode(&l); errors.Is(err, io.EOF) {
			break
		} else if err != nil {
			t.Fatalf("decode go list output: %v", err)
		}
		if l.Module == nil {
			t.Fatalf("go list: package %s belongs to no module", l.ImportPath)
		}
		module, root = l.Module.Path, l.Module.Dir
		p := goPackage{importPath: l.ImportPath}
		add := func(names []string, test bool) {
			for _, name := range names {
				path := filepath.Join(l.Dir, name)
				src, err := parser.ParseFile(fset, path, nil, parser.ImportsOnly)
				if err != nil {
					t.Errorf("parse %s: %v", path, err)
					continue
				}
				rel, err := filepath.Rel(root, path)
				if err != nil {
					rel = path
				}
				f := goFile{path: filepath.ToSlash(rel), test: test}
				for _, spec := range src.Imports {
					imp, err := strconv.Unquote(spec.Path.Value)
					if err != nil {
						t.Errorf("%s: import %s: %v", path, spec.Path.Value, err)
						continue
					}
					f.imports = append(f.imports, imp)
				}
				p.files = append(p.files, f)
			}
		}
		add(l.GoFiles, false)
		add(l.CgoFiles, false)
		add(l.TestGoFiles, true)
		add(l.XTestGoFiles, true)
		pkgs = append(pkgs, p)
	}
	return module, pkgs
}
