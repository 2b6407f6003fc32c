// Package httpapi is the HTTP face of Call Connect: the CRM-facing /v1
// operations, the operations endpoints (/healthz, /readyz, /metrics,
// /openapi.json, /docs), the bearer-token check and the one table that turns
// every error into an RFC 9457 problem+json answer.
//
// Operations are huma v2 operations registered on a net/http ServeMux, one
// file per resource; their input and output structs are the OpenAPI contract.
package httpapi

import (
	"context"
	"encoding/json"
	"log/slog"
	"net/http"
	"strings"
	"time"

	"github.com/danielgtaylor/huma/v2"
	"github.com/danielgtaylor/huma/v2/adapters/humago"

	"callconnect/adapters/cvio"
	"callconnect/app"
)

// DefaultMaxBodyBytes bounds a request body when Config.MaxBodyBytes is unset.
const DefaultMaxBodyBytes int64 = 1 << 20

// DefaultMaxCallbackBytes bounds a partner callback's body when
// Config.MaxCallbackBytes is unset: a 50 MiB recording in base64 (4/3 of it)
// plus the JSON around it.
const DefaultMaxCallbackBytes int64 = 72 << 20

// DefaultPartnerRateLimit is how many callbacks a partner token may post per
// minute when Config.PartnerRateLimit is unset.
const DefaultPartnerRateLimit = 600

// DefaultMaxCallbackBytesInFlight bounds the callback bodies one process
// reads at once when Config.MaxCallbackBytesInFlight is unset: fourteen
// bodies of the largest size, or thousands of ordinary ones.
const DefaultMaxCallbackBytesInFlight int64 = 1 << 30

// Config is what the HTTP layer is told by the deployment.
type Config struct {
	// AdminToken is the CRM backend's bearer token for every /v1 call, or
	// several separated by commas, each accepted (ParseAdminTokens), so that
	// one can be replaced without downtime. Empty refuses every /v1
	// request: the API is never left open.
	AdminToken string
	// AdminFailures limits failed admin-token attempts per client address;
	// the console's sign-in may share it, so that guesses on either count
	// together. Nil: a limit of this handler's own, DefaultAdminFailureLimit
	// a minute.
	AdminFailures *FailureLimit
	// TrustedProxies are the proxies whose X-Forwarded-For tells the client's
	// address (the per-address limits count by it); none by default.
	TrustedProxies TrustedProxies
	// MaxBodyBytes bounds request bodies (413 beyond it); 0 means DefaultMaxBodyBytes.
	// The partner callbacks (/api/cvio) have their own bound, MaxCallbackBytes.
	MaxBodyBytes int64
	// MaxCallbackBytes bounds a partner callback's body (413 beyond it); 0
	// means DefaultMaxCallbackBytes.
	MaxCallbackBytes int64
	// MaxCallbackJSONBytes bounds the JSON of a callback outside its
	// recordings, the part of a body held in memory (413 beyond it); 0 means
	// cvio.DefaultMaxCallbackJSON.
	MaxCallbackJSONBytes int64
	// MaxCallbackBytesInFlight bounds the callback bodies the process reads
	// at once, counted by their Content-Length (MaxCallbackBytes for a body
	// of unknown length): a callback that would pass it is answered 503 with
	// Retry-After before its body is read. 0 means
	// DefaultMaxCallbackBytesInFlight; less than MaxCallbackBytes is raised
	// to it, so that a body of the largest size can always be read alone.
	MaxCallbackBytesInFlight int64
	// PartnerRateLimit is how many callbacks one partner token may post per
	// minute (with a burst of as many); over it they get 429 with
	// Retry-After. Failed authentications are limited per client address
	// at the same rate. 0 means DefaultPartnerRateLimit.
	PartnerRateLimit int
	// PublicURL is where clients reach the service (the OpenAPI servers entry),
	// e.g. https://callconnect.example.com. Empty means http://127.0.0.1:8080.
	PublicURL string
	// Version is the service version shown in the OpenAPI document.
	Version string
	// Logger receives internal errors (never shown to clients). Nil means slog.Default().
	Logger *slog.Logger
	// Now tells the time to the rate limits; nil means time.Now.
	Now func() time.Time
	// WidgetTokens mints and checks the call button element's tokens; give
	// every replica one made from the same secrets key. Nil: a key of this
	// handler's own.
	WidgetTokens *WidgetTokens
}

