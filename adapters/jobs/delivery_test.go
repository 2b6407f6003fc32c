package jobs_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"callconnect/adapters/jobs"
	"callconnect/adapters/outbox"
	"callconnect/app"
	"callconnect/domain"
	"callconnect/ports"
)

// fast is a processing client configuration for tests.
var fast = jobs.Config{MaxWorkers: 20, JobTimeout: 10 * time.Second}

func TestPlaceDeliversOnce(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithTimeout(context.Background(), testTimeout)
	defer cancel()
	w := newWorld(t, always(http.StatusOK), worldOptions{})
	w.startClient(t, w.pool, fast)

	call := w.place(t)
	got := w.waitFor(t, ctx, call.ID(), domain.CallDelivered)
	if codes := statusCodes(got); !slices.Equal(codes, []int{200}) {
		t.Errorf("attempts: %v, want one with 200", codes)
	}
	if states := waitForJobs(t, ctx, w.pool, call.ID()); !slices.Equal(states, []string{"completed"}) {
		t.Errorf("jobs: %v, want one completed", states)
	}
	reqs := w.partner.requests()
	if len(reqs) != 1 || reqs[0].WebhookID != call.WebhookID() || string(reqs[0].Body) != string(call.Payload()) {
		t.Fatalf("partner received %+v, want the call's payload once with webhook-id %s", reqs, call.WebhookID())
	}
}

func TestRetriesUntilDeliveredWithOneWebhookID(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithTimeout(context.Background(), testTimeout)
	defer cancel()
	w := newWorld(t, inTurn(500, 503, 200), worldOptions{})
	w.startClient(t, w.pool, fast)

	call := w.place(t)
	got := w.waitFor(t, ctx, call.ID(), domain.CallDelivered)
	if codes := statusCodes(got); !slices.Equal(codes, []int{500, 503, 200}) {
		t.Errorf("attempts: %v, want 500, 503, 200", codes)
	}
	waitForJobs(t, ctx, w.pool, call.ID())
	reqs := w.partner.requests()
	if len(reqs) != 3 {
		t.Fatalf("partner received %d requests, want 3", len(reqs))
	}
	for i, r := range reqs {
		if r.WebhookID != call.WebhookID() || string(r.Body) != string(call.Payload()) {
			t.Errorf("request %d: webhook-id %q, want %q, and the same body each time", i, r.WebhookID, call.WebhookID())
		}
	}
}

func TestPermanentRefusalIsUndeliverableAtOnce(t *testing.T) {
	t.Parallel()
	for _, status := range []int{http.StatusNotFound, http.StatusUnprocessableEntity} {
		t.Run(fmt.Sprint(status), func(t *testing.T) {
			t.Parallel()
			ctx, cancel := context.WithTimeout(context.Background(), testTimeout)
			defer cancel()
			w := newWorld(t, always(status), worldOptions{})
			w.startClient(t, w.pool, fast)

			call := w.place(t)
			got := w.waitFor(t, ctx, call.ID(), domain.CallUndeliverable)
			if got.Reason() != domain.UndeliverablePartnerRefused || !slices.Equal(statusCodes(got), []int{status}) {
				t.Errorf("reason %q, attempts %v; want partner_refused after one %d", got.Reason(), statusCodes(got), status)
			}
			if states := waitForJobs(t, ctx, w.pool, call.ID()); !slices.Equal(states, []string{"completed"}) {
				t.Errorf("jobs: %v, want one completed", states)
			}
			// A call placed after it goes through the queue to its end: a
			// retry of the refused call, had one been due, had its turn.
			w.addLead(t, "later")
			later := w.placeFor(t, "later")
			w.waitFor(t, ctx, later.ID(), domain.CallUndeliverable)
			waitForJobs(t, ctx, w.pool, later.ID())
			if n := w.partner.countByWebhookID()[call.WebhookID()]; n != 1 {
				t.Errorf("partner received the refused call %d times, want once", n)
			}
		})
	}
}

