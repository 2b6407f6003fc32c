package portstest

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"callconnect/domain"
	"callconnect/ports"
)

// PostgreSQL keeps timestamps to the microsecond, so every time the suites
// store has no finer part: what a store must give back is the same instant.
var (
	saoPaulo = mustZone("America/Sao_Paulo")
	manaus   = mustZone("America/Manaus")

	registeredAt = time.Date(2024, 3, 5, 14, 30, 15, 123456000, saoPaulo)
	graceEnds    = time.Date(2030, 1, 2, 3, 4, 5, 678901000, time.UTC)
	longExpired  = time.Date(2021, 7, 8, 23, 59, 59, 999999000, manaus)
)

func mustZone(name string) *time.Location {
	loc, err := domain.ParseTimeZone(name)
	if err != nil {
		panic(err)
	}
	return loc
}

const (
	partnerURL    = "https://partner.example.com/calls"
	currentSecret = "whsec_Y3VycmVudC1zZWNyZXQtb2YtdGhlLXN1aXRl"
)

func newEnvironment(t *testing.T, in domain.EnvironmentInput) domain.Environment {
	t.Helper()
	e, err := domain.NewEnvironment(in)
	if err != nil {
		t.Fatalf("NewEnvironment(%+v): %v", in, err)
	}
	return e
}

// environment is a valid environment with every field set.
func environment(t *testing.T, id string) domain.Environment {
	t.Helper()
	return newEnvironment(t, domain.EnvironmentInput{ID: id, Name: "Ambiente " + id,
		PublicBaseURL: "https://crm.example.com/" + id, TimeZone: "America/Manaus", CallConnectEnabled: true,
		WidgetOrigins: []string{"https://crm.example.com", "http://localhost:3000"}})
}

func newUser(t *testing.T, in domain.UserInput) domain.User {
	t.Helper()
	u, err := domain.NewUser(in)
	if err != nil {
		t.Fatalf("NewUser(%+v): %v", in, err)
	}
	return u
}

// users are one user of each role, with phones written as people type them
// and extensions with leading zeros.
func users(t *testing.T, envID string) []domain.User {
	t.Helper()
	return []domain.User{
		newUser(t, domain.UserInput{EnvID: envID, ID: "1", Name: "Gestora Ana", Role: "manager",
			Phone: "+55 (48) 99947-6359", Extension: "2001", CanManageIntegrations: true}),
		newUser(t, domain.UserInput{EnvID: envID, ID: "2", Name: "Corretor João", Role: "broker", Phone: "48 3025-1234"}),
		newUser(t, domain.UserInput{EnvID: envID, ID: "ag-7", Name: "Imobiliária Sol", Role: "agency", Extension: "7"}),
		newUser(t, domain.UserInput{EnvID: envID, ID: "au.9", Name: "Usuária da Sol", Role: "agency_user",
			AgencyID: "ag-7", Phone: "5511987654321", Extension: "0099"}),
	}
}

func newLead(t *testing.T, in domain.LeadInput) domain.Lead {
	t.Helper()
	l, err := domain.NewLead(in)
	if err != nil {
		t.Fatalf("NewLead(%+v): %v", in, err)
	}
	return l
}

// fullLead has every optional field set; its developments are in neither
// alphabetical nor numeric order, so a store must keep the order it was given.
func fullLead(t *testing.T, envID, id string) domain.Lead {
	t.Helper()
	score := 870
	reg := registeredAt
	devs := []domain.Ref{{ID: "d30", Name: "Torre Norte"}, {ID: "d4", Name: "Residencial Água"}, {ID: "d100"}}
	return newLead(t, domain.LeadInput{
		EnvID: envID, ID: id, Name: "José da Conceição " + id, Email: "jose.conceicao@example.com",
		Phone: "+55 (48) 99947-6359", Score: &score, RegisteredAt: &reg, MainMedia: "Facebook Ads",
		Origin: "Indicação\tcorretor", Stage: &domain.Ref{ID: "st-3", Name: "Em atendimento"},
		Developments: devs, ManagerID: "1", BrokerID: "2", AgencyID: "ag-7",
	})
}

// minimalLead has only what is required: no score, registration time, stage,
// developments, phone or owners.
func minimalLead(t *testing.T, envID, id string) domain.Lead {
	t.Helper()
	return newLead(t, domain.LeadInput{EnvID: envID, ID: id, Name: "Lead " + id})
}

// zeroLead has values that are set but zero-like: a score of 0 is not a
// missing score, a stage without a name is still a stage.
func zeroLead(t *testing.T, envID, id string) domain.Lead {
	t.Helper()
	score := 0
	reg := time.Unix(0, 0).UTC()
	return newLead(t, domain.LeadInput{EnvID: envID, ID: id, Name: "Zero " + id, Score: &score, RegisteredAt: &reg,
		Stage: &domain.Ref{ID: "0"}, Developments: []domain.Ref{{ID: "0"}}})
}

