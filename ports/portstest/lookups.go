package portstest

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"callconnect/domain"
	"callconnect/ports"
)

func findLeadsMatchingPhone(t *testing.T, s ports.Store, envID string, phone domain.Phone) []domain.Lead {
	t.Helper()
	var leads []domain.Lead
	read(t, s, func(ctx context.Context, r ports.Repositories) (err error) {
		leads, err = r.FindLeadsMatchingPhone(ctx, envID, phone)
		return err
	})
	return leads
}

func findLeadsByEmail(t *testing.T, s ports.Store, envID, email string) []domain.Lead {
	t.Helper()
	var leads []domain.Lead
	read(t, s, func(ctx context.Context, r ports.Repositories) (err error) {
		leads, err = r.FindLeadsByEmail(ctx, envID, email)
		return err
	})
	return leads
}

func parsePhone(t *testing.T, asked string) domain.Phone {
	t.Helper()
	p, err := domain.ParsePhone("telefone", asked)
	if err != nil {
		t.Fatalf("ParsePhone(%q): %v", asked, err)
	}
	return p
}

// testFindLeadsByPhone: a partner finds a lead by its phone however either
// side wrote it (+55 or 55, a trunk 0, a carrier code, a mobile without its
// ninth digit), and no other number.
func testFindLeadsByPhone(t *testing.T, s ports.Store) {
	lead := func(env, id, phone string) domain.Lead {
		return newLead(t, domain.LeadInput{EnvID: env, ID: id, Name: "Lead " + id, Phone: phone})
	}
	withCC := lead("env-a", "with-55", "+55 (48) 99947-6359") // stored 5548999476359
	without := lead("env-a", "without-55", "48 99947-6359")   // stored 48999476359
	oldForm := lead("env-a", "no-ninth", "048 9947-6359")     // the same mobile, as once written
	landline := lead("env-a", "landline", "(48) 3333-4444")
	mobile := lead("env-a", "mobile", "(48) 93333-4444") // the landline's digits and a 9: another number
	short55 := lead("env-a", "short-55", "55 1234-5678") // 10 digits: 55 is the area code here
	short := lead("env-a", "short", "1234-5678")
	double := lead("env-a", "double-55", "555548999476359") // country code given twice
	us := lead("env-a", "us", "+1 (415) 555-0100")
	usDigits := lead("env-a", "us-digits", "(14) 15555-0100") // a Brazilian number with the US number's digits
	uk := lead("env-a", "uk", "+44 20 7946 0958")
	noPhone := minimalLead(t, "env-a", "no-phone")
	other := lead("env-b", "other", "5548999476359")
	put(t, s, environment(t, "env-a"), environment(t, "env-b"),
		withCC, without, oldForm, landline, mobile, short55, short, double, us, usDigits, uk, noPhone, other)

	sameMobile := []domain.Lead{withCC, without, oldForm}
	for _, c := range []struct {
		env, asked string
		want       []domain.Lead
	}{
		{"env-a", "+55 (48) 99947-6359", sameMobile},
		{"env-a", "48999476359", sameMobile},
		{"env-a", "048 99947-6359", sameMobile},
		{"env-a", "0 21 48 99947 6359", sameMobile},
		{"env-a", "021 48 999476359", sameMobile},
		{"env-a", "4899476359", sameMobile},
		{"env-a", "5548999476359", sameMobile},
		{"env-a", "(48) 99947.6359", sameMobile},
		{"env-a", "48 3333-4444", []domain.Lead{landline}},
		{"env-a", "+55 48 3333 4444", []domain.Lead{landline}},
		{"env-a", "0 15 48 3333-4444", []domain.Lead{landline}},
		{"env-a", "48 93333-4444", []domain.Lead{mobile}},
		{"env-a", "+1 415 555 0100", []domain.Lead{us}},
		{"env-a", "14 15555-0100", []domain.Lead{usDigits}},
		{"env-a", "014 15555 0100", []domain.Lead{usDigits}},
		{"env-a", "+44 20 7946 0958", []domain.Lead{uk}},
		{"env-a", "442079460958", []domain.Lead{uk}},
		{"env-a", "20 7946 0958", nil},
		{"env-a", "1234-5678", []domain.Lead{short}},
		{"env-a", "5512345678", []domain.Lead{short55}},
		{"env-a", "+55 55 48 99947-6359", []domain.Lead{double}},
		{"env-a", "48 99947-6350", nil},
		{"env-b", "48 99947-6359", []domain.Lead{other}},
		{"env-c", "48999476359", nil},
	} {
		wantLeadSet(t, fmt.Sprintf("FindLeadsMatchingPhone(%s, %q)", c.env, c.asked),
			findLeadsMatchingPhone(t, s, c.env, parsePhone(t, c.asked)), c.want...)
	}
	if got := findLeadsMatchingPhone(t, s, "env-a", domain.Phone{}); len(got) != 0 {
		t.Errorf("FindLeadsMatchingPhone of no phone: %d leads, want none (not the leads without a phone)", len(got))
	}

	// A foreign number read back and written again is still found by itself
	// alone: its '+' is not lost on the way.
	var again domain.Lead
	read(t, s, func(ctx context.Context, r ports.Repositories) (err error) {
		again, err = r.GetLead(ctx, "env-a", "us")
		return err
	})
	if !again.Phone().Foreign() || again.Phone().Wire() != "14155550100" {
		t.Errorf("lead us read back: phone %q foreign %v, want foreign 14155550100", again.Phone(), again.Phone().Foreign())
	}
	put(t, s, again)
	wantLeadSet(t, "FindLeadsMatchingPhone(+1 415 555 0100) after the lead was written again",
		findLeadsMatchingPhone(t, s, "env-a", parsePhone(t, "+1 415 555 0100")), us)
	wantLeadSet(t, "FindLeadsMatchingPhone(14 15555-0100) after the US lead was written again",
		findLeadsMatchingPhone(t, s, "env-a", parsePhone(t, "14 15555-0100")), usDigits)

	// A lead whose phone changes is found by its new number only.
	put(t, s, lead("env-a", "landline", "(48) 3025-1234"))
	wantLeadSet(t, "FindLeadsMatchingPhone(48 3333-4444) after the landline changed",
		findLeadsMatchingPhone(t, s, "env-a", parsePhone(t, "48 3333-4444")))
	wantLeadSet(t, "FindLeadsMatchingPhone(048 3025 1234) after the landline changed",
		findLeadsMatchingPhone(t, s, "env-a", parsePhone(t, "048 3025 1234")), lead("env-a", "landline", "(48) 3025-1234"))
}

