package portstest

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"callconnect/domain"
	"callconnect/ports"
)

// EventsHarness is one fresh, empty store under test with its feed: the
// events are those the store writes with the changes made through Store.
type EventsHarness struct {
	Store     ports.Store
	Events    ports.Events
	Retention ports.EventRetention
}

// RunEvents runs the contract suite of ports.Events and
// ports.EventRetention. Each subtest calls newHarness once and expects a
// fresh, empty store.
//
// Beyond what the ports' comments say, the suite pins down:
//   - the events a store writes for its own changes: PutCall raises
//     domain.CallEventType(previous status, new status), the previous
//     status "" when the call is new; AddInteraction raises
//     lead.interaction_added; nothing else raises events;
//   - an event's Call is the call as stored (times to the microsecond)
//     without its payload, and its CallRecordingID the recording
//     LatestCallRecording gave in the transaction that changed the call;
//     its Interaction is the interaction as stored;
//   - the events of one transaction follow each other in the order written;
//   - event ids sort as strings in feed order (domain.EventID.String);
//   - a rolled-back transaction leaves no event;
//   - a reader following the feed while writers commit gets every event
//     once, in the order of a later full listing.
func RunEvents(t *testing.T, newHarness func(t *testing.T) EventsHarness) {
	t.Helper()
	for _, tc := range []struct {
		name string
		run  func(*testing.T, EventsHarness)
	}{
		{"CallLifeCycle", testEventsCallLifeCycle},
		{"EveryStatusChange", testEventsEveryStatusChange},
		{"OneTransaction", testEventsOneTransaction},
		{"Pages", testEventsPages},
		{"Rollback", testEventsRollback},
		{"TenantIsolation", testEventsTenantIsolation},
		{"BadArguments", testEventsBadArguments},
		{"Watch", testEventsWatch},
		{"FollowersMissNothing", testEventsFollowers},
		{"Retention", testEventsRetention},
	} {
		t.Run(tc.name, func(t *testing.T) { tc.run(t, newHarness(t)) })
	}
}

// wantedEvent is what the suite expects of an event, besides its id and time.
type wantedEvent struct {
	typ         domain.EventType
	call        *domain.Call
	recording   string
	interaction *domain.Interaction
}

func callEvent(typ domain.EventType, c domain.Call, recording string) wantedEvent {
	return wantedEvent{typ: typ, call: &c, recording: recording}
}

func interactionEvent(i domain.Interaction) wantedEvent {
	return wantedEvent{typ: domain.EventInteractionAdded, interaction: &i}
}

// eventCallString is callString without the payload, which events do not keep.
func eventCallString(c domain.Call) string {
	s := callString(c)
	if i := strings.Index(s, " payload:"); i >= 0 {
		if j := strings.Index(s[i:], " attempts:"); j >= 0 {
			s = s[:i] + s[i+j:]
		}
	}
	return s
}

func eventString(e domain.Event) string {
	var b strings.Builder
	fmt.Fprintf(&b, "{type:%s env:%q call:%q lead:%q", e.Type, e.EnvID, e.CallID, e.LeadID)
	if e.Call != nil {
		fmt.Fprintf(&b, " call:%s recording:%q", eventCallString(*e.Call), e.CallRecordingID)
	}
	if e.Interaction != nil {
		fmt.Fprintf(&b, " interaction:%s", interactionString(*e.Interaction))
	}
	b.WriteString("}")
	return b.String()
}

func wantedString(envID string, w wantedEvent) string {
	e := domain.Event{Type: w.typ, EnvID: envID, Call: w.call, CallRecordingID: w.recording, Interaction: w.interaction}
	if w.call != nil {
		e.CallID, e.LeadID = w.call.ID(), w.call.LeadID()
	}
	if w.interaction != nil {
		e.CallID, e.LeadID = w.interaction.CallID(), w.interaction.LeadID()
	}
	return eventString(e)
}

// allEvents lists the environment's whole feed, a page of limit at a time.
// Events held back (by transactions still running elsewhere on the
// database) are waited for, up to eventWait.
func allEvents(t *testing.T, h EventsHarness, envID string, limit int) []domain.Event {
	t.Helper()
	var out []domain.Event
	after := ""
	for {
		page := ReadEvents(t, h.Events, envID, after, limit)
		out = append(out, page.Events...)
		if len(page.Events) < limit {
			return out
		}
		after = page.Events[len(page.Events)-1].ID
	}
}

