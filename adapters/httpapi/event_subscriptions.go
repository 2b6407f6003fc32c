package httpapi

import (
	"context"
	"encoding/json"
	"net/http"
	"time"

	"github.com/danielgtaylor/huma/v2"

	"callconnect/domain"
	"callconnect/ports"
)

// tagEventSubscriptions groups the event subscriptions' operations.
const tagEventSubscriptions = "Event subscriptions"

// EventPayloads writes an event as the feed shows it (GET …/events): the
// body of the webhook that event subscriptions receive.
type EventPayloads struct{}

var _ ports.EventPayloads = EventPayloads{}

// EventPayload is the event as one item of the feed's JSON page.
func (EventPayloads) EventPayload(e domain.Event) ([]byte, error) { return json.Marshal(eventOf(e)) }

// SubscriptionPath names an event subscription of an environment.
type SubscriptionPath struct {
	EnvPath
	SubscriptionID string `path:"subscription_id" pattern:"^[A-Za-z0-9._~-]{1,64}$" maxLength:"64" doc:"Subscription id, chosen by the CRM." example:"crm-main"`
}

// EventSubscriptionSettings is the body of PUT …/event-subscriptions/{subscription_id}.
type EventSubscriptionSettings struct {
	URL   string   `json:"url" maxLength:"2048" doc:"Where the events are posted: https; loopback, private and other special-purpose addresses are refused unless the deployment allows them, as for the partner URL. The URL as the subscription shows it (secret query values redacted) sent back keeps the stored one." example:"https://crm.example.com/hooks/call-connect"`
	Types []string `json:"types" minItems:"1" maxItems:"20" doc:"The event types to receive (see the feed's types), or [\"*\"] for every type, those added later included." example:"[\"call.delivered\",\"call.completed\",\"call.not_completed\",\"lead.interaction_added\"]"`
}

// EventSubscription is a CRM endpoint that receives the environment's events.
type EventSubscription struct {
	ID             string     `json:"id" example:"crm-main"`
	URL            string     `json:"url" doc:"The values of query parameters whose names say token, key, secret, signature, password or authorization read [redacted]; events go to the URL as configured." example:"https://crm.example.com/hooks/call-connect"`
	Types          []string   `json:"types" nullable:"false" example:"[\"*\"]"`
	Status         string     `json:"status" enum:"active,disabled" doc:"active: events are sent. disabled: nothing is sent until the subscription is PUT again; events wait meanwhile (as long as the feed keeps them, 30 days) and are sent, in order, once it is." example:"active"`
	DisabledReason *string    `json:"disabled_reason" enum:"endpoint_failing" doc:"Why the subscription is disabled; null while active. endpoint_failing: every attempt failed for 5 days." example:"endpoint_failing"`
	DisabledAt     *time.Time `json:"disabled_at" doc:"When it was disabled; null while active."`
	FailingSince   *time.Time `json:"failing_since" doc:"The first failed attempt since the last delivered event; null while the endpoint answers. The subscription is disabled once it is 5 days old."`
	CreatedAt      time.Time  `json:"created_at"`
	UpdatedAt      time.Time  `json:"updated_at"`
	SigningSecret  string     `json:"signing_secret,omitempty" doc:"Only in the answer that created the subscription or rotated its secret: the Standard Webhooks secret (whsec_…) its events are signed with. It is never shown again." example:"whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"`
}

// EventSubscriptionList is every event subscription of an environment.
type EventSubscriptionList struct {
	Items []EventSubscription `json:"items" nullable:"false" doc:"Ordered by id."`
}

