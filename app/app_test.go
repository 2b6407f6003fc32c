package app_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"callconnect/adapters/memory"
	"callconnect/app"
	"callconnect/domain"
	"callconnect/ports"
)

// fixture wires the app services to in-memory adapters: swapping the store
// for another ports.Store is the one line that changes.
type fixture struct {
	store   ports.Store
	clock   *memory.Clock
	config  *app.Configuration
	tel     *app.Telephony
	buttons *app.CallButtons
}

var t0 = time.Date(2026, 11, 27, 12, 0, 0, 0, time.UTC)

func newFixture(t *testing.T) *fixture {
	t.Helper()
	store := memory.NewStore()
	clock := memory.NewClock(t0)
	f := &fixture{
		store:   store,
		clock:   clock,
		config:  app.NewConfiguration(store),
		tel:     app.NewTelephony(store, clock, memory.NewRandom(1), domain.URLPolicy{}),
		buttons: app.NewCallButtons(store),
	}
	ctx := context.Background()
	must(t)(f.config.PutEnvironment(ctx, domain.EnvironmentInput{ID: "acme", Name: "Acme", PublicBaseURL: "https://acme.example.com", CallConnectEnabled: true}))
	must(t)(f.config.PutUser(ctx, domain.UserInput{EnvID: "acme", ID: "admin", Name: "Admin", Role: "manager", CanManageIntegrations: true}))
	return f
}

