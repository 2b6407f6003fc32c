package domain_test

import (
	"fmt"
	"slices"
	"strings"
	"testing"

	"pgregory.net/rapid"

	"callconnect/domain"
)

func TestParseWidgetOrigins(t *testing.T) {
	tests := []struct {
		name string
		in   []string
		want []string // nil: refused
	}{
		{"none", nil, []string{}},
		{"https", []string{"https://crm.example.com"}, []string{"https://crm.example.com"}},
		{"port kept", []string{"http://localhost:3000"}, []string{"http://localhost:3000"}},
		{"default port dropped as browsers do", []string{"https://crm.example.com:443", "http://crm.example.com:80"},
			[]string{"https://crm.example.com", "http://crm.example.com"}},
		{"case folded", []string{"HTTPS://CRM.Example.COM"}, []string{"https://crm.example.com"}},
		{"bare slash dropped", []string{"https://crm.example.com/"}, []string{"https://crm.example.com"}},
		{"IPv6", []string{"http://[::1]:8080"}, []string{"http://[::1]:8080"}},
		{"repeats dropped, order kept", []string{"https://b.example.com", "https://a.example.com", "https://B.example.com:443"},
			[]string{"https://b.example.com", "https://a.example.com"}},
		{"wildcard", []string{"*"}, nil},
		{"wildcard host", []string{"https://*.example.com"}, nil},
		{"null", []string{"null"}, nil},
		{"path", []string{"https://crm.example.com/app"}, nil},
		{"query", []string{"https://crm.example.com?x=1"}, nil},
		{"fragment", []string{"https://crm.example.com#x"}, nil},
		{"credentials", []string{"https://u:p@crm.example.com"}, nil},
		{"other scheme", []string{"ftp://crm.example.com"}, nil},
		{"no scheme", []string{"crm.example.com"}, nil},
		{"empty", []string{""}, nil},
		{"bad port", []string{"https://crm.example.com:99999"}, nil},
		{"too many", manyOrigins(domain.MaxWidgetOrigins + 1), nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := domain.ParseWidgetOrigins(tt.in)
			if tt.want == nil {
				wantInvalid(t, err, "widget_origins")
				return
			}
			if err != nil {
				t.Fatalf("ParseWidgetOrigins(%q): %v", tt.in, err)
			}
			if !slices.Equal(got, tt.want) {
				t.Fatalf("ParseWidgetOrigins(%q) = %q, want %q", tt.in, got, tt.want)
			}
		})
	}
}

func manyOrigins(n int) []string {
	out := make([]string, n)
	for i := range out {
		out[i] = fmt.Sprintf("https://crm%d.example.com", i)
	}
	return out
}

// An origin as stored is what a browser sends: parsing it again changes
// nothing, and the environment allows exactly the stored origins.
func TestWidgetOriginsNormalised(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		scheme := rapid.SampledFrom([]string{"http", "https", "HTTP", "Https"}).Draw(t, "scheme")
		host := rapid.StringMatching(`[a-zA-Z][a-zA-Z0-9-]{0,10}(\.[a-zA-Z][a-zA-Z0-9-]{0,10}){0,2}`).Draw(t, "host")
		port := rapid.SampledFrom([]string{"", ":80", ":443", ":3000", ":8443"}).Draw(t, "port")
		slash := rapid.SampledFrom([]string{"", "/"}).Draw(t, "slash")
		raw := scheme + "://" + host + port + slash
		once, err := domain.ParseWidgetOrigins([]string{raw})
		if err != nil {
			t.Fatalf("ParseWidgetOrigins(%q): %v", raw, err)
		}
		twice, err := domain.ParseWidgetOrigins(once)
		if err != nil || !slices.Equal(once, twice) {
			t.Fatalf("%q: parsed %q, then %q (%v)", raw, once, twice, err)
		}
		if once[0] != strings.ToLower(once[0]) || strings.HasSuffix(once[0], ":80") && strings.HasPrefix(once[0], "http:") ||
			strings.HasSuffix(once[0], ":443") && strings.HasPrefix(once[0], "https:") {
			t.Fatalf("%q: not as a browser serialises it: %q", raw, once[0])
		}
		env := mustEnv(t, domain.EnvironmentInput{ID: "e", WidgetOrigins: []string{raw}})
		if !env.AllowsWidgetOrigin(once[0]) || env.AllowsWidgetOrigin(once[0]+".evil.example") || env.AllowsWidgetOrigin("") {
			t.Fatalf("%q: AllowsWidgetOrigin does not match exactly %q", raw, once[0])
		}
	})
}

func TestAllowedPartnerOrigins(t *testing.T) {
	for _, tt := range []struct {
		raw, want string // want "": refused
	}{
		{"http://127.0.0.1:8091", "http://127.0.0.1:8091"},
		{"http://127.0.0.1:8091/calls", "http://127.0.0.1:8091"},
		{"http://127.0.0.1", "http://127.0.0.1:80"},
		{"https://[::1]", "https://[::1]:443"},
		{"http://localhost:8091", ""},
		{"127.0.0.1:8091", ""},
		{"ftp://127.0.0.1:21", ""},
		{"http://u:p@127.0.0.1:8091", ""},
		{"http://127.0.0.1:0", ""},
	} {
		got, err := domain.ParseAllowedPartnerOrigin(tt.raw)
		if tt.want == "" {
			if err == nil {
				t.Errorf("ParseAllowedPartnerOrigin(%q) = %q, want an error", tt.raw, got)
			}
			continue
		}
		if err != nil || got != tt.want {
			t.Errorf("ParseAllowedPartnerOrigin(%q) = %q, %v; want %q", tt.raw, got, err, tt.want)
		}
	}

	// The allowed origin, and it alone, passes the address and scheme rules.
	policy := domain.URLPolicy{AllowedOrigins: []string{"http://127.0.0.1:8091"}}
	for _, tt := range []struct {
		url string
		ok  bool
	}{
		{"http://127.0.0.1:8091/", true},
		{"http://127.0.0.1:8091/calls?x=1", true},
		{"http://127.0.0.1:8092/", false},
		{"http://127.0.0.2:8091/", false},
		{"https://127.0.0.1:8091/", false},
		{"http://localhost:8091/", false},
		{"http://partner.example.com/", false},
		{"https://partner.example.com/", true},
	} {
		_, err := domain.ParsePartnerURL(tt.url, policy)
		if (err == nil) != tt.ok {
			t.Errorf("ParsePartnerURL(%q) with %q allowed: %v, want ok=%v", tt.url, policy.AllowedOrigins, err, tt.ok)
		}
	}
}
