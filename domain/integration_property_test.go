package domain_test

import (
	"testing"

	"pgregory.net/rapid"

	"callconnect/domain"
)

// TestPropertySingleActiveIntegration applies any sequence of activations and
// deactivations over a few providers of one environment, each activation
// checked against the others' current state as a use case would, and checks
// rule 1 after every step: at most one integration is ever active, and an
// activation is refused exactly when another one is active.
func TestPropertySingleActiveIntegration(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		providers := []string{domain.ProviderCallConnect, "pbx-a", "pbx-b"}
		state := map[string]domain.Integration{}
		for _, p := range providers {
			if p == domain.ProviderCallConnect {
				url, mode := "https://parceiro.example.com/ligar", domain.DialByPhone
				if !rapid.Bool().Draw(t, "call-connect configured") {
					url, mode = rapid.SampledFrom([]string{"", url}).Draw(t, "url"), ""
				}
				state[p] = domain.RestoreIntegration("acme", p, false, url, mode, []domain.SigningSecret{{Value: secret1}})
				continue
			}
			state[p] = domain.RestoreIntegration("acme", p, false, "", "", nil)
		}
		others := func(p string) []domain.Integration {
			var out []domain.Integration
			for _, q := range providers {
				if q != p {
					out = append(out, state[q])
				}
			}
			return out
		}
		activeOf := func() []string {
			var out []string
			for _, q := range providers {
				if state[q].Active() {
					out = append(out, q)
				}
			}
			return out
		}

		steps := rapid.IntRange(1, 40).Draw(t, "steps")
		for range steps {
			p := rapid.SampledFrom(providers).Draw(t, "provider")
			in := state[p]
			if rapid.Bool().Draw(t, "activate") {
				before := activeOf()
				otherActive := len(before) > 0 && !(len(before) == 1 && before[0] == p)
				incomplete := in.IsCallConnect() && (in.PartnerURL() == "" || in.DialMode() == "")
				err := in.Activate(others(p))
				switch {
				case otherActive:
					de, ok := domain.AsError(err)
					if !ok || de.Code != domain.CodeIntegrationActiveElsewhere || de.Kind != domain.KindConflict {
						t.Fatalf("activating %s while %v active: %v", p, before, err)
					}
				case incomplete:
					de, ok := domain.AsError(err)
					if !ok || de.Code != domain.CodeIntegrationIncomplete {
						t.Fatalf("activating an incomplete %s: %v", p, err)
					}
				default:
					if err != nil {
						t.Fatalf("activating %s while %v active: %v", p, before, err)
					}
				}
				if err != nil && in.Active() != state[p].Active() {
					t.Fatalf("a refused activation of %s changed it", p)
				}
				if err == nil && !in.Active() {
					t.Fatalf("%s not active after a successful activation", p)
				}
			} else {
				in.Deactivate()
				if in.Active() {
					t.Fatalf("%s active after Deactivate", p)
				}
			}
			state[p] = in
			if a := activeOf(); len(a) > 1 {
				t.Fatalf("rule 1 broken: %v all active", a)
			}
		}
	})
}
