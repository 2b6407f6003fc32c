package domain_test

import (
	"net/netip"
	"net/url"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"callconnect/domain"
)

const (
	secret1 = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
	secret2 = "whsec_c2Vjb25kIHNlY3JldCBrZXkgYnl0ZXM="
	secret3 = "whsec_dGhpcmQgc2VjcmV0IGtleSBieXRlcw=="
)

func TestParseDialMode(t *testing.T) {
	tests := []struct {
		in   string
		want domain.DialMode
		wire string
	}{
		{"phone", domain.DialByPhone, "telefone"},
		{"extension", domain.DialByExtension, "ramal"},
	}
	for _, tt := range tests {
		m, err := domain.ParseDialMode(tt.in)
		if err != nil || m != tt.want || m.Wire() != tt.wire {
			t.Errorf("ParseDialMode(%q) = %q (wire %q), %v", tt.in, m, m.Wire(), err)
		}
	}
	// Rule 2: the mode is one value, so "both" (in any spelling) cannot be stated.
	for _, s := range []string{"", "both", "phone,extension", "phone extension", "Phone", "EXTENSION", "telefone", "ramal", " phone"} {
		m, err := domain.ParseDialMode(s)
		wantInvalid(t, err, "dial_mode")
		if m != "" {
			t.Errorf("ParseDialMode(%q) returned %q with an error", s, m)
		}
	}
}

