package httpapi

import (
	"context"
	"embed"
	"io/fs"
	"net/http"
	"time"

	"github.com/danielgtaylor/huma/v2"
)

// readyTimeout bounds one readiness check, so that a hung database makes
// /readyz answer 503 rather than time out the orchestrator's probe.
const readyTimeout = 3 * time.Second

// StatusOutput is the answer of a passing health or readiness check.
type StatusOutput struct {
	Body struct {
		Status string `json:"status" enum:"ok" doc:"Always ok; failures are problems."`
	}
}

func okStatus() *StatusOutput {
	out := &StatusOutput{}
	out.Body.Status = "ok"
	return out
}

func (h *handlers) registerOps(api huma.API) {
	register(api, h, huma.Operation{
		OperationID: "getHealth",
		Method:      http.MethodGet,
		Path:        "/healthz",
		Summary:     "Liveness",
		Description: "Answers 200 while the process is up. It checks nothing else: use /readyz to know whether requests can be served.",
		Tags:        []string{tagOperations},
		Errors:      []int{http.StatusMethodNotAllowed},
	}, func(ctx context.Context, _ *struct{}) (*StatusOutput, error) {
		return okStatus(), nil
	})

	register(api, h, huma.Operation{
		OperationID: "getReadiness",
		Method:      http.MethodGet,
		Path:        "/readyz",
		Summary:     "Readiness",
		Description: "Answers 200 when the database is reachable and its migrations are current, and a 503 problem (code `not_ready`) saying what failed otherwise. " +
			"A stopping service answers 503 too while it drains: it still serves requests for a short while, so that a load balancer can take it out of rotation first.",
		Tags:   []string{tagOperations},
		Errors: []int{http.StatusMethodNotAllowed, http.StatusServiceUnavailable},
	}, func(ctx context.Context, _ *struct{}) (*StatusOutput, error) {
		if h.ops.Ready == nil {
			return okStatus(), nil
		}
		ctx, cancel := context.WithTimeout(ctx, readyTimeout)
		defer cancel()
		if err := h.ops.Ready(ctx); err != nil {
			h.logger.WarnContext(ctx, "not ready", "error", err)
			return nil, newProblem(http.StatusServiceUnavailable, codeNotReady, "not ready: "+err.Error())
		}
		return okStatus(), nil
	})
}

//go:embed docs/index.html docs/assets
var docsFS embed.FS

// docsCSP allows the docs page to load from this origin only: the page must
// work offline and must not make a browser talk to any other host.
const docsCSP = "default-src 'none'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; " +
	"font-src 'self' data:; connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"

// DemoPath is where the demo's pretend CRM (Ops.Demo) is served.
const DemoPath = "/demo/"

// registerRawOps registers the operations endpoints that are not JSON
// operations: the Prometheus scrape endpoint and the docs UI.
func registerRawOps(mux *http.ServeMux, ops Ops) {
	if ops.Metrics != nil {
		mux.Handle("GET /metrics", ops.Metrics)
	}
	if ops.Console != nil {
		mux.Handle(ops.ConsolePath, ops.Console)
	}
	if ops.Demo != nil {
		mux.Handle(DemoPath, ops.Demo)
	}

	page, err := docsFS.ReadFile("docs/index.html")
	if err != nil {
		panic("httpapi: docs page not embedded: " + err.Error())
	}
	mux.HandleFunc("GET /docs", func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h.Set("Content-Type", "text/html; charset=utf-8")
		h.Set("Content-Security-Policy", docsCSP)
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("Cache-Control", "no-cache")
		_, _ = w.Write(page)
	})

	assets, err := fs.Sub(docsFS, "docs/assets")
	if err != nil {
		panic("httpapi: docs assets not embedded: " + err.Error())
	}
	files := http.StripPrefix("/docs/assets/", http.FileServerFS(assets))
	mux.Handle("GET /docs/assets/{file}", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if _, err := fs.Stat(assets, r.PathValue("file")); err != nil {
			writeProblem(w, r, newProblem(http.StatusNotFound, codeNotFound, "no such docs asset"))
			return
		}
		w.Header().Set("Cache-Control", "public, max-age=86400")
		w.Header().Set("X-Content-Type-Options", "nosniff")
		files.ServeHTTP(w, r)
	}))
}
