package domain_test

import (
	"fmt"
	"reflect"
	"strings"
	"testing"
	"time"

	"callconnect/domain"
)

func TestNewLead(t *testing.T) {
	reg := time.Date(2020, 2, 4, 19, 49, 57, 0, time.UTC)
	valid := func() domain.LeadInput {
		return domain.LeadInput{EnvID: "acme", ID: "1", Name: "Lead do Teste", Email: "lead.teste@example.com",
			Phone: "(48) 99947-6359", Score: ptr(27), RegisteredAt: &reg, Origin: "Painel Gestor",
			Stage: &domain.Ref{ID: "16", Name: "Em Atendimento"}, Developments: []domain.Ref{{ID: "3", Name: "1 - Empreendimento de teste"}},
			ManagerID: "g1", BrokerID: "c1", AgencyID: "i1"}
	}
	tooMany := make([]domain.Ref, domain.MaxDevelopments+1)
	for i := range tooMany {
		tooMany[i] = domain.Ref{ID: fmt.Sprint(i)}
	}
	tests := []struct {
		name     string
		mutate   func(*domain.LeadInput)
		badField string
		check    func(*testing.T, domain.Lead)
	}{
		{name: "valid", mutate: func(*domain.LeadInput) {}, check: func(t *testing.T, l domain.Lead) {
			if l.EnvID() != "acme" || l.ID() != "1" || l.Name() != "Lead do Teste" || l.Email() != "lead.teste@example.com" ||
				l.Phone().String() != "48999476359" || l.ManagerID() != "g1" || l.BrokerID() != "c1" || l.AgencyID() != "i1" {
				t.Errorf("lead = %+v", l.Input())
			}
		}},
		{name: "minimal", mutate: func(in *domain.LeadInput) { *in = domain.LeadInput{EnvID: "acme", ID: "2", Name: "Só nome"} },
			check: func(t *testing.T, l domain.Lead) {
				in := l.Input()
				if in.Score != nil || in.Stage != nil || in.RegisteredAt != nil || len(in.Developments) != 0 || !l.Phone().IsZero() || l.Email() != "" {
					t.Errorf("lead = %+v", in)
				}
			}},
		{name: "email trimmed", mutate: func(in *domain.LeadInput) { in.Email = "  lead@example.com " }, check: func(t *testing.T, l domain.Lead) {
			if l.Email() != "lead@example.com" {
				t.Errorf("email = %q", l.Email())
			}
		}},
		{name: "email plus tag", mutate: func(in *domain.LeadInput) { in.Email = "lead+tag@sub.example.com.br" }},
		{name: "score zero", mutate: func(in *domain.LeadInput) { in.Score = ptr(0) }},
		{name: "score max", mutate: func(in *domain.LeadInput) { in.Score = ptr(1_000_000) }},
		{name: "max developments", mutate: func(in *domain.LeadInput) { in.Developments = tooMany[:domain.MaxDevelopments] }},
		{name: "development without name", mutate: func(in *domain.LeadInput) { in.Developments = []domain.Ref{{ID: "9"}} }},
		{name: "email with display name", mutate: func(in *domain.LeadInput) { in.Email = "Lead <lead@example.com>" }, badField: "email"},
		{name: "email without at", mutate: func(in *domain.LeadInput) { in.Email = "lead.example.com" }, badField: "email"},
		{name: "email two addresses", mutate: func(in *domain.LeadInput) { in.Email = "a@example.com, b@example.com" }, badField: "email"},
		{name: "email with space", mutate: func(in *domain.LeadInput) { in.Email = "le ad@example.com" }, badField: "email"},
		{name: "email too long", mutate: func(in *domain.LeadInput) {
			in.Email = strings.Repeat("a", 64) + "@" + strings.Repeat("b", 63) + "." + strings.Repeat("c", 63) + "." + strings.Repeat("d", 63) + ".com"
		}, badField: "email"},
		{name: "bad phone", mutate: func(in *domain.LeadInput) { in.Phone = "48-CALL-NOW" }, badField: "phone"},
		{name: "short phone", mutate: func(in *domain.LeadInput) { in.Phone = "1234567" }, badField: "phone"},
		{name: "negative score", mutate: func(in *domain.LeadInput) { in.Score = ptr(-1) }, badField: "score"},
		{name: "score too high", mutate: func(in *domain.LeadInput) { in.Score = ptr(1_000_001) }, badField: "score"},
		{name: "too many developments", mutate: func(in *domain.LeadInput) { in.Developments = tooMany }, badField: "developments"},
		{name: "development without id", mutate: func(in *domain.LeadInput) { in.Developments = []domain.Ref{{Name: "x"}} }, badField: "developments.id"},
		{name: "development bad id", mutate: func(in *domain.LeadInput) { in.Developments = []domain.Ref{{ID: "3/4"}} }, badField: "developments.id"},
		{name: "development name too long", mutate: func(in *domain.LeadInput) {
			in.Developments = []domain.Ref{{ID: "3", Name: strings.Repeat("x", 201)}}
		}, badField: "developments.name"},
		{name: "stage without id", mutate: func(in *domain.LeadInput) { in.Stage = &domain.Ref{Name: "x"} }, badField: "stage.id"},
		{name: "stage name control char", mutate: func(in *domain.LeadInput) { in.Stage = &domain.Ref{ID: "1", Name: "a\x1bb"} }, badField: "stage.name"},
		{name: "missing env", mutate: func(in *domain.LeadInput) { in.EnvID = "" }, badField: "env"},
		{name: "missing id", mutate: func(in *domain.LeadInput) { in.ID = "" }, badField: "lead_id"},
		{name: "bad id", mutate: func(in *domain.LeadInput) { in.ID = "1 2" }, badField: "lead_id"},
		{name: "missing name", mutate: func(in *domain.LeadInput) { in.Name = "" }, badField: "name"},
		{name: "bad manager id", mutate: func(in *domain.LeadInput) { in.ManagerID = "g 1" }, badField: "manager_id"},
		{name: "bad broker id", mutate: func(in *domain.LeadInput) { in.BrokerID = "c/1" }, badField: "broker_id"},
		{name: "bad agency id", mutate: func(in *domain.LeadInput) { in.AgencyID = strings.Repeat("i", 65) }, badField: "agency_id"},
		{name: "origin too long", mutate: func(in *domain.LeadInput) { in.Origin = strings.Repeat("o", 201) }, badField: "origin"},
		{name: "main media control char", mutate: func(in *domain.LeadInput) { in.MainMedia = "a\x7f" }, badField: "main_media"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			in := valid()
			tt.mutate(&in)
			l, err := domain.NewLead(in)
			if tt.badField != "" {
				wantInvalid(t, err, tt.badField)
				return
			}
			if err != nil {
				t.Fatalf("NewLead: %v", err)
			}
			if tt.check != nil {
				tt.check(t, l)
			}
			again, err := domain.NewLead(l.Input())
			if err != nil {
				t.Fatalf("NewLead(Input()): %v", err)
			}
			if !reflect.DeepEqual(again.Input(), l.Input()) {
				t.Errorf("round trip: %+v != %+v", again.Input(), l.Input())
			}
		})
	}
}

