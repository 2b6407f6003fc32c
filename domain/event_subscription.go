package domain

import (
	"slices"
	"strconv"
	"strings"
	"time"
)

// An event subscription is a CRM endpoint that the events of its
// environment's feed (Event) are pushed to as signed webhooks, one at a
// time and in the feed's order: a subscription's next event is not sent
// before the previous one was delivered or given up. Each event becomes an
// EventDelivery; a delivery that keeps failing is retried, with growing
// waits, for EventRetryWindow, and a subscription whose endpoint has failed
// every attempt for EventDisableAfter is disabled until it is configured
// again.

// AllEventTypesWildcard subscribes to every event type, those added later
// included.
const AllEventTypesWildcard = "*"

// SubscriptionStatus says whether a subscription's events are sent.
type SubscriptionStatus string

const (
	// SubscriptionActive: events are sent.
	SubscriptionActive SubscriptionStatus = "active"
	// SubscriptionDisabled: nothing is sent until the subscription is
	// configured again (a PUT); events meanwhile wait, as long as the feed
	// keeps them, and are sent then.
	SubscriptionDisabled SubscriptionStatus = "disabled"
)

// DisabledEndpointFailing is the reason a subscription was disabled when its
// endpoint failed every attempt for EventDisableAfter.
const DisabledEndpointFailing = "endpoint_failing"

// EventRetryWindow is how long an event is retried before it is given up:
// an attempt that fails once the event has waited this long at the head of
// its subscription is the last.
const EventRetryWindow = 72 * time.Hour

// EventDisableAfter is how long a subscription's endpoint may fail every
// attempt before the subscription is disabled.
const EventDisableAfter = 5 * 24 * time.Hour

// Waits between the attempts of one event: exponential from
// EventMinBackoff, capped at EventMaxBackoff (see EventBackoff).
const (
	EventMinBackoff = 5 * time.Second
	EventMaxBackoff = time.Hour
)

// MaxSubscriptionsPerEnvironment bounds the subscriptions of an environment:
// each one is a walker of the feed.
const MaxSubscriptionsPerEnvironment = 20

// EventSubscriptionInput is what a PUT of a subscription carries.
type EventSubscriptionInput struct {
	URL   string
	Types []string
}

// EventSubscription is one endpoint of a CRM and the event types it hears.
type EventSubscription struct {
	envID string
	id    string
	url   string
	// types nil: every type (AllEventTypesWildcard).
	types          []EventType
	secrets        []SigningSecret // current first, then rotated-out ones still in their grace period
	status         SubscriptionStatus
	disabledReason string
	disabledAt     time.Time
	failingSince   time.Time
	cursor         string
	createdAt      time.Time
	updatedAt      time.Time
}

// EventSubscriptionState is a subscription as storage keeps it.
type EventSubscriptionState struct {
	EnvID string
	ID    string
	URL   string
	// Types are the subscribed types; nil or empty for every type.
	Types          []EventType
	Secrets        []SigningSecret
	Status         SubscriptionStatus
	DisabledReason string
	DisabledAt     time.Time
	// FailingSince is the first failed attempt since the last delivered
	// one; zero while the endpoint answers.
	FailingSince time.Time
	// Cursor is the id of the last event of the feed the subscription has
	// taken (turned into a delivery, or passed over as not subscribed); ""
	// for a subscription not stored yet, which starts at the feed's end.
	Cursor    string
	CreatedAt time.Time
	UpdatedAt time.Time
}

// NewEventSubscription builds an active subscription of the environment:
// its URL checked as a partner URL is (ParsePartnerURL, by policy), its
// types a non-empty list of event types or ["*"], secret its first signing
// secret.
func NewEventSubscription(envID, id string, in EventSubscriptionInput, policy URLPolicy, secret string, now time.Time) (EventSubscription, error) {
	if err := checkID("env", envID); err != nil {
		return EventSubscription{}, err
	}
	if err := checkID("subscription_id", id); err != nil {
		return EventSubscription{}, err
	}
	if !strings.HasPrefix(secret, "whsec_") {
		return EventSubscription{}, invalid("signing_secret", "must start with whsec_")
	}
	s := EventSubscription{envID: envID, id: id, secrets: []SigningSecret{{Value: secret}}, createdAt: now, updatedAt: now}
	if _, err := s.Configure(in, policy, now); err != nil {
		return EventSubscription{}, err
	}
	return s, nil
}

