package app_test

import (
	"context"
	"maps"
	"testing"

	"callconnect/domain"
)

// Names names the users and leads asked for that exist, and leaves the
// other ids out; a user id is not looked up among leads, nor the reverse.
func TestNames(t *testing.T) {
	ctx := context.Background()
	f := setupButtons(t, "phone")
	users, leads, err := f.config.Names(ctx, "acme", []string{"b1", "m1", "missing", "l1"}, []string{"l2", "l1", "b1"})
	if err != nil {
		t.Fatal(err)
	}
	if want := map[string]string{"b1": "User b1", "m1": "User m1"}; !maps.Equal(users, want) {
		t.Errorf("users: %v, want %v", users, want)
	}
	if want := map[string]string{"l1": "Lead", "l2": "Lead 2"}; !maps.Equal(leads, want) {
		t.Errorf("leads: %v, want %v", leads, want)
	}
	if users, leads, err := f.config.Names(ctx, "acme", nil, nil); err != nil || len(users)+len(leads) != 0 {
		t.Errorf("no ids: %v %v %v", users, leads, err)
	}
	_, _, err = f.config.Names(ctx, "nope", []string{"b1"}, nil)
	if de, ok := domain.AsError(err); !ok || de.Code != domain.CodeEnvironmentNotFound {
		t.Fatalf("an unknown environment: %v", err)
	}
}
