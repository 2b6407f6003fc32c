package domain_test

import (
	"errors"
	"testing"

	"callconnect/domain"
)

// tb is what the helpers need from *testing.T and *rapid.T alike.
type tb interface {
	Helper()
	Errorf(format string, args ...any)
	Fatalf(format string, args ...any)
}

// Builders shared by the tests: each fails the test when the input it is
// handed is not valid, so a test never runs against a value that could not exist.

func mustEnv(t tb, in domain.EnvironmentInput) domain.Environment {
	t.Helper()
	if in.Name == "" {
		in.Name = "Ambiente " + in.ID
	}
	if in.PublicBaseURL == "" {
		in.PublicBaseURL = "https://" + in.ID + ".crm.example.com"
	}
	env, err := domain.NewEnvironment(in)
	if err != nil {
		t.Fatalf("NewEnvironment(%+v): %v", in, err)
	}
	return env
}

func mustUser(t tb, in domain.UserInput) domain.User {
	t.Helper()
	if in.Name == "" {
		in.Name = "User " + in.ID
	}
	u, err := domain.NewUser(in)
	if err != nil {
		t.Fatalf("NewUser(%+v): %v", in, err)
	}
	return u
}

func mustLead(t tb, in domain.LeadInput) domain.Lead {
	t.Helper()
	if in.Name == "" {
		in.Name = "Lead " + in.ID
	}
	l, err := domain.NewLead(in)
	if err != nil {
		t.Fatalf("NewLead(%+v): %v", in, err)
	}
	return l
}

func ptr[T any](v T) *T { return &v }

// wantErr checks that err is a domain error with the given kind, code and
// field; an empty field or code is not checked.
func wantErr(t tb, err error, kind domain.Kind, code, field string) {
	t.Helper()
	if err == nil {
		t.Fatalf("got no error, want %s (%s)", code, field)
	}
	de, ok := domain.AsError(err)
	if !ok {
		t.Fatalf("got %T %v, want a *domain.Error", err, err)
	}
	if de.Kind != kind {
		t.Errorf("Kind = %v, want %v (%v)", de.Kind, kind, err)
	}
	if code != "" && de.Code != code {
		t.Errorf("Code = %q, want %q (%v)", de.Code, code, err)
	}
	if field != "" && de.Field != field {
		t.Errorf("Field = %q, want %q (%v)", de.Field, field, err)
	}
	if de.Message == "" {
		t.Errorf("Message is empty (%v)", err)
	}
}

// wantInvalid checks a validation error naming field.
func wantInvalid(t tb, err error, field string) {
	t.Helper()
	wantErr(t, err, domain.KindInvalid, domain.CodeInvalidField, field)
}

func TestAsError(t *testing.T) {
	de := &domain.Error{Kind: domain.KindConflict, Code: "x", Message: "m"}
	wrapped := errors.Join(errors.New("outer"), de)
	got, ok := domain.AsError(wrapped)
	if !ok || got != de {
		t.Fatalf("AsError(wrapped) = %v, %v; want the wrapped error", got, ok)
	}
	if _, ok := domain.AsError(errors.New("plain")); ok {
		t.Fatal("AsError(plain error) reported a domain error")
	}
	if got := de.Error(); got != "x: m" {
		t.Errorf("Error() = %q", got)
	}
	de.Field = "body.phone"
	if got := de.Error(); got != "x: m (body.phone)" {
		t.Errorf("Error() with field = %q", got)
	}
	nf := domain.NotFound(domain.CodeLeadNotFound, "lead_id", "no such lead")
	if nf.Kind != domain.KindNotFound || nf.Code != domain.CodeLeadNotFound || nf.Field != "lead_id" {
		t.Errorf("NotFound = %+v", nf)
	}
}