// A lead owns copies of what it was built from: the caller's later changes do
// not reach it, and changing what Input returns does not either.
func TestLeadDoesNotAlias(t *testing.T) {
	reg := time.Date(2020, 2, 4, 19, 49, 57, 0, time.UTC)
	in := domain.LeadInput{EnvID: "acme", ID: "1", Name: "L", Score: ptr(5), RegisteredAt: &reg,
		Stage: &domain.Ref{ID: "1", Name: "s"}, Developments: []domain.Ref{{ID: "3", Name: "d"}}}
	l := mustLead(t, in)
	*in.Score = 99
	reg = reg.Add(time.Hour)
	in.Stage.Name = "changed"
	in.Developments[0].Name = "changed"

	out := l.Input()
	if *out.Score != 5 || !out.RegisteredAt.Equal(time.Date(2020, 2, 4, 19, 49, 57, 0, time.UTC)) ||
		out.Stage.Name != "s" || out.Developments[0].Name != "d" {
		t.Fatalf("lead changed with its input: %+v", out)
	}
	*out.Score = 1
	out.Stage.Name = "x"
	out.Developments[0].Name = "x"
	if again := l.Input(); *again.Score != 5 || again.Stage.Name != "s" || again.Developments[0].Name != "d" {
		t.Fatalf("lead changed through Input: %+v", again)
	}
}

