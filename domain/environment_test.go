package domain_test

import (
	"reflect"
	"strings"
	"testing"
	"time"

	"callconnect/domain"
)

func TestParseTimeZone(t *testing.T) {
	tests := []struct {
		name  string
		input string
		ok    bool
	}{
		{"sao paulo", "America/Sao_Paulo", true},
		{"utc", "UTC", true},
		{"deep name", "America/Argentina/Buenos_Aires", true},
		{"etc offset", "Etc/GMT+3", true},
		{"empty", "", false},
		{"local", "Local", false},
		{"unknown", "Not/AZone", false},
		{"wrong case", "america/sao_paulo", false},
		{"space", "America/Sao Paulo", false},
		{"leading slash", "/etc/localtime", false},
		{"dot dot", "../../etc/passwd", false},
		{"backslash", `America\Sao_Paulo`, false},
		{"offset is not a zone", "-03:00", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			loc, err := domain.ParseTimeZone(tt.input)
			if !tt.ok {
				wantInvalid(t, err, "time_zone")
				if loc != nil {
					t.Errorf("location %v returned with an error", loc)
				}
				return
			}
			if err != nil {
				t.Fatalf("ParseTimeZone(%q): %v", tt.input, err)
			}
			if loc.String() != tt.input {
				t.Errorf("location = %q, want %q", loc, tt.input)
			}
		})
	}
}

