// Package webhook is the outbound HTTP client that delivers calls to
// partners (ports.PartnerClient): Standard Webhooks signing, W3C trace
// context, connect and total timeouts, bounded answers, and an SSRF guard
// that checks every address after DNS resolution, at dial time.
//
// Redirects are never followed: a 3xx is the partner's answer, and the
// domain judges it permanent. A webhook URL that moves is a configuration
// to fix, not something to chase — following would let a partner (or
// whoever controls its DNS or a proxy in front of it) point the signed
// request at another host, and a 301/302 would turn the POST into a GET
// without the body. The monitor shows the 3xx and its body.
package webhook

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"strconv"
	"strings"
	"syscall"
	"time"

	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/propagation"
	semconv "go.opentelemetry.io/otel/semconv/v1.43.0"
	"go.opentelemetry.io/otel/trace"

	"callconnect/domain"
	"callconnect/ports"
)

// Defaults of Config.
const (
	DefaultConnectTimeout      = 5 * time.Second
	DefaultTimeout             = 15 * time.Second
	DefaultMaxResponseBytes    = 64 << 10
	DefaultMaxIdleConnsPerHost = 100
)

// drainLimit is how much of an answer beyond MaxResponseBytes is read and
// thrown away so that the connection can be reused; past it the connection
// is closed instead.
const drainLimit = 256 << 10

// ErrTimeout is wrapped by PartnerResponse.Err when the partner could not be
// reached or did not answer within the connect or total timeout.
var ErrTimeout = errors.New("partner did not answer in time")

// Config tunes the client. The zero value is usable: every field has a default.
type Config struct {
	// ConnectTimeout bounds resolving the partner's host and connecting to
	// it, and separately the TLS handshake. Default 5 s.
	ConnectTimeout time.Duration
	// Timeout bounds the whole attempt, reading the answer included. Default 15 s.
	Timeout time.Duration
	// UserAgent is sent on every request; default
	// "CallConnect/<Version> (+https://callconnect.dev)".
	UserAgent string
	// Version goes into the default User-Agent; "dev" when empty.
	Version string
	// AllowPrivate lets requests reach loopback, private and link-local
	// addresses (CALLCONNECT_ALLOW_PRIVATE_PARTNER_URLS: development and tests).
	AllowPrivate bool
	// AllowedAddrs may be reached even when internal, those exact
	// addresses and ports alone (CALLCONNECT_ALLOWED_PARTNER_URLS: a partner
	// simulator on loopback, without AllowPrivate's every address).
	AllowedAddrs []netip.AddrPort
	// MaxResponseBytes is how much of an answer's body is kept; the rest is
	// discarded. Default 64 KiB.
	MaxResponseBytes int64
	// MaxIdleConnsPerHost is the keep-alive pool per partner host. Default 100.
	MaxIdleConnsPerHost int
	// TracerProvider, when set, gives every attempt a client span, and the
	// partner's traceparent names that span. Without it the traceparent
	// names the span in the context given to Deliver, if any.
	TracerProvider trace.TracerProvider
	// Propagator writes the trace context into the request; W3C Trace
	// Context (traceparent, tracestate) when nil. Baggage is deliberately
	// not sent by default: it may carry internal data, and partners are
	// third parties.
	Propagator propagation.TextMapPropagator
	// Lookup resolves partner host names; net.DefaultResolver when nil.
	// Tests point names at chosen addresses with it.
	Lookup LookupFunc
	// TLSConfig is the TLS client configuration (a test's root CAs, say);
	// TLS 1.2 or later with the system roots when nil.
	TLSConfig *tls.Config
	// Transport replaces the guarded transport entirely, bypassing the
	// dial-time SSRF guard (the URL check before sending still runs). For
	// tests only.
	Transport http.RoundTripper
}

