package httpapi

import (
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"strings"
	"time"

	"github.com/danielgtaylor/huma/v2"
)

// Widget tokens let a browser page show the call button of one user
// (<call-connect-button>) without the admin token: the CRM's backend mints
// one for the user looking at the page, and the page hands it to the
// element. A token is signed, not stored: HMAC-SHA256 under a key derived
// from the deployment's secrets key, so every replica accepts it and
// nothing needs cleaning up; it lasts at most MaxWidgetTokenTTL, which is
// what bounds a token copied out of a page.
const (
	// DefaultWidgetTokenTTL is a token's life when the request names none.
	DefaultWidgetTokenTTL = 5 * time.Minute
	// MaxWidgetTokenTTL is the longest life a token may be given.
	MaxWidgetTokenTTL = 15 * time.Minute
	// widgetTokenPrefix starts every widget token: it tells one from an
	// admin token at a glance, and names the format's version.
	widgetTokenPrefix = "ccw1."
)

// WidgetTokens mints and checks widget tokens.
type WidgetTokens struct {
	key []byte
	now func() time.Time
}

// WidgetClaims are what a valid token grants: the user's button, in the
// environment, until Expires.
type WidgetClaims struct {
	Env     string
	User    string
	Expires time.Time
}

// widgetPayload is the token's readable middle part. The element reads env
// and sub from it, to know which environment and user it acts for; the
// signature is what the service trusts.
type widgetPayload struct {
	Env   string `json:"env"`
	Sub   string `json:"sub"`
	Exp   int64  `json:"exp"`
	Nonce string `json:"n"`
}

// NewWidgetTokens derives the signing key from the deployment's secrets key
// (as the console derives its session key, with another label). Without
// one (tests), the key is random: tokens then last as long as the process.
// now nil means time.Now.
func NewWidgetTokens(secretsKey []byte, now func() time.Time) *WidgetTokens {
	if now == nil {
		now = time.Now
	}
	key := make([]byte, 32)
	if len(secretsKey) == 0 {
		_, _ = rand.Read(key)
	} else {
		m := hmac.New(sha256.New, secretsKey)
		m.Write([]byte("callconnect widget token key v1"))
		key = m.Sum(nil)
	}
	return &WidgetTokens{key: key, now: now}
}

// Mint makes a token for user in env, good for ttl (clamped to
// MaxWidgetTokenTTL; DefaultWidgetTokenTTL when not positive). The expiry
// is whole seconds, as the token carries it.
func (w *WidgetTokens) Mint(env, user string, ttl time.Duration) (token string, expires time.Time) {
	if ttl <= 0 {
		ttl = DefaultWidgetTokenTTL
	}
	ttl = min(ttl, MaxWidgetTokenTTL)
	expires = w.now().Add(ttl).Truncate(time.Second)
	nonce := make([]byte, 9)
	_, _ = rand.Read(nonce)
	body, _ := json.Marshal(widgetPayload{Env: env, Sub: user, Exp: expires.Unix(), Nonce: base64.RawURLEncoding.EncodeToString(nonce)})
	signed := widgetTokenPrefix + base64.RawURLEncoding.EncodeToString(body)
	return signed + "." + base64.RawURLEncoding.EncodeToString(w.mac(signed)), expires
}

// LooksLikeWidgetToken tells a widget token from any other bearer token by
// its form alone (nothing is verified).
func LooksLikeWidgetToken(token string) bool { return strings.HasPrefix(token, widgetTokenPrefix) }

// Verify checks a token's signature and expiry and returns what it grants.
func (w *WidgetTokens) Verify(token string) (WidgetClaims, bool) {
	if !LooksLikeWidgetToken(token) || len(token) > 1024 {
		return WidgetClaims{}, false
	}
	i := strings.LastIndexByte(token, '.')
	signed, sig := token[:i], token[i+1:]
	// Strict: one token has one spelling, so that no other string passes for it.
	got, err := base64.RawURLEncoding.Strict().DecodeString(sig)
	if err != nil || !hmac.Equal(got, w.mac(signed)) {
		return WidgetClaims{}, false
	}
	body, err := base64.RawURLEncoding.Strict().DecodeString(strings.TrimPrefix(signed, widgetTokenPrefix))
	if err != nil {
		return WidgetClaims{}, false
	}
	var p widgetPayload
	if err := json.Unmarshal(body, &p); err != nil || p.Env == "" || p.Sub == "" {
		return WidgetClaims{}, false
	}
	expires := time.Unix(p.Exp, 0)
	if !w.now().Before(expires) {
		return WidgetClaims{}, false
	}
	return WidgetClaims{Env: p.Env, User: p.Sub, Expires: expires}, true
}

func (w *WidgetTokens) mac(signed string) []byte {
	m := hmac.New(sha256.New, w.key)
	m.Write([]byte(signed))
	return m.Sum(nil)
}

