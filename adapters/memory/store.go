package memory

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"callconnect/domain"
	"callconnect/ports"
)

// Store is an in-memory ports.Store. Transactions are serialised by a mutex;
// each works on a copy of the state that replaces it on success, so a failed
// transaction leaves nothing behind. Committed states are never modified,
// which lets Read run on one without blocking or being blocked by writers.
//
// Like the PostgreSQL adapter it keeps times to the microsecond (durations to
// the millisecond), refuses writes inside Read, where the Lock methods only
// read, and schedules a delivery only when its Tx commits. Unlike it, a Tx
// inside a Tx of the same store fails at once instead of waiting for itself
// forever.
type Store struct {
	mu      sync.Mutex   // held by the running Tx
	waiting atomic.Int32 // transactions waiting for mu
	current atomic.Pointer[state]

	outboxMu sync.Mutex
	outbox   []ports.Delivery // committed, not yet taken

	events eventLog // the feed of committed events (ports.Events)
}

var _ ports.Store = (*Store)(nil)

// NewStore returns an empty store.
func NewStore() *Store {
	s := &Store{}
	s.current.Store(&state{
		environments: map[string]domain.Environment{},
		users:        map[key]domain.User{},
		leads:        map[key]domain.Lead{},
		integrations: map[key]domain.Integration{},
		calls:        map[key]domain.Call{},
		exchanges:    map[string]domain.Exchange{},
		tokens:       map[string]domain.PartnerToken{},
		interactions: map[key]storedInteraction{},
		recordings:   map[key]domain.Recording{},
		answers:      map[answerKey]ports.IdempotentAnswer{},
		held:         map[key]ports.Delivery{},
	})
	return s
}

// key names a row of a tenant: users and leads by id, integrations by provider.
type key struct{ env, id string }

type state struct {
	environments map[string]domain.Environment
	// subscriptions and eventDeliveries are the event subscriptions and the
	// deliveries of their events; eventRuns counts the runs of each
	// subscription's deliveries scheduled (event_subscriptions.go).
	subscriptions   map[key]domain.EventSubscription
	eventDeliveries map[deliveryKey]domain.EventDelivery
	eventRuns       map[key]int

	users        map[key]domain.User
	leads        map[key]domain.Lead
	integrations map[key]domain.Integration
	calls        map[key]domain.Call
	exchanges    map[string]domain.Exchange     // by id, which is unique across environments
	tokens       map[string]domain.PartnerToken // by id, which is unique across environments
	interactions map[key]storedInteraction
	recordings   map[key]domain.Recording
	answers      map[answerKey]ports.IdempotentAnswer
	// held are the direct deliveries (ports.Delivery.NotBefore) not yet
	// released, by call: the jobs a queue keeps back as a safety net.
	held map[key]ports.Delivery
}

// clone copies the maps; the values are immutable domain values (the
// repositories copy what they take in and give out), so they are shared.
func (s *state) clone() *state {
	return &state{
		environments: maps.Clone(s.environments),
		// The event subscriptions' (event_subscriptions.go).
		subscriptions:   maps.Clone(s.subscriptions),
		eventDeliveries: maps.Clone(s.eventDeliveries),
		eventRuns:       maps.Clone(s.eventRuns),

		users:        maps.Clone(s.users),
		leads:        maps.Clone(s.leads),
		integrations: maps.Clone(s.integrations),
		calls:        maps.Clone(s.calls),
		exchanges:    maps.Clone(s.exchanges),
		tokens:       maps.Clone(s.tokens),
		interactions: maps.Clone(s.interactions),
		recordings:   maps.Clone(s.recordings),
		answers:      maps.Clone(s.answers),
		held:         maps.Clone(s.held),
	}
}

type inTx struct{ store *Store }

// Tx runs fn on a private copy of the state and makes the copy current if fn
// returns nil. A panic in fn leaves the state as it was and goes on up.
func (s *Store) Tx(ctx context.Context, fn func(ctx context.Context, r ports.Repositories) error) error {
	return s.tx(ctx, func(ctx context.Context, r *repositories) error { return fn(ctx, r.ports()) })
}

