package httpapi

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

// The events a widget token reads are its user's calls' alone, in a stream
// (block by block, heartbeats kept, flushed as they pass) and in a page.
func TestEventsFilter(t *testing.T) {
	for _, tt := range []struct {
		name   string
		serve  func(w http.ResponseWriter)
		want   string
		status int
	}{
		{"stream", func(w http.ResponseWriter) {
			w.Header().Set("Content-Type", "text/event-stream")
			w.WriteHeader(200)
			io.WriteString(w, "retry: 1000\n\n")
			io.WriteString(w, "id: 1\nevent: call.queued\ndata: {\"call_id\":\"a\",\"user_id\":\"c1\",\"status\":\"queued\"}\n\n")
			io.WriteString(w, "id: 2\nevent: call.queued\ndata: {\"call_id\":\"b\",\"user_id\":\"c2\"}\n\n: heartbeat\n\n")
			// A block written in pieces, and an event whose user is in its data member.
			io.WriteString(w, "id: 3\nevent: call.delivered\n")
			w.(http.Flusher).Flush()
			io.WriteString(w, "data: {\"type\":\"call.delivered\",\"data\":{\"call_id\":\"a\",\"user_id\":\"c1\"}}\n\n")
			io.WriteString(w, "id: 4\nevent: lead.interaction_added\ndata: {\"lead_id\":\"l1\"}\n\nid: 5\ndata: not json\n\n")
			io.WriteString(w, "id: 6\nevent: call.completed\ndata: {\"call_id\":\"a\",")
		}, "retry: 1000\n\n" +
			"id: 1\nevent: call.queued\ndata: {\"call_id\":\"a\",\"user_id\":\"c1\",\"status\":\"queued\"}\n\n" +
			": heartbeat\n\n" +
			"id: 3\nevent: call.delivered\ndata: {\"type\":\"call.delivered\",\"data\":{\"call_id\":\"a\",\"user_id\":\"c1\"}}\n\n", 200},
		{"page", func(w http.ResponseWriter) {
			w.Header().Set("Content-Type", "application/json")
			w.Header().Set("Content-Length", "999")
			io.WriteString(w, `{"items":[{"id":"1","type":"call.queued","data":{"call_id":"a","user_id":"c1"}},`+
				`{"id":"2","type":"call.queued","data":{"call_id":"b","user_id":"c2"}}],"next_after":"2"}`)
		}, `{"items":[{"id":"1","type":"call.queued","data":{"call_id":"a","user_id":"c1"}}],"next_after":"2"}`, 200},
		{"error", func(w http.ResponseWriter) {
			w.Header().Set("Content-Type", "application/problem+json")
			w.WriteHeader(404)
			io.WriteString(w, `{"code":"not_found"}`)
		}, `{"code":"not_found"}`, 404},
	} {
		t.Run(tt.name, func(t *testing.T) {
			rec := httptest.NewRecorder()
			f := &eventsFilter{ResponseWriter: rec, user: "c1"}
			tt.serve(f)
			f.finish()
			got := rec.Body.String()
			if tt.name == "page" {
				var a, b any
				_ = json.Unmarshal([]byte(got), &a)
				_ = json.Unmarshal([]byte(tt.want), &b)
				ga, _ := json.Marshal(a)
				gb, _ := json.Marshal(b)
				if string(ga) != string(gb) {
					t.Fatalf("page:\n got %s\nwant %s", got, tt.want)
				}
				if rec.Header().Get("Content-Length") == "999" {
					t.Fatal("the page keeps the unfiltered Content-Length")
				}
			} else if got != tt.want {
				t.Fatalf("got:\n%s\nwant:\n%s", got, tt.want)
			}
			if rec.Code != tt.status {
				t.Fatalf("status %d, want %d", rec.Code, tt.status)
			}
			if tt.name == "stream" && !rec.Flushed {
				t.Fatal("the stream was not flushed")
			}
		})
	}
}

func TestMatchWidgetRoute(t *testing.T) {
	for path, want := range map[string]string{
		"/v1/environments/acme/leads/1/call-button": "GET callButton acme 1",
		"/v1/environments/acme/leads/1/calls":       "POST placeCall acme 1",
		"/v1/environments/acme/calls/x":             "GET getCall acme x",
		"/v1/environments/acme/events":              "GET events acme ",
		"/v1/environments/acme/leads//calls":        "",
		"/v1/environments/acme/calls/x/redeliver":   "",
		"/v1/environments/acme/events/":             "",
		"/v1/environments/acme":                     "",
		"/v1/environments/acme/leads/1":             "",
		"/v2/environments/acme/events":              "",
	} {
		got := ""
		if r := matchWidgetRoute(path); r != nil {
			got = strings.Join([]string{r.method, r.kind, r.env, r.id}, " ")
		}
		if got != want {
			t.Errorf("matchWidgetRoute(%q) = %q, want %q", path, got, want)
		}
	}
}