// EventDelivery is one event sent, or to be sent, to a subscription.
type EventDelivery struct {
	EventID        string     `json:"event_id" doc:"The event's id in the feed: the webhook-id of every attempt." example:"0000000000000812-0000000000000045"`
	EventType      EventType  `json:"event_type" example:"call.delivered"`
	Status         string     `json:"status" enum:"pending,delivered,failed" doc:"pending: not delivered yet (the subscription's next event waits for it); delivered: the endpoint answered 2xx; failed: given up after 3 days of failed attempts." example:"delivered"`
	Attempts       int        `json:"attempts" minimum:"0" example:"1"`
	CreatedAt      time.Time  `json:"created_at" doc:"When the event became the subscription's next to send: its 3 days of retries count from there."`
	NextAttemptAt  *time.Time `json:"next_attempt_at" doc:"When it is attempted next; null once delivered or failed."`
	LastAttemptAt  *time.Time `json:"last_attempt_at" doc:"When the last attempt started; null before the first."`
	LastStatusCode *int       `json:"last_status_code" doc:"The endpoint's status at the last attempt; null when none came back, or before the first." example:"503"`
	LastError      *string    `json:"last_error" doc:"Why the last attempt failed (a status and the start of the answer, a timeout, a refused connection, an address the delivery policy refuses); null when it succeeded." example:"the endpoint answered 503: down for maintenance"`
	FinishedAt     *time.Time `json:"finished_at" doc:"When it was delivered or given up; null while pending."`
}

// EventDeliveryList is a page of a subscription's deliveries.
type EventDeliveryList struct {
	Items      []EventDelivery `json:"items" nullable:"false" doc:"Newest event first."`
	NextCursor *string         `json:"next_cursor" doc:"Pass as cursor for the next page; null on the last page." example:"0000000000000812-0000000000000045"`
}

type putSubscriptionInput struct {
	SubscriptionPath
	Body EventSubscriptionSettings
}

type subscriptionInput struct {
	SubscriptionPath
}

type listSubscriptionsInput struct {
	EnvPath
}

type listDeliveriesInput struct {
	SubscriptionPath
	Cursor string `query:"cursor" pattern:"^([0-9]{16}-[0-9]{16})?$" maxLength:"33" doc:"next_cursor of the previous page; absent for the first page." example:"0000000000000812-0000000000000045"`
	Limit  int    `query:"limit" minimum:"1" maximum:"200" default:"50" doc:"Page size."`
}

type subscriptionOutput struct {
	Body EventSubscription
}

type subscriptionListOutput struct {
	Body EventSubscriptionList
}

type deliveryListOutput struct {
	Body EventDeliveryList
}

// subscriptionOf shows a subscription; secret is set only by the answer
// that created it or rotated its secret.
func subscriptionOf(s domain.EventSubscription, secret string) EventSubscription {
	return EventSubscription{ID: s.ID(), URL: s.ShownURL(), Types: s.TypeNames(), Status: string(s.Status()),
		DisabledReason: orNull(s.DisabledReason()), DisabledAt: orNullTime(s.DisabledAt()), FailingSince: orNullTime(s.FailingSince()),
		CreatedAt: s.CreatedAt(), UpdatedAt: s.UpdatedAt(), SigningSecret: secret}
}

func deliveryOf(d domain.EventDelivery) EventDelivery {
	return EventDelivery{EventID: d.EventID, EventType: EventType(d.EventType), Status: string(d.Status), Attempts: d.Attempts,
		CreatedAt: d.CreatedAt, NextAttemptAt: orNullTime(d.NextAttemptAt), LastAttemptAt: orNullTime(d.LastAttemptAt),
		LastStatusCode: orNull(d.LastStatusCode), LastError: orNull(d.LastError), FinishedAt: orNullTime(d.FinishedAt)}
}

func orNullTime(t time.Time) *time.Time {
	if t.IsZero() {
		return nil
	}
	return &t
}

// registerEventSubscriptions registers the event subscriptions and their deliveries.
func (h *handlers) registerEventSubscriptions(api huma.API) {
	h.registerPutEventSubscription(api)
	h.registerGetEventSubscription(api)
	h.registerListEventSubscriptions(api)
	h.registerDeleteEventSubscription(api)
	h.registerRotateEventSubscriptionSecret(api)
	h.registerListEventDeliveries(api)
}