func TestParsePartnerURL(t *testing.T) {
	strict := domain.URLPolicy{}
	dev := domain.URLPolicy{AllowHTTP: true, AllowPrivate: true}
	tests := []struct {
		name   string
		raw    string
		policy domain.URLPolicy
		want   string // "" means refused
	}{
		{"https", "https://parceiro.example.com/ligar", strict, "https://parceiro.example.com/ligar"},
		{"https with port and query", "https://parceiro.example.com:8443/ligar?cliente=7", strict, "https://parceiro.example.com:8443/ligar?cliente=7"},
		{"upper-case scheme", "HTTPS://parceiro.example.com/", strict, "https://parceiro.example.com/"},
		{"public ip", "https://8.8.8.8/hook", strict, "https://8.8.8.8/hook"},
		{"public ipv6", "https://[2001:4860:4860::8888]/hook", strict, "https://[2001:4860:4860::8888]/hook"},
		{"trailing-dot name", "https://parceiro.example.com./x", strict, "https://parceiro.example.com./x"},
		{"digits inside a name", "https://1.example.com/x", strict, "https://1.example.com/x"},

		{"http refused", "http://parceiro.example.com/ligar", strict, ""},
		{"http allowed", "http://parceiro.example.com/ligar", domain.URLPolicy{AllowHTTP: true}, "http://parceiro.example.com/ligar"},
		{"http allowed is not private allowed", "http://127.0.0.1:9000/", domain.URLPolicy{AllowHTTP: true}, ""},
		{"private allowed is not http allowed", "http://127.0.0.1:9000/", domain.URLPolicy{AllowPrivate: true}, ""},

		{"empty", "", dev, ""},
		{"relative", "/ligar", dev, ""},
		{"no scheme", "parceiro.example.com/ligar", dev, ""},
		{"no host", "https:///ligar", dev, ""},
		{"opaque", "https:parceiro.example.com", dev, ""},
		{"ftp", "ftp://parceiro.example.com/", dev, ""},
		{"file", "file:///etc/passwd", dev, ""},
		{"javascript", "javascript:alert(1)", dev, ""},
		{"gopher", "gopher://parceiro.example.com:70/", dev, ""},
		{"ws", "wss://parceiro.example.com/", dev, ""},
		{"credentials", "https://user:pass@parceiro.example.com/", dev, ""},
		{"user only", "https://user@parceiro.example.com/", dev, ""},
		{"empty credentials", "https://:@parceiro.example.com/", dev, ""},
		{"fragment", "https://parceiro.example.com/ligar#x", dev, ""},
		{"space in host", "https://parceiro example.com/", dev, ""},
		{"control char", "https://parceiro.example.com/\x00", dev, ""},
		{"too long", "https://parceiro.example.com/" + strings.Repeat("a", 2048), dev, ""},

		{"loopback", "https://127.0.0.1/", strict, ""},
		{"loopback range", "https://127.8.9.10:8443/", strict, ""},
		{"loopback allowed", "https://127.0.0.1:9000/hook", domain.URLPolicy{AllowPrivate: true}, "https://127.0.0.1:9000/hook"},
		{"private 10", "https://10.0.0.5/", strict, ""},
		{"private 172", "https://172.16.3.4/", strict, ""},
		{"private 192", "https://192.168.0.1/", strict, ""},
		{"link-local", "https://169.254.10.20/", strict, ""},
		{"metadata", "https://169.254.169.254/latest/meta-data/", strict, ""},
		{"metadata allowed when private allowed", "http://169.254.169.254/", dev, "http://169.254.169.254/"},
		{"cgnat", "https://100.64.0.1/", strict, ""},
		{"unspecified", "https://0.0.0.0/", strict, ""},
		{"this network", "https://0.1.2.3/", strict, ""},
		{"broadcast", "https://255.255.255.255/", strict, ""},
		{"multicast", "https://224.0.0.1/", strict, ""},
		{"ipv6 loopback", "https://[::1]/", strict, ""},
		{"ipv6 loopback with port", "https://[::1]:8443/", strict, ""},
		{"ipv6 loopback allowed", "http://[::1]:9000/", dev, "http://[::1]:9000/"},
		{"ipv6 unique local", "https://[fc00::1]/", strict, ""},
		{"ipv6 unique local fd", "https://[fd12:3456::1]/", strict, ""},
		{"ipv6 link-local", "https://[fe80::1]/", strict, ""},
		{"ipv6 link-local with zone", "https://[fe80::1%25eth0]/", strict, ""},
		{"ipv6 zone, private allowed", "https://[fe80::1%25eth0]/", dev, ""},
		{"ipv6 zone the address parser refuses", "https://[0::%25\x8e]/", strict, ""},
		{"ipv6 unspecified", "https://[::]/", strict, ""},
		{"ipv4-mapped loopback", "https://[::ffff:127.0.0.1]/", strict, ""},
		{"ipv4-mapped metadata", "https://[::ffff:a9fe:a9fe]/", strict, ""},
		{"ipv6 metadata", "https://[fd00:ec2::254]/", strict, ""},
		{"localhost", "https://localhost/", strict, ""},
		{"localhost upper case", "https://LOCALHOST:8443/", strict, ""},
		{"localhost trailing dot", "https://localhost./", strict, ""},
		{"localhost allowed", "http://localhost:9000/hook", dev, "http://localhost:9000/hook"},
		{"sub.localhost", "https://api.localhost/", strict, ""},
		{"dot internal", "https://metadata.google.internal/", strict, ""},
		{"dot local", "https://printer.local/", strict, ""},
		{"single label", "https://intranet/", strict, ""},
		{"single label metadata", "https://metadata/", strict, ""},
		{"decimal ip", "https://2130706433/", strict, ""},
		// Shorthand IPv4 forms that netip refuses but getaddrinfo resolves to 127.0.0.1.
		{"short ipv4", "https://127.1/", strict, ""},
		{"hex ipv4 part", "https://0x7f.0.0.1/", strict, ""},
		{"octal ipv4 part", "https://0177.0.0.1/", strict, ""},
		{"leading-zero ipv4", "https://127.0.0.01/", strict, ""},
		{"five-part number", "https://1.2.3.4.5/", strict, ""},
		{"numeric tld with trailing dot", "https://10.1./", strict, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := domain.ParsePartnerURL(tt.raw, tt.policy)
			if tt.want == "" {
				wantInvalid(t, err, "partner_url")
				if got != "" {
					t.Errorf("URL %q returned with an error", got)
				}
				return
			}
			if err != nil {
				t.Fatalf("ParsePartnerURL(%q): %v", tt.raw, err)
			}
			if got != tt.want {
				t.Errorf("ParsePartnerURL(%q) = %q, want %q", tt.raw, got, tt.want)
			}
		})
	}
}

