package httpapi_test

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"callconnect/adapters/audiostore"
	"callconnect/adapters/cvio"
	"callconnect/adapters/httpapi"
	"callconnect/adapters/memory"
	"callconnect/adapters/postgres"
	"callconnect/adapters/system"
	"callconnect/app"
)

// feedItem is an item of the events feed, as a client reads it.
type feedItem struct {
	ID         string         `json:"id"`
	Type       string         `json:"type"`
	OccurredAt time.Time      `json:"occurred_at"`
	Data       map[string]any `json:"data"`
}

type feedPage struct {
	Items     []feedItem `json:"items"`
	NextAfter string     `json:"next_after"`
}

func readFeed(t *testing.T, c *client, path string) feedPage {
	t.Helper()
	r := c.get(path)
	if r.Status != http.StatusOK || !strings.HasPrefix(r.Header.Get("Content-Type"), "application/json") {
		t.Fatalf("GET %s: %s", path, r)
	}
	var p feedPage
	r.decode(t, &p)
	if p.Items == nil {
		t.Fatalf("GET %s: items must be an array: %s", path, r)
	}
	return p
}

func itemIDs(items []feedItem) []string {
	out := make([]string, len(items))
	for i, it := range items {
		out[i] = it.ID
	}
	return out
}

// callEvents are the call.* items of the call, as "type status" lines.
func callEvents(items []feedItem, callID string) []string {
	var out []string
	for _, it := range items {
		if strings.HasPrefix(it.Type, "call.") && it.Data["call_id"] == callID {
			out = append(out, fmt.Sprintf("%s %v", it.Type, it.Data["status"]))
		}
	}
	return out
}

// sseFrame is one server-sent event, or a comment.
type sseFrame struct {
	id, event, data, comment string
}

// sseStream is a client's open event stream.
type sseStream struct {
	t      *testing.T
	res    *http.Response
	frames chan sseFrame
	done   chan error // the read's end: nil at EOF
	got    []feedItem
	kept   int // keepalive comments seen
}

// openStream opens GET path as an event stream; headers are name, value pairs.
func openStream(t *testing.T, c *client, path string, headers ...string) *sseStream {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, c.baseURL+path, nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+c.token)
	req.Header.Set("Accept", "text/event-stream")
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	res, err := c.http.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	if res.StatusCode != http.StatusOK || res.Header.Get("Content-Type") != "text/event-stream; charset=utf-8" {
		b, _ := io.ReadAll(res.Body)
		res.Body.Close()
		t.Fatalf("GET %s as a stream: %d %s %s", path, res.StatusCode, res.Header.Get("Content-Type"), b)
	}
	s := &sseStream{t: t, res: res, frames: make(chan sseFrame, 100), done: make(chan error, 1)}
	go s.read()
	t.Cleanup(s.close)
	return s
}

func (s *sseStream) read() {
	defer close(s.frames)
	br := bufio.NewReader(s.res.Body)
	var f sseFrame
	for {
		line, err := br.ReadString('\n')
		if err != nil {
			if err == io.EOF {
				err = nil
			}
			s.done <- err
			return
		}
		line = strings.TrimSuffix(line, "\n")
		switch {
		case line == "":
			if f != (sseFrame{}) {
				s.frames <- f
			}
			f = sseFrame{}
		case strings.HasPrefix(line, ":"):
			f.comment = strings.TrimSpace(strings.TrimPrefix(line, ":"))
		default:
			name, value, _ := strings.Cut(line, ":")
			value = strings.TrimPrefix(value, " ")
			switch name {
			case "id":
				f.id = value
			case "event":
				f.event = value
			case "data":
				f.data += value
			}
		}
	}
}

func (s *sseStream) close() { s.res.Body.Close() }

