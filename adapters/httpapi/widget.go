package httpapi

import (
	"bytes"
	"crypto/sha256"
	_ "embed"
	"encoding/hex"
	"net/http"
	"time"

	"github.com/danielgtaylor/huma/v2"
)

// WidgetScriptPath is where the call button element's script is served.
const WidgetScriptPath = "/widget/call-connect-button.js"

// widgetScript is <call-connect-button>: one dependency-free script, as
// CRM pages load it.
//
//go:embed widget/call-connect-button.js
var widgetScript []byte

// widgetScriptETag names the script's content, so that browsers
// revalidate it cheaply (304) and see a new version at once.
var widgetScriptETag = func() string {
	sum := sha256.Sum256(widgetScript)
	return `"` + hex.EncodeToString(sum[:16]) + `"`
}()

func (h *handlers) registerWidgetScript(api huma.API) {
	op := huma.Operation{
		OperationID: "getWidgetScript",
		Method:      http.MethodGet,
		Path:        WidgetScriptPath,
		Summary:     "The embeddable call button",
		Description: "A dependency-free script defining the <call-connect-button lead=\"…\" token=\"…\"> custom element: " +
			"the call button (Ligar) as the user sees it, hidden, disabled with the reason, or enabled, which places the " +
			"call on a click and shows its progress. The token is a widget token (POST /v1/environments/{env}/widget-tokens). " +
			"Served with an ETag (If-None-Match answers 304); public, needs no credentials.",
		Tags:     []string{tagCallButtons},
		Security: publicSecurity,
		Errors:   []int{http.StatusMethodNotAllowed},
	}
	op.Responses = map[string]*huma.Response{
		"200": {Description: "The script.", Headers: map[string]*huma.Param{
			"ETag": {Description: "Names this version of the script.", Schema: &huma.Schema{Type: huma.TypeString}},
		}, Content: map[string]*huma.MediaType{"text/javascript": {Schema: &huma.Schema{Type: huma.TypeString}}}},
		"304": {Description: "Not modified (If-None-Match matched the ETag)."},
	}
	document(api, op)
	h.mux.HandleFunc(op.Method+" "+op.Path, serveWidgetScript)
}

func serveWidgetScript(w http.ResponseWriter, r *http.Request) {
	hd := w.Header()
	hd.Set("Content-Type", "text/javascript; charset=utf-8")
	hd.Set("ETag", widgetScriptETag)
	// An hour, then a revalidation that costs a 304: a new version reaches
	// the pages within the hour without a cache-busting URL.
	hd.Set("Cache-Control", "public, max-age=3600")
	hd.Set("X-Content-Type-Options", "nosniff")
	// CRM pages on other origins load it with <script src>.
	hd.Set("Cross-Origin-Resource-Policy", "cross-origin")
	// No modification time: the ETag alone decides (If-None-Match).
	http.ServeContent(w, r, "", time.Time{}, bytes.NewReader(widgetScript))
}