// Configure replaces the URL and the types. fresh says that the endpoint is
// to be tried afresh: the subscription was disabled and is active again
// (configuring it is how an operator says the endpoint is fixed), or its
// URL changed; its failing streak then starts over. The URL as the
// subscription shows it (secret query values redacted) sent back keeps the
// stored secrets.
func (s *EventSubscription) Configure(in EventSubscriptionInput, policy URLPolicy, now time.Time) (fresh bool, err error) {
	raw, err := restoreRedacted("url", in.URL, s.url)
	if err != nil {
		return false, err
	}
	u, err := ParseSubscriptionURL("url", raw, policy)
	if err != nil {
		return false, err
	}
	types, err := ParseEventTypes("types", in.Types)
	if err != nil {
		return false, err
	}
	fresh = s.status != SubscriptionActive || u != s.url
	s.url, s.types, s.updatedAt = u, types, now
	if fresh {
		s.status, s.disabledReason, s.disabledAt, s.failingSince = SubscriptionActive, "", time.Time{}, time.Time{}
	}
	return fresh, nil
}

// ParseEventTypes reads a subscription's types: ["*"] for every type (nil
// is returned), or a non-empty list of event types (EventTypes), each once,
// returned in EventTypes' order. Errors name field.
func ParseEventTypes(field string, in []string) ([]EventType, error) {
	if len(in) == 0 {
		return nil, invalid(field, "must list at least one event type, or %q for all of them", AllEventTypesWildcard)
	}
	if slices.Contains(in, AllEventTypesWildcard) {
		if len(in) > 1 {
			return nil, invalid(field, "%q stands for every event type and must be alone", AllEventTypesWildcard)
		}
		return nil, nil
	}
	seen := map[EventType]bool{}
	for _, t := range in {
		if !slices.Contains(EventTypes, EventType(t)) {
			names := make([]string, len(EventTypes))
			for i, e := range EventTypes {
				names[i] = string(e)
			}
			return nil, invalid(field, "%q is no event type; the types are %s, or %q for all", t, strings.Join(names, ", "), AllEventTypesWildcard)
		}
		seen[EventType(t)] = true
	}
	var out []EventType
	for _, t := range EventTypes {
		if seen[t] {
			out = append(out, t)
		}
	}
	return out, nil
}

// RestoreEventSubscription rebuilds a subscription from storage, which
// holds only what NewEventSubscription and the methods made: nothing is
// validated again (the URL policy of the day may differ).
func RestoreEventSubscription(st EventSubscriptionState) EventSubscription {
	s := EventSubscription{envID: st.EnvID, id: st.ID, url: st.URL, secrets: slices.Clone(st.Secrets), status: st.Status,
		disabledReason: st.DisabledReason, disabledAt: st.DisabledAt, failingSince: st.FailingSince, cursor: st.Cursor,
		createdAt: st.CreatedAt, updatedAt: st.UpdatedAt}
	if len(st.Types) > 0 {
		s.types = slices.Clone(st.Types)
	}
	return s
}

// State is the subscription as storage keeps it.
func (s EventSubscription) State() EventSubscriptionState {
	return EventSubscriptionState{EnvID: s.envID, ID: s.id, URL: s.url, Types: slices.Clone(s.types), Secrets: slices.Clone(s.secrets),
		Status: s.status, DisabledReason: s.disabledReason, DisabledAt: s.disabledAt, FailingSince: s.failingSince,
		Cursor: s.cursor, CreatedAt: s.createdAt, UpdatedAt: s.updatedAt}
}

func (s EventSubscription) EnvID() string              { return s.envID }
func (s EventSubscription) ID() string                 { return s.id }
func (s EventSubscription) URL() string                { return s.url }
func (s EventSubscription) Status() SubscriptionStatus { return s.status }
func (s EventSubscription) Active() bool               { return s.status == SubscriptionActive }
func (s EventSubscription) DisabledReason() string     { return s.disabledReason }
func (s EventSubscription) DisabledAt() time.Time      { return s.disabledAt }
func (s EventSubscription) FailingSince() time.Time    { return s.failingSince }
func (s EventSubscription) Cursor() string             { return s.cursor }
func (s EventSubscription) CreatedAt() time.Time       { return s.createdAt }
func (s EventSubscription) UpdatedAt() time.Time       { return s.updatedAt }