// Client delivers calls to partners. It is safe for concurrent use and
// keeps connections alive between deliveries; make one per process.
type Client struct {
	http         *http.Client
	transport    *http.Transport // nil when Config.Transport replaced it
	tracer       trace.Tracer    // nil without a TracerProvider
	propagator   propagation.TextMapPropagator
	userAgent    string
	timeout      time.Duration
	maxBody      int64
	allowPrivate bool
	allowed      []netip.AddrPort
}

var _ ports.PartnerClient = (*Client)(nil)

// New builds a client; fields of cfg left zero take their defaults.
func New(cfg Config) *Client {
	cfg = cfg.withDefaults()
	c := &Client{
		propagator:   cfg.Propagator,
		userAgent:    cfg.UserAgent,
		timeout:      cfg.Timeout,
		maxBody:      cfg.MaxResponseBytes,
		allowPrivate: cfg.AllowPrivate,
		allowed:      cfg.AllowedAddrs,
	}
	if cfg.TracerProvider != nil {
		c.tracer = cfg.TracerProvider.Tracer("callconnect/adapters/webhook")
	}
	rt := cfg.Transport
	if rt == nil {
		c.transport = newTransport(cfg)
		rt = c.transport
	}
	c.http = &http.Client{
		Transport: rt,
		CheckRedirect: func(*http.Request, []*http.Request) error {
			return http.ErrUseLastResponse // see the package comment
		},
	}
	return c
}

// withDefaults is cfg with its zero fields given their defaults.
func (cfg Config) withDefaults() Config {
	if cfg.ConnectTimeout <= 0 {
		cfg.ConnectTimeout = DefaultConnectTimeout
	}
	if cfg.Timeout <= 0 {
		cfg.Timeout = DefaultTimeout
	}
	if cfg.Version == "" {
		cfg.Version = "dev"
	}
	if cfg.UserAgent == "" {
		cfg.UserAgent = "CallConnect/" + cfg.Version + " (+https://callconnect.dev)"
	}
	if cfg.MaxResponseBytes <= 0 {
		cfg.MaxResponseBytes = DefaultMaxResponseBytes
	}
	if cfg.MaxIdleConnsPerHost <= 0 {
		cfg.MaxIdleConnsPerHost = DefaultMaxIdleConnsPerHost
	}
	if cfg.Propagator == nil {
		cfg.Propagator = propagation.TraceContext{}
	}
	if cfg.Lookup == nil {
		cfg.Lookup = net.DefaultResolver.LookupNetIP
	}
	return cfg
}

// newTransport is the transport of the guarded dialer: every connection
// to a partner goes through the address guard, never through a proxy.
func newTransport(cfg Config) *http.Transport {
	tlsConfig := cfg.TLSConfig
	if tlsConfig == nil {
		tlsConfig = &tls.Config{MinVersion: tls.VersionTLS12}
	} else {
		tlsConfig = tlsConfig.Clone()
	}
	return &http.Transport{
		// No proxy, whatever HTTP_PROXY says: a proxy would make the
		// connection, out of the guard's sight.
		Proxy:                  nil,
		DialContext:            newGuardedDialer(cfg.Lookup, cfg.AllowPrivate, cfg.ConnectTimeout, cfg.AllowedAddrs...).DialContext,
		TLSClientConfig:        tlsConfig,
		TLSHandshakeTimeout:    cfg.ConnectTimeout,
		ForceAttemptHTTP2:      true, // needed for h2 with a custom dialer and TLS config
		MaxIdleConns:           0,    // no global cap; per host is what matters with few partners
		MaxIdleConnsPerHost:    cfg.MaxIdleConnsPerHost,
		IdleConnTimeout:        90 * time.Second,
		MaxResponseHeaderBytes: 64 << 10,
		// The answer is kept as the partner sent it, for the monitor.
		DisableCompression: true,
	}
}

// CloseIdleConnections closes the kept-alive connections (at shutdown).
func (c *Client) CloseIdleConnections() { c.http.CloseIdleConnections() }

