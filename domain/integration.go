package domain

import (
	"net/netip"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// ProviderCallConnect is the provider slug of this integration. Any other slug
// names another telephony integration of the environment, which only has an
// active flag (it exists so that rule 1 can bite).
const ProviderCallConnect = "call-connect"

// DialMode is how the partner dials: by the user's phone or by their PBX
// extension, never both (rule 2). It is one value, so "both" cannot be stated.
type DialMode string

const (
	DialByPhone     DialMode = "phone"
	DialByExtension DialMode = "extension"
)

// ParseDialMode checks a dial mode name.
func ParseDialMode(s string) (DialMode, error) {
	switch DialMode(s) {
	case DialByPhone, DialByExtension:
		return DialMode(s), nil
	}
	return "", invalid("dial_mode", "must be phone or extension")
}

// Wire returns the partner-facing (Portuguese) name: telefone or ramal.
func (m DialMode) Wire() string {
	if m == DialByExtension {
		return "ramal"
	}
	return "telefone"
}

// URLPolicy says which partner URLs a deployment accepts (rule 3).
type URLPolicy struct {
	AllowHTTP    bool // plain http is accepted (development only)
	AllowPrivate bool // loopback, private and link-local targets are accepted (development and tests only)
	// AllowedOrigins are origins (ParseAllowedPartnerOrigin) whose URLs are
	// accepted even over plain http or at a private address, those alone:
	// a partner simulator on this machine, without opening every address.
	AllowedOrigins []string
}

// ParsePartnerURL validates the URL Call Connect posts calls to: absolute,
// http(s) (https unless the policy allows http), with a host, without
// credentials or fragment, and not aimed at a loopback, private, link-local or
// otherwise internal address unless the policy allows it. Names are checked
// as written; the delivery client checks the resolved addresses again.
func ParsePartnerURL(raw string, p URLPolicy) (string, error) {
	return parseWebhookURL("partner_url", raw, p)
}

// ParseSubscriptionURL validates the URL an event subscription's events are
// posted to, by the rules of the partner URL (ParsePartnerURL): it is
// dialled by the same client, so the same addresses are out of bounds.
// Errors name field.
func ParseSubscriptionURL(field, raw string, p URLPolicy) (string, error) {
	return parseWebhookURL(field, raw, p)
}

// parseWebhookURL is ParsePartnerURL's check for any URL Call Connect posts
// to, its errors naming field.
func parseWebhookURL(field, raw string, p URLPolicy) (string, error) {
	if raw == "" {
		return "", invalid(field, "is required")
	}
	if len(raw) > 2048 {
		return "", invalid(field, "must be at most 2048 bytes")
	}
	u, err := url.Parse(raw)
	if err != nil || !u.IsAbs() || u.Host == "" || u.Opaque != "" {
		return "", invalid(field, "must be an absolute http(s) URL")
	}
	allowed := p.allows(u)
	switch u.Scheme {
	case "https":
	case "http":
		if !p.AllowHTTP && !allowed {
			return "", invalid(field, "must use https")
		}
	default:
		return "", invalid(field, "must be an absolute http(s) URL")
	}
	if u.User != nil {
		return "", invalid(field, "must not carry credentials")
	}
	if u.Fragment != "" {
		return "", invalid(field, "must not have a fragment")
	}
	// An IPv6 zone ("[fe80::1%25eth0]") names an interface of this machine:
	// no partner is reached through one, and one the address parser does not
	// take would slip past the check below.
	if strings.Contains(u.Host, "%") {
		return "", invalid(field, "must not carry an IPv6 zone or a percent-encoded host")
	}
	if !p.AllowPrivate && !allowed && IsInternalHost(u.Hostname()) {
		return "", invalid(field, "must not point at %s", DescribeInternalHost(u.Hostname()))
	}
	// What is stored is dialled later as written: it must read back the same.
	out := u.String()
	if again, err := url.Parse(out); err != nil || again.String() != out {
		return "", invalid(field, "must read back as written once normalised; send it percent-encoded")
	}
	return out, nil
}

// IsInternalHost reports whether host (a name or an IP literal) obviously
// names a machine that is not on the public internet: an internal name, or
// an address IsInternalAddr refuses.
func IsInternalHost(host string) bool {
	h := strings.TrimSuffix(strings.ToLower(host), ".")
	if h == "localhost" || strings.HasSuffix(h, ".localhost") || strings.HasSuffix(h, ".internal") ||
		strings.HasSuffix(h, ".local") || h == "metadata" || !strings.Contains(h, ".") && !strings.Contains(h, ":") {
		return true
	}
	if addr, err := netip.ParseAddr(strings.Trim(h, "[]")); err == nil {
		return IsInternalAddr(addr)
	}
	// A name whose last label is a number is an IPv4 address in a form netip
	// refuses but resolvers accept ("127.1", "0x7f.0.0.1", "127.0.0.01",
	// octal and hex parts all reach 127.0.0.1 through getaddrinfo). No public
	// top-level domain is numeric, so such a host is refused rather than guessed at.
	return endsInNumber(h)
}

// DescribeInternalHost says, for an error, what an internal host is: the
// block of the address table for an IP literal ("127.0.0.1 (loopback)"),
// or the name and that it is internal.
func DescribeInternalHost(host string) string {
	if addr, err := netip.ParseAddr(strings.Trim(host, "[]")); err == nil {
		return addr.String() + " (" + DescribeAddr(addr) + "), an address no partner is reached at"
	}
	return strconv.Quote(host) + ", a loopback, private, link-local or otherwise internal name"
}

// endsInNumber reports whether the last dot-separated label of h is decimal
// digits or a 0x hexadecimal number, as the WHATWG URL host parser defines it.
func endsInNumber(h string) bool {
	last := h[strings.LastIndexByte(h, '.')+1:]
	if last == "" {
		return false
	}
	if rest, ok := strings.CutPrefix(last, "0x"); ok {
		for i := 0; i < len(rest); i++ {
			if c := rest[i]; !(c >= '0' && c <= '9' || c >= 'a' && c <= 'f') {
				return false
			}
		}
		return true
	}
	for i := 0; i < len(last); i++ {
		if last[i] < '0' || last[i] > '9' {
			return false
		}
	}
	return true
}

// SigningSecret is a key Call Connect signs partner requests with (Standard
// Webhooks: "whsec_" + base64 of the key bytes).
type SigningSecret struct {
	Value     string     // whsec_…
	ExpiresAt *time.Time // nil for the current secret; set on a rotated-out one
}

// PreviousSecretGrace is how long a rotated-out secret keeps signing, so that
// partners can switch without missing a request.
const PreviousSecretGrace = 24 * time.Hour

// Integration is one telephony integration of an environment. For
// ProviderCallConnect it carries the partner URL, the dial mode and the
// signing secrets; other providers only have the active flag.
type Integration struct {
	envID      string
	provider   string
	active     bool
	partnerURL string
	dialMode   DialMode
	secrets    []SigningSecret // current first, then rotated-out ones still in their grace period
}

// ValidProvider checks a provider slug: lowercase letters, digits and dashes.
func ValidProvider(s string) bool {
	if s == "" || len(s) > 64 || s[0] == '-' {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-') {
			return false
		}
	}
	return true
}