// tx is Tx on the adapter's own repositories, for the store's methods that
// work outside the ports (retention, expiry).
func (s *Store) tx(ctx context.Context, fn func(ctx context.Context, r *repositories) error) error {
	if v, _ := ctx.Value(inTx{}).(inTx); v.store == s {
		return errors.New("memory: Tx called inside a Tx of the same store")
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	if !s.mu.TryLock() { // counted as waiting only while another holds the lock
		s.waiting.Add(1)
		s.mu.Lock()
		s.waiting.Add(-1)
	}
	defer s.mu.Unlock()
	r := &repositories{state: s.current.Load().clone(), writable: true}
	defer r.ended.Store(true)
	if err := fn(context.WithValue(ctx, inTx{}, inTx{s}), r); err != nil {
		return err
	}
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("memory: not committed: %w", err)
	}
	s.current.Store(r.state)
	s.events.commit(r.events)
	if len(r.deliveries) > 0 {
		s.outboxMu.Lock()
		s.outbox = append(s.outbox, r.deliveries...)
		s.outboxMu.Unlock()
	}
	return nil
}

// LockWaiters counts the transactions waiting for the one running: a test
// tells by it that a transaction waits, instead of waiting to see.
func (s *Store) LockWaiters() int { return int(s.waiting.Load()) }

// Read runs fn on the current state, which no later transaction changes.
func (s *Store) Read(ctx context.Context, fn func(ctx context.Context, r ports.Repositories) error) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	r := &repositories{state: s.current.Load()}
	defer r.ended.Store(true)
	return fn(ctx, r.ports())
}

// repositories gives access to one state: the private copy of a Tx (writable)
// or a committed one (Read).
type repositories struct {
	state      *state
	writable   bool
	ended      atomic.Bool
	deliveries []ports.Delivery // enqueued by this Tx; they join the store's outbox when it commits
	events     []domain.Event   // written by this Tx; they join the store's feed when it commits
}

// The ports a unit of work hands out, each implemented by repositories.
var (
	_ ports.Environments       = (*repositories)(nil)
	_ ports.Users              = (*repositories)(nil)
	_ ports.Leads              = (*repositories)(nil)
	_ ports.Integrations       = (*repositories)(nil)
	_ ports.Calls              = (*repositories)(nil)
	_ ports.CallContexts       = (*repositories)(nil)
	_ ports.Exchanges          = (*repositories)(nil)
	_ ports.PartnerTokens      = (*repositories)(nil)
	_ ports.History            = (*repositories)(nil)
	_ ports.Idempotency        = (*repositories)(nil)
	_ ports.EventSubscriptions = (*repositories)(nil)
)

// ports hands r out as every port of its unit of work.
func (r *repositories) ports() ports.Repositories {
	return ports.Repositories{Environments: r, Users: r, Leads: r, Integrations: r, Calls: r, CallContexts: r,
		Exchanges: r, PartnerTokens: r, History: r, Idempotency: r, EventSubscriptions: r}
}

var (
	errReadOnly = errors.New("memory: write inside Read (a read-only snapshot)")
	errEnded    = errors.New("memory: repositories used after their transaction ended")
)

func (r *repositories) check(write bool) error {
	if r.ended.Load() {
		return errEnded
	}
	if write && !r.writable {
		return errReadOnly
	}
	return nil
}

func (r *repositories) requireEnvironment(envID string) error {
	if _, ok := r.state.environments[envID]; !ok {
		return fmt.Errorf("memory: environment %q: %w", envID, ports.ErrNotFound)
	}
	return nil
}

func (r *repositories) GetEnvironment(_ context.Context, id string) (domain.Environment, error) {
	if err := r.check(false); err != nil {
		return domain.Environment{}, err
	}
	e, ok := r.state.environments[id]
	if !ok {
		return domain.Environment{}, fmt.Errorf("memory: environment %q: %w", id, ports.ErrNotFound)
	}
	return e, nil
}

// LockEnvironment needs no lock of its own: the Tx holds the store's mutex.
// Inside Read it only reads, as the PostgreSQL adapter does: the snapshot
// cannot change underneath.
func (r *repositories) LockEnvironment(ctx context.Context, id string) (domain.Environment, error) {
	return r.GetEnvironment(ctx, id)
}

func (r *repositories) PutEnvironment(_ context.Context, e domain.Environment) error {
	if err := r.check(true); err != nil {
		return err
	}
	if !domain.ValidID(e.ID()) {
		return fmt.Errorf("memory: environment id %q is not valid", e.ID())
	}
	r.state.environments[e.ID()] = e
	return nil
}

func (r *repositories) GetUser(_ context.Context, envID, id string) (domain.User, error) {
	if err := r.check(false); err != nil {
		return domain.User{}, err
	}
	u, ok := r.state.users[key{envID, id}]
	if !ok {
		return domain.User{}, fmt.Errorf("memory: user %q of environment %q: %w", id, envID, ports.ErrNotFound)
	}
	return u, nil
}