// must fails the test when the call it wraps returns an error: must(t)(f()).
func must(t *testing.T) func(any, error) {
	return func(_ any, err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
}

func wantCode(t *testing.T, err error, kind domain.Kind, code string) {
	t.Helper()
	de, ok := domain.AsError(err)
	if !ok {
		t.Fatalf("want domain error %s, got %v", code, err)
	}
	if de.Code != code || de.Kind != kind {
		t.Fatalf("want %s (kind %d), got %s (kind %d): %v", code, kind, de.Code, de.Kind, err)
	}
}

var callConnect = domain.IntegrationSettings{PartnerURL: "https://partner.example.com/calls", DialMode: "phone"}

func TestPutIntegrationShowsTheSecretOnlyWhenCreated(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	created, err := f.tel.PutIntegration(ctx, "acme", "call-connect", "admin", callConnect)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(created.NewSecret, "whsec_") || len(created.NewSecret) < 40 {
		t.Fatalf("new integration must come with a whsec_ secret, got %q", created.NewSecret)
	}
	again, err := f.tel.PutIntegration(ctx, "acme", "call-connect", "admin",
		domain.IntegrationSettings{PartnerURL: "https://partner.example.com/v2", DialMode: "extension"})
	if err != nil {
		t.Fatal(err)
	}
	if again.NewSecret != "" {
		t.Fatal("an update must not show the secret again")
	}
	if again.Integration.PartnerURL() != "https://partner.example.com/v2" || again.Integration.DialMode() != domain.DialByExtension {
		t.Fatalf("settings not replaced: %+v", again.Integration)
	}
	if got := again.Integration.SigningSecrets(t0); len(got) != 1 || got[0] != created.NewSecret {
		t.Fatal("an update must keep the signing secret")
	}
}

func TestRotateSecretKeepsThePreviousOneFor24Hours(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	created, _ := f.tel.PutIntegration(ctx, "acme", "call-connect", "admin", callConnect)
	rotated, err := f.tel.RotateSecret(ctx, "acme", "admin")
	if err != nil {
		t.Fatal(err)
	}
	if rotated.NewSecret == "" || rotated.NewSecret == created.NewSecret {
		t.Fatal("rotation must produce a new secret")
	}
	list, err := f.tel.ListIntegrations(ctx, "acme")
	if err != nil {
		t.Fatal(err)
	}
	signing := list[0].SigningSecrets(t0.Add(23 * time.Hour))
	if len(signing) != 2 || signing[0] != rotated.NewSecret || signing[1] != created.NewSecret {
		t.Fatalf("within 24h both secrets sign, new first: %v", signing)
	}
	if signing := list[0].SigningSecrets(t0.Add(24 * time.Hour)); len(signing) != 1 || signing[0] != rotated.NewSecret {
		t.Fatalf("after 24h only the new secret signs: %v", signing)
	}
}

func TestOnlyOneActiveTelephonyIntegration(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	must(t)(f.tel.PutIntegration(ctx, "acme", "call-connect", "admin", callConnect))
	must(t)(f.tel.PutIntegration(ctx, "acme", "other-pbx", "admin", domain.IntegrationSettings{}))
	must(t)(f.tel.Activate(ctx, "acme", "other-pbx", "admin"))
	_, err := f.tel.Activate(ctx, "acme", "call-connect", "admin")
	wantCode(t, err, domain.KindConflict, domain.CodeIntegrationActiveElsewhere)
	must(t)(f.tel.Deactivate(ctx, "acme", "other-pbx", "admin"))
	must(t)(f.tel.Activate(ctx, "acme", "call-connect", "admin"))
	_, err = f.tel.Activate(ctx, "acme", "other-pbx", "admin")
	wantCode(t, err, domain.KindConflict, domain.CodeIntegrationActiveElsewhere)
	// Activating twice is idempotent.
	must(t)(f.tel.Activate(ctx, "acme", "call-connect", "admin"))
}

func TestManagementPermissionAndSupportSwitch(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	must(t)(f.config.PutUser(ctx, domain.UserInput{EnvID: "acme", ID: "broker", Name: "B", Role: "broker"}))
	_, err := f.tel.PutIntegration(ctx, "acme", "call-connect", "broker", callConnect)
	wantCode(t, err, domain.KindForbidden, domain.CodePermissionDenied)
	_, err = f.tel.PutIntegration(ctx, "acme", "call-connect", "ghost", callConnect)
	wantCode(t, err, domain.KindInvalid, domain.CodeActorNotFound)

	must(t)(f.tel.PutIntegration(ctx, "acme", "call-connect", "admin", callConnect))
	must(t)(f.tel.Activate(ctx, "acme", "call-connect", "admin"))
	_, err = f.tel.Deactivate(ctx, "acme", "call-connect", "broker")
	wantCode(t, err, domain.KindForbidden, domain.CodePermissionDenied)

	// Support withdraws the feature: configuring and activating are refused,
	// switching off is still allowed.
	must(t)(f.config.PutEnvironment(ctx, domain.EnvironmentInput{ID: "acme", Name: "Acme", PublicBaseURL: "https://acme.example.com"}))
	_, err = f.tel.Activate(ctx, "acme", "call-connect", "admin")
	wantCode(t, err, domain.KindForbidden, domain.CodeFeatureNotEnabled)
	_, err = f.tel.RotateSecret(ctx, "acme", "admin")
	wantCode(t, err, domain.KindForbidden, domain.CodeFeatureNotEnabled)
	in, err := f.tel.Deactivate(ctx, "acme", "call-connect", "admin")
	if err != nil || in.Active() {
		t.Fatalf("deactivation without the support switch: %v active=%v", err, in.Active())
	}
	// Another provider does not need the Call Connect switch.
	must(t)(f.tel.PutIntegration(ctx, "acme", "other-pbx", "admin", domain.IntegrationSettings{}))
}

func TestRefusedChangesStoreNothing(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	_, err := f.tel.PutIntegration(ctx, "acme", "call-connect", "admin", domain.IntegrationSettings{PartnerURL: "http://10.0.0.1/x", DialMode: "phone"})
	wantCode(t, err, domain.KindInvalid, domain.CodeInvalidField)
	_, err = f.tel.PutIntegration(ctx, "acme", "call-connect", "admin", domain.IntegrationSettings{PartnerURL: "https://partner.example.com", DialMode: "both"})
	wantCode(t, err, domain.KindInvalid, domain.CodeInvalidField)
	list, err := f.tel.ListIntegrations(ctx, "acme")
	if err != nil || len(list) != 0 {
		t.Fatalf("refused PUTs stored %d integrations (%v)", len(list), err)
	}
	_, err = f.tel.Activate(ctx, "acme", "call-connect", "admin")
	wantCode(t, err, domain.KindNotFound, domain.CodeIntegrationNotFound)

	_, err = f.config.PutUser(ctx, domain.UserInput{EnvID: "acme", ID: "u1", Name: "U", Role: "broker", Phone: "call me"})
	wantCode(t, err, domain.KindInvalid, domain.CodeInvalidField)
	_, err = f.config.GetUser(ctx, "acme", "u1")
	wantCode(t, err, domain.KindNotFound, domain.CodeUserNotFound)
}

func TestUnknownEnvironment(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	_, err := f.config.PutUser(ctx, domain.UserInput{EnvID: "nope", ID: "u1", Name: "U", Role: "broker"})
	wantCode(t, err, domain.KindNotFound, domain.CodeEnvironmentNotFound)
	_, err = f.config.PutLead(ctx, domain.LeadInput{EnvID: "nope", ID: "l1", Name: "L"})
	wantCode(t, err, domain.KindNotFound, domain.CodeEnvironmentNotFound)
	_, err = f.tel.PutIntegration(ctx, "nope", "call-connect", "admin", callConnect)
	wantCode(t, err, domain.KindNotFound, domain.CodeEnvironmentNotFound)
	_, err = f.buttons.Decide(ctx, "nope", "l1", "admin")
	wantCode(t, err, domain.KindNotFound, domain.CodeEnvironmentNotFound)
}

func TestPutIsIdempotentAndReplaces(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	in := domain.UserInput{EnvID: "acme", ID: "u1", Name: "U", Role: "broker", Phone: "+55 (48) 99947-6359", Extension: "12"}
	must(t)(f.config.PutUser(ctx, in))
	must(t)(f.config.PutUser(ctx, in))
	u, err := f.config.GetUser(ctx, "acme", "u1")
	if err != nil || u.Phone().String() != "5548999476359" {
		t.Fatalf("got %v, %v", u.Phone(), err)
	}
	in.Phone = ""
	must(t)(f.config.PutUser(ctx, in))
	u, _ = f.config.GetUser(ctx, "acme", "u1")
	if !u.Phone().IsZero() || u.Extension().String() != "12" {
		t.Fatalf("PUT without phone must leave no phone: %+v", u.Input())
	}
}

// setupButtons builds the environment of the rule-5 table and returns the
// fixture with an active Call Connect integration dialing by mode.
func setupButtons(t *testing.T, mode string) *fixture {
	f := newFixture(t)
	ctx := context.Background()
	users := []domain.UserInput{
		{ID: "m1", Role: "manager", Phone: "48999476359"},
		{ID: "m2", Role: "manager", Phone: "48999476359"},
		{ID: "b1", Role: "broker", Phone: "48999476359"},
		{ID: "b2", Role: "broker", Phone: "48999476359"},
		{ID: "b3", Role: "broker", Extension: "1234"},
		{ID: "a1", Role: "agency", Phone: "48999476359", Extension: "1"},
		{ID: "au1", Role: "agency_user", AgencyID: "a1", Phone: "48999476359"},
		{ID: "au2", Role: "agency_user", AgencyID: "a9", Phone: "48999476359"},
	}
	for _, u := range users {
		u.EnvID, u.Name = "acme", "User "+u.ID
		must(t)(f.config.PutUser(ctx, u))
	}
	must(t)(f.config.PutLead(ctx, domain.LeadInput{EnvID: "acme", ID: "l1", Name: "Lead", ManagerID: "m1", BrokerID: "b1", AgencyID: "a1"}))
	must(t)(f.config.PutLead(ctx, domain.LeadInput{EnvID: "acme", ID: "l2", Name: "Lead 2", ManagerID: "m1", BrokerID: "b3", AgencyID: "a1"}))
	must(t)(f.tel.PutIntegration(ctx, "acme", "call-connect", "admin", domain.IntegrationSettings{PartnerURL: "https://partner.example.com", DialMode: mode}))
	must(t)(f.tel.Activate(ctx, "acme", "call-connect", "admin"))
	return f
}

func TestCallButtonDecisions(t *testing.T) {
	ctx := context.Background()
	for _, tc := range []struct {
		mode, lead, user string
		want             domain.CallButton
	}{
		{"phone", "l1", "b2", domain.CallButton{Reason: domain.ReasonNotOwner}},
		{"phone", "l1", "au2", domain.CallButton{Reason: domain.ReasonNotOwner}},
		{"phone", "l1", "m2", domain.CallButton{Visible: true, Reason: domain.ReasonNotOwner}},
		{"phone", "l2", "b3", domain.CallButton{Visible: true, Reason: domain.ReasonMissingPhone}},
		{"extension", "l1", "b1", domain.CallButton{Visible: true, Reason: domain.ReasonMissingExtension}},
		{"extension", "l2", "b3", domain.CallButton{Visible: true, Enabled: true}},
		{"phone", "l1", "m1", domain.CallButton{Visible: true, Enabled: true}},
		{"phone", "l1", "b1", domain.CallButton{Visible: true, Enabled: true}},
		{"phone", "l1", "a1", domain.CallButton{Visible: true, Enabled: true}},
		{"phone", "l1", "au1", domain.CallButton{Visible: true, Enabled: true}},
	} {
		t.Run(fmt.Sprintf("%s/%s/%s", tc.mode, tc.lead, tc.user), func(t *testing.T) {
			f := setupButtons(t, tc.mode)
			got, err := f.buttons.Decide(ctx, "acme", tc.lead, tc.user)
			if err != nil {
				t.Fatal(err)
			}
			if got != tc.want {
				t.Fatalf("got %+v, want %+v", got, tc.want)
			}
		})
	}
	t.Run("inactive", func(t *testing.T) {
		f := setupButtons(t, "phone")
		must(t)(f.tel.Deactivate(ctx, "acme", "call-connect", "admin"))
		got, _ := f.buttons.Decide(ctx, "acme", "l1", "b1")
		if got != (domain.CallButton{Visible: true, Reason: domain.ReasonIntegrationInactive}) {
			t.Fatalf("got %+v", got)
		}
	})
	t.Run("unknown lead and user", func(t *testing.T) {
		f := setupButtons(t, "phone")
		_, err := f.buttons.Decide(ctx, "acme", "nope", "b1")
		wantCode(t, err, domain.KindNotFound, domain.CodeLeadNotFound)
		_, err = f.buttons.Decide(ctx, "acme", "l1", "nope")
		wantCode(t, err, domain.KindNotFound, domain.CodeUserNotFound)
	})
}

func TestCallButtonBatch(t *testing.T) {
	ctx := context.Background()
	f := setupButtons(t, "phone")
	got, err := f.buttons.DecideMany(ctx, "acme", "b1", []string{"l2", "nope", "l1", "l1"})
	if err != nil {
		t.Fatal(err)
	}
	want := []app.LeadButton{
		{LeadID: "l2", CallButton: domain.CallButton{Reason: domain.ReasonNotOwner}},
		{LeadID: "nope", CallButton: domain.CallButton{Reason: app.ReasonLeadNotFound}},
		{LeadID: "l1", CallButton: domain.CallButton{Visible: true, Enabled: true}},
		{LeadID: "l1", CallButton: domain.CallButton{Visible: true, Enabled: true}},
	}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("got %+v\nwant %+v", got, want)
	}
	ids := make([]string, app.MaxCallButtonBatch+1)
	for i := range ids {
		ids[i] = fmt.Sprintf("l%d", i)
	}
	_, err = f.buttons.DecideMany(ctx, "acme", "b1", ids)
	wantCode(t, err, domain.KindInvalid, domain.CodeTooManyLeads)
	if got, err := f.buttons.DecideMany(ctx, "acme", "b1", ids[:app.MaxCallButtonBatch]); err != nil || len(got) != app.MaxCallButtonBatch {
		t.Fatalf("500 leads must be answered: %d, %v", len(got), err)
	}
	_, err = f.buttons.DecideMany(ctx, "acme", "b1", []string{"ok", "not ok"})
	if de, ok := domain.AsError(err); !ok || de.Field != "lead_ids[1]" {
		t.Fatalf("bad id must name its index: %v", err)
	}
}