func TestDeadlineMakesTheCallUndeliverable(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithTimeout(context.Background(), testTimeout)
	defer cancel()
	const deadline = 2 * time.Second
	w := newWorld(t, always(http.StatusServiceUnavailable),
		worldOptions{calls: app.CallsConfig{DispatchDeadline: deadline, RetryMinBackoff: 50 * time.Millisecond}})
	w.startClient(t, w.pool, fast)

	call := w.place(t)
	got := w.waitFor(t, ctx, call.ID(), domain.CallUndeliverable)
	if got.Reason() != domain.UndeliverableDeadlineExceeded {
		t.Errorf("reason %q, want deadline_exceeded", got.Reason())
	}
	waitForJobs(t, ctx, w.pool, call.ID())
	// Every attempt recorded the partner's 503: each request was answered,
	// so the partner had it before the job ended, and there is no other.
	attempts := got.Attempts()
	for i, a := range attempts {
		if a.StatusCode != http.StatusServiceUnavailable {
			t.Errorf("attempt %d: %d (%s), want the partner's 503", i, a.StatusCode, a.Error)
		}
	}
	reqs := w.partner.requests()
	if len(reqs) < 2 || len(reqs) != len(attempts) {
		t.Fatalf("partner received %d requests and %d attempts are recorded; want the same, and retries", len(reqs), len(attempts))
	}
	// No attempt starts at or after the deadline, and each request is its
	// attempt's: it arrived after the attempt started and before the next
	// one did (one started just before the deadline reaches the partner
	// after it, however long loopback takes under load).
	for i, a := range attempts {
		if !a.At.Before(call.Deadline()) {
			t.Errorf("attempt %d started at %s, not before the deadline %s", i, a.At.Format(time.RFC3339Nano), call.Deadline().Format(time.RFC3339Nano))
		}
		if r := reqs[i]; r.At.Before(a.At) || (i+1 < len(attempts) && !r.At.Before(attempts[i+1].At)) {
			t.Errorf("request %d arrived at %s, outside its attempt (started %s)", i, r.At.Format(time.RFC3339Nano), a.At.Format(time.RFC3339Nano))
		}
	}
	t.Logf("%d attempts within the %s deadline", len(reqs), deadline)

	// The retries were snoozes, which River does not count as attempts: the
	// job ran once per request (and once more if the last retry came due
	// only after the deadline, to give up without a request), yet is still
	// at its first attempt.
	var attempt, snoozes int
	err := w.pool.QueryRow(ctx, `SELECT attempt, coalesce((metadata->>'snoozes')::int, 0) FROM river_job WHERE args->>'call_id' = $1`,
		call.ID()).Scan(&attempt, &snoozes)
	if err != nil {
		t.Fatal(err)
	}
	if attempt != 1 || snoozes < len(reqs)-1 || snoozes > len(reqs) {
		t.Errorf("job attempt %d after %d snoozes; want attempt 1 after %d or %d", attempt, snoozes, len(reqs)-1, len(reqs))
	}
}

func TestRedeliverAfterUndeliverable(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithTimeout(context.Background(), testTimeout)
	defer cancel()
	w := newWorld(t, inTurn(http.StatusNotFound, http.StatusOK), worldOptions{})
	w.startClient(t, w.pool, fast)

	call := w.place(t)
	w.waitFor(t, ctx, call.ID(), domain.CallUndeliverable)
	if _, err := w.calls.Redeliver(ctx, envID, call.ID(), ""); err != nil {
		t.Fatalf("Redeliver: %v", err)
	}
	got := w.waitFor(t, ctx, call.ID(), domain.CallDelivered)
	if codes := statusCodes(got); !slices.Equal(codes, []int{404, 200}) {
		t.Errorf("attempts: %v, want 404 then 200", codes)
	}
	if states := waitForJobs(t, ctx, w.pool, call.ID()); !slices.Equal(states, []string{"completed", "completed"}) {
		t.Errorf("jobs: %v, want two completed (the first delivery, the redelivery)", states)
	}
	if n := w.partner.countByWebhookID()[call.WebhookID()]; n != 2 {
		t.Errorf("partner received %d requests with the call's webhook-id, want 2", n)
	}
}

