package ports

import (
	"context"
	"errors"
	"io"
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
	// ListEnvironments returns up to limit environments whose id is greater
	// than after (byte order; "" starts at the first), ordered by id.
	ListEnvironments(ctx context.Context, after string, limit int) ([]domain.Environment, error)
}

// Users stores the users of environments.
type Users interface {
	GetUser(ctx context.Context, envID, id string) (domain.User, error)
	// GetUsers returns the users of the environment among ids, in no
	// particular order; missing ones are left out. One query.
	GetUsers(ctx context.Context, envID string, ids []string) ([]domain.User, error)
	PutUser(ctx context.Context, u domain.User) error
	// ListIntegrationManagers returns the environment's users who may manage
	// integrations, ordered by id (byte order), at most limit of them.
	ListIntegrationManagers(ctx context.Context, envID string, limit int) ([]domain.User, error)
}

// Leads stores leads.
type Leads interface {
	GetLead(ctx context.Context, envID, id string) (domain.Lead, error)
	// GetLeads returns the leads of the environment among ids, in no
	// particular order; ids that do not exist are left out. It costs one
	// query however many ids are given.
	GetLeads(ctx context.Context, envID string, ids []string) ([]domain.Lead, error)
	PutLead(ctx context.Context, l domain.Lead) error
	// FindLeadsMatchingPhone returns the environment's leads whose phone is
	// the same number as phone, however either was written: equal
	// domain.Phone.MatchKey. Ordered by id; none for no phone.
	FindLeadsMatchingPhone(ctx context.Context, envID string, phone domain.Phone) ([]domain.Lead, error)
	// FindLeadsByEmail returns the environment's leads with that e-mail,
	// compared case-insensitively.
	FindLeadsByEmail(ctx context.Context, envID, email string) ([]domain.Lead, error)
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

// Calls stores calls with their attempts, and schedules their delivery.
type Calls interface {
	GetCall(ctx context.Context, envID, id string) (domain.Call, error)
	// LockCall reads the call and holds it until the transaction ends, so
	// that two writers of one call take turns.
	LockCall(ctx context.Context, envID, id string) (domain.Call, error)
	// PutCall inserts or replaces the call and its attempts.
	PutCall(ctx context.Context, c domain.Call) error
	// ReplaceCall replaces the stored call with c, as PutCall does, only if
	// the stored one is still as its writer last read it: in status was,
	// with attempts attempts. Otherwise the transaction fails with an error
	// for which errors.Is(err, ErrCallChanged), and writes nothing: the
	// writer reads the call again (LockCall) and decides anew. The error
	// may come from ReplaceCall itself or only from the commit (a store
	// that sends its writes with the COMMIT, to save a round trip):
	// Store.Tx returns it either way. Someone else settling a call while
	// its delivery was on the wire (a result from the partner) is what it
	// is for: the call is locked neither during the request nor to record
	// its outcome.
	ReplaceCall(ctx context.Context, c domain.Call, was domain.CallStatus, attempts int) error
	// LatestOpenCall returns the lead's most recent call that has no result
	// yet (any status but completed and not_completed); ErrNotFound if none.
	LatestOpenCall(ctx context.Context, envID, leadID string) (domain.Call, error)
	// ListCalls returns the environment's calls that f selects, newest
	// first: by click time descending, then id descending (byte order).
	ListCalls(ctx context.Context, envID string, f CallFilter) ([]domain.Call, error)
	// LockCallsAwaitingResult returns up to limit delivered calls (status
	// delivered) that the partner accepted at or before acceptedBy
	// (domain.Call.DeliveredAt), earliest accepted first, and holds them as
	// LockCall does until the transaction ends. A call another transaction
	// holds is skipped, not waited for. Calls delivered at an unknown time
	// are never returned. It fails inside Read, as writes do, and refuses a
	// limit that is not positive.
	LockCallsAwaitingResult(ctx context.Context, acceptedBy time.Time, limit int) ([]domain.Call, error)
	// EnqueueDelivery schedules a delivery attempt of the call, durably and
	// in the same transaction (the outbox): if the transaction commits, a
	// worker will run it, even after a crash; if not, nothing is scheduled.
	// With d.NotBefore set, no worker runs it before then: the process
	// that placed the call delivers it itself meanwhile (a direct
	// delivery), and ends that with ReleaseDelivery.
	EnqueueDelivery(ctx context.Context, d Delivery) error
	// ReleaseDelivery ends d, a direct delivery as it was enqueued (see
	// Delivery.NotBefore), in the transaction that records its outcome:
	// with a zero retryAt the delivery is over and its held attempt is
	// dropped; otherwise that attempt is due at retryAt, for any worker, as
	// an enqueued one. A delivery that is not held any more (its NotBefore
	// passed and a worker may have it) is left alone.
	ReleaseDelivery(ctx context.Context, d Delivery, retryAt time.Time) error
}

// ErrCallChanged: the call was not as its writer read it (ReplaceCall).
var ErrCallChanged = errors.New("the call changed since it was read")

// CallFilter selects calls for ListCalls. A zero field selects everything.
type CallFilter struct {
	Status domain.CallStatus
	LeadID string
	UserID string
	// From and To bound the click time: From <= clicked_at < To.
	From, To time.Time
	// Before continues a listing after its last call: only calls older than
	// Before (by click time, then id) are returned.
	Before *CallCursor
	// Limit is how many calls at most; it must be positive.
	Limit int

	// NoResultAcceptedBy, when not zero, makes Status see calls as they
	// read then (domain.Call.StatusAt): a delivered call the partner
	// accepted at or before NoResultAcceptedBy is taken for no_result,
	// whether or not it was marked so yet. The calls come back as stored.
	NoResultAcceptedBy time.Time
}

// CallCursor is the position of a call in the newest-first order.
type CallCursor struct {
	ClickedAt time.Time
	ID        string
}

// CallContexts read, in one query each, what the two steps of a call need
// around it: pressing Ligar and attempting a delivery.
type CallContexts interface {
	// GetClickContext reads what placing a call (and deciding its button)
	// needs: the environment, the user userID, the lead leadID, the users
	// among the lead's owners and the environment's Call Connect
	// integration. ErrNotFound when the environment does not exist; a
	// missing user or lead is a nil field. A userID of "" reads no user:
	// the lead and its owners alone; a leadID of "" reads no lead: the
	// user's context of a batch of decisions.
	GetClickContext(ctx context.Context, envID, userID, leadID string) (ClickContext, error)
	// LockClicks makes the clicks of userID on leadID wait for each other
	// until the unit of work ends, so that a GetClickContext after it sees
	// the call an earlier click placed. Inside Store.Tx only.
	LockClicks(ctx context.Context, envID, userID, leadID string) error
	// LockCallForDelivery locks the call as LockCall does (and inside
	// Store.Read only reads it) and reads with it its environment and the
	// environment's Call Connect integration. ErrNotFound when the
	// environment has no such call.
	LockCallForDelivery(ctx context.Context, envID, callID string) (DeliveryContext, error)
}

// ClickContext is what pressing Ligar reads.
type ClickContext struct {
	Env domain.Environment
	// User is the user who pressed; nil when the environment has none of that id.
	User *domain.User
	// Lead is nil when the environment has no lead of that id.
	Lead *domain.Lead
	// Owners are the environment's users among Lead.OwnerIDs(), in no
	// particular order; missing ones are left out. None without a lead.
	Owners []domain.User
	// CallConnect is the environment's Call Connect integration; nil when
	// it has none.
	CallConnect *domain.Integration
	// OpenCallID is the clicking user's call to the lead still queued or
	// delivering with the latest dispatch deadline, OpenCallDeadline; ""
	// (and the zero time) when there is none (or no such user or lead).
	OpenCallID       string
	OpenCallDeadline time.Time
}

// DeliveryContext is what a delivery attempt reads: the locked call, its
// environment and the environment's Call Connect integration (nil when
// none).
type DeliveryContext struct {
	Call        domain.Call
	Env         domain.Environment
	CallConnect *domain.Integration
}

// Delivery is one scheduled delivery of a call to its partner.
type Delivery struct {
	EnvID  string
	CallID string
	// TraceParent is the W3C traceparent of the click, so the delivery's
	// spans link to the request that caused it. May be empty.
	TraceParent string
	// NotBefore, when set, holds the delivery back from the workers until
	// then: the process that placed the call delivers it at once itself,
	// and the held delivery is what happens if that process dies first.
	// It must be later than any direct delivery can last.
	NotBefore time.Time
}

// Exchanges records what passed between Call Connect and partners, for the
// integration monitor.
type Exchanges interface {
	RecordExchange(ctx context.Context, e domain.Exchange) error
	// ListExchanges returns up to limit exchanges of the environment that f
	// selects, newest first: by OccurredAt, then ID (byte order), both
	// descending; with a non-zero cursor, only those after it in that order.
	// They are summaries: RequestHeaders nil, RequestBody and ResponseBody
	// empty (GetExchange has them); Error is kept.
	ListExchanges(ctx context.Context, envID string, f domain.ExchangeFilter, after domain.ExchangeCursor, limit int) ([]domain.Exchange, error)
	// GetExchange returns the exchange whole; ErrNotFound when the
	// environment has none with that id (another environment's is not found).
	GetExchange(ctx context.Context, envID, id string) (domain.Exchange, error)
}

// ExchangeRetention ages the monitor's exchanges out a whole UTC day at a
// time (PostgreSQL: a day is a partition, detached and dropped at once,
// never deleted row by row). It works outside the Store's transactions.
type ExchangeRetention interface {
	// PrepareExchangeDays readies the UTC days from through (inclusive) to
	// be recorded and dropped cheaply, and returns how many were not ready.
	// Exchanges of a day that is not ready are recorded all the same.
	PrepareExchangeDays(ctx context.Context, from, through time.Time) (int, error)
	// DropExchangeDays removes every exchange of the UTC days that ended at
	// or before cutoff, and returns those days (their midnights, UTC) that
	// it removed, oldest first. Exchanges of later days stay.
	DropExchangeDays(ctx context.Context, cutoff time.Time) ([]time.Time, error)
}

// PartnerTokens stores the tokens partners authenticate callbacks with
// (only their hashes).
type PartnerTokens interface {
	PutPartnerToken(ctx context.Context, t domain.PartnerToken) error
	// GetPartnerToken finds a token by its id, in any environment (the
	// token names its environment); ErrNotFound when unknown.
	GetPartnerToken(ctx context.Context, id string) (domain.PartnerToken, error)
	// ListPartnerTokens returns the environment's tokens, newest first,
	// revoked ones included.
	ListPartnerTokens(ctx context.Context, envID string) ([]domain.PartnerToken, error)
}

// History stores what happened on leads: interactions (with their tasks)
// and the recordings they point to.
type History interface {
	AddInteraction(ctx context.Context, i domain.Interaction) error
	// ListInteractions returns the lead's history, newest first (then by id
	// descending).
	ListInteractions(ctx context.Context, envID, leadID string) ([]domain.Interaction, error)
	// LatestCallRecording returns the recording id of the lead's newest
	// interaction (in ListInteractions' order) that belongs to the call and
	// has a recording; ErrNotFound when none does. Interactions of the call
	// on other leads are not looked at. It reads one row, however long the
	// lead's history.
	LatestCallRecording(ctx context.Context, envID, leadID, callID string) (string, error)
	// LatestCallRecordings is LatestCallRecording for many calls in one
	// read: for each of the environment's calls among callIDs, what
	// LatestCallRecording says for its lead and id, by call id. A call
	// without a recording, or that the environment does not have, is left
	// out. It costs one query however many ids are given.
	LatestCallRecordings(ctx context.Context, envID string, callIDs []string) (map[string]string, error)
	// HasInteraction reports whether the lead already has an interaction
	// with that Fingerprint.
	HasInteraction(ctx context.Context, envID, leadID, fingerprint string) (bool, error)
	PutRecording(ctx context.Context, r domain.Recording) error
	GetRecording(ctx context.Context, envID, id string) (domain.Recording, error)
	// RecordingsWithSHA256 counts the recordings, of any environment, whose
	// content has that hash: an audio object is deleted only when none does.
	RecordingsWithSHA256(ctx context.Context, sha256 string) (int, error)
	// ReferencedAudio returns those of sha256s that some recording, of any
	// environment, has as its content: each once, in no particular order.
	// It is one read however many it is given, for the sweep to tell the
	// few unreferenced objects of a batch from the many still in use; it
	// takes no lock, so a caller deletes only after LockRecordingContent
	// and RecordingsWithSHA256 agree.
	ReferencedAudio(ctx context.Context, sha256s []string) ([]string, error)
	// LockRecordingContent holds the content address sha256 until the
	// transaction ends, across processes: a transaction that commits a
	// recording row and one that deletes the unreferenced object take turns,
	// so an object is never deleted under a row about to commit.
	LockRecordingContent(ctx context.Context, sha256 string) error
}

// IdempotentAnswer is the first answer to a request with an Idempotency-Key.
type IdempotentAnswer struct {
	Scope       string // the environment (and endpoint) the key belongs to
	Key         string
	RequestHash string // SHA-256 of the request (method, path, body), hex
	StatusCode  int
	Body        []byte
	CreatedAt   time.Time
}

// Idempotency keeps first answers so that a retried request gets the same
// one and writes nothing again.
type Idempotency interface {
	// GetIdempotentAnswer returns the stored answer; ErrNotFound if none.
	// The store has no clock: it returns an answer whatever its age, and
	// the caller treats one older than IdempotencyRetention (by CreatedAt,
	// against its Clock) as absent. Expired answers are deleted later, by
	// the periodic clean-up (IdempotencyExpiry).
	GetIdempotentAnswer(ctx context.Context, scope, key string) (IdempotentAnswer, error)
	// PutIdempotentAnswer stores the answer. When the key already holds an
	// answer that is not expired (its CreatedAt is less than
	// IdempotencyRetention before a.CreatedAt), it fails with
	// ErrIdempotencyConflict and keeps the stored one; so does the loser of
	// a concurrent first use of the key (it waits for the winner's
	// transaction). An expired answer is replaced.
	PutIdempotentAnswer(ctx context.Context, a IdempotentAnswer) error
	// ReplaceIdempotentAnswer replaces the answer stored under old's scope
	// and key with a (of the same scope and key), provided it is still old:
	// the same RequestHash, StatusCode and CreatedAt (to the microsecond).
	// When it is not, or none is stored, it fails with
	// ErrIdempotencyConflict and changes nothing; of two concurrent
	// replacements of one answer, one succeeds. It is how a reservation
	// (IdempotencyInFlight) becomes the answer, or is taken over.
	ReplaceIdempotentAnswer(ctx context.Context, old, a IdempotentAnswer) error
	// DeleteIdempotentAnswer deletes the answer stored under a's scope and
	// key provided it is still a (as ReplaceIdempotentAnswer compares); an
	// answer that is not, or none, is left as it is, and is no error.
	DeleteIdempotentAnswer(ctx context.Context, a IdempotentAnswer) error
}

// IdempotencyInFlight is the StatusCode of a reservation: a key held, with
// an empty Body, while the request that holds it is being answered (HTTP
// 102 Processing), so that a request with the same key, concurrent or a
// retry, does not do again what the first is doing.
const IdempotencyInFlight = 102

// IdempotencyRetention is how long an Idempotency-Key's first answer is kept.
const IdempotencyRetention = 24 * time.Hour

// IdempotencyExpiry deletes the answers past IdempotencyRetention. It works
// outside the Store's transactions: each call is a short one of its own.
type IdempotencyExpiry interface {
	// DeleteIdempotencyKeysBefore deletes up to limit answers whose
	// CreatedAt is before cutoff, in one short transaction, and returns how
	// many it deleted: fewer than limit once none is left. An answer
	// stored at or after cutoff stays, even one that replaced, meanwhile,
	// an expired answer under the same key. A limit that is not positive
	// is refused.
	DeleteIdempotencyKeysBefore(ctx context.Context, cutoff time.Time, limit int) (int64, error)
}

// ErrIdempotencyConflict: another request with the same key got there first.
var ErrIdempotencyConflict = errors.New("idempotency key used concurrently")

// ConsoleSession is an operator's sign-in to the console, kept on the
// server so that ending it holds on every replica.
type ConsoleSession struct {
	// ID names the session; unique, chosen by the caller (the console
	// stores a hash of the random id its cookie carries).
	ID string
	// TokenID identifies the admin token the session was opened with, never
	// the token itself: the caller refuses a session whose token it no
	// longer accepts.
	TokenID   string
	CreatedAt time.Time
	// ExpiresAt is when the session ends by itself; after CreatedAt.
	ExpiresAt time.Time
}

// ConsoleSessions keeps the console's sessions. It works outside the
// Store's transactions: each call is a short one of its own, seen at once
// by every process on the same store.
type ConsoleSessions interface {
	// PutConsoleSession records a new session. An id already stored fails
	// with ErrConsoleSessionExists and keeps the stored session; a session
	// without an id, or not ending after it starts, is refused.
	PutConsoleSession(ctx context.Context, s ConsoleSession) error
	// GetConsoleSession returns the session stored under id; ErrNotFound
	// when there is none (never opened, ended, or deleted as expired). The
	// store has no clock: an expired session not yet deleted comes back,
	// and the caller, against its clock, treats it as ended.
	GetConsoleSession(ctx context.Context, id string) (ConsoleSession, error)
	// DeleteConsoleSession ends the session; an id that names none is no
	// error (a second sign-out, or one after expiry).
	DeleteConsoleSession(ctx context.Context, id string) error
	// DeleteConsoleSessionsExpiredBefore deletes the sessions whose
	// ExpiresAt is before cutoff and says how many it deleted.
	DeleteConsoleSessionsExpiredBefore(ctx context.Context, cutoff time.Time) (int64, error)
}

// ErrConsoleSessionExists: PutConsoleSession with an id already stored.
var ErrConsoleSessionExists = errors.New("console session id already in use")

// Events is the feed of every environment: the events (domain.Event) the
// store wrote in the transactions of the changes they describe (a call
// placed or changing status as domain.CallEventType says, an interaction
// added), in one order per environment that only ever grows at its end, so
// that a reader resuming after the last event it got misses none and gets
// none twice. It works outside the Store's transactions: each call reads on
// its own, and sees what has committed.
type Events interface {
	// ListEventsAfter returns up to limit events of the environment that
	// come after the event id after (domain.EventID's string; "" starts at
	// the oldest kept), oldest first. An environment without events, or
	// that does not exist, has none. An after that is not an event id fails
	// with a domain invalid-field error on "after"; a limit that is not
	// positive is refused.
	ListEventsAfter(ctx context.Context, envID, after string, limit int) (EventPage, error)
	// WatchEvents returns a channel that receives a value soon (within a
	// second) after a transaction that may have written events of the
	// environment commits, in this process or another on the same store,
	// and a function that stops the watch and must be called once done.
	// Values do not queue up: a watcher that has not taken the last one
	// gets no more, so one ListEventsAfter after each value is enough. It
	// may also receive values when nothing changed. A watcher never misses
	// an event for good: without the store's notifications (a connection
	// lost) it receives values every few seconds until they are back.
	WatchEvents(envID string) (<-chan struct{}, func())
}

// EventPage is a page of a feed.
type EventPage struct {
	Events []domain.Event
	// Held says that events of the environment after these have committed
	// but cannot be listed yet: a transaction that may still write events
	// before them is running. List again shortly (a notification may not
	// come when it ends); it is never long unless a transaction is left
	// open.
	Held bool
}

// EventRetention deletes the events past their retention. It works outside
// the Store's transactions: each call is a short one of its own.
type EventRetention interface {
	// DeleteEventsBefore deletes up to limit events that occurred
	// (domain.Event.OccurredAt) before cutoff, the oldest first, in one
	// short transaction, and returns how many it deleted: fewer than limit
	// once none is left. A limit that is not positive is refused.
	DeleteEventsBefore(ctx context.Context, cutoff time.Time, limit int) (int64, error)
}

// EventSubscriptions stores the environments' event subscriptions
// (domain.EventSubscription) and the deliveries of their events
// (domain.EventDelivery).
type EventSubscriptions interface {
	// GetEventSubscription returns the subscription; ErrNotFound when the
	// environment has none of that id.
	GetEventSubscription(ctx context.Context, envID, id string) (domain.EventSubscription, error)
	// LockEventSubscription reads the subscription and holds it until the
	// transaction ends, so that its configuration and the recording of its
	// deliveries take turns. Inside Store.Read it only reads.
	LockEventSubscription(ctx context.Context, envID, id string) (domain.EventSubscription, error)
	// ListEventSubscriptions returns the environment's subscriptions,
	// ordered by id (byte order).
	ListEventSubscriptions(ctx context.Context, envID string) ([]domain.EventSubscription, error)
	// ListActiveEventSubscriptions returns up to limit active
	// subscriptions of every environment, ordered by environment then id
	// (byte order), after the one (afterEnv, afterID); ("", "") starts at
	// the first. A limit that is not positive is refused.
	ListActiveEventSubscriptions(ctx context.Context, afterEnv, afterID string, limit int) ([]domain.EventSubscription, error)
	// PutEventSubscription inserts or replaces the subscription. Its
	// cursor only moves forward: a replaced subscription keeps the stored
	// cursor when the given one is not after it. A subscription stored for
	// the first time with an empty cursor starts at the end of its
	// environment's feed: the events of transactions that end after its own
	// are its (and maybe a few that end at the same time), none before.
	// The environment must exist.
	PutEventSubscription(ctx context.Context, s domain.EventSubscription) error
	// DeleteEventSubscription deletes the subscription and its deliveries;
	// ErrNotFound when the environment has none of that id.
	DeleteEventSubscription(ctx context.Context, envID, id string) error
	// PendingEventDelivery returns the subscription's pending delivery
	// (its head; there is at most one); ErrNotFound when none is pending.
	PendingEventDelivery(ctx context.Context, envID, subscriptionID string) (domain.EventDelivery, error)
	// PutEventDelivery inserts or replaces the delivery of d.EventID to
	// d.SubscriptionID. The subscription must exist.
	PutEventDelivery(ctx context.Context, d domain.EventDelivery) error
	// ListEventDeliveries returns up to limit of the subscription's
	// deliveries whose event id is before before ("" from the newest),
	// newest event first. A limit that is not positive is refused.
	ListEventDeliveries(ctx context.Context, envID, subscriptionID, before string, limit int) ([]domain.EventDelivery, error)
	// EnqueueEventDeliveries schedules, durably and in the same
	// transaction, a run of the subscription's deliveries: once the
	// transaction commits, a worker takes the subscription's next events,
	// even after a crash.
	EnqueueEventDeliveries(ctx context.Context, envID, subscriptionID string) error
}

// EventDeliveryRetention deletes the deliveries of events past their
// retention. It works outside the Store's transactions: each call is a
// short one of its own.
type EventDeliveryRetention interface {
	// DeleteEventDeliveriesFinishedBefore deletes up to limit deliveries,
	// of any subscription, delivered or given up before cutoff, the oldest
	// first, and returns how many it deleted: fewer than limit once none
	// is left. Pending deliveries stay. A limit that is not positive is
	// refused.
	DeleteEventDeliveriesFinishedBefore(ctx context.Context, cutoff time.Time, limit int) (int64, error)
}

// EventPayloads writes an event as subscriptions receive it: the body of
// its webhook, the event as the feed shows it.
type EventPayloads interface {
	EventPayload(e domain.Event) ([]byte, error)
}

// Repositories are the ports one unit of work hands to its function (see
// Store), bound to its transaction. It is a struct of the small repository
// ports, not an interface: an adapter implements and asserts each port on
// its own and fills the struct once, and a use case takes from it only the
// few methods it uses, as a small interface of its own (see the package
// documentation). A field left nil is a port the adapter does not offer.
type Repositories struct {
	Environments
	Users
	Leads
	Integrations
	Calls
	CallContexts
	Exchanges
	PartnerTokens
	History
	Idempotency
	EventSubscriptions
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

// PartnerRequest is one delivery attempt of a call to the partner's URL.
type PartnerRequest struct {
	URL       string
	Body      []byte   // the call's JSON, sent as is
	WebhookID string   // Standard Webhooks webhook-id: the same for every retry of a call
	Secrets   []string // whsec_ secrets that sign it, current first
	// Timestamp is the webhook-timestamp of the attempt.
	Timestamp time.Time
}

// PartnerResponse is what became of a PartnerRequest.
type PartnerResponse struct {
	StatusCode int // 0 when no HTTP answer came back
	// RetryAfter is the partner's Retry-After, 0 when absent or unparsable.
	RetryAfter time.Duration
	// RequestHeaders are the headers sent, for the monitor (redact before storing).
	RequestHeaders map[string][]string
	Body           []byte // the answer's body, already bounded by the client
	Duration       time.Duration
	// Err describes why no acceptable answer came back (timeout, refused
	// connection, blocked address, ...); nil on any HTTP answer.
	Err error
}

// PartnerClient delivers calls to partners over HTTP.
type PartnerClient interface {
	Deliver(ctx context.Context, req PartnerRequest) PartnerResponse
}

// CallPayloads makes the request body a partner receives for a call, in the
// partner protocol's wire format. It is made once, at the click, so that
// every retry sends the same bytes.
type CallPayloads interface {
	CallPayload(in domain.PartnerPayloadInput) ([]byte, error)
}

// CallbackReceipts writes a callback's answer as the partner gets it, and
// reads it back, so that a repeated Idempotency-Key is answered byte for
// byte as the first time.
type CallbackReceipts interface {
	EncodeReceipt(r domain.CallbackReceipt) ([]byte, error)
	DecodeReceipt(b []byte) (domain.CallbackReceipt, error)
}

// AudioObject is a stored recording opened for reading; Seek makes HTTP
// Range answers possible without reading what is skipped.
type AudioObject struct {
	io.ReadSeekCloser
	Size        int64
	ContentType string
}

// AudioStore keeps call recordings, addressed by the SHA-256 (lowercase hex)
// of their content: the same audio is stored once whoever sends it.
type AudioStore interface {
	// Put stores size bytes from r under key (the content's SHA-256). It
	// verifies the hash, and storing content that is already there is a
	// no-op. A failed Put leaves nothing under key.
	Put(ctx context.Context, key, contentType string, r io.Reader, size int64) error
	// Open returns the object; ErrNotFound when there is none.
	Open(ctx context.Context, key string) (AudioObject, error)
	// Delete removes the object; deleting a missing object is not an error.
	Delete(ctx context.Context, key string) error
	// List calls fn for every stored object with the time it was written, to
	// find objects that no recording refers to.
	List(ctx context.Context, fn func(key string, written time.Time) error) error
	// Spool starts a recording that arrives piece by piece, its key known
	// only once it is whole: see AudioSpool.
	Spool(ctx context.Context) (AudioSpool, error)
}

// AudioSpool takes a recording as it arrives, hashing it on the way, and
// keeps it aside (not in memory) until Store puts it under its key.
type AudioSpool interface {
	// Write adds to the content; it fails once Store was called.
	io.Writer
	// Store puts what was written under its key, the SHA-256 (lowercase hex)
	// of those bytes, with contentType, as Put would, and returns the key
	// and the size. It may be called again, to store the content again
	// should the object have been deleted meanwhile: the spool keeps it
	// until Close.
	Store(ctx context.Context, contentType string) (key string, size int64, err error)
	// Close discards the spool; what Store stored stays.
	Close() error
}