func testFindLeadsByEmail(t *testing.T, s ports.Store) {
	lead := func(env, id, email string) domain.Lead {
		return newLead(t, domain.LeadInput{EnvID: env, ID: id, Name: "Lead " + id, Email: email})
	}
	mixed := lead("env-a", "mixed", "Jose.Conceicao@Example.COM")
	lower := lead("env-a", "lower", "jose.conceicao@example.com")
	otherAddr := lead("env-a", "other-address", "jose.conceicao@example.org")
	noEmail := minimalLead(t, "env-a", "no-email")
	otherEnv := lead("env-b", "mixed", "JOSE.CONCEICAO@EXAMPLE.COM")
	put(t, s, environment(t, "env-a"), environment(t, "env-b"), mixed, lower, otherAddr, noEmail, otherEnv)

	for _, c := range []struct {
		env, email string
		want       []domain.Lead
	}{
		{"env-a", "jose.conceicao@example.com", []domain.Lead{mixed, lower}},
		{"env-a", "JOSE.Conceicao@EXAMPLE.com", []domain.Lead{mixed, lower}},
		{"env-a", "jose.conceicao@example.org", []domain.Lead{otherAddr}},
		{"env-b", "jose.conceicao@example.com", []domain.Lead{otherEnv}},
		{"env-a", "jose@example.com", nil},
		{"env-a", "", nil},
		{"env-c", "jose.conceicao@example.com", nil},
	} {
		wantLeadSet(t, fmt.Sprintf("FindLeadsByEmail(%s, %q)", c.env, c.email), findLeadsByEmail(t, s, c.env, c.email), c.want...)
	}
}