// next returns the next event (comments and retry hints are counted and
// skipped), failing the test if none comes within wait.
func (s *sseStream) next(wait time.Duration) feedItem {
	s.t.Helper()
	deadline := time.After(wait)
	for {
		select {
		case f, ok := <-s.frames:
			if !ok {
				s.t.Fatalf("the stream ended (%v) while an event was awaited", <-s.done)
			}
			if f.comment == "keepalive" {
				s.kept++
			}
			if f.event == "" {
				continue
			}
			var it feedItem
			if err := json.Unmarshal([]byte(f.data), &it); err != nil {
				s.t.Fatalf("event data %q: %v", f.data, err)
			}
			if it.ID != f.id || it.Type != f.event {
				s.t.Fatalf("frame id %q event %q, data says %q %q", f.id, f.event, it.ID, it.Type)
			}
			s.got = append(s.got, it)
			return it
		case <-deadline:
			s.t.Fatalf("no event within %s; the stream got %v", wait, itemIDs(s.got))
		}
	}
}

// keepalive waits for a keepalive comment, failing the test if an event
// comes first or nothing within wait.
func (s *sseStream) keepalive(wait time.Duration) {
	s.t.Helper()
	deadline := time.After(wait)
	for {
		select {
		case f, ok := <-s.frames:
			if !ok {
				s.t.Fatalf("the stream ended (%v) while a keepalive was awaited", <-s.done)
			}
			if f.event != "" {
				s.t.Fatalf("an event %s (%s) came while none was due", f.id, f.event)
			}
			if f.comment == "keepalive" {
				s.kept++
				return
			}
		case <-deadline:
			s.t.Fatalf("no keepalive within %s", wait)
		}
	}
}

// ended waits for the stream to end, failing the test if an event comes
// first or it goes on past wait.
func (s *sseStream) ended(wait time.Duration) {
	s.t.Helper()
	deadline := time.After(wait)
	for {
		select {
		case f, ok := <-s.frames:
			if !ok {
				if err := <-s.done; err != nil {
					s.t.Fatalf("the stream ended with %v, want its end", err)
				}
				return
			}
			if f.event != "" {
				s.t.Fatalf("an event %s (%s) came while the stream should end", f.id, f.event)
			}
		case <-deadline:
			s.t.Fatalf("the stream did not end within %s", wait)
		}
	}
}

// pushWait bounds how long after its commit an event may take to reach a
// stream: the second the feed promises.
const pushWait = time.Second

