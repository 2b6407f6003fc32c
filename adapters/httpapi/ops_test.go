package httpapi_test

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"callconnect/adapters/httpapi"
	"callconnect/adapters/telemetry"
	"callconnect/domain"
)

func TestHealthAndReadiness(t *testing.T) {
	svc, _ := newMemoryServices()
	var readyErr error
	ops := httpapi.Ops{
		Ready: func(ctx context.Context) error {
			if _, ok := ctx.Deadline(); !ok {
				return errors.New("the readiness check must be bounded")
			}
			return readyErr
		},
		Metrics: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "text/plain; version=0.0.4")
			_, _ = w.Write([]byte("# HELP up\nup 1\n"))
		}),
	}
	c := &client{t: t, handler: httpapi.New(httpapi.Config{AdminToken: adminToken, Logger: slog.New(slog.DiscardHandler)}, svc, ops)}

	if got := c.ok(c.get("/healthz")); got["status"] != "ok" {
		t.Fatalf("healthz: %v", got)
	}
	if got := c.ok(c.get("/readyz")); got["status"] != "ok" {
		t.Fatalf("readyz: %v", got)
	}
	readyErr = errors.New("migrations pending: 2")
	p := wantProblem(t, c.get("/readyz"), http.StatusServiceUnavailable, "not_ready", "")
	if !strings.Contains(p.Detail, "migrations pending") {
		t.Fatalf("readyz must say what failed: %+v", p)
	}
	if r := c.get("/metrics"); r.Status != 200 || !strings.Contains(string(r.Body), "up 1") {
		t.Fatalf("metrics: %s", r)
	}
}

func TestMiddlewareWrapsEverything(t *testing.T) {
	svc, _ := newMemoryServices()
	var order []string
	mw := func(name string) func(http.Handler) http.Handler {
		return func(next http.Handler) http.Handler {
			return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				order = append(order, name)
				next.ServeHTTP(w, r)
			})
		}
	}
	h := httpapi.New(httpapi.Config{AdminToken: adminToken}, svc, httpapi.Ops{Middleware: []func(http.Handler) http.Handler{mw("outer"), mw("inner")}})
	c := &client{t: t, handler: h}
	wantProblem(t, c.get(env), http.StatusUnauthorized, "unauthorized", "") // refused requests are seen too
	c.get("/healthz")
	if want := []string{"outer", "inner", "outer", "inner"}; !slices.Equal(order, want) {
		t.Fatalf("middleware order %v, want %v", order, want)
	}
}

// The route template reaches the telemetry middleware: HTTP metrics are
// labelled by operation, not "unmatched".
func TestMetricsSeeRouteTemplates(t *testing.T) {
	svc, _ := newMemoryServices()
	reg := telemetry.NewRegistry()
	var pattern string
	seePattern := func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			next.ServeHTTP(w, r)
			pattern = r.Pattern
		})
	}
	h := httpapi.New(httpapi.Config{AdminToken: adminToken}, svc, httpapi.Ops{
		Metrics:    telemetry.MetricsHandler(reg),
		Middleware: []func(http.Handler) http.Handler{telemetry.HTTPMetrics(reg), seePattern},
	})
	c := &client{t: t, handler: h, token: adminToken}
	wantProblem(t, c.get(env), http.StatusNotFound, "environment_not_found", "path.env")
	if pattern != "GET /v1/environments/{env}" {
		t.Fatalf("outer middleware saw pattern %q", pattern)
	}
	m := string(c.get("/metrics").Body)
	if !strings.Contains(m, `route="/v1/environments/{env}"`) || !strings.Contains(m, `status="404"`) {
		t.Fatalf("metrics must be labelled by route template:\n%s", m)
	}
}

func TestServerTimeouts(t *testing.T) {
	s := httpapi.NewServer("127.0.0.1:0", http.NotFoundHandler())
	if s.ReadHeaderTimeout != 5*time.Second || s.IdleTimeout != 120*time.Second || s.ReadTimeout != 30*time.Second ||
		s.WriteTimeout != 60*time.Second || s.MaxHeaderBytes == 0 || s.Addr != "127.0.0.1:0" || s.Handler == nil {
		t.Fatalf("server: %+v", s)
	}
}

// externalURL finds absolute http(s) URLs in attribute values and CSS/JS
// URL positions: what would make a browser fetch from another host.
var externalURL = regexp.MustCompile(`(?i)(src|href|url|action)\s*[=(:]\s*["']?\s*(https?:)?//`)

