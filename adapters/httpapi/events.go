package httpapi

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"mime"
	"net/http"
	"strings"
	"time"

	"github.com/danielgtaylor/huma/v2"
	"github.com/danielgtaylor/huma/v2/adapters/humago"

	"callconnect/domain"
)

// EventType names what happened.
type EventType string

// Schema documents EventType as the enum of the domain's event types.
func (EventType) Schema(huma.Registry) *huma.Schema {
	enum := make([]any, 0, len(domain.EventTypes))
	for _, t := range domain.EventTypes {
		enum = append(enum, string(t))
	}
	return &huma.Schema{
		Type: huma.TypeString,
		Enum: enum,
		Description: "call.queued (a call was placed, or redelivered), call.delivered (the partner accepted it), " +
			"call.undeliverable (delivery was given up), call.completed, call.not_completed (with its reason) and " +
			"call.no_result (no result within the result deadline) as the call's status changes; " +
			"lead.interaction_added when a call's result lands on the lead's history. A retry of a delivery raises none.",
	}
}

// Event is one entry of an environment's feed.
type Event struct {
	ID         string    `json:"id" doc:"The event's place in the environment's feed: ids sort, as strings, in the feed's order. Resume after it with after= or Last-Event-ID." example:"0000000000000812-0000000000000045"`
	Type       EventType `json:"type" example:"call.delivered"`
	OccurredAt time.Time `json:"occurred_at" doc:"When the change was written."`
	Data       EventData `json:"data"`
}

// EventCall is a call.* event's data: the call as GET .../calls/{call_id}
// showed it right after the change, and its id again as call_id.
type EventCall struct {
	Call
	CallID string `json:"call_id" doc:"The call's id (as id)." example:"01JDQ4T5Z8M6V9W3X2Y1Z0A7BC"`
}

// EventInteraction is lead.interaction_added's data: the interaction as the
// lead's history shows it, with its lead.
type EventInteraction struct {
	HistoryItem
	LeadID string `json:"lead_id" example:"1"`
}

// EventData is an EventCall or an EventInteraction, by the event's type.
type EventData struct{ v any }

// MarshalJSON writes the call or the interaction.
func (d EventData) MarshalJSON() ([]byte, error) { return json.Marshal(d.v) }

// Schema documents EventData as one of its two shapes.
func (EventData) Schema(r huma.Registry) *huma.Schema {
	return &huma.Schema{
		Description: "For call.* events the call (as GET .../calls/{call_id} shows it) with call_id; for " +
			"lead.interaction_added the interaction (as the lead's history shows it) with lead_id. Both have call_id " +
			"(null for an interaction that could not be tied to a call) and lead_id.",
		OneOf: []*huma.Schema{
			r.Schema(typeOf[EventCall](), true, "EventCall"),
			r.Schema(typeOf[EventInteraction](), true, "EventInteraction"),
		},
	}
}

// EventPage is a page of the feed.
type EventPage struct {
	Items     []Event `json:"items" nullable:"false" doc:"The events after after, oldest first."`
	NextAfter string  `json:"next_after" doc:"Pass it as after for the next page: the last item's id, or after itself when there are none (nothing new yet)." example:"0000000000000812-0000000000000045"`
}

func eventOf(e domain.Event) Event {
	out := Event{ID: e.ID, Type: EventType(e.Type), OccurredAt: e.OccurredAt}
	switch {
	case e.Call != nil:
		c := callOf(*e.Call)
		if e.CallRecordingID != "" {
			u := recordingLocation(e.EnvID, e.CallRecordingID)
			c.RecordingURL = &u
		}
		out.Data = EventData{EventCall{Call: c, CallID: c.ID}}
	case e.Interaction != nil:
		out.Data = EventData{EventInteraction{HistoryItem: historyOf(e.EnvID, []domain.Interaction{*e.Interaction})[0], LeadID: e.LeadID}}
	default:
		out.Data = EventData{map[string]any{"call_id": nullable(e.CallID), "lead_id": e.LeadID}}
	}
	return out
}

func nullable(s string) *string {
	if s == "" {
		return nil
	}
	return &s
}