// ReadEvents reads the page of the environment's feed after the event id
// after, again while the feed holds events back (ports.EventPage.Held: a
// transaction that may still add events before them is running, here or
// as far as the adapter can tell), up to eventWait: the page a reader gets
// once every event committed before the call can be listed.
func ReadEvents(t *testing.T, feed ports.Events, envID, after string, limit int) ports.EventPage {
	t.Helper()
	deadline := time.Now().Add(eventWait)
	for wait := time.Millisecond; ; wait = min(2*wait, 50*time.Millisecond) {
		page, err := feed.ListEventsAfter(t.Context(), envID, after, limit)
		if err != nil {
			t.Fatalf("ListEventsAfter(%s, %q, %d): %v", envID, after, limit, err)
		}
		if !page.Held || len(page.Events) == limit {
			return page
		}
		if time.Now().After(deadline) {
			t.Fatalf("ListEventsAfter(%s, %q) still held events back after %s", envID, after, eventWait)
		}
		<-time.After(wait) // polling: the feed tells no one when the hold ends
	}
}

// wantEvents checks the environment's feed against want, and the ids.
func wantEvents(t *testing.T, what string, h EventsHarness, envID string, want ...wantedEvent) []domain.Event {
	t.Helper()
	got := allEvents(t, h, envID, 100)
	gotS := make([]string, len(got))
	for i, e := range got {
		gotS[i] = eventString(e)
	}
	wantS := make([]string, len(want))
	for i, w := range want {
		wantS[i] = wantedString(envID, w)
	}
	wantList(t, what, func(s string) string { return s }, gotS, wantS)
	wantEventIDs(t, what, got)
	for _, e := range got {
		if e.OccurredAt.IsZero() {
			t.Errorf("%s: event %s has no time", what, e.ID)
		}
	}
	return got
}

// wantEventIDs checks that the ids parse and increase, as ids and as strings.
func wantEventIDs(t *testing.T, what string, events []domain.Event) {
	t.Helper()
	var prev domain.EventID
	for i, e := range events {
		id, err := domain.ParseEventID("id", e.ID)
		if err != nil || id.String() != e.ID {
			t.Errorf("%s: event id %q is not an event id (%v)", what, e.ID, err)
			continue
		}
		if i > 0 && (!prev.Less(id) || events[i-1].ID >= e.ID) {
			t.Errorf("%s: event id %q does not come after %q", what, e.ID, events[i-1].ID)
		}
		prev = id
	}
}

// lifeCall is c with another status, reason, attempts and acceptance time.
func lifeCall(c domain.Call, status domain.CallStatus, reason string, attempts []domain.Attempt, delivered time.Time) domain.Call {
	return domain.RestoreCall(c.EnvID(), c.ID(), c.LeadID(), c.UserID(), status, reason, c.ClickedAt(), c.Deadline(),
		c.Payload(), attempts).WithDeliveredAt(delivered)
}

