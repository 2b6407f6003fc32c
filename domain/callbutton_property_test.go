package domain_test

import (
	"testing"

	"pgregory.net/rapid"

	"callconnect/domain"
)

// buttonCase is a drawn (environment, lead, user, integration) quadruple. Ids
// come from small pools so that ownership, foreign environments and agencies
// collide often.
type buttonCase struct {
	env         domain.Environment
	lead        domain.Lead
	user        domain.User
	integration *domain.Integration
}

var (
	envPool    = []string{"acme", "other"}
	personPool = []string{"", "p1", "p2", "p3"}
	modePool   = []domain.DialMode{domain.DialByPhone, domain.DialByExtension, "", "both"}
)

func drawButtonCase(t *rapid.T) buttonCase {
	env := mustEnv(t, domain.EnvironmentInput{ID: "acme", CallConnectEnabled: rapid.Bool().Draw(t, "support switch")})
	lead := mustLead(t, domain.LeadInput{
		EnvID:     rapid.SampledFrom(envPool).Draw(t, "lead env"),
		ID:        "lead1",
		ManagerID: rapid.SampledFrom(personPool).Draw(t, "lead manager"),
		BrokerID:  rapid.SampledFrom(personPool).Draw(t, "lead broker"),
		AgencyID:  rapid.SampledFrom(personPool).Draw(t, "lead agency"),
	})
	role := rapid.SampledFrom(domain.Roles).Draw(t, "role")
	in := domain.UserInput{
		EnvID: rapid.SampledFrom(envPool).Draw(t, "user env"),
		ID:    rapid.SampledFrom(personPool[1:]).Draw(t, "user id"),
		Role:  string(role),
	}
	if role == domain.RoleAgencyUser {
		in.AgencyID = rapid.SampledFrom(personPool[1:]).Draw(t, "user agency")
	}
	if rapid.Bool().Draw(t, "has phone") {
		in.Phone = formatted(t, phoneDigits().Draw(t, "phone digits"))
	}
	if rapid.Bool().Draw(t, "has extension") {
		in.Extension = rapid.StringMatching(`[0-9]{1,10}`).Draw(t, "extension")
	}
	user := mustUser(t, in)

	var integration *domain.Integration
	if rapid.Bool().Draw(t, "has integration") {
		provider := rapid.SampledFrom([]string{domain.ProviderCallConnect, domain.ProviderCallConnect, "other-pbx"}).Draw(t, "provider")
		i := domain.RestoreIntegration(rapid.SampledFrom(envPool).Draw(t, "integration env"), provider,
			rapid.Bool().Draw(t, "active"), "https://parceiro.example.com/ligar",
			rapid.SampledFrom(modePool).Draw(t, "mode"), []domain.SigningSecret{{Value: secret1}})
		integration = &i
	}
	return buttonCase{env: env, lead: lead, user: user, integration: integration}
}

// usable reports whether c's integration counts as active Call Connect.
func (c buttonCase) usable() bool {
	i := c.integration
	return i != nil && i.Active() && i.IsCallConnect() && i.EnvID() == c.env.ID() && c.env.CallConnectEnabled() &&
		(i.DialMode() == domain.DialByPhone || i.DialMode() == domain.DialByExtension)
}

func (c buttonCase) withMode(m domain.DialMode) buttonCase {
	if c.integration == nil {
		return c
	}
	i := domain.RestoreIntegration(c.integration.EnvID(), c.integration.Provider(), c.integration.Active(),
		c.integration.PartnerURL(), m, c.integration.Secrets())
	c.integration = &i
	return c
}

func (c buttonCase) decide() domain.CallButton {
	return domain.DecideCallButton(c.env, c.lead, c.user, c.integration)
}

var rule5Reasons = map[domain.ButtonReason]bool{
	domain.ReasonNotOwner:            true,
	domain.ReasonIntegrationInactive: true,
	domain.ReasonMissingPhone:        true,
	domain.ReasonMissingExtension:    true,
}

func TestPropertyButtonShape(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		c := drawButtonCase(t)
		b := c.decide()
		if b.Enabled && (!b.Visible || b.Reason != domain.ReasonNone) {
			t.Fatalf("enabled but %+v", b)
		}
		if !b.Enabled && !rule5Reasons[b.Reason] {
			t.Fatalf("disabled with reason %q, not one of rule 5", b.Reason)
		}
		if !b.Visible && b.Reason != domain.ReasonNotOwner {
			t.Fatalf("hidden with reason %q: only not_owner hides the button", b.Reason)
		}
	})
}