// registerPutEventSubscription registers PUT /v1/environments/{env}/event-subscriptions/{subscription_id}.
func (h *handlers) registerPutEventSubscription(api huma.API) {
	register(api, h, huma.Operation{
		OperationID: "putEventSubscription",
		Method:      http.MethodPut,
		Path:        "/v1/environments/{env}/event-subscriptions/{subscription_id}",
		Summary:     "Create or replace an event subscription",
		Description: "Subscribes a CRM endpoint to the environment's events (see the feed, GET …/events): each event of " +
			"the types asked for is posted to url, as the feed shows it, signed as partners' calls are (Standard Webhooks: " +
			"webhook-id is the event's id, webhook-timestamp, webhook-signature with the subscription's secret), one at a " +
			"time and in the feed's order: the next event is sent only once the endpoint answered 2xx to the previous one, " +
			"or it was given up. A failed attempt (no 2xx in time) is retried with growing waits (5 s doubling to 1 h, " +
			"jittered; a longer Retry-After is honoured up to 10 min) for 3 days, then the event is given up (its delivery " +
			"reads failed) and the next one sent. A subscription whose endpoint failed every attempt for 5 days is " +
			"disabled (status disabled, disabled_reason endpoint_failing); PUT it again, with the same settings or new " +
			"ones, to make it active: the event it was on is sent again at once, then the rest. A new subscription " +
			"receives the events from its creation on, and its answer carries signing_secret, shown this once. Replacing " +
			"keeps the secret (rotate it with rotate-secret). At most 20 subscriptions per environment (409 " +
			"too_many_subscriptions).",
		Tags:   []string{tagEventSubscriptions},
		Errors: []int{http.StatusNotFound, http.StatusConflict, http.StatusUnprocessableEntity},
	}, func(ctx context.Context, in *putSubscriptionInput) (*subscriptionOutput, error) {
		res, err := h.svc.EventSubscriptions.Put(ctx, in.Env, in.SubscriptionID,
			domain.EventSubscriptionInput{URL: in.Body.URL, Types: in.Body.Types})
		if err != nil {
			return nil, err
		}
		return &subscriptionOutput{Body: subscriptionOf(res.Subscription, res.NewSecret)}, nil
	})
}

// registerGetEventSubscription registers GET /v1/environments/{env}/event-subscriptions/{subscription_id}.
func (h *handlers) registerGetEventSubscription(api huma.API) {
	register(api, h, huma.Operation{
		OperationID: "getEventSubscription",
		Method:      http.MethodGet,
		Path:        "/v1/environments/{env}/event-subscriptions/{subscription_id}",
		Summary:     "Read an event subscription",
		Description: "The subscription's settings and status, without its signing secret. An unknown one is 404 subscription_not_found.",
		Tags:        []string{tagEventSubscriptions},
		Errors:      []int{http.StatusNotFound, http.StatusUnprocessableEntity},
	}, func(ctx context.Context, in *subscriptionInput) (*subscriptionOutput, error) {
		s, err := h.svc.EventSubscriptions.Get(ctx, in.Env, in.SubscriptionID)
		if err != nil {
			return nil, err
		}
		return &subscriptionOutput{Body: subscriptionOf(s, "")}, nil
	})
}

// registerListEventSubscriptions registers GET /v1/environments/{env}/event-subscriptions.
func (h *handlers) registerListEventSubscriptions(api huma.API) {
	register(api, h, huma.Operation{
		OperationID: "listEventSubscriptions",
		Method:      http.MethodGet,
		Path:        "/v1/environments/{env}/event-subscriptions",
		Summary:     "List the event subscriptions",
		Description: "Every event subscription of the environment, ordered by id. Signing secrets are never listed.",
		Tags:        []string{tagEventSubscriptions},
		Errors:      []int{http.StatusNotFound, http.StatusUnprocessableEntity},
	}, func(ctx context.Context, in *listSubscriptionsInput) (*subscriptionListOutput, error) {
		all, err := h.svc.EventSubscriptions.List(ctx, in.Env)
		if err != nil {
			return nil, err
		}
		out := &subscriptionListOutput{Body: EventSubscriptionList{Items: make([]EventSubscription, 0, len(all))}}
		for _, s := range all {
			out.Body.Items = append(out.Body.Items, subscriptionOf(s, ""))
		}
		return out, nil
	})
}