func testEventsCallLifeCycle(t *testing.T, h EventsHarness) {
	s := h.Store
	put(t, s, environment(t, "env-1"))
	a := attempts()
	accepted := clickedAt.Add(3 * time.Second)

	c1 := placedCall(t, "env-1", "c1")
	put(t, s, c1)
	want := []wantedEvent{callEvent(domain.EventCallQueued, c1, "")}
	wantEvents(t, "placed", h, "env-1", want...)

	// An attempt goes out, fails and is retried, goes out again: no event,
	// the call never left the queue as the CRM sees it.
	put(t, s, lifeCall(c1, domain.CallDelivering, "", nil, time.Time{}))
	put(t, s, lifeCall(c1, domain.CallQueued, "", a[:1], time.Time{}))
	put(t, s, lifeCall(c1, domain.CallDelivering, "", a[:1], time.Time{}))
	wantEvents(t, "retried", h, "env-1", want...)

	delivered := lifeCall(c1, domain.CallDelivered, "", a[:2], accepted)
	put(t, s, delivered)
	want = append(want, callEvent(domain.EventCallDelivered, delivered, ""))
	// An attempt recorded without a change of status raises nothing.
	put(t, s, lifeCall(c1, domain.CallDelivered, "", a, accepted))

	// The result: an interaction with a recording, then the call settled,
	// whose event carries the recording.
	i1 := fullInteraction(t, "env-1", "l1", "i1", historyAt)
	put(t, s, i1)
	want = append(want, interactionEvent(i1))
	completed := lifeCall(c1, domain.CallCompleted, "", a, accepted)
	put(t, s, completed)
	want = append(want, callEvent(domain.EventCallCompleted, completed, "rec-1"))

	// Another call: undeliverable, redelivered, delivered, no result, and
	// the late result.
	c2 := placedCall(t, "env-1", "c2")
	undeliverable := lifeCall(c2, domain.CallUndeliverable, domain.UndeliverablePartnerRefused, a[2:], time.Time{})
	requeued := lifeCall(c2, domain.CallQueued, "", a[2:], time.Time{})
	delivered2 := lifeCall(c2, domain.CallDelivered, "", a[1:], accepted)
	noResult := lifeCall(c2, domain.CallNoResult, "", a[1:], accepted)
	notCompleted := lifeCall(c2, domain.CallNotCompleted, "no_answer", a[1:], accepted)
	for _, c := range []domain.Call{c2, undeliverable, requeued, delivered2, noResult, notCompleted} {
		put(t, s, c)
	}
	want = append(want, callEvent(domain.EventCallQueued, c2, ""), callEvent(domain.EventCallUndeliverable, undeliverable, ""),
		callEvent(domain.EventCallQueued, requeued, ""), callEvent(domain.EventCallDelivered, delivered2, ""),
		callEvent(domain.EventCallNoResult, noResult, ""), callEvent(domain.EventCallNotCompleted, notCompleted, ""))
	// A call stored settled at once raises the event of its status.
	c3 := lifeCall(placedCall(t, "env-1", "c3"), domain.CallCompleted, "", nil, time.Time{})
	put(t, s, c3)
	want = append(want, callEvent(domain.EventCallCompleted, c3, ""))
	// An interaction without a call.
	i2 := plainInteraction(t, "env-1", "l2", "i2", historyAt.Add(time.Minute))
	put(t, s, i2)
	want = append(want, interactionEvent(i2))

	got := wantEvents(t, "the life of two calls", h, "env-1", want...)
	seen := map[domain.EventType]bool{}
	for _, e := range got {
		seen[e.Type] = true
	}
	for _, typ := range domain.EventTypes {
		if !seen[typ] {
			t.Errorf("no %s event came", typ)
		}
	}
}

// testEventsEveryStatusChange stores a call in each status, then in each
// other: the events are domain.CallEventType's, whoever writes them.
func testEventsEveryStatusChange(t *testing.T, h EventsHarness) {
	put(t, h.Store, environment(t, "env-1"))
	froms := append([]domain.CallStatus{""}, domain.CallStatuses...)
	var want []wantedEvent
	n := 0
	for _, from := range froms {
		for _, to := range domain.CallStatuses {
			n++
			base := placedCall(t, "env-1", fmt.Sprintf("c%d", n))
			var calls []domain.Call
			if from != "" {
				calls = append(calls, lifeCall(base, from, "", nil, time.Time{}))
			}
			calls = append(calls, lifeCall(base, to, "", nil, time.Time{}))
			prev := domain.CallStatus("")
			for _, c := range calls {
				put(t, h.Store, c)
				if typ, ok := domain.CallEventType(prev, c.Status()); ok {
					want = append(want, callEvent(typ, c, ""))
				}
				prev = c.Status()
			}
		}
	}
	wantEvents(t, "every change of status", h, "env-1", want...)
}

func testEventsOneTransaction(t *testing.T, h EventsHarness) {
	put(t, h.Store, environment(t, "env-1"))
	c1, c2 := placedCall(t, "env-1", "c1"), placedCall(t, "env-1", "c2")
	i1 := plainInteraction(t, "env-1", "l1", "i1", historyAt)
	put(t, h.Store, c2, i1, c1)
	wantEvents(t, "a call, an interaction and a call in one transaction", h, "env-1",
		callEvent(domain.EventCallQueued, c2, ""), interactionEvent(i1), callEvent(domain.EventCallQueued, c1, ""))
}

