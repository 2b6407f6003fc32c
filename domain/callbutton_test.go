package domain_test

import (
	"testing"

	"callconnect/domain"
)

// buttonFixture is an environment with one lead owned by manager g1, broker c1
// and agency i1, and a call-connect integration in the given state.
type buttonFixture struct {
	env  domain.Environment
	lead domain.Lead
}

func newButtonFixture(t tb, callConnectEnabled bool) buttonFixture {
	return buttonFixture{
		env:  mustEnv(t, domain.EnvironmentInput{ID: "acme", CallConnectEnabled: callConnectEnabled}),
		lead: mustLead(t, domain.LeadInput{EnvID: "acme", ID: "1", Phone: "48999476359", ManagerID: "g1", BrokerID: "c1", AgencyID: "i1"}),
	}
}

func integrationIn(env string, active bool, mode domain.DialMode) *domain.Integration {
	in := domain.RestoreIntegration(env, domain.ProviderCallConnect, active, "https://parceiro.example.com/ligar", mode,
		[]domain.SigningSecret{{Value: secret1}})
	return &in
}

// TestDecideCallButtonContractTable has one row per row of the table of
// The call button's rules, in their order.
func TestDecideCallButtonContractTable(t *testing.T) {
	fx := newButtonFixture(t, true)
	owner := func(phone, ext string) domain.User {
		return mustUser(t, domain.UserInput{EnvID: "acme", ID: "c1", Role: "broker", Phone: phone, Extension: ext})
	}
	tests := []struct {
		name        string
		user        domain.User
		integration *domain.Integration
		want        domain.CallButton
	}{
		{"user is not an owner and is not a gestor",
			mustUser(t, domain.UserInput{EnvID: "acme", ID: "c2", Role: "broker", Phone: "48999476359", Extension: "1"}),
			integrationIn("acme", true, domain.DialByPhone),
			domain.CallButton{Visible: false, Enabled: false, Reason: domain.ReasonNotOwner}},
		{"user is a gestor who is not linked to the lead",
			mustUser(t, domain.UserInput{EnvID: "acme", ID: "g2", Role: "manager", Phone: "48999476359", Extension: "1"}),
			integrationIn("acme", true, domain.DialByPhone),
			domain.CallButton{Visible: true, Enabled: false, Reason: domain.ReasonNotOwner}},
		{"no active Call Connect integration",
			owner("48999476359", "1"),
			integrationIn("acme", false, domain.DialByPhone),
			domain.CallButton{Visible: true, Enabled: false, Reason: domain.ReasonIntegrationInactive}},
		{"mode telefone and the user has no phone",
			owner("", "1"),
			integrationIn("acme", true, domain.DialByPhone),
			domain.CallButton{Visible: true, Enabled: false, Reason: domain.ReasonMissingPhone}},
		{"mode ramal and the user has no extension",
			owner("48999476359", ""),
			integrationIn("acme", true, domain.DialByExtension),
			domain.CallButton{Visible: true, Enabled: false, Reason: domain.ReasonMissingExtension}},
		{"otherwise",
			owner("48999476359", "1"),
			integrationIn("acme", true, domain.DialByPhone),
			domain.CallButton{Visible: true, Enabled: true, Reason: domain.ReasonNone}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := domain.DecideCallButton(fx.env, fx.lead, tt.user, tt.integration); got != tt.want {
				t.Errorf("DecideCallButton = %+v, want %+v", got, tt.want)
			}
		})
	}
	if domain.ReasonNotOwner != "not_owner" || domain.ReasonIntegrationInactive != "integration_inactive" ||
		domain.ReasonMissingPhone != "missing_phone" || domain.ReasonMissingExtension != "missing_extension" || domain.ReasonNone != "" {
		t.Error("the reason codes are not those of rule 5")
	}
}