// IntegrationSettings is what a PUT of an integration carries.
type IntegrationSettings struct {
	PartnerURL string // call-connect only
	DialMode   string // call-connect only
}

// NewIntegration builds an inactive integration. For call-connect, settings
// are validated (rules 2 and 3) and secret becomes its first signing secret.
func NewIntegration(envID, provider string, s IntegrationSettings, policy URLPolicy, secret string) (Integration, error) {
	if err := checkID("env", envID); err != nil {
		return Integration{}, err
	}
	if !ValidProvider(provider) {
		return Integration{}, invalid("provider", "must be lowercase letters, digits and dashes")
	}
	in := Integration{envID: envID, provider: provider}
	if provider != ProviderCallConnect {
		if s.PartnerURL != "" || s.DialMode != "" {
			return Integration{}, invalid("partner_url", "only the call-connect integration has a partner URL and dial mode")
		}
		return in, nil
	}
	if err := in.Configure(s, policy); err != nil {
		return Integration{}, err
	}
	if !strings.HasPrefix(secret, "whsec_") {
		return Integration{}, invalid("signing_secret", "must start with whsec_")
	}
	in.secrets = []SigningSecret{{Value: secret}}
	return in, nil
}

// Configure replaces the partner URL and dial mode of a call-connect
// integration. Both are required: an integration that could not dial is not
// stored.
func (i *Integration) Configure(s IntegrationSettings, policy URLPolicy) error {
	if i.provider != ProviderCallConnect {
		if s.PartnerURL != "" || s.DialMode != "" {
			return invalid("partner_url", "only the call-connect integration has a partner URL and dial mode")
		}
		return nil
	}
	// The URL as views show it (ShownPartnerURL), sent back whole or edited
	// by a form or a client that read it: its secrets are the stored ones.
	raw, err := restoreRedacted("partner_url", s.PartnerURL, i.partnerURL)
	if err != nil {
		return err
	}
	u, err := ParsePartnerURL(raw, policy)
	if err != nil {
		return err
	}
	m, err := ParseDialMode(s.DialMode)
	if err != nil {
		return err
	}
	i.partnerURL, i.dialMode = u, m
	return nil
}