func testEventsPages(t *testing.T, h EventsHarness) {
	put(t, h.Store, environment(t, "env-1"))
	var want []wantedEvent
	for n := range 7 {
		c := placedCall(t, "env-1", fmt.Sprintf("c%d", n))
		put(t, h.Store, c)
		want = append(want, callEvent(domain.EventCallQueued, c, ""))
	}
	all := wantEvents(t, "seven calls", h, "env-1", want...)
	for _, limit := range []int{1, 2, 3, 7, 8} {
		paged := allEvents(t, h, "env-1", limit)
		if g, w := eventIDs(paged), eventIDs(all); !slices.Equal(g, w) {
			t.Errorf("pages of %d: %v, want %v", limit, g, w)
		}
	}
	// After an event: the events after it; after the last: none.
	page := ReadEvents(t, h.Events, "env-1", all[4].ID, 100)
	if !slices.Equal(eventIDs(page.Events), eventIDs(all[5:])) {
		t.Errorf("after the fifth: %v, want %v", eventIDs(page.Events), eventIDs(all[5:]))
	}
	page = ReadEvents(t, h.Events, "env-1", all[6].ID, 100)
	if len(page.Events) != 0 {
		t.Errorf("after the last: %v, want none", eventIDs(page.Events))
	}
	// An id between two events (one another environment's event might
	// have) resumes after it.
	id, err := domain.ParseEventID("after", all[2].ID)
	if err != nil {
		t.Fatal(err)
	}
	id.Seq++
	page = ReadEvents(t, h.Events, "env-1", id.String(), 2)
	if len(page.Events) != 2 || page.Events[0].ID <= id.String() || page.Events[0].ID != firstAfter(all, id.String()) {
		t.Errorf("after %s: %v", id, eventIDs(page.Events))
	}
}

func firstAfter(events []domain.Event, id string) string {
	for _, e := range events {
		if e.ID > id {
			return e.ID
		}
	}
	return ""
}

func eventIDs(events []domain.Event) []string {
	out := make([]string, len(events))
	for i, e := range events {
		out[i] = e.ID
	}
	return out
}

func testEventsRollback(t *testing.T, h EventsHarness) {
	put(t, h.Store, environment(t, "env-1"))
	c1 := placedCall(t, "env-1", "c1")
	put(t, h.Store, c1)
	err := h.Store.Tx(t.Context(), func(ctx context.Context, r ports.Repositories) error {
		if err := r.PutCall(ctx, placedCall(t, "env-1", "c2")); err != nil {
			return err
		}
		if err := r.PutCall(ctx, lifeCall(c1, domain.CallUndeliverable, domain.UndeliverableDeadlineExceeded, nil, time.Time{})); err != nil {
			return err
		}
		if err := r.AddInteraction(ctx, plainInteraction(t, "env-1", "l1", "i1", historyAt)); err != nil {
			return err
		}
		return errAbort
	})
	if !errors.Is(err, errAbort) {
		t.Fatalf("Tx: %v", err)
	}
	wantEvents(t, "after a rollback", h, "env-1", callEvent(domain.EventCallQueued, c1, ""))
}

func testEventsTenantIsolation(t *testing.T, h EventsHarness) {
	put(t, h.Store, environment(t, "env-1"), environment(t, "env-2"))
	a1, b1 := placedCall(t, "env-1", "c1"), placedCall(t, "env-2", "c1")
	ia, ib := plainInteraction(t, "env-1", "l1", "i1", historyAt), plainInteraction(t, "env-2", "l1", "i1", historyAt)
	put(t, h.Store, a1, b1)
	put(t, h.Store, ib)
	put(t, h.Store, ia)
	wantEvents(t, "env-1", h, "env-1", callEvent(domain.EventCallQueued, a1, ""), interactionEvent(ia))
	wantEvents(t, "env-2", h, "env-2", callEvent(domain.EventCallQueued, b1, ""), interactionEvent(ib))
	wantEvents(t, "an environment that does not exist", h, "env-3")
}