func TestIsInternalAddr(t *testing.T) {
	internal := []string{"127.0.0.1", "10.1.2.3", "172.31.255.255", "192.168.1.1", "169.254.169.254", "100.127.0.1",
		"0.0.0.0", "192.0.0.8", "198.18.0.1", "240.0.0.1", "224.0.0.251", "::1", "::", "fe80::1", "fc00::1", "fd00:ec2::254",
		"ff02::1", "64:ff9b:1::1", "::ffff:10.0.0.1", "203.0.113.10"}
	public := []string{"8.8.8.8", "1.1.1.1", "172.32.0.1", "100.128.0.1", "2001:4860:4860::8888", "2606:4700::1111"}
	for _, s := range internal {
		if !domain.IsInternalAddr(netip.MustParseAddr(s)) {
			t.Errorf("IsInternalAddr(%s) = false", s)
		}
	}
	for _, s := range public {
		if domain.IsInternalAddr(netip.MustParseAddr(s)) {
			t.Errorf("IsInternalAddr(%s) = true", s)
		}
	}
	if !domain.IsInternalAddr(netip.Addr{}) {
		t.Error("the invalid address is not internal")
	}
}

func TestIsInternalHost(t *testing.T) {
	for _, h := range []string{"localhost", "foo.localhost", "x.internal", "x.local", "metadata", "intranet", "", "127.0.0.1", "::1", "[::1]", "127.1", "0x7f000001", "0x7f.1", "10.0.0.010"} {
		if !domain.IsInternalHost(h) {
			t.Errorf("IsInternalHost(%q) = false", h)
		}
	}
	for _, h := range []string{"example.com", "parceiro.com.br", "8.8.8.8", "2001:4860:4860::8888", "1.example.com", "example.com.", "0x7f.example.com", "abc.0xg1"} {
		if domain.IsInternalHost(h) {
			t.Errorf("IsInternalHost(%q) = true", h)
		}
	}
}

func TestValidProvider(t *testing.T) {
	for _, s := range []string{"call-connect", "other", "pbx2", "a"} {
		if !domain.ValidProvider(s) {
			t.Errorf("ValidProvider(%q) = false", s)
		}
	}
	for _, s := range []string{"", "-x", "Call-Connect", "call_connect", "a b", "a/b", strings.Repeat("a", 65)} {
		if domain.ValidProvider(s) {
			t.Errorf("ValidProvider(%q) = true", s)
		}
	}
}

func TestNewIntegration(t *testing.T) {
	good := domain.IntegrationSettings{PartnerURL: "https://parceiro.example.com/ligar", DialMode: "extension"}
	t.Run("call-connect", func(t *testing.T) {
		in, err := domain.NewIntegration("acme", domain.ProviderCallConnect, good, domain.URLPolicy{}, secret1)
		if err != nil {
			t.Fatal(err)
		}
		if in.Active() {
			t.Error("a new integration is active")
		}
		if in.EnvID() != "acme" || in.Provider() != "call-connect" || !in.IsCallConnect() || in.PartnerURL() != good.PartnerURL || in.DialMode() != domain.DialByExtension {
			t.Errorf("integration = %+v", in)
		}
		if got := in.Secrets(); len(got) != 1 || got[0].Value != secret1 || got[0].ExpiresAt != nil {
			t.Errorf("secrets = %+v", got)
		}
	})
	t.Run("other provider", func(t *testing.T) {
		in, err := domain.NewIntegration("acme", "other-pbx", domain.IntegrationSettings{}, domain.URLPolicy{}, "")
		if err != nil {
			t.Fatal(err)
		}
		if in.IsCallConnect() || in.Active() || in.PartnerURL() != "" || in.DialMode() != "" || len(in.Secrets()) != 0 {
			t.Errorf("integration = %+v", in)
		}
	})
	refused := []struct {
		name, env, provider string
		s                   domain.IntegrationSettings
		secret              string
		field               string
	}{
		{"bad env", "a b", domain.ProviderCallConnect, good, secret1, "env"},
		{"bad provider", "acme", "Call Connect", good, secret1, "provider"},
		{"missing url", "acme", domain.ProviderCallConnect, domain.IntegrationSettings{DialMode: "phone"}, secret1, "partner_url"},
		{"private url", "acme", domain.ProviderCallConnect, domain.IntegrationSettings{PartnerURL: "https://10.0.0.1/", DialMode: "phone"}, secret1, "partner_url"},
		{"missing mode", "acme", domain.ProviderCallConnect, domain.IntegrationSettings{PartnerURL: good.PartnerURL}, secret1, "dial_mode"},
		{"both modes", "acme", domain.ProviderCallConnect, domain.IntegrationSettings{PartnerURL: good.PartnerURL, DialMode: "both"}, secret1, "dial_mode"},
		{"secret without prefix", "acme", domain.ProviderCallConnect, good, "MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", "signing_secret"},
		{"other provider with url", "acme", "other-pbx", domain.IntegrationSettings{PartnerURL: good.PartnerURL}, "", "partner_url"},
		{"other provider with mode", "acme", "other-pbx", domain.IntegrationSettings{DialMode: "phone"}, "", "partner_url"},
	}
	for _, tt := range refused {
		t.Run(tt.name, func(t *testing.T) {
			_, err := domain.NewIntegration(tt.env, tt.provider, tt.s, domain.URLPolicy{}, tt.secret)
			wantInvalid(t, err, tt.field)
		})
	}
}

