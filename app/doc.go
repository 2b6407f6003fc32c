// Package app holds the use cases of Call Connect: one method per thing a
// client asks for. Each one loads what it needs through the ports, applies the
// domain's rules and stores the result in a single transaction.
package app

import (
	"errors"
	"fmt"

	"callconnect/domain"
	"callconnect/ports"
)

// Services are the use cases together, as the HTTP API and the operator
// console take them: both are built on the same ones.
type Services struct {
	Configuration *Configuration
	Telephony     *Telephony
	CallButtons   *CallButtons
	Calls         *Calls
	PartnerTokens *PartnerTokens
	Callbacks     *Callbacks
	Monitor       *Monitor
	// EventSubscriptions configures the CRM endpoints events are pushed to.
	EventSubscriptions *EventSubscriptions
	// Events is the environments' event feeds.
	Events *Events
	// Idempotency keeps the answers to /v1 requests sent with an
	// Idempotency-Key.
	Idempotency *IdempotentRequests
}

// notFound turns a repository's ErrNotFound into the domain error clients see;
// other errors pass through.
func notFound(err error, code, field, what string) error {
	if errors.Is(err, ports.ErrNotFound) {
		return domain.NotFound(code, field, what+" not found")
	}
	return err
}

func envNotFound(err error, envID string) error {
	return notFound(err, domain.CodeEnvironmentNotFound, "env", fmt.Sprintf("environment %q", envID))
}