// callConnect is a fresh call-connect integration as NewIntegration builds it:
// inactive, dialing by phone, one current secret.
func callConnect(t *testing.T, envID string) domain.Integration {
	t.Helper()
	i, err := domain.NewIntegration(envID, domain.ProviderCallConnect,
		domain.IntegrationSettings{PartnerURL: partnerURL, DialMode: "phone"}, domain.URLPolicy{}, currentSecret)
	if err != nil {
		t.Fatalf("NewIntegration: %v", err)
	}
	return i
}

// rotatedCallConnect is a call-connect integration after two rotations: the
// current secret, one in its grace period and one long expired (storage keeps
// what it is given; dropping expired secrets is the domain's job).
func rotatedCallConnect(envID string, active bool) domain.Integration {
	grace, expired := graceEnds, longExpired
	return domain.RestoreIntegration(envID, domain.ProviderCallConnect, active,
		"https://partner.example.com/v2/calls?source=crm", domain.DialByExtension, []domain.SigningSecret{
			{Value: "whsec_bmV3ZXN0LXNlY3JldA=="},
			{Value: "whsec_cHJldmlvdXMtc2VjcmV0", ExpiresAt: &grace},
			{Value: "whsec_b2xkZXN0LXNlY3JldA==", ExpiresAt: &expired},
		})
}

// otherProvider is another telephony integration: it only has the active flag.
func otherProvider(envID, provider string, active bool) domain.Integration {
	return domain.RestoreIntegration(envID, provider, active, "", "", nil)
}