func TestConfigure(t *testing.T) {
	in, err := domain.NewIntegration("acme", domain.ProviderCallConnect,
		domain.IntegrationSettings{PartnerURL: "https://a.example.com/", DialMode: "phone"}, domain.URLPolicy{}, secret1)
	if err != nil {
		t.Fatal(err)
	}
	if err := in.Configure(domain.IntegrationSettings{PartnerURL: "https://b.example.com/", DialMode: "extension"}, domain.URLPolicy{}); err != nil {
		t.Fatal(err)
	}
	if in.PartnerURL() != "https://b.example.com/" || in.DialMode() != domain.DialByExtension {
		t.Errorf("after Configure: %q %q", in.PartnerURL(), in.DialMode())
	}
	// A refused change leaves the integration as it was.
	for _, s := range []domain.IntegrationSettings{
		{PartnerURL: "http://c.example.com/", DialMode: "phone"},
		{PartnerURL: "https://c.example.com/", DialMode: "ramal"},
		{},
	} {
		if err := in.Configure(s, domain.URLPolicy{}); err == nil {
			t.Errorf("Configure(%+v) accepted", s)
		}
		if in.PartnerURL() != "https://b.example.com/" || in.DialMode() != domain.DialByExtension {
			t.Errorf("a refused Configure(%+v) changed the integration: %q %q", s, in.PartnerURL(), in.DialMode())
		}
	}
	other := domain.RestoreIntegration("acme", "other-pbx", false, "", "", nil)
	if err := other.Configure(domain.IntegrationSettings{}, domain.URLPolicy{}); err != nil {
		t.Errorf("Configure of another provider with nothing: %v", err)
	}
	wantInvalid(t, other.Configure(domain.IntegrationSettings{PartnerURL: "https://x.example.com/"}, domain.URLPolicy{}), "partner_url")
}

// The partner URL is shown with its secret query values redacted; the
// shown URL configured back keeps the real one, and any other URL replaces it.
func TestShownPartnerURL(t *testing.T) {
	const real = "https://p.example.com/calls?cliente=7&secret=abc"
	in, err := domain.NewIntegration("acme", domain.ProviderCallConnect,
		domain.IntegrationSettings{PartnerURL: real, DialMode: "phone"}, domain.URLPolicy{}, secret1)
	if err != nil {
		t.Fatal(err)
	}
	shown := in.ShownPartnerURL()
	if shown != "https://p.example.com/calls?cliente=7&secret=[redacted]" || in.PartnerURL() != real {
		t.Fatalf("shown %q, delivered to %q", shown, in.PartnerURL())
	}
	if err := in.Configure(domain.IntegrationSettings{PartnerURL: shown, DialMode: "extension"}, domain.URLPolicy{}); err != nil {
		t.Fatal(err)
	}
	if in.PartnerURL() != real || in.DialMode() != domain.DialByExtension {
		t.Errorf("the shown URL configured back: %q %q", in.PartnerURL(), in.DialMode())
	}
	// Edited with its secret left redacted, the URL keeps the secret.
	edited := "https://p.example.com/calls?cliente=8&secret=[redacted]"
	if err := in.Configure(domain.IntegrationSettings{PartnerURL: edited, DialMode: "phone"}, domain.URLPolicy{}); err != nil {
		t.Fatal(err)
	}
	if want := "https://p.example.com/calls?cliente=8&secret=abc"; in.PartnerURL() != want {
		t.Errorf("edited: %q, want %q", in.PartnerURL(), want)
	}
	// A new secret replaces the old one.
	if err := in.Configure(domain.IntegrationSettings{PartnerURL: "https://p.example.com/calls?secret=def", DialMode: "phone"}, domain.URLPolicy{}); err != nil {
		t.Fatal(err)
	}
	if want := "https://p.example.com/calls?secret=def"; in.PartnerURL() != want {
		t.Errorf("a new secret: %q, want %q", in.PartnerURL(), want)
	}
	// A redacted parameter with no stored value is refused, and changes nothing.
	wantInvalid(t, in.Configure(domain.IntegrationSettings{PartnerURL: "https://p.example.com/calls?secret=def&api_key=[redacted]", DialMode: "phone"}, domain.URLPolicy{}), "partner_url")
	if want := "https://p.example.com/calls?secret=def"; in.PartnerURL() != want {
		t.Errorf("after a refused change: %q, want %q", in.PartnerURL(), want)
	}
	// A first configuration has nothing to keep.
	_, err = domain.NewIntegration("acme", domain.ProviderCallConnect,
		domain.IntegrationSettings{PartnerURL: "https://p.example.com/calls?token=[redacted]", DialMode: "phone"}, domain.URLPolicy{}, secret1)
	wantInvalid(t, err, "partner_url")
}