type eventsInput struct {
	EnvPath
	After       string `query:"after" pattern:"^([0-9]{16}-[0-9]{16})?$" maxLength:"33" doc:"Only the events after this one (an event's id, or next_after); absent for the oldest kept (30 days)." example:"0000000000000812-0000000000000045"`
	Limit       int    `query:"limit" minimum:"1" maximum:"500" default:"100" doc:"Page size (JSON pages only)."`
	Accept      string `header:"Accept" maxLength:"1024" doc:"text/event-stream for a stream of server-sent events; anything else for a JSON page."`
	LastEventID string `header:"Last-Event-ID" pattern:"^([0-9]{16}-[0-9]{16})?$" maxLength:"33" doc:"A stream resumes after this event (what EventSource sends when it reconnects); it takes precedence over after."`
}

// registerEvents registers the events feed, GET /v1/environments/{env}/events.
func (h *handlers) registerEvents(api huma.API) {
	page := api.OpenAPI().Components.Schemas.Schema(typeOf[EventPage](), true, "EventPage")
	register(api, h, eventsOperation(page), h.listEvents)
}

// eventsOperation documents the feed, answered as a JSON page (of the page
// schema) or as a stream of server-sent events.
func eventsOperation(page *huma.Schema) huma.Operation {
	return huma.Operation{
		OperationID: "listEvents",
		Method:      http.MethodGet,
		Path:        "/v1/environments/{env}/events",
		Summary:     "Read or follow the environment's events",
		Description: "The environment's events, oldest first: each change a CRM cares about (a call placed, delivered, " +
			"undeliverable, completed, not completed or without result; an interaction added to a lead's history), " +
			"written in the same transaction as the change and kept 30 days (as the monitor). Ids sort, as strings, " +
			"in the feed's order, and the feed only ever grows at its end: a client that asks again after the last " +
			"id it got gets every event once, none missed, none twice.\n\n" +
			"As JSON: a page of up to limit events after after, and next_after to ask for the next.\n\n" +
			"With `Accept: text/event-stream`: the same events as server-sent events, as they commit (within a " +
			"second), for as long as the client stays: each is `id:` (the event's id), `event:` (its type) and " +
			"`data:` (the event as a JSON page's item), then a blank line. A comment line `: keepalive` comes every " +
			"15 seconds when nothing else does. The stream starts after Last-Event-ID, or after, or at the oldest " +
			"event kept; an EventSource reconnecting resumes where it stopped. The stream ends when the service " +
			"stops (the client reconnects, to another instance).",
		Tags:   []string{tagEvents},
		Errors: []int{http.StatusNotFound, http.StatusUnprocessableEntity},
		Responses: map[string]*huma.Response{
			"200": {
				Description: "A page of events (application/json), or their stream (text/event-stream).",
				Content: map[string]*huma.MediaType{
					"application/json": {Schema: page},
					"text/event-stream": {Schema: &huma.Schema{Type: huma.TypeString,
						Description: "Server-sent events (UTF-8): `id: <event id>`, `event: <type>`, `data: <the event's JSON, as a page's item>`, a blank line; and `: keepalive` comments.",
						Examples: []any{"id: 0000000000000812-0000000000000045\nevent: call.delivered\n" +
							`data: {"id":"0000000000000812-0000000000000045","type":"call.delivered","occurred_at":"2026-03-19T14:00:05Z","data":{"id":"01JDQ4T5Z8M6V9W3X2Y1Z0A7BC","call_id":"01JDQ4T5Z8M6V9W3X2Y1Z0A7BC","lead_id":"1","user_id":"6065","status":"delivered"}}` +
							"\n\n: keepalive\n\n"}}},
				},
			},
		},
	}
}