// ShownURL is the URL as the API and the console show it: the values of
// its secret query parameters redacted (RedactURL). Events go to URL.
func (s EventSubscription) ShownURL() string { return RedactURL(s.url) }

// AllTypes says whether every event type is subscribed ("*").
func (s EventSubscription) AllTypes() bool { return len(s.types) == 0 }

// Types returns the subscribed types; nil when every type is (AllTypes).
func (s EventSubscription) Types() []EventType { return slices.Clone(s.types) }

// TypeNames returns the types as a PUT gives them: ["*"] for every type.
func (s EventSubscription) TypeNames() []string {
	if s.AllTypes() {
		return []string{AllEventTypesWildcard}
	}
	out := make([]string, len(s.types))
	for i, t := range s.types {
		out[i] = string(t)
	}
	return out
}

// Wants says whether events of type t are sent to the subscription.
func (s EventSubscription) Wants(t EventType) bool {
	return s.AllTypes() || slices.Contains(s.types, t)
}

// Secrets returns the signing secrets, current first.
func (s EventSubscription) Secrets() []SigningSecret { return slices.Clone(s.secrets) }

// SigningSecrets returns the secrets that sign at now: the current one and
// any rotated-out one whose grace period (PreviousSecretGrace) has not ended.
func (s EventSubscription) SigningSecrets(now time.Time) []string {
	return signingSecrets(s.secrets, now)
}

// RotateSecret makes next the current secret; the previous one keeps
// signing for PreviousSecretGrace.
func (s *EventSubscription) RotateSecret(next string, now time.Time) error {
	if !strings.HasPrefix(next, "whsec_") {
		return invalid("signing_secret", "must start with whsec_")
	}
	s.secrets = rotateSecrets(s.secrets, next, now)
	s.updatedAt = now
	return nil
}

// Advance moves the cursor to the event id: the feed up to it has been
// taken. An id not after the cursor leaves it (the cursor never goes back).
func (s *EventSubscription) Advance(eventID string) {
	if eventID > s.cursor {
		s.cursor = eventID
	}
}

// EventDeliveryStatus is where an event's delivery to a subscription is.
type EventDeliveryStatus string

const (
	// EventDeliveryPending: not delivered yet; attempted again at
	// NextAttemptAt.
	EventDeliveryPending EventDeliveryStatus = "pending"
	// EventDeliveryDelivered: the endpoint answered 2xx.
	EventDeliveryDelivered EventDeliveryStatus = "delivered"
	// EventDeliveryFailed: given up after EventRetryWindow of failures.
	EventDeliveryFailed EventDeliveryStatus = "failed"
)

// EventDelivery is one event sent, or to be sent, to one subscription. A
// subscription has at most one pending delivery, its head: the next
// event is taken only once the head is delivered or failed.
type EventDelivery struct {
	EnvID          string
	SubscriptionID string
	// EventID is the event's id in the feed; it is the webhook-id of every
	// attempt, so that the endpoint can tell a repeat.
	EventID   string
	EventType EventType
	// Payload is the body every attempt sends, made once when the event
	// was taken.
	Payload  []byte
	Status   EventDeliveryStatus
	Attempts int
	// CreatedAt is when the event became the subscription's head: its
	// EventRetryWindow counts from there.
	CreatedAt time.Time
	// NextAttemptAt is when the head is due; zero once it is finished.
	NextAttemptAt time.Time
	// SendingUntil, while an attempt is on the wire, is when its sender's
	// claim lapses (a sender that died): until then no one else sends it.
	SendingUntil   time.Time
	LastAttemptAt  time.Time
	LastStatusCode int // 0 when no answer came back, or before any attempt
	LastError      string
	// FinishedAt is when it was delivered or given up; zero while pending.
	FinishedAt time.Time
}

// NewEventDelivery makes the event the subscription's head, due at once.
func NewEventDelivery(sub EventSubscription, e Event, payload []byte, now time.Time) EventDelivery {
	return EventDelivery{EnvID: sub.envID, SubscriptionID: sub.id, EventID: e.ID, EventType: e.Type, Payload: payload,
		Status: EventDeliveryPending, CreatedAt: now, NextAttemptAt: now}
}