func callConnect(active bool) domain.Integration {
	return domain.RestoreIntegration("acme", domain.ProviderCallConnect, active, "https://parceiro.example.com/ligar",
		domain.DialByPhone, []domain.SigningSecret{{Value: secret1}})
}

func otherProvider(name string, active bool) domain.Integration {
	return domain.RestoreIntegration("acme", name, active, "", "", nil)
}

func TestActivate(t *testing.T) {
	tests := []struct {
		name   string
		target domain.Integration
		others []domain.Integration
		code   string // "" means activated
	}{
		{"call-connect alone", callConnect(false), nil, ""},
		{"call-connect with others inactive", callConnect(false), []domain.Integration{otherProvider("pbx-a", false), otherProvider("pbx-b", false)}, ""},
		{"call-connect while another is active", callConnect(false), []domain.Integration{otherProvider("pbx-a", false), otherProvider("pbx-b", true)}, domain.CodeIntegrationActiveElsewhere},
		{"another while call-connect is active", otherProvider("pbx-a", false), []domain.Integration{callConnect(true)}, domain.CodeIntegrationActiveElsewhere},
		{"another while a third is active", otherProvider("pbx-a", false), []domain.Integration{otherProvider("pbx-b", true)}, domain.CodeIntegrationActiveElsewhere},
		{"another with call-connect inactive", otherProvider("pbx-a", false), []domain.Integration{callConnect(false)}, ""},
		{"already active, listed among the others", callConnect(true), []domain.Integration{callConnect(true), otherProvider("pbx-a", false)}, ""},
		{"stale copy of itself in the list", callConnect(false), []domain.Integration{callConnect(true)}, ""},
		{"call-connect without url", domain.RestoreIntegration("acme", domain.ProviderCallConnect, false, "", domain.DialByPhone, nil), nil, domain.CodeIntegrationIncomplete},
		{"call-connect without mode", domain.RestoreIntegration("acme", domain.ProviderCallConnect, false, "https://p.example.com/", "", nil), nil, domain.CodeIntegrationIncomplete},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			target := tt.target
			wasActive := target.Active()
			err := target.Activate(tt.others)
			if tt.code == "" {
				if err != nil {
					t.Fatalf("Activate: %v", err)
				}
				if !target.Active() {
					t.Fatal("not active after Activate")
				}
				return
			}
			wantErr(t, err, domain.KindConflict, tt.code, "")
			if target.Active() != wasActive {
				t.Errorf("a refused Activate changed Active to %v", target.Active())
			}
		})
	}
	t.Run("the error names the active provider", func(t *testing.T) {
		target := callConnect(false)
		err := target.Activate([]domain.Integration{otherProvider("legacy-pbx", true)})
		if err == nil || !strings.Contains(err.Error(), "legacy-pbx") {
			t.Errorf("error %v does not name legacy-pbx", err)
		}
	})
	t.Run("deactivate", func(t *testing.T) {
		in := callConnect(true)
		in.Deactivate()
		if in.Active() {
			t.Error("active after Deactivate")
		}
		in.Deactivate()
		if in.Active() {
			t.Error("active after a second Deactivate")
		}
	})
}