// listEvents answers the feed: a stream when the client accepts one, a JSON
// page otherwise.
func (h *handlers) listEvents(ctx context.Context, in *eventsInput) (*huma.StreamResponse, error) {
	if wantsEventStream(in.Accept) {
		after := in.After
		if in.LastEventID != "" {
			after = in.LastEventID
		}
		// Refused before the stream begins, as a problem.
		if _, err := h.svc.Events.List(ctx, in.Env, after, 1); err != nil {
			return nil, err
		}
		return &huma.StreamResponse{Body: func(hctx huma.Context) { h.streamEvents(hctx, in.Env, after) }}, nil
	}
	p, err := h.svc.Events.List(ctx, in.Env, in.After, in.Limit)
	if err != nil {
		return nil, err
	}
	out := EventPage{Items: make([]Event, 0, len(p.Events)), NextAfter: p.NextAfter}
	for _, e := range p.Events {
		out.Items = append(out.Items, eventOf(e))
	}
	body, err := json.Marshal(out)
	if err != nil {
		return nil, err
	}
	return &huma.StreamResponse{Body: func(hctx huma.Context) {
		hctx.SetHeader("Content-Type", "application/json")
		hctx.SetHeader("Cache-Control", "no-store")
		hctx.SetStatus(http.StatusOK)
		_, _ = hctx.BodyWriter().Write(body)
	}}, nil
}

// wantsEventStream says whether the Accept header lists text/event-stream.
func wantsEventStream(accept string) bool {
	for part := range strings.SplitSeq(accept, ",") {
		mt, params, err := mime.ParseMediaType(strings.TrimSpace(part))
		if err == nil && mt == "text/event-stream" && params["q"] != "0" {
			return true
		}
	}
	return false
}

// streamEvents serves the feed as server-sent events until the client goes
// away or the server stops.
func (h *handlers) streamEvents(hctx huma.Context, envID, after string) {
	r, w := humago.Unwrap(hctx)
	ctx, cancel := context.WithCancel(r.Context())
	defer cancel()
	if h.ops.Stopping != nil {
		go func() {
			select {
			case <-h.ops.Stopping:
				cancel()
			case <-ctx.Done():
			}
		}()
	}
	s := &sseStream{w: w, rc: http.NewResponseController(w), heartbeat: h.svc.Events.Heartbeat()}
	if err := h.svc.Events.Follow(ctx, envID, after, s); err != nil && !s.failed {
		// The request was found good just before; what fails now is the
		// store. The stream may have begun: the client sees it end, and
		// reconnects.
		h.logger.ErrorContext(r.Context(), "following the events failed", "error", err, "env", envID)
	}
}

// sseStream writes the feed as server-sent events (app.EventStream).
type sseStream struct {
	w         http.ResponseWriter
	rc        *http.ResponseController
	heartbeat time.Duration
	buf       bytes.Buffer
	failed    bool // a write failed: the client went away or stopped reading
}

// extend moves the connection's deadlines past the next heartbeat: the
// server's (ReadTimeout, WriteTimeout) are for ordinary requests, and a read
// deadline passing would end the request. A client that stops reading
// fails the next write within the heartbeat and WriteTimeout.
func (s *sseStream) extend() {
	deadline := time.Now().Add(s.heartbeat + WriteTimeout)
	_ = s.rc.SetReadDeadline(deadline)
	_ = s.rc.SetWriteDeadline(deadline)
}

func (s *sseStream) Open() error {
	s.extend()
	hd := s.w.Header()
	hd.Set("Content-Type", "text/event-stream; charset=utf-8")
	hd.Set("Cache-Control", "no-store")
	// Proxies that buffer answers (nginx) pass this one on as it comes.
	hd.Set("X-Accel-Buffering", "no")
	s.w.WriteHeader(http.StatusOK)
	// How soon an EventSource reconnects, in milliseconds.
	s.buf.WriteString("retry: 1000\n\n")
	return s.flush()
}

func (s *sseStream) Send(events []domain.Event) error {
	for _, e := range events {
		data, err := json.Marshal(eventOf(e))
		if err != nil {
			return err
		}
		fmt.Fprintf(&s.buf, "id: %s\nevent: %s\ndata: %s\n\n", e.ID, e.Type, data)
	}
	return s.flush()
}

func (s *sseStream) Idle() error {
	s.buf.WriteString(": keepalive\n\n")
	return s.flush()
}

func (s *sseStream) flush() error {
	s.extend()
	_, err := s.w.Write(s.buf.Bytes())
	s.buf.Reset()
	if err == nil {
		err = s.rc.Flush()
	}
	if err != nil {
		s.failed = true
	}
	return err
}
