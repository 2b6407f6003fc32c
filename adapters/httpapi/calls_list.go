package httpapi

import (
	"context"
	"net/http"
	"time"

	"github.com/danielgtaylor/huma/v2"

	"callconnect/app"
)

// CallList is a page of an environment's calls, newest first.
type CallList struct {
	Items      []Call  `json:"items" nullable:"false" doc:"The calls, newest first (by clicked_at, then id), each as reading the call shows it."`
	NextCursor *string `json:"next_cursor" doc:"Pass as cursor (with the same filters) for the next page; null on the last page."`
}

type listCallsInput struct {
	EnvPath
	Status CallStatus `query:"status" doc:"Only the calls in this status, as they read now: no_result includes the delivered calls whose result deadline has passed, delivered leaves them out."`
	LeadID string     `query:"lead_id" pattern:"^[A-Za-z0-9._~-]{1,64}$" maxLength:"64" doc:"Only the calls on this lead."`
	UserID string     `query:"user_id" pattern:"^[A-Za-z0-9._~-]{1,64}$" maxLength:"64" doc:"Only the calls this user placed (who pressed Ligar)."`
	Since  time.Time  `query:"since" doc:"Only the calls placed (clicked_at) at or after this time (RFC 3339)."`
	Until  time.Time  `query:"until" doc:"Only the calls placed (clicked_at) before this time (RFC 3339); later than since."`
	Cursor string     `query:"cursor" maxLength:"256" doc:"next_cursor of the previous page; absent for the first page."`
	Limit  int        `query:"limit" minimum:"1" maximum:"200" default:"50" doc:"Page size."`
}

type listCallsOutput struct {
	Body CallList
}

func (h *handlers) registerCallList(api huma.API) {
	register(api, h, huma.Operation{
		OperationID: "listCalls",
		Method:      http.MethodGet,
		Path:        "/v1/environments/{env}/calls",
		Summary:     "List the calls",
		Description: "The environment's calls, newest first, each as reading the call shows it (status as of the request, " +
			"attempts, recording link). Filters combine; pages follow next_cursor, and calls placed while paging neither " +
			"repeat nor shift the pages that follow. A cursor that is not a next_cursor of this list is 422 naming " +
			"query.cursor; since not before until is 422 naming query.until.",
		Tags:   []string{tagCalls},
		Errors: []int{http.StatusNotFound, http.StatusUnprocessableEntity},
	}, func(ctx context.Context, in *listCallsInput) (*listCallsOutput, error) {
		page, err := h.svc.Calls.ListCalls(ctx, in.Env, app.CallQuery{Status: string(in.Status), LeadID: in.LeadID,
			UserID: in.UserID, Since: in.Since, Until: in.Until, Cursor: in.Cursor, Limit: in.Limit})
		if err != nil {
			return nil, err
		}
		out := &listCallsOutput{Body: CallList{Items: make([]Call, 0, len(page.Calls)), NextCursor: orNull(page.NextCursor)}}
		for _, c := range page.Calls {
			item := callOf(c)
			if rec := page.Recordings[c.ID()]; rec != "" {
				u := recordingLocation(in.Env, rec)
				item.RecordingURL = &u
			}
			out.Body.Items = append(out.Body.Items, item)
		}
		return out, nil
	})
}
