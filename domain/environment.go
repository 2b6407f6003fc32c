package domain

import (
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"
	_ "time/tzdata" // time zones resolve the same on every machine, with or without system tzdata
)

// DefaultTimeZone is the zone of an environment that names none.
const DefaultTimeZone = "America/Sao_Paulo"

// Environment is a customer environment (the "ambiente"): a tenant.
type Environment struct {
	id                 string
	name               string
	publicBaseURL      string
	timeZone           *time.Location
	callConnectEnabled bool
	widgetOrigins      []string
}

// EnvironmentInput is what the CRM sends to create or replace an environment.
type EnvironmentInput struct {
	ID                 string
	Name               string
	PublicBaseURL      string
	TimeZone           string // IANA name; empty means DefaultTimeZone
	CallConnectEnabled bool   // the platform support switch (rule 4)
	// WidgetOrigins are the web origins (scheme://host[:port]) whose pages
	// may embed the call button element and call the API with its tokens;
	// none by default.
	WidgetOrigins []string
}

// NewEnvironment validates in and returns the environment.
func NewEnvironment(in EnvironmentInput) (Environment, error) {
	if err := checkID("env", in.ID); err != nil {
		return Environment{}, err
	}
	if err := checkText("name", in.Name, true, 200); err != nil {
		return Environment{}, err
	}
	base, err := parsePublicBaseURL(in.PublicBaseURL)
	if err != nil {
		return Environment{}, err
	}
	tz := in.TimeZone
	if tz == "" {
		tz = DefaultTimeZone
	}
	loc, err := ParseTimeZone(tz)
	if err != nil {
		return Environment{}, err
	}
	origins, err := ParseWidgetOrigins(in.WidgetOrigins)
	if err != nil {
		return Environment{}, err
	}
	return Environment{id: in.ID, name: in.Name, publicBaseURL: base, timeZone: loc, callConnectEnabled: in.CallConnectEnabled,
		widgetOrigins: origins}, nil
}

// ParseTimeZone resolves an IANA time zone name such as "America/Sao_Paulo".
// "Local" and abbreviations are refused: the zone must mean the same everywhere.
func ParseTimeZone(name string) (*time.Location, error) {
	if name == "" || name == "Local" || strings.ContainsAny(name, " \\") || strings.HasPrefix(name, "/") || strings.Contains(name, "..") {
		return nil, invalid("time_zone", "must be an IANA time zone name such as America/Sao_Paulo")
	}
	if loc, ok := zones.Load(name); ok {
		return loc.(*time.Location), nil
	}
	loc, err := time.LoadLocation(name)
	if err != nil {
		return nil, invalid("time_zone", "unknown IANA time zone %q", name)
	}
	zones.Store(name, loc)
	return loc, nil
}

// zones keeps the time zones loaded so far by name: time.LoadLocation reads
// and parses the zone's file each time, and every environment read from
// storage (two per call placed and delivered) resolves its zone. Only
// known zones are kept, so it holds at most the IANA database.
var zones sync.Map // string → *time.Location

// parsePublicBaseURL checks the base URL partners post callbacks to: an absolute
// http(s) URL without query or fragment; a trailing slash is dropped. A bare
// "?" counts as a query: kept, it would end up in the middle of every callback URL.
func parsePublicBaseURL(raw string) (string, error) {
	if raw == "" {
		return "", invalid("public_base_url", "is required")
	}
	u, err := url.Parse(raw)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.User != nil || u.RawQuery != "" || u.ForceQuery || u.Fragment != "" || len(raw) > 2048 {
		return "", invalid("public_base_url", "must be an absolute http(s) URL without credentials, query or fragment")
	}
	return strings.TrimRight(u.String(), "/"), nil
}

func (e Environment) ID() string               { return e.id }
func (e Environment) Name() string             { return e.name }
func (e Environment) PublicBaseURL() string    { return e.publicBaseURL }
func (e Environment) TimeZone() *time.Location { return e.timeZone }
func (e Environment) CallConnectEnabled() bool { return e.callConnectEnabled }
func (e Environment) Input() EnvironmentInput {
	return EnvironmentInput{ID: e.id, Name: e.name, PublicBaseURL: e.publicBaseURL, TimeZone: e.timeZone.String(), CallConnectEnabled: e.callConnectEnabled,
		WidgetOrigins: e.WidgetOrigins()}
}

// WidgetOrigins are the origins allowed to embed the call button element,
// normalised as browsers send them in an Origin header (a copy).
func (e Environment) WidgetOrigins() []string { return slices.Clone(e.widgetOrigins) }

// AllowsWidgetOrigin reports whether a browser page of origin (an Origin
// header's value, as sent) may use the environment's widget tokens.
func (e Environment) AllowsWidgetOrigin(origin string) bool {
	return origin != "" && slices.Contains(e.widgetOrigins, origin)
}

// MaxWidgetOrigins bounds the origins of one environment: a CRM serves its
// pages from a few hosts, and every widget request compares against them.
const MaxWidgetOrigins = 20

// ParseWidgetOrigins checks and normalises the origins allowed to embed the
// call button: each an http(s) scheme and host, with a port only when it is
// not the scheme's default, no path, query, fragment or credentials,
// lowercased, as a browser serialises it in an Origin header (so that a
// plain comparison matches). A wildcard or "null" is refused: an origin is
// trusted by name only. Repeats are dropped; the order is kept.
func ParseWidgetOrigins(in []string) ([]string, error) {
	const field = "widget_origins"
	if len(in) > MaxWidgetOrigins {
		return nil, invalid(field, "must list at most %d origins", MaxWidgetOrigins)
	}
	out := make([]string, 0, len(in))
	for i, raw := range in {
		o, err := parseWidgetOrigin(raw)
		if err != nil {
			return nil, invalid(field, "entry %d (%q) %s", i+1, raw, err.Error())
		}
		if !slices.Contains(out, o) {
			out = append(out, o)
		}
	}
	return out, nil
}

type originError string

func (e originError) Error() string { return string(e) }

func parseWidgetOrigin(raw string) (string, error) {
	if raw == "*" || raw == "null" {
		return "", originError("must name one origin: a wildcard or null is never allowed")
	}
	u, err := url.Parse(raw)
	if err != nil || len(raw) > 255 || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.Opaque != "" {
		return "", originError("must be an origin such as https://crm.example.com")
	}
	if u.User != nil || (u.Path != "" && u.Path != "/") || u.RawQuery != "" || u.ForceQuery || u.Fragment != "" || strings.Contains(u.Host, "*") {
		return "", originError("must be an origin alone: scheme and host (and port), without path, query, credentials or wildcard")
	}
	host := strings.ToLower(u.Hostname())
	if strings.Contains(host, ":") {
		host = "[" + host + "]"
	}
	port := u.Port()
	if port != "" {
		n, err := strconv.Atoi(port)
		if err != nil || n < 1 || n > 65535 {
			return "", originError("has an invalid port")
		}
		if (u.Scheme == "https" && n == 443) || (u.Scheme == "http" && n == 80) {
			port = ""
		} else {
			port = strconv.Itoa(n)
		}
	}
	out := strings.ToLower(u.Scheme) + "://" + host
	if port != "" {
		out += ":" + port
	}
	return out, nil
}