func TestCheckManagementAllowed(t *testing.T) {
	enabled := mustEnv(t, domain.EnvironmentInput{ID: "acme", CallConnectEnabled: true})
	disabled := mustEnv(t, domain.EnvironmentInput{ID: "acme"})
	admin := mustUser(t, domain.UserInput{EnvID: "acme", ID: "adm", Role: "manager", CanManageIntegrations: true})
	plain := mustUser(t, domain.UserInput{EnvID: "acme", ID: "g1", Role: "manager"})
	foreignAdmin := mustUser(t, domain.UserInput{EnvID: "other", ID: "adm", Role: "manager", CanManageIntegrations: true})
	tests := []struct {
		name     string
		env      domain.Environment
		actor    domain.User
		provider string
		code     string
	}{
		{"permitted, feature on", enabled, admin, domain.ProviderCallConnect, ""},
		{"permitted, feature off", disabled, admin, domain.ProviderCallConnect, domain.CodeFeatureNotEnabled},
		{"not permitted, feature on", enabled, plain, domain.ProviderCallConnect, domain.CodePermissionDenied},
		{"not permitted, feature off: permission first", disabled, plain, domain.ProviderCallConnect, domain.CodePermissionDenied},
		{"other provider ignores the support switch", disabled, admin, "other-pbx", ""},
		{"other provider still needs the permission", enabled, plain, "other-pbx", domain.CodePermissionDenied},
		{"permitted in another environment only", enabled, foreignAdmin, domain.ProviderCallConnect, domain.CodePermissionDenied},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := domain.CheckManagementAllowed(tt.env, tt.actor, tt.provider)
			if tt.code == "" {
				if err != nil {
					t.Fatalf("CheckManagementAllowed: %v", err)
				}
				return
			}
			field := "actor_id"
			if tt.code == domain.CodeFeatureNotEnabled {
				field = "call_connect_enabled"
			}
			wantErr(t, err, domain.KindForbidden, tt.code, field)
		})
	}
}

func TestCheckDeactivationAllowed(t *testing.T) {
	if err := domain.CheckDeactivationAllowed(mustUser(t, domain.UserInput{EnvID: "acme", ID: "adm", Role: "broker", CanManageIntegrations: true})); err != nil {
		t.Errorf("a permitted actor may not deactivate: %v", err)
	}
	err := domain.CheckDeactivationAllowed(mustUser(t, domain.UserInput{EnvID: "acme", ID: "g1", Role: "manager"}))
	wantErr(t, err, domain.KindForbidden, domain.CodePermissionDenied, "actor_id")
}