func testEventsBadArguments(t *testing.T, h EventsHarness) {
	put(t, h.Store, environment(t, "env-1"), placedCall(t, "env-1", "c1"))
	for _, after := range []string{"x", "1", "0000000000000001_0000000000000001", "000000000000001-00000000000000001",
		"000000000000000a-0000000000000001", "+000000000000001-0000000000000001"} {
		_, err := h.Events.ListEventsAfter(t.Context(), "env-1", after, 10)
		if de, ok := domain.AsError(err); !ok || de.Kind != domain.KindInvalid || de.Field != "after" {
			t.Errorf("ListEventsAfter(after %q): want an invalid-field error on after, got %v", after, err)
		}
	}
	for _, limit := range []int{0, -1} {
		if _, err := h.Events.ListEventsAfter(t.Context(), "env-1", "", limit); err == nil {
			t.Errorf("ListEventsAfter(limit %d) succeeded", limit)
		}
	}
}

// eventWait bounds how long the suite waits for a watcher's value: far more
// than the second the port promises, so that a loaded machine does not fail
// it, far less than a test's time.
const eventWait = 10 * time.Second

func testEventsWatch(t *testing.T, h EventsHarness) {
	put(t, h.Store, environment(t, "env-1"), environment(t, "env-2"))
	ready, stop := h.Events.WatchEvents("env-1")
	defer stop()
	// A watch stopped at once, and stopped twice, disturbs nothing.
	_, stopped := h.Events.WatchEvents("env-1")
	stopped()
	stopped()
	for n := range 3 {
		c := placedCall(t, "env-1", fmt.Sprintf("c%d", n))
		put(t, h.Store, c)
		// A value may be left from the previous commit: the feed is read
		// after each one until it has the call.
		deadline := time.After(eventWait)
		for found := false; !found; {
			select {
			case <-ready:
			case <-deadline:
				t.Fatalf("no value on the watch within %s of the commit of call %d", eventWait, n)
			}
			got := allEvents(t, h, "env-1", 100)
			found = len(got) == n+1 && got[n].CallID == c.ID()
		}
	}
}

// testEventsFollowers has writers commit calls in several environments
// while followers read each environment's feed after the last event they
// got: when the writers are done, each follower has every event of its
// environment once, in the order of the full listing.
func testEventsFollowers(t *testing.T, h EventsHarness) {
	const writers, callsEach = 4, 12
	envs := []string{"env-1", "env-2"}
	for _, e := range envs {
		put(t, h.Store, environment(t, e))
	}
	ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
	defer cancel()
	done := make(chan struct{})
	var wg sync.WaitGroup
	errs := make(chan error, writers)
	for w := range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for n := range callsEach {
				env := envs[(w+n)%len(envs)]
				id := fmt.Sprintf("w%d-c%d", w, n)
				c, err := domain.NewCall(id, environment(t, env), fullLead(t, env, "l1"), users(t, env)[0],
					domain.CallButton{Visible: true, Enabled: true}, clickedAt, 2*time.Minute, payload(id))
				if err == nil {
					err = h.Store.Tx(ctx, func(ctx context.Context, r ports.Repositories) error {
						if err := r.PutCall(ctx, c); err != nil {
							return err
						}
						return r.PutCall(ctx, lifeCall(c, domain.CallUndeliverable, domain.UndeliverablePartnerRefused, nil, time.Time{}))
					})
				}
				if err != nil {
					errs <- err
					return
				}
			}
		}()
	}
	go func() { wg.Wait(); close(done) }()

	type follower struct {
		after string
		got   []domain.Event
	}
	followers := map[string]*follower{}
	for _, e := range envs {
		followers[e] = &follower{}
	}
	// poll reads the next page of env's feed and says whether more may be
	// listable at once (a full page, or events held back for a moment).
	poll := func(env string) (more bool) {
		f := followers[env]
		page, err := h.Events.ListEventsAfter(ctx, env, f.after, 5)
		if err != nil {
			t.Fatalf("ListEventsAfter(%s, %q): %v", env, f.after, err)
		}
		f.got = append(f.got, page.Events...)
		if len(page.Events) > 0 {
			f.after = page.Events[len(page.Events)-1].ID
		}
		if len(page.Events) == 0 {
			// Nothing new: a moment for the writers before the next read.
			<-time.After(time.Millisecond)
		}
		return len(page.Events) == 5 || page.Held
	}
	for finished := false; !finished; {
		select {
		case <-done:
			finished = true
		default:
		}
		for _, e := range envs {
			for poll(e) && ctx.Err() == nil {
				if !finished {
					break
				}
			}
		}
	}
	close(errs)
	for err := range errs {
		t.Fatalf("a writer failed: %v", err)
	}
	total := 0
	for _, e := range envs {
		all := allEvents(t, h, e, 100)
		total += len(all)
		if g, w := eventIDs(followers[e].got), eventIDs(all); !slices.Equal(g, w) {
			t.Errorf("%s: the follower got %d events %v,\nthe feed has %d %v", e, len(g), g, len(w), w)
		}
		wantEventIDs(t, e, all)
		// Each call's two events, queued then undeliverable, in its order.
		last := map[string]domain.EventType{}
		for _, ev := range all {
			switch last[ev.CallID] {
			case "":
				if ev.Type != domain.EventCallQueued {
					t.Errorf("%s: call %s starts with %s", e, ev.CallID, ev.Type)
				}
			case domain.EventCallQueued:
				if ev.Type != domain.EventCallUndeliverable {
					t.Errorf("%s: call %s: %s after call.queued", e, ev.CallID, ev.Type)
				}
			default:
				t.Errorf("%s: call %s: a third event %s", e, ev.CallID, ev.Type)
			}
			last[ev.CallID] = ev.Type
		}
	}
	if total != 2*writers*callsEach {
		t.Errorf("%d events in all, want %d", total, 2*writers*callsEach)
	}
}