func latestOpenCall(t *testing.T, s ports.Store, envID, leadID string) (c domain.Call, err error) {
	t.Helper()
	read(t, s, func(ctx context.Context, r ports.Repositories) error {
		c, err = r.LatestOpenCall(ctx, envID, leadID)
		return nil
	})
	return c, err
}

func testLatestOpenCall(t *testing.T, s ports.Store) {
	call := func(env, id, lead string, status domain.CallStatus, after time.Duration) domain.Call {
		at := clickedAt.Add(after)
		return domain.RestoreCall(env, id, lead, "1", status, "", at, at.Add(2*time.Minute), payload(id), nil)
	}
	older := call("env-a", "c-older", "l1", domain.CallDelivered, 0)
	newest := call("env-a", "c-newest", "l1", domain.CallQueued, 2*time.Minute)
	tieLow := call("env-a", "c-New", "l1", domain.CallDelivering, 2*time.Minute) // same click, lower id ("N" < "n")
	put(t, s, environment(t, "env-a"), environment(t, "env-b"), older, newest, tieLow,
		call("env-a", "c-completed", "l1", domain.CallCompleted, 5*time.Minute),
		call("env-a", "c-not-completed", "l1", domain.CallNotCompleted, 4*time.Minute),
		call("env-a", "c-other-lead", "l2", domain.CallQueued, 10*time.Minute),
		call("env-b", "c-other-env", "l1", domain.CallQueued, 20*time.Minute),
		call("env-a", "c-done", "l3", domain.CallCompleted, 0),
		call("env-a", "c-failed", "l3", domain.CallNotCompleted, time.Minute),
		call("env-a", "c-undeliverable", "l4", domain.CallUndeliverable, 0),
	)
	for _, c := range []struct {
		env, lead string
		want      domain.Call
	}{
		{"env-a", "l1", newest},
		{"env-a", "l2", call("env-a", "c-other-lead", "l2", domain.CallQueued, 10*time.Minute)},
		{"env-b", "l1", call("env-b", "c-other-env", "l1", domain.CallQueued, 20*time.Minute)},
		{"env-a", "l4", call("env-a", "c-undeliverable", "l4", domain.CallUndeliverable, 0)},
	} {
		got, err := latestOpenCall(t, s, c.env, c.lead)
		if err != nil {
			t.Errorf("LatestOpenCall(%s, %s): %v", c.env, c.lead, err)
			continue
		}
		wantCall(t, fmt.Sprintf("LatestOpenCall(%s, %s)", c.env, c.lead), got, c.want)
	}
	for _, c := range []struct{ env, lead, what string }{
		{"env-a", "l3", "a lead whose calls all have a result"},
		{"env-a", "l9", "a lead without calls"},
		{"env-missing", "l1", "a missing environment"},
	} {
		_, err := latestOpenCall(t, s, c.env, c.lead)
		wantNotFound(t, "LatestOpenCall of "+c.what, err)
	}

	// In a writing Tx, its own writes count: completing the newest leaves the tie.
	err := s.Tx(t.Context(), func(ctx context.Context, r ports.Repositories) error {
		if err := r.PutCall(ctx, call("env-a", "c-newest", "l1", domain.CallCompleted, 2*time.Minute)); err != nil {
			return err
		}
		got, err := r.LatestOpenCall(ctx, "env-a", "l1")
		if err != nil {
			return err
		}
		wantCall(t, "LatestOpenCall after completing the newest, in the Tx", got, tieLow)
		return errAbort
	})
	if !errors.Is(err, errAbort) {
		t.Fatalf("Tx: %v", err)
	}
}