func TestRotateSecret(t *testing.T) {
	t0 := time.Date(2024, 3, 19, 14, 0, 0, 0, time.UTC)
	in := callConnect(true)
	if got := in.SigningSecrets(t0); !slices.Equal(got, []string{secret1}) {
		t.Fatalf("before rotation: %v", got)
	}

	if err := in.RotateSecret(secret2, t0); err != nil {
		t.Fatal(err)
	}
	secrets := in.Secrets()
	if len(secrets) != 2 || secrets[0].Value != secret2 || secrets[0].ExpiresAt != nil ||
		secrets[1].Value != secret1 || secrets[1].ExpiresAt == nil || !secrets[1].ExpiresAt.Equal(t0.Add(24*time.Hour)) {
		t.Fatalf("after rotation: %+v", secrets)
	}
	if domain.PreviousSecretGrace != 24*time.Hour {
		t.Errorf("PreviousSecretGrace = %v", domain.PreviousSecretGrace)
	}

	steps := []struct {
		at   time.Time
		want []string
	}{
		{t0, []string{secret2, secret1}},
		{t0.Add(23*time.Hour + 59*time.Minute), []string{secret2, secret1}},
		{t0.Add(24*time.Hour - time.Nanosecond), []string{secret2, secret1}},
		{t0.Add(24 * time.Hour), []string{secret2}},
		{t0.Add(48 * time.Hour), []string{secret2}},
		{t0.Add(-time.Hour), []string{secret2, secret1}}, // a clock read before the rotation: both
	}
	for _, s := range steps {
		if got := in.SigningSecrets(s.at); !slices.Equal(got, s.want) {
			t.Errorf("SigningSecrets(t0%+v) = %v, want %v", s.at.Sub(t0), got, s.want)
		}
	}

	// A second rotation within the grace keeps the first previous secret until
	// its own end; the newly rotated-out one gets a full grace.
	t1 := t0.Add(10 * time.Hour)
	if err := in.RotateSecret(secret3, t1); err != nil {
		t.Fatal(err)
	}
	if got := in.SigningSecrets(t1); !slices.Equal(got, []string{secret3, secret2, secret1}) {
		t.Errorf("right after the second rotation: %v", got)
	}
	if got := in.SigningSecrets(t0.Add(24 * time.Hour)); !slices.Equal(got, []string{secret3, secret2}) {
		t.Errorf("when the first grace ends: %v", got)
	}
	if got := in.SigningSecrets(t1.Add(24 * time.Hour)); !slices.Equal(got, []string{secret3}) {
		t.Errorf("when the second grace ends: %v", got)
	}

	// Rotating after a grace has ended drops the expired secret from storage too.
	t2 := t0.Add(30 * time.Hour)
	if err := in.RotateSecret(secret1+"x", t2); err != nil {
		t.Fatal(err)
	}
	var values []string
	for _, s := range in.Secrets() {
		values = append(values, s.Value)
	}
	if !slices.Equal(values, []string{secret1 + "x", secret3, secret2}) {
		t.Errorf("stored after the third rotation: %v", values)
	}
}

func TestRotateSecretRefusals(t *testing.T) {
	t0 := time.Date(2024, 3, 19, 14, 0, 0, 0, time.UTC)
	in := callConnect(true)
	before := in.Secrets()
	wantInvalid(t, in.RotateSecret("not-a-secret", t0), "signing_secret")
	if !reflect.DeepEqual(in.Secrets(), before) {
		t.Errorf("a refused rotation changed the secrets: %+v", in.Secrets())
	}
	other := otherProvider("pbx-a", true)
	wantInvalid(t, other.RotateSecret(secret2, t0), "provider")
}

func TestSecretsReturnsACopy(t *testing.T) {
	in := callConnect(true)
	s := in.Secrets()
	s[0].Value = "changed"
	if in.Secrets()[0].Value != secret1 {
		t.Error("Secrets exposes the integration's slice")
	}
	stored := []domain.SigningSecret{{Value: secret1}}
	restored := domain.RestoreIntegration("acme", domain.ProviderCallConnect, true, "https://p.example.com/", domain.DialByPhone, stored)
	stored[0].Value = "changed"
	if restored.Secrets()[0].Value != secret1 {
		t.Error("RestoreIntegration keeps the caller's slice")
	}
}

// FuzzParsePartnerURL: whatever is typed into the configuration, an accepted
// URL under the strict policy is https, has no credentials or fragment, names
// no internal host, and is accepted again as it was returned.
func FuzzParsePartnerURL(f *testing.F) {
	for _, s := range []string{"https://parceiro.example.com/ligar", "http://127.0.0.1/", "https://[::1]/", "https://127.1/",
		"https://a@b.example.com/", "https://x.example.com/#f", "https://0x7f.1/", "https://[fe80::1%25eth0]/", "javascript:x"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, raw string) {
		got, err := domain.ParsePartnerURL(raw, domain.URLPolicy{})
		if err != nil {
			if de, ok := domain.AsError(err); !ok || de.Field != "partner_url" {
				t.Fatalf("ParsePartnerURL(%q): %v", raw, err)
			}
			return
		}
		u, err := url.Parse(got)
		if err != nil {
			t.Fatalf("ParsePartnerURL(%q) = %q, which does not parse: %v", raw, got, err)
		}
		if u.Scheme != "https" || u.User != nil || u.Fragment != "" || u.Hostname() == "" || domain.IsInternalHost(u.Hostname()) {
			t.Fatalf("ParsePartnerURL(%q) accepted %q", raw, got)
		}
		if again, err := domain.ParsePartnerURL(got, domain.URLPolicy{}); err != nil || again != got {
			t.Fatalf("ParsePartnerURL(%q) = %q, but that gives %q, %v", raw, got, again, err)
		}
	})
}