// put writes values (environments, users, leads, integrations, calls,
// exchanges, deliveries to enqueue, partner tokens, interactions, recordings,
// idempotent answers) in one
// transaction, in the order given, and fails the test if it does not commit.
func put(t *testing.T, s ports.Store, values ...any) {
	t.Helper()
	err := s.Tx(t.Context(), func(ctx context.Context, r ports.Repositories) error {
		for _, v := range values {
			if err := putValue(ctx, r, v); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatalf("put: %v", err)
	}
}

func putValue(ctx context.Context, r ports.Repositories, v any) error {
	switch v := v.(type) {
	case domain.Environment:
		if err := r.PutEnvironment(ctx, v); err != nil {
			return fmt.Errorf("PutEnvironment(%s): %w", v.ID(), err)
		}
	case domain.User:
		if err := r.PutUser(ctx, v); err != nil {
			return fmt.Errorf("PutUser(%s/%s): %w", v.EnvID(), v.ID(), err)
		}
	case domain.Lead:
		if err := r.PutLead(ctx, v); err != nil {
			return fmt.Errorf("PutLead(%s/%s): %w", v.EnvID(), v.ID(), err)
		}
	case domain.Integration:
		if err := r.PutIntegration(ctx, v); err != nil {
			return fmt.Errorf("PutIntegration(%s/%s): %w", v.EnvID(), v.Provider(), err)
		}
	case domain.Call:
		if err := r.PutCall(ctx, v); err != nil {
			return fmt.Errorf("PutCall(%s/%s): %w", v.EnvID(), v.ID(), err)
		}
	case domain.Exchange:
		if err := r.RecordExchange(ctx, v); err != nil {
			return fmt.Errorf("RecordExchange(%s/%s): %w", v.EnvID, v.ID, err)
		}
	case ports.Delivery:
		if err := r.EnqueueDelivery(ctx, v); err != nil {
			return fmt.Errorf("EnqueueDelivery(%+v): %w", v, err)
		}
	case domain.PartnerToken:
		if err := r.PutPartnerToken(ctx, v); err != nil {
			return fmt.Errorf("PutPartnerToken(%s/%s): %w", v.EnvID(), v.ID(), err)
		}
	case domain.Interaction:
		if err := r.AddInteraction(ctx, v); err != nil {
			return fmt.Errorf("AddInteraction(%s/%s): %w", v.EnvID(), v.ID(), err)
		}
	case domain.Recording:
		if err := r.PutRecording(ctx, v); err != nil {
			return fmt.Errorf("PutRecording(%s/%s): %w", v.EnvID(), v.ID(), err)
		}
	case ports.IdempotentAnswer:
		if err := r.PutIdempotentAnswer(ctx, v); err != nil {
			return fmt.Errorf("PutIdempotentAnswer(%s/%s): %w", v.Scope, v.Key, err)
		}
	default:
		panic(fmt.Sprintf("portstest: cannot put a %T", v))
	}
	return nil
}

// read runs fn in Store.Read and fails the test on an error.
func read(t *testing.T, s ports.Store, fn func(ctx context.Context, r ports.Repositories) error) {
	t.Helper()
	if err := s.Read(t.Context(), fn); err != nil {
		t.Fatalf("Read: %v", err)
	}
}

func getEnvironment(t *testing.T, s ports.Store, id string) (e domain.Environment, err error) {
	t.Helper()
	read(t, s, func(ctx context.Context, r ports.Repositories) error {
		e, err = r.GetEnvironment(ctx, id)
		return nil
	})
	return e, err
}

func getUser(t *testing.T, s ports.Store, envID, id string) (u domain.User, err error) {
	t.Helper()
	read(t, s, func(ctx context.Context, r ports.Repositories) error {
		u, err = r.GetUser(ctx, envID, id)
		return nil
	})
	return u, err
}

func getLead(t *testing.T, s ports.Store, envID, id string) (l domain.Lead, err error) {
	t.Helper()
	read(t, s, func(ctx context.Context, r ports.Repositories) error {
		l, err = r.GetLead(ctx, envID, id)
		return nil
	})
	return l, err
}

func getLeads(t *testing.T, s ports.Store, envID string, ids []string) []domain.Lead {
	t.Helper()
	var leads []domain.Lead
	read(t, s, func(ctx context.Context, r ports.Repositories) (err error) {
		leads, err = r.GetLeads(ctx, envID, ids)
		return err
	})
	return leads
}

func listIntegrations(t *testing.T, s ports.Store, envID string) []domain.Integration {
	t.Helper()
	var list []domain.Integration
	read(t, s, func(ctx context.Context, r ports.Repositories) (err error) {
		list, err = r.ListIntegrations(ctx, envID)
		return err
	})
	return list
}

// The comparisons go through canonical strings: every field, pointers
// dereferenced, times as UTC instants (so equal instants compare equal
// whatever their location), which also makes a mismatch readable.

func wantEnvironment(t *testing.T, what string, got, want domain.Environment) {
	t.Helper()
	if g, w := environmentString(got), environmentString(want); g != w {
		t.Errorf("%s:\n got %s\nwant %s", what, g, w)
	}
}

func environmentString(e domain.Environment) string {
	in := e.Input()
	origins := in.WidgetOrigins
	in.WidgetOrigins = nil
	return fmt.Sprintf("%+v widget_origins=%q", in, origins)
}

func wantUser(t *testing.T, what string, got, want domain.User) {
	t.Helper()
	if g, w := got.Input(), want.Input(); g != w {
		t.Errorf("%s:\n got %+v\nwant %+v", what, g, w)
	}
}

func wantLead(t *testing.T, what string, got, want domain.Lead) {
	t.Helper()
	if g, w := leadString(got), leadString(want); g != w {
		t.Errorf("%s:\n got %s\nwant %s", what, g, w)
	}
}

func wantIntegrations(t *testing.T, what string, got []domain.Integration, want ...domain.Integration) {
	t.Helper()
	wantList(t, what, integrationString, got, want)
}

// wantList checks got against want in order, each element as str prints
// it, and shows both lists one element a line when they differ.
func wantList[T any](t *testing.T, what string, str func(T) string, got, want []T) {
	t.Helper()
	lines := func(xs []T) string {
		s := make([]string, len(xs))
		for i, x := range xs {
			s[i] = str(x)
		}
		return strings.Join(s, "\n     ")
	}
	if gs, ws := lines(got), lines(want); gs != ws {
		t.Errorf("%s:\n got %s\nwant %s", what, gs, ws)
	}
}

func leadString(l domain.Lead) string {
	in := l.Input()
	var b strings.Builder
	fmt.Fprintf(&b, "{env:%q id:%q name:%q email:%q phone:%q score:%s registered_at:%s main_media:%q origin:%q stage:",
		in.EnvID, in.ID, in.Name, in.Email, in.Phone, intString(in.Score), timeString(in.RegisteredAt), in.MainMedia, in.Origin)
	if in.Stage == nil {
		b.WriteString("nil")
	} else {
		fmt.Fprintf(&b, "%+v", *in.Stage)
	}
	fmt.Fprintf(&b, " developments:%+v manager:%q broker:%q agency:%q}", in.Developments, in.ManagerID, in.BrokerID, in.AgencyID)
	return b.String()
}

func integrationString(i domain.Integration) string {
	var b strings.Builder
	fmt.Fprintf(&b, "{env:%q provider:%q active:%t partner_url:%q dial_mode:%q secrets:[",
		i.EnvID(), i.Provider(), i.Active(), i.PartnerURL(), i.DialMode())
	for n, s := range i.Secrets() {
		if n > 0 {
			b.WriteByte(' ')
		}
		fmt.Fprintf(&b, "%q until %s", s.Value, timeString(s.ExpiresAt))
	}
	b.WriteString("]}")
	return b.String()
}

func intString(p *int) string {
	if p == nil {
		return "nil"
	}
	return fmt.Sprint(*p)
}

func timeString(p *time.Time) string {
	if p == nil {
		return "nil"
	}
	return p.UTC().Format(time.RFC3339Nano)
}
