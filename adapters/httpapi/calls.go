package httpapi

import (
	"context"
	"encoding/json"
	"net/http"
	"net/url"
	"time"

	"github.com/danielgtaylor/huma/v2"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/trace"

	"callconnect/domain"
)

// CallPath names a call of an environment.
type CallPath struct {
	EnvPath
	CallID string `path:"call_id" pattern:"^[A-Za-z0-9._~-]{1,64}$" maxLength:"64" doc:"Call id, as Call Connect gave it when the call was placed." example:"01JDQ4T5Z8M6V9W3X2Y1Z0A7BC"`
}

// PlaceCallRequest is the body of POST /v1/environments/{env}/leads/{lead_id}/calls.
type PlaceCallRequest struct {
	UserID string `json:"user_id" pattern:"^[A-Za-z0-9._~-]{1,64}$" doc:"The user who pressed Ligar; the call button must be enabled for them on the lead (rule 6)." example:"6065"`
}

// CallStatus is where a call is in its life.
type CallStatus string

// Schema documents CallStatus as the enum of the domain's statuses.
func (CallStatus) Schema(huma.Registry) *huma.Schema {
	enum := make([]any, 0, len(domain.CallStatuses))
	for _, s := range domain.CallStatuses {
		enum = append(enum, string(s))
	}
	return &huma.Schema{
		Type: huma.TypeString,
		Enum: enum,
		Description: "queued (waiting for a delivery attempt) → delivering (an attempt is on the wire) → delivered " +
			"(the partner accepted it) → completed or not_completed (the partner's result), or no_result (sem retorno: " +
			"no result within the result deadline, CALLCONNECT_RESULT_DEADLINE, after the partner accepted it; a late " +
			"result still settles it); or undeliverable once the retry policy gives up: at once on a permanent 4xx " +
			"answer, or when the dispatch deadline passes. A failed attempt worth retrying puts the call back to queued.",
	}
}

// CallReason qualifies a call's status; null when there is nothing to add.
type CallReason string

// MarshalJSON writes null for "no reason".
func (r CallReason) MarshalJSON() ([]byte, error) {
	if r == "" {
		return []byte("null"), nil
	}
	return json.Marshal(string(r))
}

// Schema documents CallReason as a nullable string.
func (CallReason) Schema(huma.Registry) *huma.Schema {
	return &huma.Schema{
		Type:     huma.TypeString,
		Nullable: true,
		Description: "null unless the status needs one. For undeliverable: partner_refused (the partner answered a " +
			"permanent 4xx), deadline_exceeded (no attempt succeeded before the dispatch deadline), " +
			"integration_inactive (Call Connect was deactivated or switched off before delivery). " +
			"For not_completed: no_answer, not_completed, busy, invalid_number, cancelled or other.",
		Examples: []any{domain.UndeliverablePartnerRefused},
	}
}

// Call is one press of Ligar, from the click to the partner's result.
type Call struct {
	ID           string        `json:"id" doc:"The call's id; the partner receives it as idligacao." example:"01JDQ4T5Z8M6V9W3X2Y1Z0A7BC"`
	LeadID       string        `json:"lead_id" example:"1"`
	UserID       string        `json:"user_id" doc:"Who pressed Ligar." example:"6065"`
	Status       CallStatus    `json:"status" example:"queued"`
	Reason       CallReason    `json:"reason"`
	ClickedAt    time.Time     `json:"clicked_at" doc:"When Ligar was pressed."`
	Deadline     time.Time     `json:"deadline" doc:"No delivery attempt starts after this; redeliver sets a fresh one."`
	DeliveredAt  *time.Time    `json:"delivered_at" doc:"When the partner accepted the call (its 2xx answer came back); the result deadline counts from it. Null until then, or when the partner's result came before the delivery was recorded."`
	WebhookID    string        `json:"webhook_id" doc:"The Standard Webhooks webhook-id header of every delivery attempt of this call (the same across retries, so the partner can recognise a repeat)." example:"msg_01JDQ4T5Z8M6V9W3X2Y1Z0A7BC"`
	Attempts     []CallAttempt `json:"attempts" nullable:"false" doc:"Every delivery attempt, oldest first; empty until the first one ends."`
	RecordingURL *string       `json:"recording_url" doc:"Where the call's recording can be fetched once the partner sent one; null until then."`
}

// CallAttempt is one try at delivering a call to the partner.
type CallAttempt struct {
	At         time.Time `json:"at" doc:"When the attempt started."`
	StatusCode *int      `json:"status_code" doc:"The partner's HTTP status; null when no answer came back (timeout, refused connection)." example:"200"`
	Error      *string   `json:"error" doc:"Why the attempt failed; null when the partner accepted the call." example:"partner answered 503"`
	DurationMS int64     `json:"duration_ms" doc:"How long the attempt took, in milliseconds." example:"120"`
}

type placeCallInput struct {
	LeadPath
	Body PlaceCallRequest
}

type placeCallOutput struct {
	Location string `header:"Location" doc:"Where the call can be read."`
	Body     Call
}

type getCallInput struct {
	CallPath
}

type callOutput struct {
	Body Call
}

type redeliverCallInput struct {
	CallPath
}