// WidgetTokenRequest is the body of POST /v1/environments/{env}/widget-tokens.
type WidgetTokenRequest struct {
	UserID     string `json:"user_id" pattern:"^[A-Za-z0-9._~-]{1,64}$" doc:"The user the page is shown to: the token acts as this user and no other." example:"6065"`
	TTLSeconds int    `json:"ttl_seconds,omitempty" minimum:"1" maximum:"900" doc:"How long the token lasts, in seconds: at most 900 (15 minutes). Absent means 300." example:"300"`
}

// WidgetToken is a minted token.
type WidgetToken struct {
	Token     string    `json:"token" doc:"Give it to <call-connect-button token=\"…\">. It is accepted only by the call button of a lead for this user, placing a call as this user, reading the calls it placed and the events stream of this user's calls; never by any other operation." example:"ccw1.eyJlbnYiOiJhY21lIiwic3ViIjoiNjA2NSIsImV4cCI6MTc2NDI0NTYwMCwibiI6IkFBQUFBQUFBQUFBQSJ9.c2lnbmF0dXJl"`
	ExpiresAt time.Time `json:"expires_at" doc:"When the token stops being accepted; mint a new one before then."`
}

type mintWidgetTokenInput struct {
	EnvPath
	Body WidgetTokenRequest
}

type mintWidgetTokenOutput struct {
	Body WidgetToken
}

// securityWidget is the scheme of the operations a widget token may call.
const securityWidget = "widgetToken"

// widgetOperations are the operations a widget token is accepted by, by
// method and path as registered (widgetRoutes matches requests to them).
var widgetOperations = []struct{ method, path string }{
	{http.MethodGet, "/v1/environments/{env}/leads/{lead_id}/call-button"},
	{http.MethodPost, "/v1/environments/{env}/leads/{lead_id}/calls"},
	{http.MethodGet, "/v1/environments/{env}/calls/{call_id}"},
	{http.MethodGet, "/v1/environments/{env}/events"},
}

func (h *handlers) registerWidget(api huma.API) {
	h.registerWidgetScript(api)
	register(api, h, huma.Operation{
		OperationID:   "mintWidgetToken",
		Method:        http.MethodPost,
		Path:          "/v1/environments/{env}/widget-tokens",
		DefaultStatus: http.StatusCreated,
		Summary:       "Mint a widget token for a user",
		Description: "Mints a short-lived token for <call-connect-button>, the embeddable call button " +
			"(/widget/call-connect-button.js): the CRM's backend mints one for the user a page is shown to and puts it " +
			"in the page. The token acts as that user in that environment only, for at most 15 minutes, and only on the " +
			"call button of a lead (GET …/leads/{lead_id}/call-button with its own user_id), placing a call (POST " +
			"…/leads/{lead_id}/calls; another user_id in the body is 403), reading a call it placed (GET …/calls/{call_id}) " +
			"and the events of its calls (GET …/events, also as ?token= for EventSource). Every other operation refuses " +
			"it with 401. Browsers may send it only from the environment's widget_origins (CORS). It is signed, not " +
			"stored: it cannot be revoked, and ends when it expires.",
		Tags:   []string{tagCallButtons},
		Errors: []int{http.StatusNotFound, http.StatusUnprocessableEntity},
	}, func(ctx context.Context, in *mintWidgetTokenInput) (*mintWidgetTokenOutput, error) {
		if _, err := h.svc.Configuration.GetUser(ctx, in.Env, in.Body.UserID); err != nil {
			return nil, err
		}
		token, expires := h.widgets.Mint(in.Env, in.Body.UserID, time.Duration(in.Body.TTLSeconds)*time.Second)
		return &mintWidgetTokenOutput{Body: WidgetToken{Token: token, ExpiresAt: expires}}, nil
	})

	// The operations a widget token may call say so in the OpenAPI
	// document: either credential will do there.
	doc := api.OpenAPI()
	if doc.Components.SecuritySchemes == nil {
		doc.Components.SecuritySchemes = map[string]*huma.SecurityScheme{}
	}
	doc.Components.SecuritySchemes[securityWidget] = &huma.SecurityScheme{
		Type: "http", Scheme: "bearer",
		Description: "A widget token (POST /v1/environments/{env}/widget-tokens), sent as `Authorization: Bearer <token>`, " +
			"or as `?token=` on the events stream (EventSource cannot send headers). Accepted only by the operations that " +
			"list it, for the token's own user; 401 anywhere else.",
	}
	for _, w := range widgetOperations {
		item := doc.Paths[w.path]
		if item == nil {
			continue // an operation this build does not serve (yet)
		}
		var op *huma.Operation
		switch w.method {
		case http.MethodGet:
			op = item.Get
		case http.MethodPost:
			op = item.Post
		}
		if op != nil {
			op.Security = append(op.Security, map[string][]string{securityWidget: {}})
		}
	}
}
