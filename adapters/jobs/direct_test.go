package jobs_test

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"callconnect/adapters/jobs"
	"callconnect/adapters/postgres/pgtest"
	"callconnect/adapters/telemetry"
	"callconnect/app"
	"callconnect/domain"
	"callconnect/ports"
)

// directWorld is a world whose calls are delivered directly by a Direct of
// cfg (started with no processing client unless the test starts one).
func directWorld(t *testing.T, answer func(string, int) int, cfg jobs.Config, opts worldOptions) (*world, *jobs.Direct) {
	t.Helper()
	w := newWorld(t, answer, opts)
	if cfg.Logger == nil {
		cfg.Logger = testLogger(t)
	}
	d := jobs.NewDirect(jobs.NewDeliverCallWorker(w.calls, jobs.WorkerConfig{Logger: testLogger(t)}), cfg)
	w.calls.DeliverDirectly(d)
	t.Cleanup(func() {
		if err := d.Stop(context.Background()); err != nil {
			t.Errorf("stopping the direct deliveries: %v", err)
		}
	})
	return w, d
}

// TestDirectDeliveryNeedsNoWorker: with no processing client at all, a
// placed call reaches the partner and is delivered, and its held job is
// deleted without having run.
func TestDirectDeliveryNeedsNoWorker(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithTimeout(context.Background(), testTimeout)
	defer cancel()
	w, _ := directWorld(t, always(http.StatusAccepted), jobs.Config{}, worldOptions{})
	placed := w.place(t)
	if placed.Status() != domain.CallQueued {
		t.Errorf("a call placed for a direct delivery is %s, want queued", placed.Status())
	}
	call := w.waitFor(t, ctx, placed.ID(), domain.CallDelivered)
	if got := statusCodes(call); !slices.Equal(got, []int{http.StatusAccepted}) {
		t.Errorf("attempts %v, want one answered 202", got)
	}
	waitForNoJob(t, ctx, w, placed.ID())
	if got := w.partner.countByWebhookID()[placed.WebhookID()]; got != 1 {
		t.Errorf("the partner got the call %d times, want once", got)
	}
}

// TestDirectDeliveryRetriesThroughTheQueue: a direct attempt the partner
// answers 503 hands the call to the queue, due at its retry, and a worker
// delivers it.
func TestDirectDeliveryRetriesThroughTheQueue(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithTimeout(context.Background(), testTimeout)
	defer cancel()
	w, _ := directWorld(t, inTurn(http.StatusServiceUnavailable, http.StatusOK), jobs.Config{}, worldOptions{})
	w.startClient(t, w.pool, jobs.Config{MaxWorkers: 4})
	placed := w.place(t)
	call := w.waitFor(t, ctx, placed.ID(), domain.CallDelivered)
	if got := statusCodes(call); !slices.Equal(got, []int{http.StatusServiceUnavailable, http.StatusOK}) {
		t.Errorf("attempts %v, want 503 then 200", got)
	}
	if got := waitForJobs(t, ctx, w.pool, placed.ID()); !slices.Equal(got, []string{"completed"}) {
		t.Errorf("jobs %v, want one, completed by the worker that made the retry", got)
	}
}

// TestDirectDeliveryOfADeadProcessIsTheQueues: a process that placed calls
// and died before delivering them (its direct deliveries never ran) leaves
// held jobs, which a worker runs once their grace has passed.
func TestDirectDeliveryOfADeadProcessIsTheQueues(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithTimeout(context.Background(), testTimeout)
	defer cancel()
	w := newWorld(t, always(http.StatusOK), worldOptions{})
	const grace = 2 * time.Second
	w.calls.DeliverDirectly(deadProcess{grace: grace})
	placed := w.place(t)
	if got := jobStates(t, w.pool, placed.ID()); !slices.Equal(got, []string{"scheduled"}) {
		t.Fatalf("jobs %v, want one held (scheduled)", got)
	}
	w.startClient(t, w.pool, jobs.Config{MaxWorkers: 4})
	call := w.waitFor(t, ctx, placed.ID(), domain.CallDelivered)
	if took := call.DeliveredAt().Sub(placed.ClickedAt()); took < grace {
		t.Errorf("delivered %s after the click, within the grace of %s that the direct delivery had", took, grace)
	}
	if got := waitForJobs(t, ctx, w.pool, placed.ID()); !slices.Equal(got, []string{"completed"}) {
		t.Errorf("jobs %v, want the held one completed by its worker", got)
	}
}

