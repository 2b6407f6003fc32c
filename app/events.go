package app

import (
	"context"
	"fmt"
	"time"

	"callconnect/domain"
	"callconnect/ports"
)

// Pages of the event feed.
const (
	DefaultEventPage = 100
	MaxEventPage     = 500
)

// DefaultHeartbeat is how often a follower of the feed is told that it is
// still followed when nothing else happened (FollowConfig.Heartbeat).
const DefaultHeartbeat = 15 * time.Second

// Waits of a follower, and of List, for events held back
// (ports.EventPage.Held): from the first to the last, doubling, for as long
// as they are held (List: up to ListHeldWait).
const (
	heldRetryMin = 25 * time.Millisecond
	heldRetryMax = time.Second
)

// EventsConfig tunes Events.
type EventsConfig struct {
	// Heartbeat is how often Follow calls EventStream.Idle when it sent
	// nothing else; DefaultHeartbeat when zero.
	Heartbeat time.Duration
}

// Events is the feed of each environment: what a CRM reads (or follows)
// to hear of its calls and leads without polling them.
type Events struct {
	store unitOfWork[eventReads]
	feed  ports.Events
	cfg   EventsConfig
}

// NewEvents builds the service.
func NewEvents(store ports.Store, feed ports.Events, cfg EventsConfig) *Events {
	if cfg.Heartbeat <= 0 {
		cfg.Heartbeat = DefaultHeartbeat
	}
	return &Events{store: narrow(store, func(r ports.Repositories) eventReads { return r }), feed: feed, cfg: cfg}
}

// eventReads is what reading a feed reads of the store besides the feed:
// whether the environment exists.
type eventReads interface {
	GetEnvironment(ctx context.Context, id string) (domain.Environment, error)
}

// Heartbeat is how often Follow calls EventStream.Idle when nothing else
// was sent.
func (s *Events) Heartbeat() time.Duration { return s.cfg.Heartbeat }

// EventPage is a page of a feed.
type EventPage struct {
	Events []domain.Event
	// NextAfter continues the feed after this page: the last event's id,
	// or the after asked for when the page is empty. A client that keeps
	// asking after NextAfter gets every event once.
	NextAfter string
}

// ListHeldWait bounds how long List waits for events held back
// (ports.EventPage.Held) before it answers without them.
const ListHeldWait = time.Second

// List returns up to limit events of the environment after the event id
// after ("" from the oldest kept), oldest first. A limit of 0 means
// DefaultEventPage; it may not exceed MaxEventPage. Events that have
// committed but are held back (ports.EventPage.Held: a transaction that may
// still add events before them is running) are waited for, up to
// ListHeldWait, so that a page read right after a change lists it; held
// longer, they are left for the next page.
func (s *Events) List(ctx context.Context, envID, after string, limit int) (EventPage, error) {
	if limit == 0 {
		limit = DefaultEventPage
	}
	if err := s.check(ctx, envID, after, limit); err != nil {
		return EventPage{}, err
	}
	page, err := s.listWaitingForHeld(ctx, envID, after, limit)
	if err != nil {
		return EventPage{}, err
	}
	out := EventPage{Events: page.Events, NextAfter: after}
	if n := len(page.Events); n > 0 {
		out.NextAfter = page.Events[n-1].ID
	}
	return out, nil
}

// listWaitingForHeld reads the page after after, again while events are
// held back and the page is not full, for up to ListHeldWait.
func (s *Events) listWaitingForHeld(ctx context.Context, envID, after string, limit int) (ports.EventPage, error) {
	deadline := time.Now().Add(ListHeldWait)
	for retry := heldRetryMin; ; retry = min(2*retry, heldRetryMax) {
		page, err := s.feed.ListEventsAfter(ctx, envID, after, limit)
		if err != nil || !page.Held || len(page.Events) == limit {
			return page, err
		}
		wait := min(retry, time.Until(deadline))
		if wait <= 0 {
			return page, nil
		}
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return ports.EventPage{}, ctx.Err()
		case <-t.C:
		}
	}
}

// check refuses, before anything is read, an environment that does not
// exist, an after that is no event id and a limit out of range.
func (s *Events) check(ctx context.Context, envID, after string, limit int) error {
	if _, err := domain.ParseEventID("after", after); err != nil {
		return err
	}
	if limit < 1 || limit > MaxEventPage {
		return &domain.Error{Kind: domain.KindInvalid, Code: domain.CodeInvalidField, Field: "limit",
			Message: fmt.Sprintf("must be between 1 and %d", MaxEventPage)}
	}
	return s.store.Read(ctx, func(ctx context.Context, r eventReads) error {
		_, err := r.GetEnvironment(ctx, envID)
		return envNotFound(err, envID)
	})
}

// EventStream is where Follow sends a feed.
type EventStream interface {
	// Open is called once the request is found good, before anything else:
	// the stream begins.
	Open() error
	// Send sends events, oldest first, and makes sure they are on their
	// way (flushed).
	Send(events []domain.Event) error
	// Idle is called every heartbeat with nothing else sent: the stream
	// tells its client that it is still there.
	Idle() error
}

// Follow sends the environment's events after the event id after ("" from
// the oldest kept) to stream as they commit, oldest first, each once, until
// ctx ends (the client went away, the server is stopping: Follow then
// returns nil) or the stream fails (its error is returned). A request that
// is not good (an environment that does not exist, an after that is no
// event id) fails before Open.
//
// New events are sent within a moment of their commit: Follow waits on the
// store's notifications (ports.Events.WatchEvents), and reads again shortly
// when events are held back; each heartbeat it also reads again, so that a
// notification lost costs at most a heartbeat's delay.
func (s *Events) Follow(ctx context.Context, envID, after string, stream EventStream) error {
	if err := s.check(ctx, envID, after, MaxEventPage); err != nil {
		return err
	}
	// Watching before the first read: whatever commits after the read is
	// notified.
	ready, stop := s.feed.WatchEvents(envID)
	defer stop()
	if err := stream.Open(); err != nil {
		return err
	}
	heartbeat := time.NewTimer(s.cfg.Heartbeat)
	defer heartbeat.Stop()
	retry := heldRetryMin
	for {
		page, err := s.feed.ListEventsAfter(ctx, envID, after, MaxEventPage)
		if err != nil {
			if ctx.Err() != nil {
				return nil
			}
			return err
		}
		if n := len(page.Events); n > 0 {
			if err := stream.Send(page.Events); err != nil {
				return err
			}
			after = page.Events[n-1].ID
			heartbeat.Reset(s.cfg.Heartbeat)
			if n == MaxEventPage {
				continue
			}
		}
		var held <-chan time.Time
		if page.Held {
			held = time.After(retry)
			retry = min(2*retry, heldRetryMax)
		} else {
			retry = heldRetryMin
		}
		select {
		case <-ctx.Done():
			return nil
		case <-ready:
		case <-held:
		case <-heartbeat.C:
			if err := stream.Idle(); err != nil {
				return err
			}
			heartbeat.Reset(s.cfg.Heartbeat)
		}
	}
}
