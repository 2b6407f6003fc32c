package portstest

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"callconnect/domain"
	"callconnect/ports"
)

var occurredAt = time.Date(2026, 3, 19, 14, 0, 6, 654321000, saoPaulo)

// outboundExchange is a delivery attempt as the monitor records it.
func outboundExchange(envID, id, callID string) domain.Exchange {
	return domain.Exchange{
		ID: id, EnvID: envID, Direction: domain.Outbound, Method: "POST", URL: partnerURL,
		StatusCode: 503, Duration: 1534 * time.Millisecond, CallID: callID, LeadID: "l1", OccurredAt: occurredAt,
		RequestHeaders: map[string][]string{
			"Content-Type":      {"application/json"},
			"Webhook-Id":        {"msg_" + callID},
			"Webhook-Signature": {domain.Redacted},
			"Traceparent":       {traceParent},
			"X-Repeated":        {"b", "a", ""},
		},
		RequestBody:  string(payload(callID)),
		ResponseBody: "<html>Service Unavailable</html>",
		Error:        "partner answered 503",
	}
}

// inboundExchange is a refused callback: no call or lead, no header, body or error.
func inboundExchange(envID, id string, at time.Time) domain.Exchange {
	return domain.Exchange{
		ID: id, EnvID: envID, Direction: domain.Inbound, Method: "POST",
		URL: "https://callconnect.example.com/api/cvio/lead?idligacao=c1", StatusCode: 401, OccurredAt: at,
	}
}

func exchangeString(e domain.Exchange) string {
	var b strings.Builder
	fmt.Fprintf(&b, "{id:%q env:%q direction:%q method:%q url:%q status:%d duration:%v call:%q lead:%q occurred_at:%s headers:{",
		e.ID, e.EnvID, e.Direction, e.Method, e.URL, e.StatusCode, e.Duration, e.CallID, e.LeadID, instant(e.OccurredAt))
	names := slices.Sorted(func(yield func(string) bool) {
		for name := range e.RequestHeaders {
			if !yield(name) {
				return
			}
		}
	})
	for n, name := range names {
		if n > 0 {
			b.WriteByte(' ')
		}
		fmt.Fprintf(&b, "%q:%q", name, e.RequestHeaders[name])
	}
	fmt.Fprintf(&b, "} request_body:%q response_body:%q error:%q}", e.RequestBody, e.ResponseBody, e.Error)
	return b.String()
}

func wantExchanges(t *testing.T, what string, got []domain.Exchange, want ...domain.Exchange) {
	t.Helper()
	for _, e := range got {
		if e.RequestHeaders == nil {
			t.Errorf("%s: exchange %s: the headers are nil, want a map (empty when there are none)", what, e.ID)
		}
	}
	wantList(t, what, exchangeString, got, want)
}

func testExchangeRoundTrip(t *testing.T, h Harness) {
	out := outboundExchange("env-a", "x-out", "c1")
	in := inboundExchange("env-a", "x-in", occurredAt.Add(-time.Second))
	// Same instant as out: the id orders them.
	tie := inboundExchange("env-a", "x-a", occurredAt)
	other := outboundExchange("env-b", "x-b", "c1")
	put(t, h.Store, environment(t, "env-a"), environment(t, "env-b"), environment(t, "env-c"), out, in, tie, other)

	wantExchanges(t, "Exchanges(env-a), by time then id", h.Exchanges("env-a"), in, tie, out)
	wantExchanges(t, "Exchanges(env-b)", h.Exchanges("env-b"), other)
	wantExchanges(t, "Exchanges(env-c)", h.Exchanges("env-c"))
	got := h.Exchanges("env-a")
	if len(got) == 3 && !got[2].OccurredAt.Equal(occurredAt) {
		t.Errorf("occurred_at: got %v, want %v", got[2].OccurredAt, occurredAt)
	}
}

func testExchangeRollback(t *testing.T, h Harness) {
	put(t, h.Store, environment(t, "env-1"))
	err := h.Store.Tx(t.Context(), func(ctx context.Context, r ports.Repositories) error {
		if err := r.RecordExchange(ctx, outboundExchange("env-1", "x1", "c1")); err != nil {
			return err
		}
		return errAbort
	})
	if !errors.Is(err, errAbort) {
		t.Fatalf("Tx: got %v, want errAbort", err)
	}
	wantExchanges(t, "after a rolled-back Tx", h.Exchanges("env-1"))

	// Committed with the call's outcome, in one Tx.
	c, x := restoredCall("env-1", "c1"), outboundExchange("env-1", "x2", "c1")
	put(t, h.Store, c, x)
	wantExchanges(t, "after a committed Tx", h.Exchanges("env-1"), x)
}

func testExchangeRequiresEnvironment(t *testing.T, h Harness) {
	err := h.Store.Tx(t.Context(), func(ctx context.Context, r ports.Repositories) error {
		return r.RecordExchange(ctx, outboundExchange("env-1", "x1", "c1"))
	})
	wantNotFound(t, "RecordExchange in a missing environment", err)
	put(t, h.Store, environment(t, "env-1"))
	wantExchanges(t, "after a refused RecordExchange", h.Exchanges("env-1"))
}

// What the schema's CHECKs refuse, every adapter refuses.
func testExchangeRefused(t *testing.T, h Harness) {
	put(t, h.Store, environment(t, "env-1"))
	for _, c := range []struct {
		what   string
		change func(*domain.Exchange)
	}{
		{"an unknown direction", func(e *domain.Exchange) { e.Direction = "sideways" }},
		{"no direction", func(e *domain.Exchange) { e.Direction = "" }},
		{"a negative duration", func(e *domain.Exchange) { e.Duration = -time.Microsecond }},
		{"a status code above 999", func(e *domain.Exchange) { e.StatusCode = 1000 }},
		{"a negative status code", func(e *domain.Exchange) { e.StatusCode = -1 }},
		{"no id", func(e *domain.Exchange) { e.ID = "" }},
		{"an id that is not valid", func(e *domain.Exchange) { e.ID = "x 1" }},
	} {
		e := outboundExchange("env-1", "x1", "c1")
		c.change(&e)
		err := h.Store.Tx(t.Context(), func(ctx context.Context, r ports.Repositories) error { return r.RecordExchange(ctx, e) })
		if err == nil {
			t.Errorf("RecordExchange with %s succeeded", c.what)
		}
	}
	wantExchanges(t, "after refused RecordExchanges", h.Exchanges("env-1"))
}

// Partners send what they like: NUL and invalid UTF-8 are kept as U+FFFD
// rather than failing the write that records the outcome of a delivery.
func testExchangeStorableText(t *testing.T, h Harness) {
	e := outboundExchange("env-1", "x1", "c1")
	e.RequestHeaders = map[string][]string{"X-Odd": {"a\x00b", "\xff"}}
	e.ResponseBody = "bin\x00ary \xc3\x28 end"
	e.Error = "\x00"
	e.Duration = 2*time.Second + 999*time.Microsecond
	put(t, h.Store, environment(t, "env-1"), e)
	want := e
	want.RequestHeaders = map[string][]string{"X-Odd": {"a\uFFFDb", "\uFFFD"}}
	want.ResponseBody = "bin\uFFFDary \uFFFD( end"
	want.Error = "\uFFFD"
	want.Duration = 2 * time.Second
	wantExchanges(t, "an exchange with NUL, invalid UTF-8 and a duration finer than a millisecond", h.Exchanges("env-1"), want)
}