// racingStore makes PutIntegration fail as storage does when a concurrent
// writer activated another integration first.
type racingStore struct{ ports.Store }

type racingRepos struct{ ports.Integrations }

func (s racingStore) Tx(ctx context.Context, fn func(context.Context, ports.Repositories) error) error {
	return s.Store.Tx(ctx, func(ctx context.Context, r ports.Repositories) error {
		r.Integrations = racingRepos{r.Integrations}
		return fn(ctx, r)
	})
}

func (racingRepos) PutIntegration(context.Context, domain.Integration) error {
	return fmt.Errorf("unique violation: %w", ports.ErrActiveElsewhere)
}

func TestStorageRaceBecomesConflict(t *testing.T) {
	f := newFixture(t)
	tel := app.NewTelephony(racingStore{f.store}, f.clock, memory.NewRandom(2), domain.URLPolicy{})
	_, err := tel.PutIntegration(context.Background(), "acme", "other-pbx", "admin", domain.IntegrationSettings{})
	wantCode(t, err, domain.KindConflict, domain.CodeIntegrationActiveElsewhere)
	if errors.Is(err, ports.ErrActiveElsewhere) {
		t.Fatal("the storage error must be translated, not leaked")
	}
}

// GetLeads reads several leads in one go, leaving out the ids that are not
// leads of the environment.
func TestGetLeads(t *testing.T) {
	ctx := context.Background()
	f := setupButtons(t, "phone")
	leads, err := f.config.GetLeads(ctx, "acme", []string{"l2", "missing", "l1"})
	if err != nil {
		t.Fatal(err)
	}
	names := map[string]string{}
	for _, l := range leads {
		names[l.ID()] = l.Name()
	}
	if len(leads) != 2 || names["l1"] != "Lead" || names["l2"] != "Lead 2" {
		t.Fatalf("GetLeads: %v", names)
	}
	_, err = f.config.GetLeads(ctx, "nope", []string{"l1"})
	if de, ok := domain.AsError(err); !ok || de.Code != domain.CodeEnvironmentNotFound {
		t.Fatalf("an unknown environment: %v", err)
	}
}