// Deliver posts req.Body to req.URL, signed, and reports the answer. It never
// returns without a Duration; Err is nil whenever an HTTP answer came back,
// whatever its status. Err wraps ports.ErrBlockedDestination when the URL or
// an address it resolves to is internal (unless AllowPrivate), ErrTimeout
// when the partner was too slow, and the network error otherwise.
func (c *Client) Deliver(ctx context.Context, req ports.PartnerRequest) (resp ports.PartnerResponse) {
	start := time.Now()
	defer func() { resp.Duration = time.Since(start) }()

	u, err := c.checkURL(req.URL)
	if err != nil {
		resp.Err = err
		return resp
	}
	target := u.Scheme + "://" + u.Host // what errors name: the query may carry a token
	signature, err := Sign(req.WebhookID, req.Timestamp, req.Body, req.Secrets)
	if err != nil {
		resp.Err = fmt.Errorf("not sent to %s: %w", target, err)
		return resp
	}

	parent := ctx
	ctx, cancel := context.WithTimeout(ctx, c.timeout)
	defer cancel()
	var span trace.Span
	if c.tracer != nil {
		ctx, span = c.tracer.Start(ctx, http.MethodPost, trace.WithSpanKind(trace.SpanKindClient),
			trace.WithAttributes(semconv.HTTPRequestMethodPost, semconv.ServerAddress(u.Hostname()),
				semconv.ServerPort(port(u)), semconv.URLFull(target+u.EscapedPath())))
		defer func() { endSpan(span, resp) }()
	}

	httpReq, err := http.NewRequestWithContext(ctx, http.MethodPost, u.String(), bytes.NewReader(req.Body))
	if err != nil {
		resp.Err = fmt.Errorf("not sent to %s: %w", target, err)
		return resp
	}
	h := httpReq.Header
	h.Set("Content-Type", "application/json")
	h.Set("User-Agent", c.userAgent)
	h.Set("Webhook-Id", req.WebhookID)
	h.Set("Webhook-Timestamp", strconv.FormatInt(req.Timestamp.Unix(), 10))
	h.Set("Webhook-Signature", signature)
	c.propagator.Inject(ctx, propagation.HeaderCarrier(h))
	resp.RequestHeaders = domain.RedactHeaders(h)
	// A nil Idempotency-Key is not sent, but lets the transport replay the
	// POST when a kept-alive connection turns out dead before any answer:
	// a partner dedupes on webhook-id, so a replay is harmless, and a
	// stale pooled connection should not cost the call a retry.
	h["Idempotency-Key"] = nil

	r, err := c.http.Do(httpReq)
	if err != nil {
		resp.Err = c.describe(parent, ctx, target, err)
		return resp
	}
	defer r.Body.Close()
	resp.StatusCode = r.StatusCode
	resp.RetryAfter = parseRetryAfter(r.Header.Get("Retry-After"), time.Now())
	// An answer cut short by the timeout still is an answer: keep what came.
	resp.Body, _ = io.ReadAll(io.LimitReader(r.Body, c.maxBody))
	_, _ = io.Copy(io.Discard, io.LimitReader(r.Body, drainLimit))
	return resp
}

// checkURL refuses, before anything is sent, a URL that is not absolute
// http(s) or (unless AllowPrivate) whose host is obviously internal; the
// dial-time guard catches names that resolve to internal addresses. All
// such refusals are permanent: they wrap ports.ErrBlockedDestination.
func (c *Client) checkURL(raw string) (*url.URL, error) {
	u, err := url.Parse(raw)
	if err != nil {
		return nil, fmt.Errorf("%w: the partner URL does not parse", ports.ErrBlockedDestination)
	}
	if u.Scheme != "http" && u.Scheme != "https" || u.Host == "" {
		return nil, fmt.Errorf("%w: the partner URL must be absolute http(s)", ports.ErrBlockedDestination)
	}
	if u.User != nil {
		return nil, fmt.Errorf("%w: the partner URL must not carry credentials", ports.ErrBlockedDestination)
	}
	if !c.allowPrivate && domain.IsInternalHost(u.Hostname()) && !allowedURL(u, c.allowed) {
		return nil, fmt.Errorf("%w: the partner URL's host is %s", ports.ErrBlockedDestination, domain.DescribeInternalHost(u.Hostname()))
	}
	return u, nil
}