// restoreRedacted gives each secret query parameter of submitted whose
// value reads Redacted the value the parameter of that name (the first of
// that name for the first, and so on) has in stored: a URL shown redacted
// and sent back, edited or not, keeps its secrets. A redacted parameter the
// stored URL lacks is refused (an error on field): there is no value to
// keep.
func restoreRedacted(field, submitted, stored string) (string, error) {
	base, query, ok := strings.Cut(submitted, "?")
	if !ok || !strings.Contains(query, Redacted) {
		return submitted, nil
	}
	storedValues := map[string][]string{}
	if _, sq, ok := strings.Cut(stored, "?"); ok {
		for _, pair := range strings.FieldsFunc(sq, func(r rune) bool { return r == '&' || r == ';' }) {
			if name, value, ok := strings.Cut(pair, "="); ok {
				n := queryName(name)
				storedValues[n] = append(storedValues[n], value)
			}
		}
	}
	seen := map[string]int{}
	var b strings.Builder
	b.WriteString(base + "?")
	start := 0
	for i := 0; i <= len(query); i++ {
		if i < len(query) && query[i] != '&' && query[i] != ';' {
			continue
		}
		pair := query[start:i]
		if name, value, ok := strings.Cut(pair, "="); ok && SecretName(queryName(name)) {
			n := queryName(name)
			k := seen[n]
			seen[n]++
			if value == Redacted {
				if k >= len(storedValues[n]) {
					return "", invalid(field, "query parameter %q reads %s and the stored URL has no value to keep for it: send its value", n, Redacted)
				}
				pair = name + "=" + storedValues[n][k]
			}
		}
		b.WriteString(pair)
		if i < len(query) {
			b.WriteByte(query[i])
		}
		start = i + 1
	}
	return b.String(), nil
}

// queryName is a query parameter's name decoded (as written when it does not decode).
func queryName(name string) string {
	if n, err := url.QueryUnescape(name); err == nil {
		return n
	}
	return name
}

// RestoreIntegration rebuilds an integration from storage. Storage holds only
// values that passed NewIntegration, so nothing is validated again (the
// partner URL policy of the day may differ from the one it was stored under).
func RestoreIntegration(envID, provider string, active bool, partnerURL string, mode DialMode, secrets []SigningSecret) Integration {
	return Integration{envID: envID, provider: provider, active: active, partnerURL: partnerURL, dialMode: mode,
		secrets: append([]SigningSecret(nil), secrets...)}
}

func (i Integration) EnvID() string       { return i.envID }
func (i Integration) Provider() string    { return i.provider }
func (i Integration) Active() bool        { return i.active }
func (i Integration) PartnerURL() string  { return i.partnerURL }
func (i Integration) DialMode() DialMode  { return i.dialMode }
func (i Integration) IsCallConnect() bool { return i.provider == ProviderCallConnect }

// ShownPartnerURL is the partner URL as the API, the console and the
// monitor show it: the values of its secret query parameters redacted
// (RedactURL). Calls are delivered to PartnerURL. Configuring the shown URL
// back leaves the URL as it is.
func (i Integration) ShownPartnerURL() string { return RedactURL(i.partnerURL) }