// waitForNoJob waits until the call has no delivery job: its held job was
// deleted with the record of its direct delivery.
func waitForNoJob(t *testing.T, ctx context.Context, w *world, callID string) {
	t.Helper()
	for len(jobStates(t, w.pool, callID)) > 0 {
		select {
		case <-ctx.Done():
			t.Fatalf("call %s still has jobs %v", callID, jobStates(t, w.pool, callID))
		case <-time.After(10 * time.Millisecond):
		}
	}
}

// deadProcess takes every direct delivery and never runs it: the process
// died as the click committed.
type deadProcess struct{ grace time.Duration }

func (d deadProcess) Reserve() (app.DirectSlot, bool) { return deadSlot{}, true }
func (d deadProcess) Grace() time.Duration            { return d.grace }

type deadSlot struct{}

func (deadSlot) Run(ports.Delivery, func(context.Context) (app.DeliveryOutcome, error)) {}
func (deadSlot) Cancel()                                                                {}

// TestDirectDeliveryOvertakenByItsResult: the partner's result lands while
// the direct attempt is on the wire; the attempt is kept, the result's
// status too, and the held job ends.
func TestDirectDeliveryOvertakenByItsResult(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithTimeout(context.Background(), testTimeout)
	defer cancel()
	var w *world
	arrived := make(chan string, 1)
	settled := make(chan struct{})
	w, _ = directWorld(t, nil, jobs.Config{}, worldOptions{partner: http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
		arrived <- r.Header.Get("webhook-id")
		<-settled // the result is written before the answer comes back
		rw.WriteHeader(http.StatusOK)
	})})
	placed := w.place(t)
	if got := <-arrived; got != placed.WebhookID() {
		t.Fatalf("the partner got %q", got)
	}
	err := w.store.Tx(ctx, func(ctx context.Context, r ports.Repositories) error {
		call, err := r.LockCall(ctx, envID, placed.ID())
		if err != nil {
			return err
		}
		if err := domain.RecordCallResult(&call, domain.OutcomeCompleted, ""); err != nil {
			return err
		}
		return r.PutCall(ctx, call)
	})
	close(settled)
	if err != nil {
		t.Fatal(err)
	}
	waitForNoJob(t, ctx, w, placed.ID())
	call, err := w.calls.GetCall(ctx, envID, placed.ID())
	if err != nil {
		t.Fatal(err)
	}
	if call.Status() != domain.CallCompleted || !slices.Equal(statusCodes(call), []int{http.StatusOK}) {
		t.Errorf("the call is %s with attempts %v, want completed with the 200 kept", call.Status(), statusCodes(call))
	}
}

// TestDirectDeliveryStopHandsTheCallToTheQueue: a stop while the partner
// holds a direct attempt waits StopTimeout, then cuts the attempt short,
// records it and makes the held job due at its retry, for a worker.
func TestDirectDeliveryStopHandsTheCallToTheQueue(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithTimeout(context.Background(), testTimeout)
	defer cancel()
	arrived := make(chan struct{}, 4)
	var held atomic.Bool
	held.Store(true)
	release := make(chan struct{})
	w, d := directWorld(t, nil, jobs.Config{StopTimeout: 200 * time.Millisecond}, worldOptions{
		partner: http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
			_, _ = io.Copy(io.Discard, r.Body) // so that the server sees the client go
			arrived <- struct{}{}
			if held.Load() {
				select {
				case <-release:
				case <-r.Context().Done():
				}
				return
			}
			rw.WriteHeader(http.StatusOK)
		})})
	t.Cleanup(func() { close(release) }) // before the partner's server closes
	placed := w.place(t)
	<-arrived
	if err := d.Stop(ctx); err != nil {
		t.Fatalf("Stop: %v", err)
	}
	if _, ok := d.Reserve(); ok {
		t.Error("a stopped Direct took another delivery")
	}
	if got := jobStates(t, w.pool, placed.ID()); !slices.Equal(got, []string{"available"}) {
		t.Fatalf("after the stop the job is %v, want available (handed to the queue)", got)
	}
	held.Store(false)
	w.startClient(t, w.pool, jobs.Config{MaxWorkers: 4})
	call := w.waitFor(t, ctx, placed.ID(), domain.CallDelivered)
	if got := statusCodes(call); len(got) != 2 || got[0] != 0 || got[1] != http.StatusOK {
		t.Errorf("attempts %v, want the one cut short (no answer) then 200", got)
	}
}