// TestDecideForOwnersIsDecidePerOwner: each owner the lead names gets, from
// one read, the button Decide gives that user; a missing user none.
func TestDecideForOwnersIsDecidePerOwner(t *testing.T) {
	ctx := context.Background()
	for _, mode := range []string{"phone", "extension"} {
		f := setupButtons(t, mode)
		// l3 names a manager as its broker (not linked: rule 5 goes by role)
		// and an agency that is not a user; l4 names nobody.
		must(t)(f.config.PutLead(ctx, domain.LeadInput{EnvID: "acme", ID: "l3", Name: "Lead 3", BrokerID: "m2", AgencyID: "gone"}))
		must(t)(f.config.PutLead(ctx, domain.LeadInput{EnvID: "acme", ID: "l4", Name: "Lead 4"}))
		for _, c := range []struct {
			lead  string
			roles []domain.Role
			ids   []string
		}{
			{"l1", []domain.Role{domain.RoleManager, domain.RoleBroker, domain.RoleAgency}, []string{"m1", "b1", "a1"}},
			{"l2", []domain.Role{domain.RoleManager, domain.RoleBroker, domain.RoleAgency}, []string{"m1", "b3", "a1"}},
			{"l3", []domain.Role{domain.RoleBroker, domain.RoleAgency}, []string{"m2", "gone"}},
			{"l4", nil, nil},
		} {
			got, err := f.buttons.DecideForOwners(ctx, "acme", c.lead)
			if err != nil {
				t.Fatalf("%s/%s: %v", mode, c.lead, err)
			}
			if got.Lead.ID() != c.lead {
				t.Errorf("%s/%s: the lead read is %q", mode, c.lead, got.Lead.ID())
			}
			if len(got.Owners) != len(c.ids) {
				t.Fatalf("%s/%s: %d owners, want %d: %+v", mode, c.lead, len(got.Owners), len(c.ids), got.Owners)
			}
			for i, o := range got.Owners {
				if o.Role != c.roles[i] || o.UserID != c.ids[i] {
					t.Errorf("%s/%s owner %d: %s %s, want %s %s", mode, c.lead, i, o.Role, o.UserID, c.roles[i], c.ids[i])
				}
				want, err := f.buttons.Decide(ctx, "acme", c.lead, o.UserID)
				if o.User == nil {
					if o.CallButton != (domain.CallButton{}) {
						t.Errorf("%s/%s %s: a missing user got a button %+v", mode, c.lead, o.UserID, o.CallButton)
					}
					wantCode(t, err, domain.KindNotFound, domain.CodeUserNotFound)
					continue
				}
				if err != nil {
					t.Fatal(err)
				}
				if o.User.ID() != o.UserID || o.CallButton != want {
					t.Errorf("%s/%s %s: user %s, button %+v; Decide says %+v", mode, c.lead, o.UserID, o.User.ID(), o.CallButton, want)
				}
			}
		}
	}
	f := setupButtons(t, "phone")
	_, err := f.buttons.DecideForOwners(ctx, "acme", "nope")
	wantCode(t, err, domain.KindNotFound, domain.CodeLeadNotFound)
	_, err = f.buttons.DecideForOwners(ctx, "nowhere", "l1")
	wantCode(t, err, domain.KindNotFound, domain.CodeEnvironmentNotFound)
}