// TestDecideCallButtonOrder checks that earlier rows win over later ones.
func TestDecideCallButtonOrder(t *testing.T) {
	fx := newButtonFixture(t, true)
	bare := func(id, role string) domain.User {
		return mustUser(t, domain.UserInput{EnvID: "acme", ID: id, Role: role})
	}
	tests := []struct {
		name        string
		user        domain.User
		integration *domain.Integration
		want        domain.CallButton
	}{
		{"non-owner broker, no integration, no phone", bare("c2", "broker"), nil,
			domain.CallButton{Reason: domain.ReasonNotOwner}},
		{"unlinked gestor, no integration, no phone", bare("g2", "manager"), nil,
			domain.CallButton{Visible: true, Reason: domain.ReasonNotOwner}},
		{"unlinked gestor, active integration, no phone", bare("g2", "manager"), integrationIn("acme", true, domain.DialByPhone),
			domain.CallButton{Visible: true, Reason: domain.ReasonNotOwner}},
		{"owner, inactive integration, no phone", bare("g1", "manager"), integrationIn("acme", false, domain.DialByPhone),
			domain.CallButton{Visible: true, Reason: domain.ReasonIntegrationInactive}},
		{"owner, inactive integration, no extension", bare("g1", "manager"), integrationIn("acme", false, domain.DialByExtension),
			domain.CallButton{Visible: true, Reason: domain.ReasonIntegrationInactive}},
		{"owner, mode phone, extension but no phone",
			mustUser(t, domain.UserInput{EnvID: "acme", ID: "g1", Role: "manager", Extension: "12"}), integrationIn("acme", true, domain.DialByPhone),
			domain.CallButton{Visible: true, Reason: domain.ReasonMissingPhone}},
		{"owner, mode extension, phone but no extension",
			mustUser(t, domain.UserInput{EnvID: "acme", ID: "g1", Role: "manager", Phone: "48999476359"}), integrationIn("acme", true, domain.DialByExtension),
			domain.CallButton{Visible: true, Reason: domain.ReasonMissingExtension}},
		{"owner, mode extension, extension but no phone",
			mustUser(t, domain.UserInput{EnvID: "acme", ID: "g1", Role: "manager", Extension: "12"}), integrationIn("acme", true, domain.DialByExtension),
			domain.CallButton{Visible: true, Enabled: true}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := domain.DecideCallButton(fx.env, fx.lead, tt.user, tt.integration); got != tt.want {
				t.Errorf("DecideCallButton = %+v, want %+v", got, tt.want)
			}
		})
	}
}

// TestDecideCallButtonOwners runs every kind of user against a fully working
// integration: only ownership (and being a gestor) decides.
func TestDecideCallButtonOwners(t *testing.T) {
	fx := newButtonFixture(t, true)
	cc := integrationIn("acme", true, domain.DialByPhone)
	const phone = "+55 48 99947-6359"
	tests := []struct {
		name string
		user domain.UserInput
		want domain.CallButton
	}{
		{"the lead's manager", domain.UserInput{EnvID: "acme", ID: "g1", Role: "manager", Phone: phone},
			domain.CallButton{Visible: true, Enabled: true}},
		{"the lead's broker", domain.UserInput{EnvID: "acme", ID: "c1", Role: "broker", Phone: phone},
			domain.CallButton{Visible: true, Enabled: true}},
		{"the lead's agency", domain.UserInput{EnvID: "acme", ID: "i1", Role: "agency", Phone: phone},
			domain.CallButton{Visible: true, Enabled: true}},
		{"agency_user of the lead's agency", domain.UserInput{EnvID: "acme", ID: "iu1", Role: "agency_user", AgencyID: "i1", Phone: phone},
			domain.CallButton{Visible: true, Enabled: true}},
		{"agency_user of another agency", domain.UserInput{EnvID: "acme", ID: "iu2", Role: "agency_user", AgencyID: "i2", Phone: phone},
			domain.CallButton{Reason: domain.ReasonNotOwner}},
		{"another agency", domain.UserInput{EnvID: "acme", ID: "i2", Role: "agency", Phone: phone},
			domain.CallButton{Reason: domain.ReasonNotOwner}},
		{"another broker", domain.UserInput{EnvID: "acme", ID: "c2", Role: "broker", Phone: phone},
			domain.CallButton{Reason: domain.ReasonNotOwner}},
		{"another manager", domain.UserInput{EnvID: "acme", ID: "g2", Role: "manager", Phone: phone},
			domain.CallButton{Visible: true, Reason: domain.ReasonNotOwner}},
		{"the lead's manager's id, in another environment", domain.UserInput{EnvID: "other", ID: "g1", Role: "manager", Phone: phone},
			domain.CallButton{Reason: domain.ReasonNotOwner}},
		{"the lead's broker's id, in another environment", domain.UserInput{EnvID: "other", ID: "c1", Role: "broker", Phone: phone},
			domain.CallButton{Reason: domain.ReasonNotOwner}},
		{"agency_user of the lead's agency id, in another environment", domain.UserInput{EnvID: "other", ID: "iu1", Role: "agency_user", AgencyID: "i1", Phone: phone},
			domain.CallButton{Reason: domain.ReasonNotOwner}},
		{"a broker holding the lead's manager id", domain.UserInput{EnvID: "acme", ID: "g1", Role: "broker", Phone: phone},
			domain.CallButton{Reason: domain.ReasonNotOwner}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := domain.DecideCallButton(fx.env, fx.lead, mustUser(t, tt.user), cc); got != tt.want {
				t.Errorf("DecideCallButton = %+v, want %+v", got, tt.want)
			}
		})
	}
}