func TestNewEnvironment(t *testing.T) {
	valid := func() domain.EnvironmentInput {
		return domain.EnvironmentInput{ID: "acme", Name: "Acme Imóveis", PublicBaseURL: "https://acme.crm.example.com",
			TimeZone: "America/Manaus", CallConnectEnabled: true}
	}
	tests := []struct {
		name     string
		mutate   func(*domain.EnvironmentInput)
		badField string // "" means valid
		check    func(*testing.T, domain.Environment)
	}{
		{name: "valid", mutate: func(*domain.EnvironmentInput) {}, check: func(t *testing.T, e domain.Environment) {
			if e.ID() != "acme" || e.Name() != "Acme Imóveis" || !e.CallConnectEnabled() || e.TimeZone().String() != "America/Manaus" {
				t.Errorf("environment = %+v", e.Input())
			}
		}},
		{name: "default time zone", mutate: func(in *domain.EnvironmentInput) { in.TimeZone = "" }, check: func(t *testing.T, e domain.Environment) {
			if domain.DefaultTimeZone != "America/Sao_Paulo" {
				t.Errorf("DefaultTimeZone = %q", domain.DefaultTimeZone)
			}
			if got := e.TimeZone().String(); got != "America/Sao_Paulo" {
				t.Errorf("time zone = %q, want America/Sao_Paulo", got)
			}
		}},
		{name: "support switch off", mutate: func(in *domain.EnvironmentInput) { in.CallConnectEnabled = false }, check: func(t *testing.T, e domain.Environment) {
			if e.CallConnectEnabled() {
				t.Error("CallConnectEnabled = true")
			}
		}},
		{name: "local time zone", mutate: func(in *domain.EnvironmentInput) { in.TimeZone = "Local" }, badField: "time_zone"},
		{name: "unknown time zone", mutate: func(in *domain.EnvironmentInput) { in.TimeZone = "Not/AZone" }, badField: "time_zone"},
		{name: "trailing slash dropped", mutate: func(in *domain.EnvironmentInput) { in.PublicBaseURL = "https://acme.crm.example.com/" },
			check: func(t *testing.T, e domain.Environment) {
				if e.PublicBaseURL() != "https://acme.crm.example.com" {
					t.Errorf("public base URL = %q", e.PublicBaseURL())
				}
			}},
		{name: "path kept", mutate: func(in *domain.EnvironmentInput) { in.PublicBaseURL = "http://localhost:8080/crm/" },
			check: func(t *testing.T, e domain.Environment) {
				if e.PublicBaseURL() != "http://localhost:8080/crm" {
					t.Errorf("public base URL = %q", e.PublicBaseURL())
				}
			}},
		{name: "base url missing", mutate: func(in *domain.EnvironmentInput) { in.PublicBaseURL = "" }, badField: "public_base_url"},
		{name: "base url relative", mutate: func(in *domain.EnvironmentInput) { in.PublicBaseURL = "/api" }, badField: "public_base_url"},
		{name: "base url no host", mutate: func(in *domain.EnvironmentInput) { in.PublicBaseURL = "https:///api" }, badField: "public_base_url"},
		{name: "base url ftp", mutate: func(in *domain.EnvironmentInput) { in.PublicBaseURL = "ftp://acme.example.com" }, badField: "public_base_url"},
		{name: "base url credentials", mutate: func(in *domain.EnvironmentInput) { in.PublicBaseURL = "https://u:p@acme.example.com" }, badField: "public_base_url"},
		{name: "base url query", mutate: func(in *domain.EnvironmentInput) { in.PublicBaseURL = "https://acme.example.com/?a=1" }, badField: "public_base_url"},
		{name: "base url empty query", mutate: func(in *domain.EnvironmentInput) { in.PublicBaseURL = "https://acme.example.com?" }, badField: "public_base_url"},
		{name: "base url fragment", mutate: func(in *domain.EnvironmentInput) { in.PublicBaseURL = "https://acme.example.com/#x" }, badField: "public_base_url"},
		{name: "base url unparsable", mutate: func(in *domain.EnvironmentInput) { in.PublicBaseURL = "https://acme example.com" }, badField: "public_base_url"},
		{name: "base url too long", mutate: func(in *domain.EnvironmentInput) {
			in.PublicBaseURL = "https://acme.example.com/" + strings.Repeat("a", 2048)
		}, badField: "public_base_url"},
		{name: "id missing", mutate: func(in *domain.EnvironmentInput) { in.ID = "" }, badField: "env"},
		{name: "id with slash", mutate: func(in *domain.EnvironmentInput) { in.ID = "a/b" }, badField: "env"},
		{name: "name missing", mutate: func(in *domain.EnvironmentInput) { in.Name = "" }, badField: "name"},
		{name: "name too long", mutate: func(in *domain.EnvironmentInput) { in.Name = strings.Repeat("n", 201) }, badField: "name"},
		{name: "name control char", mutate: func(in *domain.EnvironmentInput) { in.Name = "a\x00b" }, badField: "name"},
		{name: "name invalid utf-8", mutate: func(in *domain.EnvironmentInput) { in.Name = "a\xffb" }, badField: "name"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			in := valid()
			tt.mutate(&in)
			env, err := domain.NewEnvironment(in)
			if tt.badField != "" {
				wantInvalid(t, err, tt.badField)
				return
			}
			if err != nil {
				t.Fatalf("NewEnvironment: %v", err)
			}
			if tt.check != nil {
				tt.check(t, env)
			}
		})
	}
}

func TestEnvironmentInputRoundTrip(t *testing.T) {
	env := mustEnv(t, domain.EnvironmentInput{ID: "e1", PublicBaseURL: "https://e1.example.com/", CallConnectEnabled: true})
	again, err := domain.NewEnvironment(env.Input())
	if err != nil {
		t.Fatalf("NewEnvironment(Input()): %v", err)
	}
	if !reflect.DeepEqual(again.Input(), env.Input()) {
		t.Errorf("round trip: %+v != %+v", again.Input(), env.Input())
	}
	// The zone drives the partner JSON's local "data": check it is the real one.
	at := time.Date(2020, 2, 4, 23, 0, 0, 0, time.UTC).In(env.TimeZone())
	if got := at.Format("2006-01-02 15:04:05"); got != "2020-02-04 20:00:00" {
		t.Errorf("23:00 UTC in São Paulo = %s, want 20:00 (UTC-3)", got)
	}
}