func TestDocsWorkOffline(t *testing.T) {
	c := newMemoryClient(t).withToken("")
	r := c.get("/docs")
	if r.Status != 200 || !strings.HasPrefix(r.Header.Get("Content-Type"), "text/html") {
		t.Fatalf("docs: %s", r)
	}
	page := string(r.Body)
	if strings.Contains(page, "http://") || strings.Contains(page, "https://") || strings.Contains(page, "//unpkg") || externalURL.MatchString(page) {
		t.Fatalf("the docs page must not reference another host:\n%s", page)
	}
	csp := r.Header.Get("Content-Security-Policy")
	if !strings.Contains(csp, "default-src 'none'") || !strings.Contains(csp, "script-src 'self'") || strings.Contains(csp, "http") {
		t.Fatalf("CSP must keep the page on this origin: %q", csp)
	}
	// Every asset the page names is served, from this origin.
	assets := regexp.MustCompile(`(?:src|href)="([^"]+)"`).FindAllStringSubmatch(page, -1)
	if len(assets) < 3 {
		t.Fatalf("docs page names too few assets: %v", assets)
	}
	for _, m := range assets {
		path := "/" + strings.TrimPrefix(m[1], "/")
		a := c.get(path)
		if a.Status != 200 || len(a.Body) == 0 {
			t.Fatalf("asset %s: %d", path, a.Status)
		}
		if strings.HasSuffix(path, ".js") && !strings.Contains(a.Header.Get("Content-Type"), "javascript") ||
			strings.HasSuffix(path, ".css") && !strings.HasPrefix(a.Header.Get("Content-Type"), "text/css") {
			t.Fatalf("asset %s served as %q", path, a.Header.Get("Content-Type"))
		}
	}
	// Our initializer fetches only this service's document and turns off
	// Swagger UI's online validator (its one default call to another host).
	init := string(c.get("/docs/assets/init.js").Body)
	if !strings.Contains(init, `"openapi.json"`) || !strings.Contains(init, "validatorUrl: null") || strings.Contains(init, "http") {
		t.Fatalf("init.js: %s", init)
	}
	// The stylesheet loads no web fonts or images from elsewhere.
	css := string(c.get("/docs/assets/swagger-ui.css").Body)
	if strings.Contains(css, "@import") || regexp.MustCompile(`url\(\s*["']?(https?:)?//`).MatchString(css) {
		t.Fatal("swagger-ui.css loads something from another host")
	}
}

// document fetches /openapi.json and decodes it.
func document(t *testing.T) map[string]any {
	t.Helper()
	c := newMemoryClient(t).withToken("")
	r := c.get("/openapi.json")
	if r.Status != 200 {
		t.Fatalf("openapi.json: %s", r)
	}
	var doc map[string]any
	if err := json.Unmarshal(r.Body, &doc); err != nil {
		t.Fatalf("openapi.json is not JSON: %v", err)
	}
	return doc
}

func obj(v any) map[string]any { m, _ := v.(map[string]any); return m }

func TestOpenAPIDocument(t *testing.T) {
	doc := document(t)
	if v, _ := doc["openapi"].(string); !strings.HasPrefix(v, "3.1.") {
		t.Fatalf("openapi version %q", v)
	}
	info := obj(doc["info"])
	if info["title"] != "Call Connect" || info["version"] == "" || info["description"] == "" || obj(info["contact"]) == nil || obj(info["license"]) == nil {
		t.Fatalf("info: %v", info)
	}
	if servers, _ := doc["servers"].([]any); len(servers) == 0 {
		t.Fatal("servers must be declared")
	}
	schemes := obj(obj(doc["components"])["securitySchemes"])
	if b := obj(schemes["bearer"]); b["type"] != "http" || b["scheme"] != "bearer" {
		t.Fatalf("bearer scheme: %v", schemes)
	}
	for name, header := range map[string]string{"partnerEmail": "email", "partnerToken": "token"} {
		if s := obj(schemes[name]); s["type"] != "apiKey" || s["in"] != "header" || s["name"] != header {
			t.Fatalf("%s scheme: %v", name, schemes)
		}
	}
	tags := map[string]bool{}
	for _, tg := range doc["tags"].([]any) {
		if obj(tg)["description"] == "" {
			t.Fatalf("tag without description: %v", tg)
		}
		tags[obj(tg)["name"].(string)] = true
	}

	ops := 0
	for path, item := range obj(doc["paths"]) {
		for method, o := range obj(item) {
			op := obj(o)
			ops++
			where := method + " " + path
			if op["operationId"] == "" || op["summary"] == "" || op["description"] == "" || op["operationId"] == nil || op["description"] == nil {
				t.Errorf("%s lacks operationId, summary or description", where)
			}
			opTags, _ := op["tags"].([]any)
			if len(opTags) == 0 || !tags[opTags[0].(string)] {
				t.Errorf("%s has no declared tag", where)
			}
			has4xx := false
			for code, resp := range obj(op["responses"]) {
				if code[0] == '4' {
					has4xx = true
					if obj(obj(resp)["content"])["application/problem+json"] == nil {
						t.Errorf("%s %s is not problem+json", where, code)
					}
				}
			}
			if !has4xx {
				t.Errorf("%s has no 4xx response", where)
			}
			security, _ := op["security"].([]any)
			if strings.HasPrefix(path, "/v1/") {
				// The admin token, or for the call button element's few
				// operations a widget token instead.
				widget := len(security) == 2 && obj(security[1])["widgetToken"] != nil && widgetOperation[where]
				if len(security) != 1 && !widget || len(security) == 0 || obj(security[0])["bearer"] == nil {
					t.Errorf("%s must require the bearer token: %v", where, security)
				}
				if obj(op["responses"])["401"] == nil {
					t.Errorf("%s must document 401", where)
				}
			}
		}
	}
	if ops < 12 {
		t.Fatalf("only %d operations documented", ops)
	}
}