func testEventsRetention(t *testing.T, h EventsHarness) {
	put(t, h.Store, environment(t, "env-1"), environment(t, "env-2"))
	for n := range 3 {
		put(t, h.Store, placedCall(t, "env-1", fmt.Sprintf("c%d", n)))
		put(t, h.Store, placedCall(t, "env-2", fmt.Sprintf("c%d", n)))
	}
	all1, all2 := allEvents(t, h, "env-1", 100), allEvents(t, h, "env-2", 100)
	oldest := all1[0].OccurredAt
	for _, e := range append(all1, all2...) {
		if e.OccurredAt.Before(oldest) {
			oldest = e.OccurredAt
		}
	}
	ctx := t.Context()
	if n, err := h.Retention.DeleteEventsBefore(ctx, oldest, 10); err != nil || n != 0 {
		t.Fatalf("DeleteEventsBefore(the oldest event's time) = %d, %v; want 0: the cut-off is exclusive", n, err)
	}
	if _, err := h.Retention.DeleteEventsBefore(ctx, oldest, 0); err == nil {
		t.Error("DeleteEventsBefore with a limit of 0 succeeded")
	}
	// Everything, two at a time, the oldest first.
	cutoff := time.Now().Add(time.Hour)
	n, err := h.Retention.DeleteEventsBefore(ctx, cutoff, 2)
	if err != nil || n != 2 {
		t.Fatalf("DeleteEventsBefore(an hour ahead, 2) = %d, %v; want 2", n, err)
	}
	// The calls were placed one transaction at a time, env-1's first: the
	// first call of each environment is gone.
	if g, w := eventIDs(allEvents(t, h, "env-1", 100)), eventIDs(all1[1:]); !slices.Equal(g, w) {
		t.Errorf("env-1 after deleting the two oldest: %v, want %v", g, w)
	}
	if g, w := eventIDs(allEvents(t, h, "env-2", 100)), eventIDs(all2[1:]); !slices.Equal(g, w) {
		t.Errorf("env-2 after deleting the two oldest: %v, want %v", g, w)
	}
	for {
		n, err := h.Retention.DeleteEventsBefore(ctx, cutoff, 3)
		if err != nil {
			t.Fatal(err)
		}
		if n < 3 {
			break
		}
	}
	if got := append(allEvents(t, h, "env-1", 100), allEvents(t, h, "env-2", 100)...); len(got) != 0 {
		t.Errorf("after deleting everything: %v", eventIDs(got))
	}
	// The feed goes on after the deletions, still in order.
	c := placedCall(t, "env-1", "later")
	put(t, h.Store, c)
	got := wantEvents(t, "after the retention", h, "env-1", callEvent(domain.EventCallQueued, c, ""))
	if got[0].ID <= all1[len(all1)-1].ID {
		t.Errorf("the new event's id %s does not come after the deleted %s", got[0].ID, all1[len(all1)-1].ID)
	}
}
