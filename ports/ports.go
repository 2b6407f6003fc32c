// Package ports declares what the application needs from the outside world:
// storage, time and randomness. Adapters implement these interfaces; every
// implementation passes the contract suites in ports/portstest.
package ports

import (
	"context"
	"errors"
	"time"

	"callconnect/domain"
)

// ErrNotFound is returned by a repository when the asked row does not exist.
var ErrNotFound = errors.New("not found")

// Clock tells the time. Use cases read it here, never from time.Now.
type Clock interface {
	Now() time.Time
}

// Random is the source of identifiers and secret key material.
type Random interface {
	// NewID returns a new unique identifier (URL-safe, sortable by creation time).
	NewID() string
	// Bytes returns n bytes from a cryptographically secure source.
	Bytes(n int) []byte
}

// Environments stores environments.
type Environments interface {
	GetEnvironment(ctx context.Context, id string) (domain.Environment, error)
	// LockEnvironment reads the environment and holds it until the transaction
	// ends, so that changes to its integrations are serialised.
	LockEnvironment(ctx context.Context, id string) (domain.Environment, error)
	PutEnvironment(ctx context.Context, e domain.Environment) error
}

// Users stores the users of environments.
type Users interface {
	GetUser(ctx context.Context, envID, id string) (domain.User, error)
	PutUser(ctx context.Context, u domain.User) error
}

// Leads stores leads.
type Leads interface {
	GetLead(ctx context.Context, envID, id string) (domain.Lead, error)
	// GetLeads returns the leads of the environment among ids, in no
	// particular order; ids that do not exist are left out. It costs one
	// query however many ids are given.
	GetLeads(ctx context.Context, envID string, ids []string) ([]domain.Lead, error)
	PutLead(ctx context.Context, l domain.Lead) error
}

// Integrations stores telephony integrations.
type Integrations interface {
	// ListIntegrations returns every integration of the environment, ordered by provider.
	ListIntegrations(ctx context.Context, envID string) ([]domain.Integration, error)
	// PutIntegration inserts or replaces the integration. Storage refuses a
	// second active integration in one environment with an error for which
	// errors.Is(err, ErrActiveElsewhere).
	PutIntegration(ctx context.Context, i domain.Integration) error
}

// Repositories is every repository, bound to one transaction.
type Repositories interface {
	Environments
	Users
	Leads
	Integrations
}

// Store runs units of work.
type Store interface {
	// Tx runs fn in one transaction: all its writes land, or none if fn
	// returns an error.
	Tx(ctx context.Context, fn func(ctx context.Context, r Repositories) error) error
	// Read runs fn against one consistent, read-only snapshot.
	Read(ctx context.Context, fn func(ctx context.Context, r Repositories) error) error
}

// ErrActiveElsewhere is wrapped by storage when a write would leave two
// active telephony integrations in one environment (rule 1 as a constraint,
// for the writer that lost a race).
var ErrActiveElsewhere = errors.New("another telephony integration is active in this environment")