// TestTwoReplicasDeliverEachCallOnce runs two processing clients, each on
// its own pool as two processes would, on one database.
func TestTwoReplicasDeliverEachCallOnce(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithTimeout(context.Background(), testTimeout)
	defer cancel()
	const calls = 200
	w := newWorld(t, always(http.StatusOK), worldOptions{})
	w.startClient(t, w.pool, fast)
	w.startClient(t, newPool(t, w.pool, 20), fast)

	leads := w.addLeads(t, "lead-of-call", calls) // a lead per call
	ids := make(chan string, calls)
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Go(func() {
			for i := range calls / 8 {
				call, err := w.calls.Place(ctx, envID, leads[g*calls/8+i], brokerID, "")
				if err != nil {
					t.Errorf("Place: %v", err)
					return
				}
				ids <- call.ID()
			}
		})
	}
	wg.Wait()
	close(ids)
	var placed []string
	for id := range ids {
		placed = append(placed, id)
	}
	for _, id := range placed {
		w.waitFor(t, ctx, id, domain.CallDelivered)
	}
	counts := w.partner.countByWebhookID()
	if len(counts) != calls {
		t.Errorf("partner saw %d webhook-ids, want %d", len(counts), calls)
	}
	for _, id := range placed {
		if n := counts["msg_"+id]; n != 1 {
			t.Errorf("call %s reached the partner %d times", id, n)
		}
	}
	var byClient []string
	rows, err := w.pool.Query(ctx, `SELECT attempted_by[1] || ': ' || count(*) FROM river_job GROUP BY attempted_by[1] ORDER BY 1`)
	if err == nil {
		byClient, err = pgx.CollectRows(rows, pgx.RowTo[string])
	}
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("jobs worked per replica: %v", byClient)
}

// TestRescuesADeliveryWhoseProcessDied leaves a delivery as a process that
// died mid-attempt does: the call claimed (delivering), its job running,
// attempted long ago by a client that is gone. A client with a short
// RescueAfter runs it again.
func TestRescuesADeliveryWhoseProcessDied(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithTimeout(context.Background(), testTimeout)
	defer cancel()
	w := newWorld(t, always(http.StatusOK), worldOptions{})

	call := w.place(t)
	err := w.store.Tx(ctx, func(ctx context.Context, r ports.Repositories) error {
		c, err := r.LockCall(ctx, envID, call.ID())
		if err != nil {
			return err
		}
		if err := c.StartAttempt(time.Now()); err != nil {
			return err
		}
		return r.PutCall(ctx, c)
	})
	if err != nil {
		t.Fatal(err)
	}
	tag, err := w.pool.Exec(ctx, `UPDATE river_job SET state = 'running', attempt = 1,
		attempted_at = now() - interval '1 minute', attempted_by = ARRAY['dead-replica']
		WHERE args->>'call_id' = $1`, call.ID())
	if err != nil || tag.RowsAffected() != 1 {
		t.Fatalf("abandoning the job: %v, %d rows", err, tag.RowsAffected())
	}

	start := time.Now()
	w.startClient(t, w.pool, jobs.Config{JobTimeout: time.Second, RescueAfter: 2 * time.Second})
	got := w.waitFor(t, ctx, call.ID(), domain.CallDelivered)
	t.Logf("rescued and delivered %s after the client started", time.Since(start).Round(time.Millisecond))
	if codes := statusCodes(got); !slices.Equal(codes, []int{200}) {
		t.Errorf("attempts: %v, want one with 200", codes)
	}
	if n := len(w.partner.requests()); n != 1 {
		t.Errorf("partner received %d requests, want 1", n)
	}
}

// failingEnqueuer inserts the job, then fails, as a transaction that breaks
// after the insert would.
type failingEnqueuer struct{ outbox.Enqueuer }

var errAfterInsert = errors.New("the transaction fails after the job was inserted")

func (e failingEnqueuer) EnqueueDelivery(ctx context.Context, tx pgx.Tx, d ports.Delivery) error {
	if err := e.Enqueuer.EnqueueDelivery(ctx, tx, d); err != nil {
		return err
	}
	return errAfterInsert
}

