package app

import (
	"context"
	"fmt"
	"strings"
	"time"
	"unicode/utf8"

	"callconnect/domain"
	"callconnect/ports"
)

// TestCallPrefix starts the idligacao of every test call, so that a partner
// (and the monitor) tells it from a real call at a glance.
const TestCallPrefix = "teste_"

// MaxTestCallExcerpt bounds the part of the partner's answer a test call
// reports: enough to read an error message, not a page.
const MaxTestCallExcerpt = 500

// TestCallResult is what became of a test call.
type TestCallResult struct {
	// CallID is the test call's idligacao (TestCallPrefix and a new id). No
	// call is stored under it.
	CallID string
	// WebhookID is the Standard Webhooks webhook-id it was sent with.
	WebhookID string
	// StatusCode is the partner's HTTP status; 0 when no answer came back.
	StatusCode int
	Duration   time.Duration
	// BodyExcerpt is the start of the partner's answer: its first
	// MaxTestCallExcerpt bytes, as UTF-8 text.
	BodyExcerpt string
	// Error says why no HTTP answer came back (refused connection, timeout,
	// a partner URL the delivery policy refuses); "" on any HTTP answer,
	// whatever its status.
	Error string
	// ExchangeID is the monitor's record of the request.
	ExchangeID string
}

// SendTestCall posts a signed sample call to the environment's partner URL
// now and reports the partner's answer, so that a partner can try its
// endpoint and an operator can see why calls do not arrive.
//
// It takes the permission configuring the integration takes (the actor
// manages integrations and support has enabled Call Connect), and works
// whether the integration is active or not: a partner tries its endpoint
// before it is switched on. The body is the real call's, built by the same
// encoder from sample values (a sample lead with sample owners; the actor
// presses the button) with Test set; it is signed and sent by the same
// client as a real delivery, with the integration's secrets, and recorded in
// the monitor as an outbound exchange under its call id. No call is stored
// and nothing is retried: a partner that does not answer is reported in
// Error, not as a failure of the request.
func (s *Calls) SendTestCall(ctx context.Context, envID, actorID string) (TestCallResult, error) {
	var (
		res TestCallResult
		req ports.PartnerRequest
	)
	started := s.clock.Now()
	err := s.testCall.Read(ctx, func(ctx context.Context, r testCallRepos) error {
		var err error
		res, req, err = s.prepareTestCall(ctx, r, envID, actorID, started)
		return err
	})
	if err != nil {
		return TestCallResult{}, err
	}

	resp := s.client.Deliver(ctx, req)
	if resp.Duration <= 0 {
		resp.Duration = s.clock.Now().Sub(started)
	}
	res.StatusCode, res.Duration, res.BodyExcerpt = resp.StatusCode, resp.Duration, excerpt(resp.Body, MaxTestCallExcerpt)
	// The monitor says of a refusing partner what it says of a real
	// delivery; the answer's error is kept for when no HTTP answer came.
	exchangeError := ""
	if resp.Err != nil {
		res.Error, exchangeError = resp.Err.Error(), resp.Err.Error()
	} else if domain.Judge(resp.StatusCode) != domain.VerdictDelivered {
		exchangeError = fmt.Sprintf("partner answered %d", resp.StatusCode)
	}

	// Recorded even if the caller went away meanwhile: the partner may have
	// the request, and the monitor is where an operator looks for it.
	res.ExchangeID = s.random.NewID()
	err = s.testCall.Tx(context.WithoutCancel(ctx), func(ctx context.Context, r testCallRepos) error {
		// The call id is not a stored call: the monitor's call_id is a
		// reference for filtering, not a foreign key, so the test call's
		// exchanges are found under it. There is no lead to name.
		return r.RecordExchange(ctx, domain.Exchange{
			ID: res.ExchangeID, EnvID: envID, Direction: domain.Outbound, Method: "POST", URL: domain.RedactURL(req.URL),
			StatusCode: resp.StatusCode, Duration: resp.Duration, CallID: res.CallID, OccurredAt: started,
			RequestHeaders: domain.RedactHeaders(resp.RequestHeaders), RequestBody: domain.TruncateBody(req.Body),
			ResponseBody: domain.TruncateBody(resp.Body), Error: exchangeError,
		})
	})
	if err != nil {
		return TestCallResult{}, err
	}
	return res, nil
}

// prepareTestCall reads and checks what a test call needs and makes its
// request, signed as at started; the result has its ids.
func (s *Calls) prepareTestCall(ctx context.Context, r testCallRepos, envID, actorID string, started time.Time) (TestCallResult, ports.PartnerRequest, error) {
	var res TestCallResult
	env, actor, integ, err := testCallContext(ctx, r, envID, actorID)
	if err != nil {
		return res, ports.PartnerRequest{}, err
	}
	res.CallID = TestCallPrefix + s.random.NewID()
	// A real call's webhook-id is "msg_" and its id (domain.Call.WebhookID).
	res.WebhookID = "msg_" + res.CallID
	in, err := sampleCall(env, actor, integ, res.CallID, started)
	if err != nil {
		return res, ports.PartnerRequest{}, err
	}
	body, err := s.payloads.CallPayload(in)
	if err != nil {
		return res, ports.PartnerRequest{}, err
	}
	return res, ports.PartnerRequest{URL: integ.PartnerURL(), Body: body, WebhookID: res.WebhookID,
		Secrets: integ.SigningSecrets(started), Timestamp: started}, nil
}