// describe turns a transport error into one that says what happened and
// still wraps the cause (errors.Is works: ErrBlockedDestination, ErrTimeout,
// syscall.ECONNREFUSED, context.Canceled...). The request URL is left out.
func (c *Client) describe(parent, attempt context.Context, target string, err error) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		err = ue.Err
	}
	var (
		dnsErr   *net.DNSError
		opErr    *net.OpError
		netErr   net.Error
		certErr  *tls.CertificateVerificationError
		authErr  x509.UnknownAuthorityError
		hostErr  x509.HostnameError
		alertErr tls.AlertError
		recErr   tls.RecordHeaderError
	)
	switch {
	case errors.Is(err, ports.ErrBlockedDestination):
		return err
	case errors.Is(parent.Err(), context.Canceled):
		return fmt.Errorf("delivery to %s cancelled: %w", target, err)
	case attempt.Err() != nil: // our Timeout, or an earlier deadline of the caller's
		return fmt.Errorf("%w: no complete answer from %s before the deadline (timeout %s): %w", ErrTimeout, target, c.timeout, err)
	case errors.As(err, &netErr) && netErr.Timeout():
		if errors.As(err, &opErr) && opErr.Op == "dial" {
			return fmt.Errorf("%w: could not connect to %s in time: %w", ErrTimeout, target, err)
		}
		return fmt.Errorf("%w: %s: %w", ErrTimeout, target, err)
	case errors.Is(err, syscall.ECONNREFUSED):
		return fmt.Errorf("connection to %s refused: %w", target, err)
	case errors.As(err, &dnsErr):
		return fmt.Errorf("cannot resolve the host of %s: %w", target, err)
	case errors.As(err, &certErr), errors.As(err, &authErr), errors.As(err, &hostErr),
		errors.As(err, &alertErr), errors.As(err, &recErr):
		return fmt.Errorf("TLS with %s failed: %w", target, err)
	case errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF), errors.Is(err, syscall.ECONNRESET):
		return fmt.Errorf("%s closed the connection without answering: %w", target, err)
	}
	return fmt.Errorf("POST to %s failed: %w", target, err)
}

func endSpan(span trace.Span, resp ports.PartnerResponse) {
	switch {
	case resp.Err != nil:
		span.SetAttributes(semconv.ErrorTypeKey.String(errorType(resp.Err)))
		span.SetStatus(codes.Error, resp.Err.Error())
	case resp.StatusCode >= 400:
		span.SetAttributes(semconv.HTTPResponseStatusCode(resp.StatusCode),
			semconv.ErrorTypeKey.String(strconv.Itoa(resp.StatusCode)))
		span.SetStatus(codes.Error, "")
	default:
		span.SetAttributes(semconv.HTTPResponseStatusCode(resp.StatusCode))
	}
	span.End()
}

func errorType(err error) string {
	switch {
	case errors.Is(err, ports.ErrBlockedDestination):
		return "blocked_destination"
	case errors.Is(err, ErrTimeout):
		return "timeout"
	case errors.Is(err, syscall.ECONNREFUSED):
		return "connection_refused"
	case errors.Is(err, ErrBadSecret):
		return "bad_secret"
	}
	return "_OTHER"
}

func port(u *url.URL) int {
	if p, err := strconv.Atoi(u.Port()); err == nil {
		return p
	}
	if strings.EqualFold(u.Scheme, "https") {
		return 443
	}
	return 80
}