// Services are the use cases the operations expose.
type Services = app.Services

// Ops are the operational hooks.
type Ops struct {
	// Ready reports whether the service can serve: database reachable,
	// migrations current. Nil counts as ready.
	Ready func(ctx context.Context) error
	// Metrics serves GET /metrics (Prometheus text format). Nil answers 404.
	Metrics http.Handler
	// Middleware wraps the whole handler, first element outermost (telemetry:
	// tracing, HTTP metrics, access logs). They see every request, including
	// refused ones.
	Middleware []func(http.Handler) http.Handler
	// Console serves the operator console: every path under /console/ is
	// handed to it as it is (it answers its own errors, as HTML pages). Nil
	// serves no console.
	Console http.Handler
	// Demo serves the pretend CRM of `callconnect demo` under /demo/. Nil
	// (every deployment) serves none.
	Demo http.Handler
	// Stopping, when not nil, is closed as the server shuts down: the open
	// event streams end then (their clients reconnect, to another
	// instance) instead of holding the shutdown up.
	Stopping <-chan struct{}
}

const (
	defaultPublicURL = "http://127.0.0.1:8080"
	apiTitle         = "Call Connect"
)

// New builds the service's HTTP handler.
func New(cfg Config, svc Services, ops Ops) http.Handler {
	cfg = cfg.withDefaults()
	tokens := ParseAdminTokens(cfg.AdminToken)
	if len(tokens.Tokens()) == 0 {
		cfg.Logger.Warn("no admin token configured: every /v1 request will be refused with 401")
	}
	mux := http.NewServeMux()
	newAPI(mux, cfg, svc, ops)
	registerRawOps(mux, ops)

	var h http.Handler = routeProblems(mux)
	widgets := &widgetGate{tokens: cfg.WidgetTokens, svc: svc, logger: cfg.Logger}
	h = widgets.wrap(h, requireBearer(tokens, cfg.AdminFailures, h))
	// The callbacks bound their bodies themselves (MaxCallbackBytes), after
	// authenticating the partner, so that a refusal is kept in the monitor.
	h = limitBody(cfg.MaxBodyBytes, h, callbackPrefix)
	h = recoverPanics(cfg.Logger, h)
	for i := len(ops.Middleware) - 1; i >= 0; i-- {
		h = ops.Middleware[i](h)
	}
	return h
}

// OpenAPI returns the OpenAPI 3.1 document the service serves at
// /openapi.json, built without any service behind it (for the `openapi`
// subcommand and the linter).
func OpenAPI(cfg Config) ([]byte, error) {
	cfg = cfg.withDefaults()
	api := newAPI(http.NewServeMux(), cfg, Services{}, Ops{})
	return json.MarshalIndent(api.OpenAPI(), "", "  ")
}