// widgetOperation are the operations a widget token may call.
var widgetOperation = map[string]bool{
	"get /v1/environments/{env}/leads/{lead_id}/call-button": true,
	"post /v1/environments/{env}/leads/{lead_id}/calls":      true,
	"get /v1/environments/{env}/calls/{call_id}":             true,
	"get /v1/environments/{env}/events":                      true,
}

// The schema's enums are the domain's values.
func TestOpenAPIEnumsMatchTheDomain(t *testing.T) {
	schemas := obj(obj(document(t)["components"])["schemas"])
	enum := func(schema, prop string) []string {
		var out []string
		for _, v := range obj(obj(obj(schemas[schema])["properties"])[prop])["enum"].([]any) {
			if v != nil {
				out = append(out, v.(string))
			}
		}
		return out
	}
	var roles []string
	for _, r := range domain.Roles {
		roles = append(roles, string(r))
	}
	if got := enum("UserSettings", "role"); !slices.Equal(got, roles) {
		t.Fatalf("role enum %v, domain %v", got, roles)
	}
	for _, mode := range enum("IntegrationSettings", "dial_mode") {
		if _, err := domain.ParseDialMode(mode); err != nil {
			t.Fatalf("dial_mode enum has %q the domain refuses", mode)
		}
	}
	if got := enum("IntegrationSettings", "dial_mode"); len(got) != 2 {
		t.Fatalf("dial_mode enum %v", got)
	}
	want := []string{string(domain.ReasonNotOwner), string(domain.ReasonIntegrationInactive), string(domain.ReasonMissingPhone),
		string(domain.ReasonMissingExtension), "lead_not_found"}
	if got := enum("CallButton", "reason"); !slices.Equal(got, want) {
		t.Fatalf("reason enum %v, want %v", got, want)
	}
}

func TestOpenAPIFunctionMatchesTheServedDocument(t *testing.T) {
	b, err := httpapi.OpenAPI(httpapi.Config{})
	if err != nil {
		t.Fatal(err)
	}
	var fromFunc map[string]any
	if err := json.Unmarshal(b, &fromFunc); err != nil {
		t.Fatal(err)
	}
	a, _ := json.Marshal(fromFunc)
	served, _ := json.Marshal(document(t))
	if string(a) != string(served) {
		t.Fatal("OpenAPI() and /openapi.json differ")
	}
	custom, err := httpapi.OpenAPI(httpapi.Config{PublicURL: "https://callconnect.example.com/", Version: "1.2.3"})
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(custom), `"url": "https://callconnect.example.com"`) || !strings.Contains(string(custom), `"version": "1.2.3"`) {
		t.Fatal("PublicURL and Version must reach servers and info")
	}
}

// TestOpenAPILint runs Redocly CLI's recommended rules on the document, as
// `make lint-openapi` does. It needs npx (Node.js) and, the first time, the
// npm registry; it fails rather than skips without them.
func TestOpenAPILint(t *testing.T) {
	if testing.Short() {
		t.Skip("-short: the lint downloads and runs Redocly CLI")
	}
	npx, err := exec.LookPath("npx")
	if err != nil {
		t.Fatal("npx not found: install Node.js (20 or later) to lint the OpenAPI document")
	}
	b, err := httpapi.OpenAPI(httpapi.Config{Version: "test"})
	if err != nil {
		t.Fatal(err)
	}
	file := filepath.Join(t.TempDir(), "openapi.json")
	if err := os.WriteFile(file, b, 0o644); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	start := time.Now()
	cmd := exec.CommandContext(ctx, npx, "--yes", "@redocly/cli@2.77.0", "lint", "--extends=recommended", "--format=stylish", file)
	cmd.Env = append(os.Environ(), "REDOCLY_TELEMETRY=off", "REDOCLY_SUPPRESS_UPDATE_NOTICE=true")
	out, err := cmd.CombinedOutput()
	t.Logf("redocly lint took %s:\n%s", time.Since(start).Round(time.Millisecond), out)
	if err != nil {
		t.Fatalf("redocly lint found errors (or could not run): %v", err)
	}
}
