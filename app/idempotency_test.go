package app_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"callconnect/adapters/memory"
	"callconnect/app"
	"callconnect/domain"
	"callconnect/ports"
)

func wantIdempotencyCode(t *testing.T, what string, err error, kind domain.Kind, code string) {
	t.Helper()
	de, ok := domain.AsError(err)
	if !ok || de.Kind != kind || de.Code != code || de.Field != "Idempotency-Key" {
		t.Errorf("%s: want kind %v, code %s naming Idempotency-Key, got %v", what, kind, code, err)
	}
}

// TestIdempotentRequestsLifecycle walks a key through its life: reserved,
// refused while in flight, answered, replayed, refused for another
// request, kept apart by scope, freed by a failure, taken over once
// abandoned, and new again once its answer expired.
func TestIdempotentRequestsLifecycle(t *testing.T) {
	ctx := context.Background()
	store, clock := memory.NewStore(), memory.NewClock(t0)
	s := app.NewIdempotentRequests(store, clock)
	req := app.IdempotentRequest{Scope: "acme/v1/placeCall", Key: "k-1", RequestHash: "hash-a"}
	other := req
	other.RequestHash = "hash-b"

	res, prior, err := s.Begin(ctx, req)
	if err != nil || res == nil || prior != nil {
		t.Fatalf("first Begin: %v, %v, %v; want a reservation", res, prior, err)
	}
	// In flight: the same request waits its turn, another is refused.
	_, _, err = s.Begin(ctx, req)
	wantIdempotencyCode(t, "the same request in flight", err, domain.KindConflict, app.CodeIdempotencyKeyInUse)
	_, _, err = s.Begin(ctx, other)
	wantIdempotencyCode(t, "another request in flight", err, domain.KindInvalid, app.CodeIdempotencyKeyReused)

	clock.Advance(time.Second)
	body := []byte("Content-Type: application/json\n\n{\"id\":\"c1\"}\n")
	if err := res.Keep(ctx, 202, body); err != nil {
		t.Fatal(err)
	}
	clock.Advance(time.Hour)
	_, prior, err = s.Begin(ctx, req)
	if err != nil || prior == nil || prior.StatusCode != 202 || string(prior.Body) != string(body) {
		t.Fatalf("Begin after the answer: %+v, %v; want the answer kept", prior, err)
	}
	_, _, err = s.Begin(ctx, other)
	wantIdempotencyCode(t, "another request after the answer", err, domain.KindInvalid, app.CodeIdempotencyKeyReused)

	// Another environment, or another operation, has keys of its own.
	for _, scope := range []string{"other/v1/placeCall", "acme/v1/redeliverCall"} {
		elsewhere := other
		elsewhere.Scope = scope
		if res, _, err := s.Begin(ctx, elsewhere); err != nil || res == nil {
			t.Errorf("the key in scope %s: %v; want it reserved there", scope, err)
		}
	}

	// A failure keeps nothing: the same request runs again.
	failing := app.IdempotentRequest{Scope: "acme/v1/placeCall", Key: "k-2", RequestHash: "hash-a"}
	res, _, _ = s.Begin(ctx, failing)
	if err := res.Release(ctx); err != nil {
		t.Fatal(err)
	}
	if res, prior, err := s.Begin(ctx, failing); err != nil || res == nil || prior != nil {
		t.Fatalf("Begin after a release: %v, %v, %v; want a new reservation", res, prior, err)
	}

	// Abandoned (its process died): refused until IdempotencyTakeOver has
	// passed, then taken over by the same request, never by another.
	clock.Advance(app.IdempotencyTakeOver - time.Microsecond)
	_, _, err = s.Begin(ctx, failing)
	wantIdempotencyCode(t, "an abandoned reservation just before the take-over", err, domain.KindConflict, app.CodeIdempotencyKeyInUse)
	clock.Advance(time.Microsecond)
	otherBody := failing
	otherBody.RequestHash = "hash-b"
	_, _, err = s.Begin(ctx, otherBody)
	wantIdempotencyCode(t, "another request on an abandoned reservation", err, domain.KindInvalid, app.CodeIdempotencyKeyReused)
	taken, _, err := s.Begin(ctx, failing)
	if err != nil || taken == nil {
		t.Fatalf("taking an abandoned reservation over: %v", err)
	}
	// The abandoned request, should it finish after all, keeps nothing
	// over the one that took over.
	if err := res.Keep(ctx, 202, []byte("late")); !errors.Is(err, ports.ErrIdempotencyConflict) {
		t.Errorf("Keep by the request taken over: want ErrIdempotencyConflict, got %v", err)
	}
	if err := taken.Keep(ctx, 201, []byte("\n{}")); err != nil {
		t.Fatal(err)
	}
	if _, prior, _ := s.Begin(ctx, failing); prior == nil || string(prior.Body) != "\n{}" {
		t.Errorf("after the take-over, the answer is %+v; want the one that took over", prior)
	}

	// Past the retention, the key is new again, for any request.
	clock.Advance(ports.IdempotencyRetention)
	if res, prior, err := s.Begin(ctx, other); err != nil || res == nil || prior != nil {
		t.Errorf("Begin after the answer expired: %v, %v, %v; want a new reservation", res, prior, err)
	}
}

// TestIdempotencyKeyShape: a key is 1 to 255 printable ASCII characters.
func TestIdempotencyKeyShape(t *testing.T) {
	s := app.NewIdempotentRequests(memory.NewStore(), memory.NewClock(t0))
	for _, key := range []string{"", strings.Repeat("k", 256), "chave-ç", "tab\tkey", "new\nline"} {
		_, _, err := s.Begin(context.Background(), app.IdempotentRequest{Scope: "acme/v1/placeCall", Key: key, RequestHash: "h"})
		wantIdempotencyCode(t, "key "+strings.ToValidUTF8(key, "?"), err, domain.KindInvalid, domain.CodeInvalidField)
	}
	for _, key := range []string{"k", strings.Repeat("k", 255), " ~!\"#$%&'()*+,-./0123456789:;<=>?@AZ[\\]^_`az{|}"} {
		if _, _, err := s.Begin(context.Background(), app.IdempotentRequest{Scope: "acme/v1/placeCall", Key: key, RequestHash: "h"}); err != nil {
			t.Errorf("key %q: %v", key, err)
		}
	}
}
