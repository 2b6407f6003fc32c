package jobs

import "github.com/riverqueue/river"

// QueueDeliveries is the River queue of call deliveries.
const QueueDeliveries = "deliveries"

// maxAttempts bounds the runs River counts for one delivery job. River
// counts failed runs (an infrastructure error, a rescue after a dead
// process), not snoozes, which are how a call's retries run; the dispatch
// deadline is what ends those. With River's backoff (n⁴ seconds after the
// n-th failure) the 25th run comes weeks after any sensible deadline, so a
// run past the deadline always happens and settles the call as
// undeliverable, rather than the job being discarded with the call still
// queued.
const maxAttempts = 25

// DeliverCallArgs is the job that delivers one call to its partner.
type DeliverCallArgs struct {
	EnvID  string `json:"env_id"`
	CallID string `json:"call_id"`
	// TraceParent is the W3C traceparent of the click, so each attempt's
	// span links to the request that placed the call. May be empty.
	TraceParent string `json:"trace_parent,omitempty"`
}

// Kind names the job in river_job.kind.
func (DeliverCallArgs) Kind() string { return "deliver_call" }

// InsertOpts are the defaults of every delivery job, however it is inserted.
func (DeliverCallArgs) InsertOpts() river.InsertOpts {
	return river.InsertOpts{Queue: QueueDeliveries, MaxAttempts: maxAttempts}
}