// TestDecideCallButtonIntegrationStates covers every way the integration can
// fail to count as active Call Connect.
func TestDecideCallButtonIntegrationStates(t *testing.T) {
	user := mustUser(t, domain.UserInput{EnvID: "acme", ID: "c1", Role: "broker", Phone: "48999476359", Extension: "12"})
	on := newButtonFixture(t, true)
	off := newButtonFixture(t, false)
	otherActive := domain.RestoreIntegration("acme", "other-pbx", true, "https://p.example.com/", domain.DialByPhone, nil)
	tests := []struct {
		name        string
		fx          buttonFixture
		integration *domain.Integration
		want        domain.ButtonReason
	}{
		{"working", on, integrationIn("acme", true, domain.DialByPhone), domain.ReasonNone},
		{"working by extension", on, integrationIn("acme", true, domain.DialByExtension), domain.ReasonNone},
		{"none", on, nil, domain.ReasonIntegrationInactive},
		{"inactive", on, integrationIn("acme", false, domain.DialByPhone), domain.ReasonIntegrationInactive},
		{"support switch withdrawn", off, integrationIn("acme", true, domain.DialByPhone), domain.ReasonIntegrationInactive},
		{"another provider passed in", on, &otherActive, domain.ReasonIntegrationInactive},
		{"another environment's integration", on, integrationIn("other", true, domain.DialByPhone), domain.ReasonIntegrationInactive},
		{"active without a dial mode", on, integrationIn("acme", true, ""), domain.ReasonIntegrationInactive},
		{"active with an unknown dial mode", on, integrationIn("acme", true, "both"), domain.ReasonIntegrationInactive},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := domain.DecideCallButton(tt.fx.env, tt.fx.lead, user, tt.integration)
			want := domain.CallButton{Visible: true, Enabled: tt.want == domain.ReasonNone, Reason: tt.want}
			if got != want {
				t.Errorf("DecideCallButton = %+v, want %+v", got, want)
			}
		})
	}
}

func TestCallButtonErr(t *testing.T) {
	tests := []struct {
		button domain.CallButton
		kind   domain.Kind
	}{
		{domain.CallButton{Reason: domain.ReasonNotOwner}, domain.KindForbidden},
		{domain.CallButton{Visible: true, Reason: domain.ReasonNotOwner}, domain.KindForbidden},
		{domain.CallButton{Visible: true, Reason: domain.ReasonIntegrationInactive}, domain.KindConflict},
		{domain.CallButton{Visible: true, Reason: domain.ReasonMissingPhone}, domain.KindConflict},
		{domain.CallButton{Visible: true, Reason: domain.ReasonMissingExtension}, domain.KindConflict},
	}
	for _, tt := range tests {
		t.Run(string(tt.button.Reason), func(t *testing.T) {
			// Rule 6: the same reason code as the button.
			wantErr(t, tt.button.Err(), tt.kind, string(tt.button.Reason), "")
		})
	}
	if err := (domain.CallButton{Visible: true, Enabled: true}).Err(); err != nil {
		t.Errorf("an enabled button refuses to dial: %v", err)
	}
}