// testCallRepos is what a test call reads, and the exchange it records.
type testCallRepos interface {
	GetEnvironment(ctx context.Context, id string) (domain.Environment, error)
	actors
	ListIntegrations(ctx context.Context, envID string) ([]domain.Integration, error)
	RecordExchange(ctx context.Context, e domain.Exchange) error
}

// testCallContext reads and checks what a test call needs: the environment,
// the actor with the integration-management permission (and Call Connect
// enabled by support), and the Call Connect integration with a partner URL.
func testCallContext(ctx context.Context, r testCallRepos, envID, actorID string) (domain.Environment, domain.User, domain.Integration, error) {
	var (
		none  domain.Integration
		integ *domain.Integration
	)
	env, err := r.GetEnvironment(ctx, envID)
	if err != nil {
		return env, domain.User{}, none, envNotFound(err, envID)
	}
	actor, err := getActor(ctx, r, envID, actorID)
	if err != nil {
		return env, actor, none, err
	}
	if err := domain.CheckManagementAllowed(env, actor, domain.ProviderCallConnect); err != nil {
		return env, actor, none, err
	}
	all, err := r.ListIntegrations(ctx, envID)
	if err != nil {
		return env, actor, none, err
	}
	for i := range all {
		if all[i].IsCallConnect() {
			integ = &all[i]
		}
	}
	if integ == nil {
		return env, actor, none, integrationNotFound(domain.ProviderCallConnect)
	}
	if integ.PartnerURL() == "" {
		return env, actor, none, &domain.Error{Kind: domain.KindConflict, Code: domain.CodeIntegrationIncomplete, Field: "partner_url",
			Message: "the call-connect integration has no partner URL to send a test call to; PUT it first"}
	}
	return env, actor, *integ, nil
}

// Sample values of a test call: a plausible lead with its three owners, so
// that every key of the body carries a value of the right shape.
const (
	sampleLeadID    = TestCallPrefix + "lead"
	sampleManagerID = TestCallPrefix + "gestor"
	sampleBrokerID  = TestCallPrefix + "corretor"
	sampleAgencyID  = TestCallPrefix + "imobiliaria"
	samplePhone     = "48999476359"
	sampleExtension = "1234"
	sampleLeadAge   = 30 * 24 * time.Hour // the lead registered a month before the click
)

// sampleCall is the encoder's input of a test call: a sample lead owned by
// sample users, the actor in the owner slot of its role (as on a real click
// the presser is), the integration's dial mode.
func sampleCall(env domain.Environment, actor domain.User, integ domain.Integration, callID string, now time.Time) (domain.PartnerPayloadInput, error) {
	score := 27
	registered := now.Add(-sampleLeadAge).Truncate(time.Second)
	lead := domain.LeadInput{EnvID: env.ID(), ID: sampleLeadID, Name: "Lead de teste", Email: "lead.teste@example.com",
		Phone: samplePhone, Score: &score, RegisteredAt: &registered, MainMedia: "Site", Origin: "Ligação de teste",
		Stage:        &domain.Ref{ID: TestCallPrefix + "situacao", Name: "Em Atendimento"},
		Developments: []domain.Ref{{ID: TestCallPrefix + "empreendimento", Name: "Empreendimento de teste"}},
		ManagerID:    sampleManagerID, BrokerID: sampleBrokerID, AgencyID: sampleAgencyID}
	owners := map[string]domain.User{}
	for _, u := range []domain.UserInput{
		{ID: sampleManagerID, Name: "Gestor de teste", Role: string(domain.RoleManager)},
		{ID: sampleBrokerID, Name: "Corretor de teste", Role: string(domain.RoleBroker)},
		{ID: sampleAgencyID, Name: "Imobiliária de teste", Role: string(domain.RoleAgency)},
	} {
		u.EnvID, u.Phone, u.Extension = env.ID(), samplePhone, sampleExtension
		user, err := domain.NewUser(u)
		if err != nil {
			return domain.PartnerPayloadInput{}, err
		}
		owners[user.ID()] = user
	}
	switch actor.Role() {
	case domain.RoleManager:
		lead.ManagerID = actor.ID()
	case domain.RoleBroker:
		lead.BrokerID = actor.ID()
	case domain.RoleAgency, domain.RoleAgencyUser:
		lead.AgencyID = actor.AgencyID()
	}
	owners[actor.ID()] = actor
	l, err := domain.NewLead(lead)
	if err != nil {
		return domain.PartnerPayloadInput{}, err
	}
	return domain.PartnerPayloadInput{Env: env, Lead: l, Actor: actor, Owners: owners, CallID: callID, ClickedAt: now,
		DialMode: integ.DialMode(), Test: true}, nil
}

// excerpt is the start of b, at most max bytes, cut on a UTF-8 boundary and
// with anything that is not UTF-8 replaced, so that it can be shown as text.
func excerpt(b []byte, max int) string {
	if len(b) > max {
		cut := max
		for cut > 0 && !utf8.RuneStart(b[cut]) {
			cut--
		}
		b = b[:cut]
	}
	return strings.ToValidUTF8(string(b), "\uFFFD")
}
