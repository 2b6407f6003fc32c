package jobs

import (
	"context"
	"errors"
	"log/slog"
	"sync"
	"time"

	"callconnect/app"
	"callconnect/ports"
)

// Direct runs the deliveries that the process placing a call makes itself
// (app.DirectDeliveries), beside the queue's workers: each on a goroutine
// of its own, at most Config.MaxWorkers at once, with the delivery worker's
// span and metrics. A direct delivery costs no fetch of the queue and no
// claim of the call: the click claimed it, on what it had read, and the
// held job (scheduled Grace after the click) is only there for a process
// that dies first.
//
// A direct delivery may last Config.JobTimeout from its click, as a run of
// the queue does; Grace is Config.RescueAfter, which is longer (as River
// takes a running job for abandoned only after RescueAfter), so the held
// job never becomes due while its direct delivery can still be sending.
type Direct struct {
	worker      *DeliverCallWorker
	places      chan struct{} // one token per delivery reserved or running
	timeout     time.Duration
	grace       time.Duration
	stopTimeout time.Duration
	logger      *slog.Logger

	mu       sync.Mutex
	stopping bool
	running  sync.WaitGroup
	ctx      context.Context // of every run; cancelled when a stop stops waiting
	cancel   context.CancelFunc
}

var _ app.DirectDeliveries = (*Direct)(nil)

// NewDirect returns the runner of direct deliveries, sized and timed as the
// processing client of cfg (MaxWorkers, JobTimeout, RescueAfter,
// StopTimeout); worker gives each delivery its span and metrics.
func NewDirect(worker *DeliverCallWorker, cfg Config) *Direct {
	cfg = cfg.withDefaults()
	ctx, cancel := context.WithCancel(context.Background())
	return &Direct{worker: worker, places: make(chan struct{}, cfg.MaxWorkers), timeout: cfg.JobTimeout,
		grace: cfg.RescueAfter, stopTimeout: cfg.StopTimeout, logger: orDiscard(cfg.Logger), ctx: ctx, cancel: cancel}
}

// Reserve implements app.DirectDeliveries: a place while fewer than
// MaxWorkers deliveries are reserved or running and Stop has not begun.
func (d *Direct) Reserve() (app.DirectSlot, bool) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.stopping {
		return nil, false
	}
	select {
	case d.places <- struct{}{}:
	default:
		return nil, false
	}
	d.running.Add(1)
	return &directSlot{d: d}, true
}

// Grace implements app.DirectDeliveries.
func (d *Direct) Grace() time.Duration { return d.grace }

// Stop refuses new deliveries (Place enqueues them for the workers instead)
// and waits for the running ones, up to StopTimeout or the end of ctx; then
// it cancels them: each records its attempt cut short and hands its call to
// the queue, due at its retry, for whichever process runs the queue next.
func (d *Direct) Stop(ctx context.Context) error {
	d.mu.Lock()
	d.stopping = true
	d.mu.Unlock()
	done := make(chan struct{})
	go func() {
		d.running.Wait()
		close(done)
	}()
	soft := time.NewTimer(d.stopTimeout)
	defer soft.Stop()
	select {
	case <-done:
		return nil
	case <-soft.C:
	case <-ctx.Done():
	}
	d.logger.WarnContext(ctx, "jobs: direct deliveries still running at the end of the stop; cancelling them")
	d.cancel()
	select {
	case <-done:
		return nil
	case <-time.After(hardStopTimeout):
		return errors.New("jobs: direct deliveries still running after their cancellation")
	}
}

// directSlot is a place of a Direct.
type directSlot struct {
	d    *Direct
	once sync.Once
}

// Run implements app.DirectSlot. The delivery's context ends JobTimeout
// after its click (d.NotBefore less the grace's margin over the timeout),
// or when a stop cancels it.
func (s *directSlot) Run(delivery ports.Delivery, deliver func(ctx context.Context) (app.DeliveryOutcome, error)) {
	deadline := time.Now().Add(s.d.timeout)
	if !delivery.NotBefore.IsZero() {
		deadline = delivery.NotBefore.Add(s.d.timeout - s.d.grace)
	}
	go func() {
		defer s.release()
		ctx, cancel := context.WithDeadline(s.d.ctx, deadline)
		defer cancel()
		args := DeliverCallArgs{EnvID: delivery.EnvID, CallID: delivery.CallID, TraceParent: delivery.TraceParent}
		if _, err := s.d.worker.run(ctx, args, 0, deliver); err != nil {
			s.d.logger.WarnContext(ctx, "direct delivery failed; its held job will run it",
				slog.String("call_id", delivery.CallID), slog.String("env_id", delivery.EnvID),
				slog.Time("due", delivery.NotBefore), slog.String("error", err.Error()))
		}
	}()
}

// Cancel implements app.DirectSlot.
func (s *directSlot) Cancel() { s.release() }

func (s *directSlot) release() {
	s.once.Do(func() {
		<-s.d.places
		s.d.running.Done()
	})
}
