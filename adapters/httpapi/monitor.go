package httpapi

import (
	"context"
	"net/http"
	"time"

	"github.com/danielgtaylor/huma/v2"

	"callconnect/app"
	"callconnect/domain"
)

// Exchange is one HTTP request and answer between Call Connect and a
// partner, as the integration monitor lists it.
type Exchange struct {
	ID         string    `json:"id" example:"01JDQ4T5Z8M6V9W3X2Y1Z0A7BC"`
	Direction  string    `json:"direction" enum:"in,out" doc:"out: Call Connect called the partner (a call delivery); in: the partner called Call Connect (a callback)." example:"out"`
	Method     string    `json:"method" example:"POST"`
	URL        string    `json:"url" doc:"The URL called (for callbacks, the path and query Call Connect was called at); the values of query parameters whose names say token, key, secret, signature, password or authorization read [redacted]." example:"https://partner.example.com/calls"`
	StatusCode *int      `json:"status_code" doc:"The HTTP status of the answer; null when none came back (timeout, refused connection)." example:"503"`
	DurationMS int64     `json:"duration_ms" doc:"How long the exchange took, in milliseconds." example:"120"`
	CallID     *string   `json:"call_id" doc:"The call it belongs to; null when none." example:"01JDQ4T5Z8M6V9W3X2Y1Z0A7BC"`
	LeadID     *string   `json:"lead_id" doc:"The lead it concerns; null when none is known." example:"1"`
	OccurredAt time.Time `json:"occurred_at" doc:"When the request started."`
	Error      *string   `json:"error" doc:"Why the exchange failed, when it did; null otherwise." example:"partner answered 503"`
}

// ExchangeDetail is one exchange with its headers and bodies.
type ExchangeDetail struct {
	Exchange
	RequestHeaders map[string][]string `json:"request_headers" nullable:"false" doc:"The request's headers, names canonical. A header whose name says token, key, secret, signature, password or authorization (token, X-Api-Key, webhook-signature…; not Idempotency-Key), a cookie and the email header read [redacted]. A refused request (4xx, 5xx) keeps only Accept, Content-Type, Content-Length, Content-Encoding, User-Agent, Idempotency-Key and Traceparent."`
	RequestBody    string              `json:"request_body" doc:"The request's body, at most 64 KiB (longer ones end with …[truncated]); a recording is replaced by a reference to it."`
	ResponseBody   string              `json:"response_body" doc:"The answer's body, at most 64 KiB (longer ones end with …[truncated])."`
}

// ExchangeList is a page of the monitor, newest first.
type ExchangeList struct {
	Items      []Exchange `json:"items" nullable:"false"`
	NextCursor *string    `json:"next_cursor" doc:"Pass as cursor (with the same filters) for the next page; null on the last page."`
}

type listExchangesInput struct {
	EnvPath
	Direction string    `query:"direction" enum:"in,out" doc:"Only exchanges in this direction: out (deliveries to the partner) or in (callbacks from the partner)."`
	CallID    string    `query:"call_id" pattern:"^[A-Za-z0-9._~-]{1,64}$" maxLength:"64" doc:"Only the exchanges of this call."`
	LeadID    string    `query:"lead_id" pattern:"^[A-Za-z0-9._~-]{1,64}$" maxLength:"64" doc:"Only the exchanges of this lead."`
	Status    string    `query:"status" pattern:"^([0-9]{1,3}|[1-5][xX][xX])$" maxLength:"3" doc:"Only this status code (e.g. 404; 0 for no answer) or class (e.g. 4xx)." example:"4xx"`
	Since     time.Time `query:"since" doc:"Only exchanges that occurred at or after this time (RFC 3339)."`
	Until     time.Time `query:"until" doc:"Only exchanges that occurred before this time (RFC 3339)."`
	Cursor    string    `query:"cursor" maxLength:"256" doc:"next_cursor of the previous page; absent for the first page."`
	Limit     int       `query:"limit" minimum:"1" maximum:"200" default:"50" doc:"Page size."`
}

type listExchangesOutput struct {
	Body ExchangeList
}

type getExchangeInput struct {
	EnvPath
	ID string `path:"id" pattern:"^[A-Za-z0-9._~-]{1,64}$" maxLength:"64" doc:"The exchange's id, from the list." example:"01JDQ4T5Z8M6V9W3X2Y1Z0A7BC"`
}

type getExchangeOutput struct {
	Body ExchangeDetail
}

func orNull[T comparable](v T) *T {
	var zero T
	if v == zero {
		return nil
	}
	return &v
}

func exchangeOf(e domain.Exchange) Exchange {
	return Exchange{ID: e.ID, Direction: string(e.Direction), Method: e.Method, URL: e.URL, StatusCode: orNull(e.StatusCode),
		DurationMS: e.Duration.Milliseconds(), CallID: orNull(e.CallID), LeadID: orNull(e.LeadID), OccurredAt: e.OccurredAt,
		Error: orNull(e.Error)}
}

func (h *handlers) registerMonitor(api huma.API) {
	register(api, h, huma.Operation{
		OperationID: "listExchanges",
		Method:      http.MethodGet,
		Path:        "/v1/environments/{env}/monitor/exchanges",
		Summary:     "List the exchanges with partners (integration monitor)",
		Description: "Every HTTP exchange with the partner, both directions, accepted or refused (a callback refused with 401, " +
			"413, 422 or 429 is there too), newest first, kept for CALLCONNECT_MONITOR_RETENTION (30 days by default). " +
			"Filters combine; pages follow next_cursor, and exchanges recorded while paging neither repeat nor shift " +
			"the pages that follow. Items leave out headers and bodies: read one exchange for them.",
		Tags:   []string{tagMonitor},
		Errors: []int{http.StatusNotFound, http.StatusUnprocessableEntity},
	}, func(ctx context.Context, in *listExchangesInput) (*listExchangesOutput, error) {
		page, err := h.svc.Monitor.ListExchanges(ctx, in.Env, app.ExchangeFilter{Direction: in.Direction, CallID: in.CallID,
			LeadID: in.LeadID, Status: in.Status, Since: in.Since, Until: in.Until, Cursor: in.Cursor, Limit: in.Limit})
		if err != nil {
			return nil, err
		}
		out := &listExchangesOutput{Body: ExchangeList{Items: make([]Exchange, 0, len(page.Items)), NextCursor: orNull(page.NextCursor)}}
		for _, e := range page.Items {
			out.Body.Items = append(out.Body.Items, exchangeOf(e))
		}
		return out, nil
	})

	register(api, h, huma.Operation{
		OperationID: "getExchange",
		Method:      http.MethodGet,
		Path:        "/v1/environments/{env}/monitor/exchanges/{id}",
		Summary:     "Read one exchange with a partner",
		Description: "The exchange with its request headers and bodies, as recorded: secrets redacted, bodies cut at 64 KiB, " +
			"recordings replaced by a reference. An exchange of another environment is 404 exchange_not_found.",
		Tags:   []string{tagMonitor},
		Errors: []int{http.StatusNotFound, http.StatusUnprocessableEntity},
	}, func(ctx context.Context, in *getExchangeInput) (*getExchangeOutput, error) {
		e, err := h.svc.Monitor.GetExchange(ctx, in.Env, in.ID)
		if err != nil {
			return nil, err
		}
		return &getExchangeOutput{Body: ExchangeDetail{Exchange: exchangeOf(e), RequestHeaders: e.RequestHeaders,
			RequestBody: e.RequestBody, ResponseBody: e.ResponseBody}}, nil
	})
}
