package app

import (
	"context"
	"errors"
	"fmt"
	"time"

	"callconnect/domain"
	"callconnect/ports"
)

// Codes of Idempotency-Key refusals on /v1 (the callbacks have their own,
// CodeIdempotencyKeyReused as a conflict).
const (
	// CodeIdempotencyKeyInUse: a request with the same key and body is
	// still being answered; retry once it is (409, with Retry-After).
	CodeIdempotencyKeyInUse = "idempotency_key_in_use"
)

// IdempotencyTakeOver is how long a key may stay in flight before a request
// with it takes it over: longer than any request is answered (the server
// gives up writing an answer after a minute), so a key is taken over only
// from a request that will never finish (its process died). The request
// that takes it over runs again: whether the dead one had done its work is
// unknown.
const IdempotencyTakeOver = 2 * time.Minute

// IdempotentRequests keeps the first answer of each request sent with an
// Idempotency-Key, so that a retried or doubled request gets that answer
// and does nothing again. A key is reserved before its request runs (a row
// in flight, ports.IdempotencyInFlight) and its answer stored after, so a
// second request with the key, concurrent or later, never runs while the
// first may still be running.
type IdempotentRequests struct {
	store unitOfWork[ports.Idempotency]
	clock ports.Clock
}

// NewIdempotentRequests builds the service.
func NewIdempotentRequests(store ports.Store, clock ports.Clock) *IdempotentRequests {
	return &IdempotentRequests{store: narrow(store, func(r ports.Repositories) ports.Idempotency { return r }), clock: clock}
}

// IdempotentRequest is one request sent with an Idempotency-Key.
type IdempotentRequest struct {
	// Scope keeps keys apart: the environment and the operation, so that
	// keys of different tenants or operations never meet.
	Scope string
	Key   string
	// RequestHash is a hash of what the request asks (method, path, query,
	// body): the same key with another hash is another request.
	RequestHash string
}

// Reservation is a key held while its request runs. End it with Keep or
// Release.
type Reservation struct {
	s    *IdempotentRequests
	held ports.IdempotentAnswer
}

// Begin reserves the request's key, or says why it may not run:
//   - the key is new, its answer has expired, or the same request
//     reserved it and never finished (IdempotencyTakeOver): it is reserved
//     and returned, and the request runs;
//   - it holds the answer to the same request: that answer is returned, to
//     be sent again as it is;
//   - it holds, or is reserved by, another request: 422
//     idempotency_key_reused;
//   - the same request holds it and is still running: 409
//     idempotency_key_in_use.
//
// A key that is not 1 to 255 printable ASCII characters is 422
// invalid_field.
func (s *IdempotentRequests) Begin(ctx context.Context, req IdempotentRequest) (*Reservation, *ports.IdempotentAnswer, error) {
	if req.Key == "" || !validIdempotencyKey(req.Key) {
		return nil, nil, &domain.Error{Kind: domain.KindInvalid, Code: domain.CodeInvalidField, Field: "Idempotency-Key",
			Message: "must be 1 to 255 printable ASCII characters"}
	}
	now := s.clock.Now().Truncate(time.Microsecond)
	mine := ports.IdempotentAnswer{Scope: req.Scope, Key: req.Key, RequestHash: req.RequestHash,
		StatusCode: ports.IdempotencyInFlight, CreatedAt: now}
	var prior *ports.IdempotentAnswer
	err := s.store.Tx(ctx, func(ctx context.Context, r ports.Idempotency) error {
		err := r.PutIdempotentAnswer(ctx, mine)
		if !errors.Is(err, ports.ErrIdempotencyConflict) {
			return err
		}
		// The key holds an answer or a reservation (a concurrent first
		// use waited for the winner's commit, and reads it now).
		held, err := r.GetIdempotentAnswer(ctx, req.Scope, req.Key)
		if err != nil {
			return err
		}
		if held.RequestHash == req.RequestHash && held.StatusCode == ports.IdempotencyInFlight &&
			now.Sub(held.CreatedAt) >= IdempotencyTakeOver {
			// Abandoned: whoever replaces it first runs the request.
			return r.ReplaceIdempotentAnswer(ctx, held, mine)
		}
		prior = &held
		return nil
	})
	switch {
	case errors.Is(err, ports.ErrIdempotencyConflict):
		// Another request took the abandoned key over first.
		return nil, nil, keyInUse()
	case err != nil:
		return nil, nil, err
	case prior == nil:
		return &Reservation{s: s, held: mine}, nil, nil
	case prior.RequestHash != req.RequestHash:
		return nil, nil, &domain.Error{Kind: domain.KindInvalid, Code: CodeIdempotencyKeyReused, Field: "Idempotency-Key",
			Message: "this Idempotency-Key was used for another request (another operation, path or body)"}
	case prior.StatusCode == ports.IdempotencyInFlight:
		return nil, nil, keyInUse()
	}
	return nil, prior, nil
}

func keyInUse() error {
	return &domain.Error{Kind: domain.KindConflict, Code: CodeIdempotencyKeyInUse, Field: "Idempotency-Key",
		Message: "a request with this Idempotency-Key is still being answered; retry once it is"}
}

// Keep stores the request's answer under its key, for 24 hours
// (ports.IdempotencyRetention): the same request with the key gets it
// again. It fails, keeping nothing, if the reservation was taken over
// meanwhile.
func (r *Reservation) Keep(ctx context.Context, status int, body []byte) error {
	answer := r.held
	answer.StatusCode, answer.Body, answer.CreatedAt = status, body, r.s.clock.Now().Truncate(time.Microsecond)
	err := r.s.store.Tx(ctx, func(ctx context.Context, repos ports.Idempotency) error {
		return repos.ReplaceIdempotentAnswer(ctx, r.held, answer)
	})
	if err != nil {
		return fmt.Errorf("keeping the answer to Idempotency-Key %q: %w", r.held.Key, err)
	}
	return nil
}

// Release gives the key up, keeping no answer: the request changed nothing
// (it failed), and the same request with the key will run again.
func (r *Reservation) Release(ctx context.Context) error {
	err := r.s.store.Tx(ctx, func(ctx context.Context, repos ports.Idempotency) error {
		return repos.DeleteIdempotentAnswer(ctx, r.held)
	})
	if err != nil {
		return fmt.Errorf("releasing Idempotency-Key %q: %w", r.held.Key, err)
	}
	return nil
}