func (r *repositories) GetUsers(_ context.Context, envID string, ids []string) ([]domain.User, error) {
	if err := r.check(false); err != nil {
		return nil, err
	}
	var out []domain.User
	seen := make(map[string]bool, len(ids))
	for _, id := range ids {
		if seen[id] {
			continue
		}
		seen[id] = true
		if u, ok := r.state.users[key{envID, id}]; ok {
			out = append(out, u)
		}
	}
	return out, nil
}

func (r *repositories) PutUser(_ context.Context, u domain.User) error {
	if err := r.check(true); err != nil {
		return err
	}
	if err := r.requireEnvironment(u.EnvID()); err != nil {
		return err
	}
	r.state.users[key{u.EnvID(), u.ID()}] = u
	return nil
}

func (r *repositories) GetLead(_ context.Context, envID, id string) (domain.Lead, error) {
	if err := r.check(false); err != nil {
		return domain.Lead{}, err
	}
	l, ok := r.state.leads[key{envID, id}]
	if !ok {
		return domain.Lead{}, fmt.Errorf("memory: lead %q of environment %q: %w", id, envID, ports.ErrNotFound)
	}
	return l, nil
}

func (r *repositories) GetLeads(_ context.Context, envID string, ids []string) ([]domain.Lead, error) {
	if err := r.check(false); err != nil {
		return nil, err
	}
	var out []domain.Lead
	seen := make(map[string]bool, len(ids))
	for _, id := range ids {
		if seen[id] {
			continue
		}
		seen[id] = true
		if l, ok := r.state.leads[key{envID, id}]; ok {
			out = append(out, l)
		}
	}
	return out, nil
}

// PutLead stores a copy of l rebuilt from its input, so that nothing the
// caller holds aliases the stored lead, with its time cut to microseconds,
// and its phone as typed: a foreign number keeps its '+'.
func (r *repositories) PutLead(_ context.Context, l domain.Lead) error {
	if err := r.check(true); err != nil {
		return err
	}
	if err := r.requireEnvironment(l.EnvID()); err != nil {
		return err
	}
	in := l.Input()
	in.RegisteredAt = truncate(in.RegisteredAt)
	in.Phone = l.Phone().Typed()
	stored, err := domain.NewLead(in)
	if err != nil {
		return fmt.Errorf("memory: lead %q: %w", l.ID(), err)
	}
	r.state.leads[key{l.EnvID(), l.ID()}] = stored
	return nil
}

func (r *repositories) ListIntegrations(_ context.Context, envID string) ([]domain.Integration, error) {
	if err := r.check(false); err != nil {
		return nil, err
	}
	var out []domain.Integration
	for k, i := range r.state.integrations {
		if k.env == envID {
			out = append(out, copyIntegration(i))
		}
	}
	slices.SortFunc(out, func(a, b domain.Integration) int { return cmp.Compare(a.Provider(), b.Provider()) })
	return out, nil
}

// PutIntegration enforces rule 1 the way PostgreSQL's partial unique index
// does: at most one active integration per environment.
func (r *repositories) PutIntegration(_ context.Context, i domain.Integration) error {
	if err := r.check(true); err != nil {
		return err
	}
	if err := r.requireEnvironment(i.EnvID()); err != nil {
		return err
	}
	if i.Active() {
		for k, o := range r.state.integrations {
			if k.env == i.EnvID() && k.id != i.Provider() && o.Active() {
				return fmt.Errorf("memory: activating %q while %q is active: %w", i.Provider(), o.Provider(), ports.ErrActiveElsewhere)
			}
		}
	}
	r.state.integrations[key{i.EnvID(), i.Provider()}] = copyIntegration(i)
	return nil
}

// copyIntegration copies the secrets' expiry times too: SigningSecret holds
// them by pointer, and a caller writing through one must not reach the store.
func copyIntegration(i domain.Integration) domain.Integration {
	secrets := i.Secrets()
	for n := range secrets {
		secrets[n].ExpiresAt = truncate(secrets[n].ExpiresAt)
	}
	return domain.RestoreIntegration(i.EnvID(), i.Provider(), i.Active(), i.PartnerURL(), i.DialMode(), secrets)
}

// truncate returns a copy of *t cut to the microsecond, as PostgreSQL keeps it.
func truncate(t *time.Time) *time.Time {
	if t == nil {
		return nil
	}
	c := t.Truncate(time.Microsecond)
	return &c
}