// TestDirectDeliveryRefusesPastItsPlaces: Reserve gives at most MaxWorkers
// places; the calls placed meanwhile go through the queue at once.
func TestDirectDeliveryRefusesPastItsPlaces(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithTimeout(context.Background(), testTimeout)
	defer cancel()
	w, d := directWorld(t, always(http.StatusOK), jobs.Config{MaxWorkers: 2}, worldOptions{})
	var slots []app.DirectSlot
	for range 2 {
		s, ok := d.Reserve()
		if !ok {
			t.Fatal("Reserve refused a place while some were free")
		}
		slots = append(slots, s)
	}
	if _, ok := d.Reserve(); ok {
		t.Fatal("Reserve gave a third place of two")
	}
	placed := w.place(t)
	if got := jobStates(t, w.pool, placed.ID()); !slices.Equal(got, []string{"available"}) {
		t.Errorf("jobs %v, want one available at once", got)
	}
	for _, s := range slots {
		s.Cancel()
	}
	if s, ok := d.Reserve(); !ok {
		t.Error("Reserve refused a place given back")
	} else {
		s.Cancel()
	}
	w.startClient(t, w.pool, jobs.Config{MaxWorkers: 4})
	w.waitFor(t, ctx, placed.ID(), domain.CallDelivered)
}

// TestDeliveredCallRoundTrips counts the SQL round trips per delivered
// call, its click and its delivery, with the processing client running
// beside (its polls and maintenance count too): at most maxRoundTrips,
// with the calls placed 16 at a time.
func TestDeliveredCallRoundTrips(t *testing.T) {
	t.Parallel()
	const (
		maxRoundTrips = 4
		calls         = 200
		clickers      = 16
		warm          = 50 // calls that let every pooled connection prepare its statements
	)
	ctx, cancel := context.WithTimeout(context.Background(), testTimeout)
	defer cancel()
	// The test reads through base; the service's queries, through traced, are counted.
	base := pgtest.NewPool(t)
	queries := &telemetry.QueryCounter{}
	traced := newPool(t, base, 10, telemetry.NewSQLTracer(nil, queries))
	w, _ := directWorld(t, always(http.StatusOK), jobs.Config{}, worldOptions{pool: traced})
	w.startClient(t, traced, jobs.Config{})
	// A lead per call: a second click on a lead whose call is under way
	// places none.
	conf := app.NewConfiguration(w.store)
	for n := range warm + calls {
		if _, err := conf.PutLead(ctx, domain.LeadInput{EnvID: envID, ID: fmt.Sprintf("lead-%d", n), Name: "Lead",
			Phone: "48999476359", BrokerID: brokerID}); err != nil {
			t.Fatal(err)
		}
	}
	var leads atomic.Int64
	place := func(n int) {
		var next atomic.Int64
		var wg sync.WaitGroup
		for range clickers {
			wg.Go(func() {
				for i := next.Add(1); i <= int64(n); i = next.Add(1) {
					lead := fmt.Sprintf("lead-%d", leads.Add(1)-1)
					if _, err := w.calls.Place(ctx, envID, lead, brokerID, ""); err != nil {
						t.Error(err)
						return
					}
				}
			})
		}
		wg.Wait()
	}
	// finished waits until the partner has had every call and every
	// delivery job has ended: every outcome is recorded.
	finished := func(want int) {
		t.Helper()
		for {
			var open int
			if err := base.QueryRow(ctx, `SELECT count(*) FROM river_job WHERE kind = 'deliver_call'
				AND state NOT IN ('completed', 'cancelled', 'discarded')`).Scan(&open); err != nil {
				t.Fatal(err)
			}
			if open == 0 && len(w.partner.requests()) >= want {
				return
			}
			select {
			case <-ctx.Done():
				t.Fatalf("%d requests of %d reached the partner, %d jobs unfinished", len(w.partner.requests()), want, open)
			case <-time.After(5 * time.Millisecond):
			}
		}
	}
	place(warm)
	finished(warm)

	queries.Reset()
	start := time.Now()
	place(calls)
	finished(warm + calls)
	trips, took := queries.Count(), time.Since(start)
	var delivered int
	if err := base.QueryRow(ctx, `SELECT count(*) FROM calls WHERE status = 'delivered'`).Scan(&delivered); err != nil {
		t.Fatal(err)
	}
	if delivered != warm+calls {
		t.Fatalf("%d calls delivered, want %d", delivered, warm+calls)
	}
	perCall := float64(trips) / calls
	t.Logf("%d calls, %d SQL round trips in %s: %.2f per call", calls, trips, took.Round(time.Millisecond), perCall)
	if perCall > maxRoundTrips {
		t.Errorf("%.2f SQL round trips per delivered call, want at most %d", perCall, maxRoundTrips)
	}
}