// TestJobIsEnqueuedInThePlaceTransaction checks the outbox: the job commits
// with the call and rolls back with it.
func TestJobIsEnqueuedInThePlaceTransaction(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithTimeout(context.Background(), testTimeout)
	defer cancel()
	var failing bool
	var mu sync.Mutex
	w := newWorld(t, always(http.StatusOK), worldOptions{wrapEnqueuer: func(e outbox.Enqueuer) outbox.Enqueuer {
		return enqueuerFunc(func(ctx context.Context, tx pgx.Tx, d ports.Delivery) error {
			mu.Lock()
			fail := failing
			mu.Unlock()
			if fail {
				return failingEnqueuer{e}.EnqueueDelivery(ctx, tx, d)
			}
			return e.EnqueueDelivery(ctx, tx, d)
		})
	}})
	jobsOf := func() int {
		var n int
		if err := w.pool.QueryRow(ctx, `SELECT count(*) FROM river_job`).Scan(&n); err != nil {
			t.Fatal(err)
		}
		return n
	}

	mu.Lock()
	failing = true
	mu.Unlock()
	if _, err := w.calls.Place(ctx, envID, leadID, brokerID, ""); !errors.Is(err, errAfterInsert) {
		t.Fatalf("Place: %v, want the enqueuer's error", err)
	}
	if n := jobsOf(); n != 0 {
		t.Errorf("%d jobs after a failed Place, want none", n)
	}
	var calls int
	if err := w.pool.QueryRow(ctx, `SELECT count(*) FROM calls`).Scan(&calls); err != nil {
		t.Fatal(err)
	}
	if calls != 0 {
		t.Errorf("%d calls after a failed Place, want none", calls)
	}

	mu.Lock()
	failing = false
	mu.Unlock()
	const traceParent = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"
	call, err := w.calls.Place(ctx, envID, leadID, brokerID, traceParent)
	if err != nil {
		t.Fatal(err)
	}
	var kind, queue, args string
	var maxAttempts int
	err = w.pool.QueryRow(ctx, `SELECT kind, queue, max_attempts, args::text FROM river_job`).Scan(&kind, &queue, &maxAttempts, &args)
	if err != nil {
		t.Fatal(err)
	}
	want := fmt.Sprintf(`{"env_id": %q, "call_id": %q, "trace_parent": %q}`, envID, call.ID(), traceParent)
	if kind != "deliver_call" || queue != jobs.QueueDeliveries || maxAttempts != 25 || args != want {
		t.Errorf("job: kind %q, queue %q, max_attempts %d, args %s; want deliver_call on deliveries, 25, %s",
			kind, queue, maxAttempts, args, want)
	}
}

type enqueuerFunc func(ctx context.Context, tx pgx.Tx, d ports.Delivery) error

func (f enqueuerFunc) EnqueueDelivery(ctx context.Context, tx pgx.Tx, d ports.Delivery) error {
	return f(ctx, tx, d)
}

// TestStopLetsRunningDeliveriesFinish stops the client while the partner
// takes its time: the delivery finishes and is recorded, not cut short.
func TestStopLetsRunningDeliveriesFinish(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithTimeout(context.Background(), testTimeout)
	defer cancel()
	arrived := make(chan received, 1)
	w := newWorld(t, func(string, int) int {
		// shapes load: a slow partner, still answering when Stop begins.
		time.Sleep(500 * time.Millisecond)
		return http.StatusOK
	}, worldOptions{})
	w.partner.arrived = arrived
	client := w.startClient(t, w.pool, fast)

	call := w.place(t)
	<-arrived
	if err := client.Stop(ctx); err != nil {
		t.Fatalf("Stop: %v", err)
	}
	got, err := w.calls.GetCall(ctx, envID, call.ID())
	if err != nil {
		t.Fatal(err)
	}
	if got.Status() != domain.CallDelivered {
		t.Errorf("after Stop the call is %s, want delivered", got.Status())
	}
}

// TestStopCancelsDeliveriesPastTheStopTimeout stops the client while the
// partner hangs: past StopTimeout the attempt is cancelled, recorded as a
// failure, and another client delivers the call.
func TestStopCancelsDeliveriesPastTheStopTimeout(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithTimeout(context.Background(), testTimeout)
	defer cancel()
	arrived := make(chan received, 2)
	release := make(chan struct{})
	w := newWorld(t, func(_ string, n int) int {
		if n == 0 {
			<-release
		}
		return http.StatusOK
	}, worldOptions{})
	defer close(release)
	w.partner.arrived = arrived
	client := w.startClient(t, w.pool, jobs.Config{JobTimeout: 10 * time.Second, StopTimeout: 200 * time.Millisecond})

	call := w.place(t)
	<-arrived
	start := time.Now()
	if err := client.Stop(ctx); err != nil {
		t.Fatalf("Stop: %v", err)
	}
	if took := time.Since(start); took > 3*time.Second {
		t.Errorf("Stop took %s with a 200ms stop timeout", took)
	}
	got, err := w.calls.GetCall(ctx, envID, call.ID())
	if err != nil {
		t.Fatal(err)
	}
	if got.Status() != domain.CallQueued || len(got.Attempts()) != 1 || got.Attempts()[0].StatusCode != 0 {
		t.Fatalf("after a hard stop the call is %s with attempts %+v; want queued after one failed attempt", got.Status(), got.Attempts())
	}

	w.startClient(t, w.pool, fast)
	got = w.waitFor(t, ctx, call.ID(), domain.CallDelivered)
	if codes := statusCodes(got); !slices.Equal(codes, []int{0, 200}) {
		t.Errorf("attempts: %v, want the cancelled one, then 200", codes)
	}
}