// Secrets returns the signing secrets, current first.
func (i Integration) Secrets() []SigningSecret { return append([]SigningSecret(nil), i.secrets...) }

// SigningSecrets returns the secrets that sign at now: the current one and
// any rotated-out one whose grace period has not ended.
func (i Integration) SigningSecrets(now time.Time) []string { return signingSecrets(i.secrets, now) }

// RotateSecret makes next the current secret; the previous current one keeps
// signing for PreviousSecretGrace, and secrets already past their grace are dropped.
func (i *Integration) RotateSecret(next string, now time.Time) error {
	if i.provider != ProviderCallConnect {
		return &Error{Kind: KindInvalid, Code: CodeInvalidField, Field: "provider", Message: "only the call-connect integration has a signing secret"}
	}
	if !strings.HasPrefix(next, "whsec_") {
		return invalid("signing_secret", "must start with whsec_")
	}
	i.secrets = rotateSecrets(i.secrets, next, now)
	return nil
}

// rotateSecrets returns secrets with next as the current one: the previous
// current one keeps signing for PreviousSecretGrace, and those already past
// their grace are dropped.
func rotateSecrets(secrets []SigningSecret, next string, now time.Time) []SigningSecret {
	kept := []SigningSecret{{Value: next}}
	for _, s := range secrets {
		switch {
		case s.ExpiresAt == nil:
			exp := now.Add(PreviousSecretGrace)
			kept = append(kept, SigningSecret{Value: s.Value, ExpiresAt: &exp})
		case now.Before(*s.ExpiresAt):
			kept = append(kept, s)
		}
	}
	return kept
}

// signingSecrets returns those of secrets that sign at now: the current one
// and any rotated-out one whose grace period has not ended.
func signingSecrets(secrets []SigningSecret, now time.Time) []string {
	var out []string
	for _, s := range secrets {
		if s.ExpiresAt == nil || now.Before(*s.ExpiresAt) {
			out = append(out, s.Value)
		}
	}
	return out
}

// Activate turns the integration on, enforcing rule 1 (no other telephony
// integration of the environment is active) and rule 3 (call-connect needs a
// partner URL and dial mode). others are the environment's other integrations.
func (i *Integration) Activate(others []Integration) error {
	for _, o := range others {
		if o.provider != i.provider && o.active {
			return &Error{Kind: KindConflict, Code: CodeIntegrationActiveElsewhere, Field: "provider",
				Message: "the telephony integration " + o.provider + " is active in this environment; deactivate it first"}
		}
	}
	if i.provider == ProviderCallConnect && (i.partnerURL == "" || i.dialMode == "") {
		return &Error{Kind: KindConflict, Code: CodeIntegrationIncomplete, Field: "partner_url",
			Message: "a partner URL and a dial mode are required before activation"}
	}
	i.active = true
	return nil
}

// Deactivate turns the integration off. It is always allowed.
func (i *Integration) Deactivate() { i.active = false }

// CheckManagementAllowed enforces rule 4: the actor manages integrations, and
// for call-connect the feature has been enabled for the environment by support.
func CheckManagementAllowed(env Environment, actor User, provider string) error {
	// A user of another environment holds no permission here, whatever its flag says.
	if !actor.canManageIntegrations || actor.envID != env.id {
		return &Error{Kind: KindForbidden, Code: CodePermissionDenied, Field: "actor_id",
			Message: "the actor lacks the integration-management permission"}
	}
	if provider == ProviderCallConnect && !env.callConnectEnabled {
		return &Error{Kind: KindForbidden, Code: CodeFeatureNotEnabled, Field: "call_connect_enabled",
			Message: "Call Connect has not been enabled for this environment by platform support"}
	}
	return nil
}

// CheckDeactivationAllowed enforces rule 4 for switching an integration off:
// the permission is needed, the support switch is not (turning a feature off
// is always safe, even after support has withdrawn it).
func CheckDeactivationAllowed(actor User) error {
	if !actor.canManageIntegrations {
		return &Error{Kind: KindForbidden, Code: CodePermissionDenied, Field: "actor_id",
			Message: "the actor lacks the integration-management permission"}
	}
	return nil
}
