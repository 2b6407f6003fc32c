// Package ports declares what the application needs from the outside world:
// storage, time and randomness. Adapters implement these interfaces; every
// implementation passes the contract suites in ports/portstest.
//
// # Small ports, and what each use case takes of them
//
// Storage is split into small repository ports, one per kind of record
// (Environments, Users, Leads, Integrations, Calls, CallContexts,
// Exchanges, PartnerTokens, History, Idempotency, EventSubscriptions), none
// of more than about ten methods. An adapter implements each one, says so
// at compile time,
//
//	var _ ports.Calls = (*repositories)(nil)
//
// and passes its contract suite (portstest.RunStore, one group of subtests
// per port, run against the in-memory and the PostgreSQL adapter alike).
//
// A unit of work spans several ports: what the function given to Store.Tx
// writes through any of them commits together, or not at all. Tx hands that
// function a Repositories, the struct of the ports bound to the
// transaction. A use case does not work on the whole of it: it names the
// few methods it uses in a small interface of its own, next to it in app,
// and sees the store through that interface only (app's unitOfWork):
//
//	// placeRepos is what placing (and redelivering) a call reads and writes.
//	type placeRepos interface {
//		clickContexts // GetClickContext
//		GetEnvironment(ctx context.Context, id string) (domain.Environment, error)
//		LockCall(ctx context.Context, envID, id string) (domain.Call, error)
//		PutCall(ctx context.Context, c domain.Call) error
//		EnqueueDelivery(ctx context.Context, d ports.Delivery) error
//	}
//
//	place := narrow(store, func(r ports.Repositories) placeRepos { return r })
//	err := place.Tx(ctx, func(ctx context.Context, r placeRepos) error { ... })
//
// Repositories embeds the ports, so it has their methods and satisfies any
// such interface, which the compiler checks in that one-line conversion.
// The transactions are the store's, as they were: Tx decides what commits
// together; the interface only says what the use case may touch.
//
// Tests swap an adapter by building the use case on another Store
// (memory.NewStore() for postgres.NewStore(...)): one line.
package ports