// registerDeleteEventSubscription registers DELETE /v1/environments/{env}/event-subscriptions/{subscription_id}.
func (h *handlers) registerDeleteEventSubscription(api huma.API) {
	register(api, h, huma.Operation{
		OperationID:   "deleteEventSubscription",
		Method:        http.MethodDelete,
		Path:          "/v1/environments/{env}/event-subscriptions/{subscription_id}",
		Summary:       "Delete an event subscription",
		Description:   "Deletes the subscription and the record of its deliveries: nothing more is sent to it. An unknown one is 404 subscription_not_found.",
		Tags:          []string{tagEventSubscriptions},
		DefaultStatus: http.StatusNoContent,
		Errors:        []int{http.StatusNotFound, http.StatusUnprocessableEntity},
	}, func(ctx context.Context, in *subscriptionInput) (*struct{}, error) {
		if err := h.svc.EventSubscriptions.Delete(ctx, in.Env, in.SubscriptionID); err != nil {
			return nil, err
		}
		return &struct{}{}, nil
	})
}

// registerRotateEventSubscriptionSecret registers POST /v1/environments/{env}/event-subscriptions/{subscription_id}/rotate-secret.
func (h *handlers) registerRotateEventSubscriptionSecret(api huma.API) {
	register(api, h, huma.Operation{
		OperationID: "rotateEventSubscriptionSecret",
		Method:      http.MethodPost,
		Path:        "/v1/environments/{env}/event-subscriptions/{subscription_id}/rotate-secret",
		Summary:     "Rotate an event subscription's signing secret",
		Description: "Gives the subscription a new signing secret, answered once in signing_secret. The previous secret " +
			"keeps signing for 24 hours (webhook-signature then carries both signatures), so that the endpoint can switch " +
			"without refusing an event.",
		Tags:   []string{tagEventSubscriptions},
		Errors: []int{http.StatusNotFound, http.StatusUnprocessableEntity},
	}, func(ctx context.Context, in *subscriptionInput) (*subscriptionOutput, error) {
		res, err := h.svc.EventSubscriptions.RotateSecret(ctx, in.Env, in.SubscriptionID)
		if err != nil {
			return nil, err
		}
		return &subscriptionOutput{Body: subscriptionOf(res.Subscription, res.NewSecret)}, nil
	})
}

// registerListEventDeliveries registers GET /v1/environments/{env}/event-subscriptions/{subscription_id}/deliveries.
func (h *handlers) registerListEventDeliveries(api huma.API) {
	register(api, h, huma.Operation{
		OperationID: "listEventDeliveries",
		Method:      http.MethodGet,
		Path:        "/v1/environments/{env}/event-subscriptions/{subscription_id}/deliveries",
		Summary:     "List an event subscription's deliveries",
		Description: "What became of each event sent to the subscription, newest event first: its status, attempts, " +
			"the last attempt's answer or error and when the next one is due. Deliveries are kept 30 days after they " +
			"finish; a pending one is kept until it finishes. Pages follow next_cursor.",
		Tags:   []string{tagEventSubscriptions},
		Errors: []int{http.StatusNotFound, http.StatusUnprocessableEntity},
	}, func(ctx context.Context, in *listDeliveriesInput) (*deliveryListOutput, error) {
		page, err := h.svc.EventSubscriptions.Deliveries(ctx, in.Env, in.SubscriptionID, in.Cursor, in.Limit)
		if err != nil {
			return nil, err
		}
		out := &deliveryListOutput{Body: EventDeliveryList{Items: make([]EventDelivery, 0, len(page.Deliveries)), NextCursor: orNull(page.Next)}}
		for _, d := range page.Deliveries {
			out.Body.Items = append(out.Body.Items, deliveryOf(d))
		}
		return out, nil
	})
}