func callOf(c domain.Call) Call {
	out := Call{ID: c.ID(), LeadID: c.LeadID(), UserID: c.UserID(), Status: CallStatus(c.Status()), Reason: CallReason(c.Reason()),
		ClickedAt: c.ClickedAt(), Deadline: c.Deadline(), WebhookID: c.WebhookID()}
	if at := c.DeliveredAt(); !at.IsZero() {
		out.DeliveredAt = &at
	}
	attempts := c.Attempts()
	out.Attempts = make([]CallAttempt, 0, len(attempts))
	for _, a := range attempts {
		ca := CallAttempt{At: a.At, DurationMS: a.Duration.Milliseconds()}
		if a.StatusCode != 0 {
			ca.StatusCode = &a.StatusCode
		}
		if a.Error != "" {
			ca.Error = &a.Error
		}
		out.Attempts = append(out.Attempts, ca)
	}
	return out
}

// callLocation is the path a call is read at.
func callLocation(envID, callID string) string {
	return "/v1/environments/" + url.PathEscape(envID) + "/calls/" + url.PathEscape(callID)
}

// traceParent is the W3C traceparent of the request's current span (the
// server span the telemetry middleware started), so that the delivery's
// spans link to the click. "" when the request is not traced.
func traceParent(ctx context.Context) string {
	if !trace.SpanContextFromContext(ctx).IsValid() {
		return ""
	}
	carrier := propagation.MapCarrier{}
	propagation.TraceContext{}.Inject(ctx, carrier)
	return carrier.Get("traceparent")
}

// registerCalls registers placing, reading and redelivering a call.
func (h *handlers) registerCalls(api huma.API) {
	h.registerPlaceCall(api)
	h.registerGetCall(api)
	h.registerRedeliverCall(api)
}

// registerPlaceCall registers POST /v1/environments/{env}/leads/{lead_id}/calls.
func (h *handlers) registerPlaceCall(api huma.API) {
	register(api, h, huma.Operation{
		OperationID:   "placeCall",
		Method:        http.MethodPost,
		Path:          "/v1/environments/{env}/leads/{lead_id}/calls",
		DefaultStatus: http.StatusAccepted,
		Summary:       "Place a call (press Ligar)",
		Description: "Records the press of Ligar by the user on the lead and schedules its delivery to the partner in the " +
			"same transaction, then answers 202 with the queued call; delivery happens in the background, with retries, " +
			"until the dispatch deadline. The press is refused, creating nothing, with the call button's reason code " +
			"whenever the button would not be enabled for the user (rule 6): not_owner (403), integration_inactive, " +
			"missing_phone or missing_extension (409). A press by a user on a lead while that user's previous call to it is " +
			"still queued or delivering is 409 call_in_progress, with that call's id in call_id, and places nothing.",
		Tags:   []string{tagCalls},
		Errors: []int{http.StatusForbidden, http.StatusNotFound, http.StatusConflict, http.StatusUnprocessableEntity},
	}, func(ctx context.Context, in *placeCallInput) (*placeCallOutput, error) {
		c, err := h.svc.Calls.Place(ctx, in.Env, in.LeadID, in.Body.UserID, traceParent(ctx))
		if err != nil {
			return nil, err
		}
		return &placeCallOutput{Location: callLocation(in.Env, c.ID()), Body: callOf(c)}, nil
	})
}

// registerGetCall registers GET /v1/environments/{env}/calls/{call_id}.
func (h *handlers) registerGetCall(api huma.API) {
	register(api, h, huma.Operation{
		OperationID: "getCall",
		Method:      http.MethodGet,
		Path:        "/v1/environments/{env}/calls/{call_id}",
		Summary:     "Read a call",
		Description: "Returns the call: its status and reason, every delivery attempt (time, partner status code, error, " +
			"duration) and the recording link once there is one. The status is as of the request: a delivered call " +
			"whose result deadline has passed reads no_result at once.",
		Tags:   []string{tagCalls},
		Errors: []int{http.StatusNotFound, http.StatusUnprocessableEntity},
	}, func(ctx context.Context, in *getCallInput) (*callOutput, error) {
		c, err := h.svc.Calls.GetCall(ctx, in.Env, in.CallID)
		if err != nil {
			return nil, err
		}
		out := callOf(c)
		rec, err := h.svc.Calls.CallRecording(ctx, in.Env, c)
		if err != nil {
			return nil, err
		}
		if rec != "" {
			u := recordingLocation(in.Env, rec)
			out.RecordingURL = &u
		}
		return &callOutput{Body: out}, nil
	})
}

// registerRedeliverCall registers POST /v1/environments/{env}/calls/{call_id}/redeliver.
func (h *handlers) registerRedeliverCall(api huma.API) {
	register(api, h, huma.Operation{
		OperationID:   "redeliverCall",
		Method:        http.MethodPost,
		Path:          "/v1/environments/{env}/calls/{call_id}/redeliver",
		DefaultStatus: http.StatusAccepted,
		Summary:       "Deliver an undeliverable call again",
		Description: "Puts an undeliverable call back to queued with a fresh dispatch deadline and schedules its delivery; " +
			"answers 202 with the queued call. The partner receives the same body and webhook-id as before. " +
			"A call in any other status is refused with 409 invalid_call_transition.",
		Tags:   []string{tagCalls},
		Errors: []int{http.StatusNotFound, http.StatusConflict, http.StatusUnprocessableEntity},
	}, func(ctx context.Context, in *redeliverCallInput) (*callOutput, error) {
		c, err := h.svc.Calls.Redeliver(ctx, in.Env, in.CallID, traceParent(ctx))
		if err != nil {
			return nil, err
		}
		return &callOutput{Body: callOf(c)}, nil
	})
}