// TestEventsFeedOnPostgres follows calls through the events feed over real
// HTTP with PostgreSQL behind it: a call placed, delivered to a fake
// partner and reported not completed by the partner's callback shows as
// call.queued, call.delivered and call.not_completed, in order, in pages
// and in a stream; the stream gets a new event within a second of its
// commit, resumes after Last-Event-ID with exactly the events it missed,
// never shows another environment's, beats while idle and ends when the
// server stops; the retention empties the feed.
func TestEventsFeedOnPostgres(t *testing.T) {
	ctx := context.Background()
	store, pool, _ := pgStore(t, 0, postgres.WithEnqueuer(tableEnqueuer{}))
	t.Cleanup(store.Close) // the events' listener, before the pool closes
	if _, err := pool.Exec(ctx,
		`CREATE TABLE test_deliveries (id bigserial PRIMARY KEY, env_id text NOT NULL, call_id text NOT NULL, trace_parent text NOT NULL)`); err != nil {
		t.Fatal(err)
	}
	audio, err := audiostore.NewFS(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	svc := callbackServices(store, audio, system.Clock{}, system.NewRandom(), 0)
	svc.Events = app.NewEvents(store, store, app.EventsConfig{Heartbeat: 300 * time.Millisecond})
	stopping := make(chan struct{})
	c := overHTTP(t, httpapi.New(httpapi.Config{AdminToken: adminToken}, svc, httpapi.Ops{Stopping: stopping}))
	const other = "/v1/environments/other"
	r := &callbackRig{client: c, audio: audio}
	r.setUp()
	deliver := func() {
		t.Helper()
		for _, d := range takeCommittedDeliveries(t, pool) {
			if _, err := svc.Calls.Deliver(ctx, d.EnvID, d.CallID); err != nil {
				t.Fatal(err)
			}
		}
	}

	// A call placed, delivered, and reported not completed.
	first := r.placeCall("1")
	deliver()
	if ans := r.ok(r.partner("/api/cvio/ligacoes/"+first+"/resultado", `{"status":"nao_realizada","motivo":"não atendida"}`)); ans["call_status"] != "not_completed" {
		t.Fatalf("the result's answer: %v", ans)
	}
	page := readFeed(t, c, env+"/events")
	if got, want := callEvents(page.Items, first), []string{"call.queued queued", "call.delivered delivered", "call.not_completed not_completed"}; !slices.Equal(got, want) {
		t.Fatalf("the call's events: %q, want %q", got, want)
	}
	for _, it := range page.Items {
		if it.Data["call_id"] != first || it.Data["lead_id"] != "1" || it.OccurredAt.IsZero() {
			t.Errorf("event %s (%s) is not the call's: %v", it.ID, it.Type, it.Data)
		}
		if strings.HasPrefix(it.Type, "call.") && (it.Data["id"] != first || it.Data["user_id"] != "gestor" || it.Data["webhook_id"] != "msg_"+first) {
			t.Errorf("call event %s: data %v, want the call as GET shows it", it.Type, it.Data)
		}
	}
	last := page.Items[len(page.Items)-1]
	if last.Type != "call.not_completed" || last.Data["reason"] != "no_answer" || page.NextAfter != last.ID {
		t.Fatalf("the last event %+v, next_after %q", last, page.NextAfter)
	}

	// Pages of one, following next_after, give the same events; after the
	// last, none, and next_after stays put.
	var paged []feedItem
	after := ""
	for range len(page.Items) {
		p := readFeed(t, c, env+"/events?limit=1&after="+url.QueryEscape(after))
		if len(p.Items) != 1 {
			t.Fatalf("a page of one after %q: %v", after, itemIDs(p.Items))
		}
		paged, after = append(paged, p.Items...), p.NextAfter
	}
	if !slices.Equal(itemIDs(paged), itemIDs(page.Items)) {
		t.Fatalf("paged %v, want %v", itemIDs(paged), itemIDs(page.Items))
	}
	if p := readFeed(t, c, env+"/events?after="+after); len(p.Items) != 0 || p.NextAfter != after {
		t.Fatalf("after the last: %v next_after %q", itemIDs(p.Items), p.NextAfter)
	}
	// The other environment's feed has none of these.
	if p := readFeed(t, c, other+"/events"); len(p.Items) != 0 {
		t.Fatalf("the other environment's feed: %v", p.Items)
	}

	// A stream from the start gets what is there, then a new call's event
	// within a second of its commit (the answer to the click).
	s := openStream(t, c, env+"/events")
	for _, want := range page.Items {
		if got := s.next(pushWait); got.ID != want.ID {
			t.Fatalf("the stream's event %s, want %s", got.ID, want.ID)
		}
	}
	second := r.placeCall("1")
	committed := time.Now()
	if got := s.next(pushWait); got.Type != "call.queued" || got.Data["call_id"] != second {
		t.Fatalf("after a click: %+v", got)
	}
	t.Logf("the click's event reached the stream %s after its commit", time.Since(committed).Round(time.Millisecond))
	// Idle, it beats.
	s.keepalive(10 * time.Second)

	// The client goes away. Meanwhile the second call is delivered and a
	// third placed; another environment gets a call too.
	s.close()
	seen := s.got[len(s.got)-1].ID
	deliver()
	third := r.placeCall("1")
	otherCall := accepted(t, c.post(other+"/leads/1/calls", map[string]any{"user_id": "gestor"}))["id"].(string)
	// Back with Last-Event-ID (an EventSource's reconnect, the URL's after
	// left as it was): exactly the events after it, none repeated, none
	// missed, none of the other environment's.
	missed := readFeed(t, c, env+"/events?after="+seen).Items
	if got, want := callEvents(missed, second), []string{"call.delivered delivered"}; !slices.Equal(got, want) || len(missed) != 2 ||
		callEvents(missed, third)[0] != "call.queued queued" {
		t.Fatalf("the feed after %s: %+v", seen, missed)
	}
	s = openStream(t, c, env+"/events?after="+page.Items[0].ID, "Last-Event-ID", seen)
	for _, want := range missed {
		if got := s.next(pushWait); got.ID != want.ID {
			t.Fatalf("resumed after %s: got %s (%s), want %s (%s)", seen, got.ID, got.Type, want.ID, want.Type)
		}
	}
	// Another environment's call, then this one's: only this one's comes.
	otherStream := openStream(t, c, other+"/events")
	if got := otherStream.next(pushWait); got.Data["call_id"] != otherCall {
		t.Fatalf("the other environment's stream: %+v", got)
	}
	// (Another owner: the gestor's first call there is still under way.)
	accepted(t, c.post(other+"/leads/1/calls", map[string]any{"user_id": "corretor"}))
	fourth := accepted(t, c.post(env+"/leads/1/calls", map[string]any{"user_id": "corretor"}))["id"].(string) // the gestor's third is still queued
	if got := s.next(pushWait); got.Data["call_id"] != fourth {
		t.Fatalf("after a call in another environment and one here: %+v", got)
	}
	if got := otherStream.next(pushWait); got.Data["call_id"] == fourth {
		t.Fatalf("the other environment's stream got this one's call: %+v", got)
	}
	for _, it := range readFeed(t, c, other+"/events").Items {
		if it.Data["call_id"] == first || it.Data["call_id"] == second || it.Data["call_id"] == third || it.Data["call_id"] == fourth {
			t.Fatalf("the other environment's feed has %+v", it)
		}
	}

	// A result with a recording: the interaction, then the call settled,
	// both linking the recording as the history and GET do.
	body := `{"status": "realizada", "descricao": "Conversamos", "audio_base64": "data:audio/mpeg;base64,` + testMP3Base64 + `"}`
	ans := r.ok(r.partner("/api/cvio/ligacoes/"+fourth+"/resultado", body))
	recording := env + "/recordings/" + ans["recording_ids"].([]any)[0].(string)
	added, completed := s.next(pushWait), s.next(pushWait)
	if added.Type != "lead.interaction_added" || added.Data["call_id"] != fourth || added.Data["lead_id"] != "1" ||
		added.Data["recording_url"] != recording || added.Data["description"] != "Conversamos" {
		t.Fatalf("the interaction's event: %+v", added)
	}
	if completed.Type != "call.completed" || completed.Data["call_id"] != fourth || completed.Data["recording_url"] != recording {
		t.Fatalf("the settled call's event: %+v", completed)
	}
	if got := r.ok(r.get(env + "/calls/" + fourth)); got["recording_url"] != recording {
		t.Fatalf("GET of the call links %v, its event %v", got["recording_url"], recording)
	}

	// The server stops: the streams end.
	close(stopping)
	s.ended(10 * time.Second)
	otherStream.ended(10 * time.Second)

	// The retention, a month on, leaves nothing; the feed goes on after the
	// last id a client had.
	end := readFeed(t, c, env+"/events?after="+seen).NextAfter
	later := memory.NewClock(time.Now().Add(app.DefaultMonitorRetention + time.Hour))
	if run, err := app.NewEventRetention(store, later, app.EventRetentionConfig{}, nil).Run(ctx); err != nil || run.Deleted == 0 {
		t.Fatalf("the retention: %+v %v", run, err)
	}
	if p := readFeed(t, c, env+"/events"); len(p.Items) != 0 || p.NextAfter != "" {
		t.Fatalf("after the retention: %v next_after %q", itemIDs(p.Items), p.NextAfter)
	}
	fifth := accepted(t, c.post(env+"/leads/1/calls", map[string]any{"user_id": "imob"}))["id"].(string) // the gestor's third is still queued
	if p := readFeed(t, c, env+"/events?after="+end); len(p.Items) != 1 || p.Items[0].Data["call_id"] != fifth {
		t.Fatalf("after the retention, after %s: %+v", end, p.Items)
	}
}

// TestEventsFeedRefusesBadRequests: bad requests are problems, streamed or
// not, and open no stream.
func TestEventsFeedRefusesBadRequests(t *testing.T) {
	store, _, _ := pgStore(t, 0)
	t.Cleanup(store.Close)
	svc := servicesOn(store)
	svc.Events = app.NewEvents(store, store, app.EventsConfig{})
	c := overHTTP(t, httpapi.New(httpapi.Config{AdminToken: adminToken}, svc, httpapi.Ops{}))
	c.ok(c.put(env, map[string]any{"name": "Acme", "public_base_url": "https://acme.example.com"}))
	sse := []string{"Accept", "text/event-stream"}
	for _, tc := range []struct {
		path     string
		headers  []string
		status   int
		code     string
		location string
	}{
		{"/v1/environments/nope/events", nil, http.StatusNotFound, "environment_not_found", "path.env"},
		{"/v1/environments/nope/events", sse, http.StatusNotFound, "environment_not_found", "path.env"},
		{env + "/events?after=12", nil, http.StatusUnprocessableEntity, "validation_failed", "query.after"},
		{env + "/events?after=12", sse, http.StatusUnprocessableEntity, "validation_failed", "query.after"},
		{env + "/events?limit=501", nil, http.StatusUnprocessableEntity, "validation_failed", "query.limit"},
		{env + "/events?limit=0", nil, http.StatusUnprocessableEntity, "validation_failed", "query.limit"},
		{env + "/events", append(slices.Clone(sse), "Last-Event-ID", "x"), http.StatusUnprocessableEntity, "validation_failed", "header.Last-Event-ID"},
	} {
		wantProblem(t, c.do(http.MethodGet, tc.path, nil, tc.headers...), tc.status, tc.code, tc.location)
	}
	wantProblem(t, c.withToken("").get(env+"/events"), http.StatusUnauthorized, "unauthorized", "")
	// An empty feed: a page of nothing.
	if p := readFeed(t, c, env+"/events"); len(p.Items) != 0 || p.NextAfter != "" {
		t.Fatalf("an empty feed: %+v", p)
	}
}

// TestEventsStreamHearsAnotherProcess has two instances of the service on
// one database: a stream on one gets, within a second of its commit, the
// event of a call placed through the other (their stores notify each other
// through PostgreSQL's LISTEN/NOTIFY, one listening connection each).
func TestEventsStreamHearsAnotherProcess(t *testing.T) {
	writerStore, pool, _ := pgStore(t, 0, postgres.WithEnqueuer(tableEnqueuer{}), postgres.WithEventNotifications())
	t.Cleanup(writerStore.Close)
	if _, err := pool.Exec(context.Background(),
		`CREATE TABLE test_deliveries (id bigserial PRIMARY KEY, env_id text NOT NULL, call_id text NOT NULL, trace_parent text NOT NULL)`); err != nil {
		t.Fatal(err)
	}
	readerPool, err := pgxpool.New(context.Background(), pool.Config().ConnString())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(readerPool.Close)
	readerStore, err := postgres.NewStore(readerPool, make([]byte, postgres.SecretsKeySize))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(readerStore.Close)

	writerSvc := servicesOn(writerStore)
	writerSvc.Calls = app.NewCalls(writerStore, system.Clock{}, system.NewRandom(), &fakePartner{status: http.StatusOK}, cvio.Payloads{},
		app.CallsConfig{DispatchDeadline: dispatchDeadline, RetryMinBackoff: time.Second})
	writer := overHTTP(t, httpapi.New(httpapi.Config{AdminToken: adminToken}, writerSvc, httpapi.Ops{}))
	readerSvc := servicesOn(readerStore)
	readerSvc.Events = app.NewEvents(readerStore, readerStore, app.EventsConfig{})
	reader := overHTTP(t, httpapi.New(httpapi.Config{AdminToken: adminToken}, readerSvc, httpapi.Ops{}))
	seedCalls(t, writer, env)

	s := openStream(t, reader, env+"/events")
	// Three owners of the lead, each a click: one user's second click while
	// the first is still queued would be refused (call_in_progress).
	for n, user := range []string{"gestor", "corretor", "imob"} {
		id := accepted(t, writer.post(env+"/leads/1/calls", map[string]any{"user_id": user}))["id"].(string)
		committed := time.Now()
		if got := s.next(pushWait); got.Type != "call.queued" || got.Data["call_id"] != id {
			t.Fatalf("call %d: the other instance's stream got %+v", n, got)
		}
		t.Logf("call %d reached the other instance's stream %s after its commit", n, time.Since(committed).Round(time.Millisecond))
	}
}