func (c Config) withDefaults() Config {
	if c.MaxBodyBytes <= 0 {
		c.MaxBodyBytes = DefaultMaxBodyBytes
	}
	if c.MaxCallbackBytes <= 0 {
		c.MaxCallbackBytes = DefaultMaxCallbackBytes
	}
	if c.PartnerRateLimit <= 0 {
		c.PartnerRateLimit = DefaultPartnerRateLimit
	}
	if c.MaxCallbackJSONBytes <= 0 {
		c.MaxCallbackJSONBytes = cvio.DefaultMaxCallbackJSON
	}
	if c.MaxCallbackBytesInFlight <= 0 {
		c.MaxCallbackBytesInFlight = DefaultMaxCallbackBytesInFlight
	}
	c.MaxCallbackBytesInFlight = max(c.MaxCallbackBytesInFlight, c.MaxCallbackBytes)
	if c.Now == nil {
		c.Now = time.Now
	}
	if c.WidgetTokens == nil {
		c.WidgetTokens = NewWidgetTokens(nil, c.Now)
	}
	if c.AdminFailures == nil {
		c.AdminFailures = NewFailureLimit(DefaultAdminFailureLimit, c.TrustedProxies, c.Now)
	}
	c.PublicURL = strings.TrimRight(c.PublicURL, "/")
	if c.PublicURL == "" {
		c.PublicURL = defaultPublicURL
	}
	if c.Version == "" {
		c.Version = "dev"
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	return c
}

// newAPI builds the huma API on mux and registers every operation.
func newAPI(mux *http.ServeMux, cfg Config, svc Services, ops Ops) huma.API {
	installProblems()
	api := humago.New(mux, humaConfig(cfg))
	h := newHandlers(mux, cfg, svc, ops)
	h.registerOps(api)
	h.registerEnvironments(api)
	h.registerUsers(api)
	h.registerLeads(api)
	h.registerTelephony(api)
	h.registerCallButtons(api)
	h.registerCalls(api)
	h.registerCallList(api)
	h.registerPartnerTokens(api)
	h.registerMonitor(api)
	h.registerEvents(api)
	h.registerEventSubscriptions(api)
	h.registerRecordings(api)
	h.registerCallbacks(api)
	registerPartnerWebhook(api)
	// Last: it marks the operations registered above that take widget tokens.
	h.registerWidget(api)
	return api
}

// humaConfig is the OpenAPI document's frame: info, servers, tags and
// security schemes.
func humaConfig(cfg Config) huma.Config {
	hc := huma.DefaultConfig(apiTitle, cfg.Version)
	// No CDN docs page (ours is vendored, see docs.go), no /schemas route and
	// no $schema links in bodies: the OpenAPI document is the one contract.
	hc.DocsPath = ""
	hc.SchemasPath = ""
	hc.CreateHooks = nil
	hc.OpenAPIPath = "/openapi"
	hc.Info.Description = apiDescription
	hc.Info.Contact = &huma.Contact{Name: "Call Connect maintainers", URL: cfg.PublicURL + "/docs"}
	hc.Info.License = &huma.License{Name: "Proprietary", Identifier: "LicenseRef-Proprietary"}
	hc.Servers = []*huma.Server{{URL: cfg.PublicURL, Description: "This deployment"}}
	hc.Tags = apiTags()
	hc.Components.SecuritySchemes = securitySchemes()
	return hc
}

// apiTags are the document's tags, in the order the documentation shows
// them.
func apiTags() []*huma.Tag {
	return []*huma.Tag{
		{Name: tagEnvironments, Description: "Customer environments (tenants) and their Call Connect support switch."},
		{Name: tagUsers, Description: "The people (managers, brokers, agencies and agency users) who may press the call button."},
		{Name: tagLeads, Description: "Prospects and their owners."},
		{Name: tagTelephony, Description: "Telephony integrations of an environment: Call Connect (partner URL, dial mode, signing secret) and the others, which only have an active flag."},
		{Name: tagCallButtons, Description: "Whether the call button (Ligar) is shown and enabled for a user on a lead, with the reason when it is not."},
		{Name: tagCalls, Description: "Calls placed with the call button (Ligar): their delivery to the partner, with every attempt, and their result."},
		{Name: tagPartnerTokens, Description: "The tokens partners authenticate their callbacks with (headers `email` and `token`); a token identifies its environment and is shown once."},
		{Name: tagCallbacks, Description: "What partners post back (/api/cvio, Portuguese names as the partner contract has them): tasks, lead updates and call results with their recordings, which land on the lead's history."},
		{Name: tagRecordings, Description: "Call recordings partners sent, served with their content type, an ETag and HTTP Range support."},
		{Name: tagEvents, Description: "Each environment's events (calls placed, delivered, settled; interactions added), in the order they committed, kept 30 days: as JSON pages or followed as server-sent events."},
		{Name: tagEventSubscriptions, Description: "CRM endpoints the environment's events are pushed to as signed webhooks, in the feed's order, retried for 3 days; each subscription's deliveries with their attempts."},
		{Name: tagMonitor, Description: "Every exchange with partners (deliveries out, callbacks in, refused ones too) for 30 days, secrets redacted: what operators look at when a call did not arrive."},
		{Name: tagOperations, Description: "Health, readiness and metrics for operators and orchestrators. Public."},
	}
}

// securitySchemes are the admin token and the partner token's two headers.
func securitySchemes() map[string]*huma.SecurityScheme {
	return map[string]*huma.SecurityScheme{
		securityBearer: {
			Type: "http", Scheme: "bearer",
			Description: "The CRM backend's admin token (`CALLCONNECT_ADMIN_TOKEN`, which may list several, all accepted, so that one can be replaced without downtime), sent as `Authorization: Bearer <token>` on every /v1 call. Failed attempts from one client address are limited (429 with `Retry-After`); a valid token always passes.",
		},
		securityPartnerEmail: {
			Type: "apiKey", In: "header", Name: "email",
			Description: "Partner-facing /api/cvio calls: the e-mail the partner token was registered for. Always sent together with the `token` header.",
		},
		securityPartnerToken: {
			Type: "apiKey", In: "header", Name: "token",
			Description: "Partner-facing /api/cvio calls: the partner token, which also identifies the environment. Always sent together with the `email` header.",
		},
	}
}

// newHandlers holds the services and the limits cfg sets.
func newHandlers(mux *http.ServeMux, cfg Config, svc Services, ops Ops) *handlers {
	return &handlers{svc: svc, ops: ops, maxBody: cfg.MaxBodyBytes, maxCallback: cfg.MaxCallbackBytes,
		maxCallbackJSON: cfg.MaxCallbackJSONBytes, logger: cfg.Logger, mux: mux,
		tokenLimit:      newRateLimiter(cfg.PartnerRateLimit, time.Minute, cfg.Now),
		partnerFailures: NewFailureLimit(cfg.PartnerRateLimit, cfg.TrustedProxies, cfg.Now),
		bodies:          newConcurrencyLimit(maxBodiesPerToken), inFlight: newByteBudget(cfg.MaxCallbackBytesInFlight),
		widgets: cfg.WidgetTokens}
}

// handlers holds what the operations call.
type handlers struct {
	svc         Services
	ops         Ops
	maxBody     int64
	maxCallback int64
	// maxCallbackJSON bounds a callback's JSON outside its recordings.
	maxCallbackJSON int64
	logger          *slog.Logger
	// mux takes the operations huma does not serve (callbacks, recordings):
	// they are documented through huma and served as plain handlers.
	mux *http.ServeMux
	// tokenLimit bounds callbacks per partner token.
	tokenLimit *rateLimiter
	// partnerFailures bounds failed partner authentications per client
	// address.
	partnerFailures *FailureLimit
	// bodies bounds the callback bodies one token may be sending at once,
	// so slow uploads cannot hold spools and connections without end.
	bodies *concurrencyLimit
	// inFlight bounds the callback bodies the whole process reads at once.
	inFlight *byteBudget
	// widgets mints the call button element's tokens.
	widgets *WidgetTokens
}

const (
	tagEnvironments  = "Environments"
	tagUsers         = "Users"
	tagLeads         = "Leads"
	tagTelephony     = "Telephony"
	tagCallButtons   = "Call buttons"
	tagCalls         = "Calls"
	tagOperations    = "Operations"
	tagPartnerTokens = "Partner tokens"
	tagCallbacks     = "Partner callbacks"
	tagRecordings    = "Recordings"
	tagMonitor       = "Integration monitor"
	tagEvents        = "Events"

	securityBearer       = "bearer"
	securityPartnerEmail = "partnerEmail"
	securityPartnerToken = "partnerToken"
)

// v1Security is applied to every /v1 operation. The partner schemes (email +
// token, both required together) belong to the /api/cvio operations.
var v1Security = []map[string][]string{{securityBearer: {}}}

// partnerSecurity is applied to every /api/cvio operation: both headers together.
var partnerSecurity = []map[string][]string{{securityPartnerEmail: {}, securityPartnerToken: {}}}

// publicSecurity marks an operation that needs no credentials.
var publicSecurity = []map[string][]string{{}}

const apiDescription = `Call Connect lets a real-estate CRM place calls through a partner telephony
system: the CRM backend keeps environments, users, leads and the telephony integration here (/v1,
bearer token), asks whether the call button is shown and enabled, and places calls, which Call Connect
delivers to the partner as signed, retried requests; partners post results back (/api/cvio, e-mail +
token headers).

## Errors

Every error is an RFC 9457 problem (` + "`application/problem+json`" + `) with these members:

- ` + "`type`" + `: ` + "`" + problemTypeBase + "<code>`" + `, a stable identifier (not necessarily a page to fetch);
- ` + "`title`" + `: a short summary that does not change between occurrences of the same code;
- ` + "`status`" + `: the HTTP status;
- ` + "`detail`" + `: what went wrong this time, for humans;
- ` + "`code`" + `: the stable machine-readable code clients switch on;
- ` + "`errors`" + `: ` + "`[{location, message, value}]`" + `, naming the failing input as ` + "`body.<field>`" + `,
  ` + "`path.<param>`" + `, ` + "`query.<param>`" + ` or ` + "`header.<name>`" + ` (empty when no single input is at fault).

| status | codes |
|---|---|
| 400 | ` + "`bad_request`" + ` (/v1: the body is not JSON; any request: a body that could not be read whole), ` + "`malformed_json`" + ` (a partner callback whose body is not JSON, whatever its Content-Type) |
| 401 | ` + "`unauthorized`" + ` (/v1: missing or wrong bearer token, with ` + "`WWW-Authenticate: Bearer`" + `; /api/cvio: missing, wrong or revoked ` + "`email`" + ` + ` + "`token`" + `) |
| 403 | ` + "`permission_denied`" + `, ` + "`feature_not_enabled`" + `, ` + "`not_owner`" + ` (placing a call: the call button's reason) |
| 404 | ` + "`not_found`" + ` (no such route), ` + "`environment_not_found`" + `, ` + "`user_not_found`" + `, ` + "`lead_not_found`" + `, ` + "`integration_not_found`" + `, ` + "`call_not_found`" + `, ` + "`partner_token_not_found`" + `, ` + "`recording_not_found`" + `, ` + "`exchange_not_found`" + ` |
| 405 | ` + "`method_not_allowed`" + ` |
| 409 | ` + "`integration_active_elsewhere`" + `, ` + "`integration_incomplete`" + `, ` + "`integration_inactive`" + `, ` + "`missing_phone`" + `, ` + "`missing_extension`" + ` (placing a call: the call button's reason), ` + "`invalid_call_transition`" + ` (e.g. redelivering a call that is not undeliverable), ` + "`idempotency_key_reused`" + `, ` + "`lead_ambiguous`" + ` (callbacks), ` + "`idempotency_key_in_use`" + ` (/v1: a request with the same ` + "`Idempotency-Key`" + ` is still running; with ` + "`Retry-After`" + `) |
| 413 | ` + "`body_too_large`" + ` (a body over its limit; for a partner callback also its JSON outside the recordings over ` + "`CALLCONNECT_MAX_CALLBACK_JSON_BYTES`" + `, 1 MiB by default), ` + "`audio_too_large`" + ` (a recording over its limit) |
| 415 | ` + "`unsupported_media_type`" + ` (/v1 only: the partner callbacks take any Content-Type), ` + "`unsupported_audio`" + ` (a recording that is not MP3, WAV, Ogg, M4A or WebM) |
| 416 | ` + "`range_not_satisfiable`" + ` (recordings) |
| 422 | ` + "`validation_failed`" + ` (the request does not match the schema: type, enum, pattern, required, unknown property), ` + "`invalid_field`" + ` (the value fits the schema but breaks a rule: phone, time zone, partner URL…), ` + "`actor_not_found`" + `, ` + "`too_many_leads`" + `, ` + "`lead_not_identified`" + ` (a callback naming no call and no lead), ` + "`idempotency_key_reused`" + ` (/v1: the ` + "`Idempotency-Key`" + ` was used for another request) |
| 429 | ` + "`too_many_requests`" + ` (callbacks over a partner token's rate, or too many failed authentications, with a partner token or the admin token, from one client address (an IPv6 /64); with ` + "`Retry-After`" + `. Valid credentials are never refused by an address's limit) |
| 500 | ` + "`internal`" + ` (details are logged, never returned) |
| 503 | ` + "`not_ready`" + `, ` + "`server_busy`" + ` (a partner callback while the service reads as many callback bodies as ` + "`CALLCONNECT_MAX_CALLBACK_BYTES_IN_FLIGHT`" + ` allows; with ` + "`Retry-After`" + `) |

## Conventions

` + "`PUT`" + ` replaces the whole resource: an optional field left out of the body becomes empty. Unknown body
properties are refused (by /v1; the partner callbacks ignore them, as the partner contract asks). Ids (` + "`env`" + `, ` + "`user_id`" + `, ` + "`lead_id`" + `…) are 1 to 64 URL-safe characters chosen by the CRM.
Timestamps are RFC 3339. Every /v1 ` + "`POST`" + ` takes an optional ` + "`Idempotency-Key`" + ` header that makes it safe to
repeat (a retry, a double click): the same request with the key gets the first successful answer again, byte for byte,
and nothing is done twice (see the header on each operation).`
