package domain_test

import (
	"strings"
	"testing"

	"callconnect/domain"
)

func TestParseRole(t *testing.T) {
	for _, s := range []string{"manager", "broker", "agency", "agency_user"} {
		r, err := domain.ParseRole(s)
		if err != nil || string(r) != s {
			t.Errorf("ParseRole(%q) = %q, %v", s, r, err)
		}
	}
	for _, s := range []string{"", "Manager", "gestor", "corretor", "imobiliaria", "admin", "agency-user", " manager"} {
		_, err := domain.ParseRole(s)
		wantInvalid(t, err, "role")
	}
	if len(domain.Roles) != 4 {
		t.Errorf("Roles = %v", domain.Roles)
	}
}

func TestNewUser(t *testing.T) {
	valid := func() domain.UserInput {
		return domain.UserInput{EnvID: "acme", ID: "u1", Name: "Gestor de teste", Role: "manager",
			Phone: "+55 (48) 99947-6359", Extension: "1234", CanManageIntegrations: true}
	}
	tests := []struct {
		name     string
		mutate   func(*domain.UserInput)
		badField string
		check    func(*testing.T, domain.User)
	}{
		{name: "manager", mutate: func(*domain.UserInput) {}, check: func(t *testing.T, u domain.User) {
			if u.EnvID() != "acme" || u.ID() != "u1" || u.Name() != "Gestor de teste" || u.Role() != domain.RoleManager ||
				!u.CanManageIntegrations() || u.AgencyID() != "" {
				t.Errorf("user = %+v", u.Input())
			}
		}},
		{name: "phone normalised", mutate: func(*domain.UserInput) {}, check: func(t *testing.T, u domain.User) {
			if u.Phone().String() != "5548999476359" {
				t.Errorf("phone = %q, want 5548999476359", u.Phone())
			}
			if u.Extension().String() != "1234" {
				t.Errorf("extension = %q", u.Extension())
			}
		}},
		{name: "no phone no extension", mutate: func(in *domain.UserInput) { in.Phone, in.Extension = "", "" },
			check: func(t *testing.T, u domain.User) {
				if !u.Phone().IsZero() || !u.Extension().IsZero() {
					t.Errorf("phone %q extension %q, want none", u.Phone(), u.Extension())
				}
			}},
		{name: "broker", mutate: func(in *domain.UserInput) { in.Role = "broker" }, check: func(t *testing.T, u domain.User) {
			if u.Role() != domain.RoleBroker {
				t.Errorf("role = %q", u.Role())
			}
		}},
		{name: "agency is its own agency", mutate: func(in *domain.UserInput) { in.Role = "agency" }, check: func(t *testing.T, u domain.User) {
			if u.AgencyID() != "u1" {
				t.Errorf("agency id = %q, want its own id", u.AgencyID())
			}
		}},
		{name: "agency naming itself", mutate: func(in *domain.UserInput) { in.Role, in.AgencyID = "agency", "u1" }, check: func(t *testing.T, u domain.User) {
			if u.AgencyID() != "u1" {
				t.Errorf("agency id = %q", u.AgencyID())
			}
		}},
		{name: "agency user", mutate: func(in *domain.UserInput) { in.Role, in.AgencyID = "agency_user", "ag1" }, check: func(t *testing.T, u domain.User) {
			if u.AgencyID() != "ag1" || u.Role() != domain.RoleAgencyUser {
				t.Errorf("user = %+v", u.Input())
			}
		}},
		{name: "agency naming another agency", mutate: func(in *domain.UserInput) { in.Role, in.AgencyID = "agency", "ag2" }, badField: "agency_id"},
		{name: "agency user without agency", mutate: func(in *domain.UserInput) { in.Role = "agency_user" }, badField: "agency_id"},
		{name: "agency user with bad agency id", mutate: func(in *domain.UserInput) { in.Role, in.AgencyID = "agency_user", "a b" }, badField: "agency_id"},
		{name: "manager with agency", mutate: func(in *domain.UserInput) { in.AgencyID = "ag1" }, badField: "agency_id"},
		{name: "broker with agency", mutate: func(in *domain.UserInput) { in.Role, in.AgencyID = "broker", "ag1" },
			check: func(t *testing.T, u domain.User) {
				if u.AgencyID() != "ag1" {
					t.Fatalf("a broker's agency is kept, got %q", u.AgencyID())
				}
			}},
		{name: "manager with agency", mutate: func(in *domain.UserInput) { in.Role, in.AgencyID = "manager", "ag1" }, badField: "agency_id"},
		{name: "unknown role", mutate: func(in *domain.UserInput) { in.Role = "gestor" }, badField: "role"},
		{name: "missing role", mutate: func(in *domain.UserInput) { in.Role = "" }, badField: "role"},
		{name: "phone with letters", mutate: func(in *domain.UserInput) { in.Phone = "48 9994-CALL" }, badField: "phone"},
		{name: "phone too short", mutate: func(in *domain.UserInput) { in.Phone = "1234" }, badField: "phone"},
		{name: "phone too long", mutate: func(in *domain.UserInput) { in.Phone = "+55 48 99947 6359 1234" }, badField: "phone"},
		{name: "phone plus inside", mutate: func(in *domain.UserInput) { in.Phone = "48+999476359" }, badField: "phone"},
		{name: "extension with letters", mutate: func(in *domain.UserInput) { in.Extension = "12a" }, badField: "extension"},
		{name: "extension too long", mutate: func(in *domain.UserInput) { in.Extension = "12345678901" }, badField: "extension"},
		{name: "extension with dash", mutate: func(in *domain.UserInput) { in.Extension = "12-34" }, badField: "extension"},
		{name: "missing env", mutate: func(in *domain.UserInput) { in.EnvID = "" }, badField: "env"},
		{name: "missing id", mutate: func(in *domain.UserInput) { in.ID = "" }, badField: "user_id"},
		{name: "id too long", mutate: func(in *domain.UserInput) { in.ID = strings.Repeat("1", 65) }, badField: "user_id"},
		{name: "id with space", mutate: func(in *domain.UserInput) { in.ID = "u 1" }, badField: "user_id"},
		{name: "missing name", mutate: func(in *domain.UserInput) { in.Name = "" }, badField: "name"},
		{name: "name with newline", mutate: func(in *domain.UserInput) { in.Name = "a\nb" }, badField: "name"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			in := valid()
			tt.mutate(&in)
			u, err := domain.NewUser(in)
			if tt.badField != "" {
				wantInvalid(t, err, tt.badField)
				return
			}
			if err != nil {
				t.Fatalf("NewUser: %v", err)
			}
			if tt.check != nil {
				tt.check(t, u)
			}
			again, err := domain.NewUser(u.Input())
			if err != nil {
				t.Fatalf("NewUser(Input()): %v", err)
			}
			if again != u {
				t.Errorf("round trip changed the user: %+v != %+v", again.Input(), u.Input())
			}
		})
	}
}

func TestValidID(t *testing.T) {
	for _, s := range []string{"1", "abc", "A-b_c.d~e", strings.Repeat("x", domain.MaxIDLength)} {
		if !domain.ValidID(s) {
			t.Errorf("ValidID(%q) = false", s)
		}
	}
	for _, s := range []string{"", "a b", "a/b", "a?b", "é", "a%20", strings.Repeat("x", domain.MaxIDLength+1)} {
		if domain.ValidID(s) {
			t.Errorf("ValidID(%q) = true", s)
		}
	}
}
