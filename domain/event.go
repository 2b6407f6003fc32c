package domain

import (
	"fmt"
	"strconv"
	"time"
)

// EventType names what happened, as the CRM's event feed says it.
type EventType string

const (
	// EventCallQueued: a call was placed, or put back in the queue by a
	// redelivery.
	EventCallQueued EventType = "call.queued"
	// EventCallDelivered: the partner accepted the call.
	EventCallDelivered EventType = "call.delivered"
	// EventCallUndeliverable: delivery was given up (permanent refusal, or
	// the dispatch deadline passed).
	EventCallUndeliverable EventType = "call.undeliverable"
	// EventCallCompleted: the partner reported the call made.
	EventCallCompleted EventType = "call.completed"
	// EventCallNotCompleted: the partner reported the call not made, with
	// its reason.
	EventCallNotCompleted EventType = "call.not_completed"
	// EventCallNoResult: no result came within the result deadline.
	EventCallNoResult EventType = "call.no_result"
	// EventInteractionAdded: an interaction (a call's result, with its task
	// and recording when there are) landed on a lead's history.
	EventInteractionAdded EventType = "lead.interaction_added"
)

// EventTypes lists every event type.
var EventTypes = []EventType{EventCallQueued, EventCallDelivered, EventCallUndeliverable, EventCallCompleted,
	EventCallNotCompleted, EventCallNoResult, EventInteractionAdded}

// CallEventType is the event a call raises when it is stored with status to
// after from ("" for a call stored for the first time): every change of
// status raises the event of the new status, except to delivering (an
// attempt on the wire) and from delivering back to queued (a retry: the call
// never left the queue as the CRM sees it). A redelivery (undeliverable →
// queued) raises call.queued again. ok is false when the change raises
// none, and when the status did not change.
func CallEventType(from, to CallStatus) (t EventType, ok bool) {
	if from == to || to == CallDelivering || (to == CallQueued && from == CallDelivering) {
		return "", false
	}
	switch to {
	case CallQueued:
		return EventCallQueued, true
	case CallDelivered:
		return EventCallDelivered, true
	case CallUndeliverable:
		return EventCallUndeliverable, true
	case CallCompleted:
		return EventCallCompleted, true
	case CallNotCompleted:
		return EventCallNotCompleted, true
	case CallNoResult:
		return EventCallNoResult, true
	}
	return "", false
}

// Event is one entry of an environment's event feed: a change a CRM cares
// about, written in the same transaction as the change.
type Event struct {
	// ID is the event's place in its environment's feed (see EventID).
	ID         string
	EnvID      string
	Type       EventType
	OccurredAt time.Time
	// CallID is the call the event is about; "" for an interaction that
	// could not be tied to a call.
	CallID string
	LeadID string
	// Call is the call right after the change, for the call.* events (nil
	// otherwise). Its payload is not kept: the event shows the call as the
	// API does.
	Call *Call
	// CallRecordingID is the recording a call.* event's call had then (the
	// newest of its interactions with one); "" when none.
	CallRecordingID string
	// Interaction is the interaction added, for lead.interaction_added (nil
	// otherwise).
	Interaction *Interaction
}

// EventID is the place of an event in its environment's feed: the
// transaction that wrote it, then the order of writing within that
// transaction. Feeds are ordered by it; as a string it is the two numbers
// in 16 decimal digits each, joined by a hyphen
// ("0000000000000812-0000000000000045"), so that strings sort as the
// events do.
type EventID struct {
	Tx  uint64
	Seq uint64
}

// maxEventNumber is the largest number an EventID string holds (16 digits):
// 10^16 transactions last centuries at a million a second.
const maxEventNumber = 9_999_999_999_999_999

// String writes the id as clients see it.
func (id EventID) String() string {
	return fmt.Sprintf("%016d-%016d", id.Tx, id.Seq)
}

// Less says whether id comes before other in the feed.
func (id EventID) Less(other EventID) bool {
	return id.Tx < other.Tx || (id.Tx == other.Tx && id.Seq < other.Seq)
}

// ParseEventID reads an event id as EventID.String writes it; "" is the
// zero id, before every event. Anything else is an invalid-field error on
// field.
func ParseEventID(field, s string) (EventID, error) {
	if s == "" {
		return EventID{}, nil
	}
	bad := invalid(field, "must be an event id as the feed gives it: 16 digits, a hyphen and 16 digits")
	if len(s) != 33 || s[16] != '-' {
		return EventID{}, bad
	}
	tx, err1 := parseDigits(s[:16])
	seq, err2 := parseDigits(s[17:])
	if err1 != nil || err2 != nil {
		return EventID{}, bad
	}
	return EventID{Tx: tx, Seq: seq}, nil
}

func parseDigits(s string) (uint64, error) {
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return 0, strconv.ErrSyntax
		}
	}
	return strconv.ParseUint(s, 10, 64)
}

// ValidEventNumber says whether n fits an EventID string.
func ValidEventNumber(n uint64) bool { return n <= maxEventNumber }