// Due says whether the head may be attempted at now: pending, its time
// come, and no other sender's claim running.
func (d EventDelivery) Due(now time.Time) bool {
	return d.Status == EventDeliveryPending && !now.Before(d.NextAttemptAt) && !now.Before(d.SendingUntil)
}

// Claim marks the head as on the wire until until, for the sender that
// claims it; the claim's attempt is the (Attempts+1)-th. The time is kept
// to the microsecond, as storage keeps it: the sender recognises its claim
// in what it reads back.
func (d *EventDelivery) Claim(until time.Time) { d.SendingUntil = until.Truncate(time.Microsecond) }

// Restart gives a pending head a fresh retry window from now, and makes it
// due at once unless an attempt is on the wire (that attempt's outcome then
// decides when the next one is): its subscription is to be tried afresh
// (Configure).
func (d *EventDelivery) Restart(now time.Time) {
	if d.Status != EventDeliveryPending {
		return
	}
	d.CreatedAt = now
	if !now.Before(d.SendingUntil) {
		d.NextAttemptAt, d.SendingUntil = now, time.Time{}
	}
}

// EventAttempt is what one attempt of a delivery came to.
type EventAttempt struct {
	At         time.Time // when it started
	Ended      time.Time // when the answer (or the failure) came
	StatusCode int       // 0 when no answer came back
	// Error says why no answer came back; "" on any answer.
	Error string
	// RetryAfter is the endpoint's Retry-After, 0 when absent.
	RetryAfter time.Duration
}

// Succeeded says whether the endpoint took the event: any 2xx.
func (a EventAttempt) Succeeded() bool { return a.StatusCode >= 200 && a.StatusCode <= 299 }

// EventBackoff is the wait after the n-th failed attempt of an event (1
// for the first): a ceiling of EventMinBackoff·2^(n-1), capped at
// EventMaxBackoff, of which a half is waited for sure and the other half
// is jittered (jitter in [0, 1)), so that the endpoints coming back from
// an outage are not hit by every subscription at once. The endpoint's
// Retry-After, when longer, wins.
func EventBackoff(n int, jitter float64, retryAfter time.Duration) time.Duration {
	if n < 1 {
		n = 1
	}
	ceiling := EventMinBackoff
	for i := 1; i < n && ceiling < EventMaxBackoff; i++ {
		ceiling *= 2
	}
	ceiling = min(ceiling, EventMaxBackoff)
	if jitter < 0 || jitter >= 1 {
		jitter = 0
	}
	wait := ceiling/2 + time.Duration(jitter*float64(ceiling/2))
	return max(wait, retryAfter)
}

// Settle records an attempt of the subscription's head d: delivered on a
// 2xx, which also ends the subscription's failing streak; otherwise d is
// due again after EventBackoff, or given up when it has been the head for
// EventRetryWindow, and the subscription is disabled once its endpoint has
// failed every attempt for EventDisableAfter. jitter is in [0, 1).
func (s *EventSubscription) Settle(d *EventDelivery, a EventAttempt, jitter float64) {
	d.Attempts++
	d.SendingUntil = time.Time{}
	d.LastAttemptAt, d.LastStatusCode, d.LastError = a.At, a.StatusCode, a.Error
	if a.Succeeded() {
		d.Status, d.FinishedAt, d.NextAttemptAt, d.LastError = EventDeliveryDelivered, a.Ended, time.Time{}, ""
		s.failingSince = time.Time{}
		return
	}
	if d.LastError == "" {
		d.LastError = "the endpoint answered " + strconv.Itoa(a.StatusCode)
	}
	if s.failingSince.IsZero() {
		s.failingSince = a.At
	}
	if a.Ended.Sub(d.CreatedAt) >= EventRetryWindow {
		d.Status, d.FinishedAt, d.NextAttemptAt = EventDeliveryFailed, a.Ended, time.Time{}
	} else {
		d.NextAttemptAt = a.Ended.Add(EventBackoff(d.Attempts, jitter, a.RetryAfter))
	}
	if s.status == SubscriptionActive && a.Ended.Sub(s.failingSince) >= EventDisableAfter {
		s.status, s.disabledReason, s.disabledAt = SubscriptionDisabled, DisabledEndpointFailing, a.Ended
	}
	s.updatedAt = a.Ended
}