func TestLeadIsOwnedBy(t *testing.T) {
	lead := mustLead(t, domain.LeadInput{EnvID: "acme", ID: "1", ManagerID: "g1", BrokerID: "c1", AgencyID: "i1"})
	tests := []struct {
		name string
		user domain.UserInput
		want bool
	}{
		{"the lead's manager", domain.UserInput{EnvID: "acme", ID: "g1", Role: "manager"}, true},
		{"the lead's broker", domain.UserInput{EnvID: "acme", ID: "c1", Role: "broker"}, true},
		{"the lead's agency", domain.UserInput{EnvID: "acme", ID: "i1", Role: "agency"}, true},
		{"a user of the lead's agency", domain.UserInput{EnvID: "acme", ID: "iu1", Role: "agency_user", AgencyID: "i1"}, true},
		{"another manager", domain.UserInput{EnvID: "acme", ID: "g2", Role: "manager"}, false},
		{"another broker", domain.UserInput{EnvID: "acme", ID: "c2", Role: "broker"}, false},
		{"another broker of the lead's agency", domain.UserInput{EnvID: "acme", ID: "c3", Role: "broker", AgencyID: "i1"}, false},
		{"another agency", domain.UserInput{EnvID: "acme", ID: "i2", Role: "agency"}, false},
		{"a user of another agency", domain.UserInput{EnvID: "acme", ID: "iu2", Role: "agency_user", AgencyID: "i2"}, false},
		{"the manager's id in another environment", domain.UserInput{EnvID: "other", ID: "g1", Role: "manager"}, false},
		{"the broker's id in another environment", domain.UserInput{EnvID: "other", ID: "c1", Role: "broker"}, false},
		{"an agency user of the same agency id in another environment", domain.UserInput{EnvID: "other", ID: "iu1", Role: "agency_user", AgencyID: "i1"}, false},
		// Each owner slot is a role: the CRM numbers gestores, corretores and
		// imobiliárias separately, so an id match in another role's slot is not ownership.
		{"a broker whose id is the lead's manager id", domain.UserInput{EnvID: "acme", ID: "g1", Role: "broker"}, false},
		{"a manager whose id is the lead's broker id", domain.UserInput{EnvID: "acme", ID: "c1", Role: "manager"}, false},
		{"a broker whose id is the lead's agency id", domain.UserInput{EnvID: "acme", ID: "i1", Role: "broker"}, false},
		{"an agency user whose id is the lead's broker id", domain.UserInput{EnvID: "acme", ID: "c1", Role: "agency_user", AgencyID: "i9"}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := lead.IsOwnedBy(mustUser(t, tt.user)); got != tt.want {
				t.Errorf("IsOwnedBy = %v, want %v", got, tt.want)
			}
		})
	}

	t.Run("lead without owners", func(t *testing.T) {
		orphan := mustLead(t, domain.LeadInput{EnvID: "acme", ID: "2"})
		for _, in := range []domain.UserInput{
			{EnvID: "acme", ID: "g1", Role: "manager"},
			{EnvID: "acme", ID: "i1", Role: "agency"},
			{EnvID: "acme", ID: "iu1", Role: "agency_user", AgencyID: "i1"},
		} {
			if orphan.IsOwnedBy(mustUser(t, in)) {
				t.Errorf("%+v owns a lead without owners", in)
			}
		}
	})
	t.Run("zero user", func(t *testing.T) {
		if lead.IsOwnedBy(domain.User{}) {
			t.Error("the zero user owns the lead")
		}
		if (domain.Lead{}).IsOwnedBy(domain.User{}) {
			t.Error("the zero user owns the zero lead")
		}
	})
}