func TestPropertyButtonOwnershipComesFirst(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		c := drawButtonCase(t)
		b := c.decide()
		owner := c.lead.IsOwnedBy(c.user)
		if !owner && c.user.Role() != domain.RoleManager && b.Visible {
			t.Fatalf("a non-owner %s sees the button: %+v", c.user.Role(), b)
		}
		if !owner && b.Reason != domain.ReasonNotOwner {
			t.Fatalf("a non-owner gets reason %q", b.Reason)
		}
		if owner && b.Reason == domain.ReasonNotOwner {
			t.Fatalf("an owner gets not_owner")
		}
		wantVisible := owner || c.user.Role() == domain.RoleManager && c.user.EnvID() == c.lead.EnvID()
		if b.Visible != wantVisible {
			t.Fatalf("visible = %v, want %v (owner %v, role %s)", b.Visible, wantVisible, owner, c.user.Role())
		}
		if c.user.EnvID() != c.lead.EnvID() && (b.Visible || b.Enabled) {
			t.Fatalf("a user of another environment gets %+v", b)
		}
	})
}

func TestPropertyButtonInactiveIntegrationHidesContactReasons(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		c := drawButtonCase(t)
		if c.usable() {
			return
		}
		b := c.decide()
		if b.Enabled || b.Reason == domain.ReasonMissingPhone || b.Reason == domain.ReasonMissingExtension {
			t.Fatalf("without a usable integration: %+v", b)
		}
	})
}

func TestPropertyButtonEnabledMeansItCanDial(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		c := drawButtonCase(t)
		b := c.decide()
		if !b.Enabled {
			return
		}
		if !c.usable() || !c.lead.IsOwnedBy(c.user) {
			t.Fatal("enabled without a usable integration or ownership")
		}
		switch c.integration.DialMode() {
		case domain.DialByPhone:
			if c.user.Phone().IsZero() {
				t.Fatal("enabled in phone mode for a user without a phone")
			}
		case domain.DialByExtension:
			if c.user.Extension().IsZero() {
				t.Fatal("enabled in extension mode for a user without an extension")
			}
		}
	})
}

func TestPropertyButtonDialModeSwap(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		c := drawButtonCase(t)
		byPhone := c.withMode(domain.DialByPhone).decide()
		byExt := c.withMode(domain.DialByExtension).decide()
		if byPhone.Reason == domain.ReasonMissingExtension || byExt.Reason == domain.ReasonMissingPhone {
			t.Fatalf("a reason of the other mode: phone %+v, extension %+v", byPhone, byExt)
		}
		if byPhone.Reason != domain.ReasonMissingPhone && byExt.Reason != domain.ReasonMissingExtension && byPhone != byExt {
			t.Fatalf("swapping the mode changed more than the contact outcome: phone %+v, extension %+v", byPhone, byExt)
		}
		if byPhone.Reason == domain.ReasonMissingPhone && !c.user.Phone().IsZero() {
			t.Fatal("missing_phone for a user with a phone")
		}
		if byExt.Reason == domain.ReasonMissingExtension && !c.user.Extension().IsZero() {
			t.Fatal("missing_extension for a user with an extension")
		}
	})
}

// TestPropertyButtonModel compares the decision with a direct reading of the
// table of rule 5 (docs/rules.md), row by row.
func TestPropertyButtonModel(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		c := drawButtonCase(t)
		var want domain.CallButton
		owner := c.lead.IsOwnedBy(c.user)
		manager := c.user.Role() == domain.RoleManager && c.user.EnvID() == c.lead.EnvID()
		switch {
		case !owner && !manager:
			want = domain.CallButton{Reason: domain.ReasonNotOwner}
		case !owner:
			want = domain.CallButton{Visible: true, Reason: domain.ReasonNotOwner}
		case !c.usable():
			want = domain.CallButton{Visible: true, Reason: domain.ReasonIntegrationInactive}
		case c.integration.DialMode() == domain.DialByPhone && c.user.Phone().IsZero():
			want = domain.CallButton{Visible: true, Reason: domain.ReasonMissingPhone}
		case c.integration.DialMode() == domain.DialByExtension && c.user.Extension().IsZero():
			want = domain.CallButton{Visible: true, Reason: domain.ReasonMissingExtension}
		default:
			want = domain.CallButton{Visible: true, Enabled: true}
		}
		if got := c.decide(); got != want {
			t.Fatalf("DecideCallButton = %+v, want %+v", got, want)
		}
	})
}

// TestPropertyButtonErrAgrees checks rule 6: dialing is refused exactly when
// the button is not enabled, with its reason code.
func TestPropertyButtonErrAgrees(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		b := drawButtonCase(t).decide()
		err := b.Err()
		if b.Enabled {
			if err != nil {
				t.Fatalf("enabled button refuses: %v", err)
			}
			return
		}
		de, ok := domain.AsError(err)
		if !ok {
			t.Fatalf("disabled button %+v: Err() = %v", b, err)
		}
		wantKind := domain.KindConflict
		if b.Reason == domain.ReasonNotOwner {
			wantKind = domain.KindForbidden
		}
		if de.Code != string(b.Reason) || de.Kind != wantKind {
			t.Fatalf("button %+v: error %+v", b, de)
		}
	})
}
