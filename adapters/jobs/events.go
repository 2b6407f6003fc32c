package jobs

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/riverqueue/river"

	"callconnect/adapters/outbox"
	"callconnect/app"
	"callconnect/ports"
)

// The events of the feed reach each event subscription through River, as
// calls reach partners: a DeliverEventsArgs job walks one subscription
// (app.EventDeliveries.Step, again and again while there is something to
// do), snoozes while its head backs off, and completes once the feed has
// nothing new for it. A job is scheduled in the transaction that creates
// or reconfigures a subscription (Enqueuer.EnqueueEventDeliveries), and by
// the EventKicker of each process whenever its environment's feed grows.
//
// A subscription has one waiting job at most: a kick finds the one there
// is, if any, and adds none. One that is running does not count, so that
// the events committed while it is finishing are not left behind: the new
// job runs after it, or beside it, and then leaves the running one the
// head it holds (the head's claim keeps two senders apart, and the order
// is the head's, whoever sends it).

// QueueEvents is the River queue of the event subscriptions' deliveries,
// apart from the calls' so that a slow CRM endpoint never holds a call back.
const QueueEvents = "events"

// DefaultEventWorkers is how many subscriptions one process walks at once.
const DefaultEventWorkers = 20

// DeliverEventsArgs is the job that walks one subscription's deliveries.
type DeliverEventsArgs struct {
	EnvID          string `json:"env_id"`
	SubscriptionID string `json:"subscription_id"`
}

// Kind names the job in river_job.kind.
func (DeliverEventsArgs) Kind() string { return "deliver_events" }

// InsertOpts are the defaults of the job, however it is inserted. River
// counts failed runs only (the database unreachable, a rescue), not the
// snoozes of a head backing off.
func (DeliverEventsArgs) InsertOpts() river.InsertOpts {
	return river.InsertOpts{Queue: QueueEvents, MaxAttempts: maxAttempts}
}

// waitingStates are the states of a job that has yet to run: a kick adds
// no job while the subscription has one of these.
const waitingStates = `('available', 'pending', 'retryable', 'scheduled')`

// kickSQL inserts, for each subscription ($1 environments, $2 ids), a
// walking job when it has no waiting one, as River's insert would write it
// (insertSQL), and wakes the workers when it inserted any. River's GIN
// index on args finds a subscription's jobs.
const kickSQL = `WITH subs AS (
    SELECT jsonb_build_object('env_id', e, 'subscription_id', s) AS args
    FROM unnest($1::text[], $2::text[]) AS t(e, s)
), inserted AS (
    INSERT INTO river_job (args, kind, max_attempts, queue, state, scheduled_at, priority, metadata, tags)
    SELECT subs.args, $3, $4, $5, 'available', now(), 1, '{}', '{}' FROM subs
    WHERE NOT EXISTS (SELECT 1 FROM river_job j WHERE j.kind = $3 AND j.args @> subs.args AND j.state IN ` + waitingStates + `)
    RETURNING 1
)
SELECT count(*) FROM (SELECT pg_notify(current_schema() || '.river_insert', $6) FROM (SELECT 1 FROM inserted LIMIT 1) AS one) AS n`

// pokeSQL makes a subscription's snoozed job due now: the subscription
// was configured afresh, and its head with it.
const pokeSQL = `UPDATE river_job SET state = 'available', scheduled_at = now()
WHERE kind = $1 AND args @> $2::jsonb AND state = 'scheduled'`

// EnqueueEventDeliveries makes the subscription's job due now, through tx:
// its waiting one, or a new one. It goes with the PostgreSQL store's next
// statement or COMMIT (execSoon).
func (e *Enqueuer) EnqueueEventDeliveries(ctx context.Context, tx pgx.Tx, envID, subscriptionID string) error {
	args, err := json.Marshal(DeliverEventsArgs{EnvID: envID, SubscriptionID: subscriptionID})
	if err != nil {
		return fmt.Errorf("jobs: naming the event delivery job: %w", err)
	}
	kind, opts := DeliverEventsArgs{}.Kind(), DeliverEventsArgs{}.InsertOpts()
	if err := execSoon(ctx, tx, pokeSQL, kind, args); err != nil {
		return fmt.Errorf("jobs: making the event delivery job due: %w", err)
	}
	if err := execSoon(ctx, tx, kickSQL, []string{envID}, []string{subscriptionID}, kind, opts.MaxAttempts, opts.Queue,
		insertPayload(opts.Queue)); err != nil {
		return fmt.Errorf("jobs: inserting the event delivery job: %w", err)
	}
	return nil
}

var _ outbox.EventEnqueuer = (*Enqueuer)(nil)

// Kick makes sure each of subs has a job that will run: it inserts one for
// those that have no waiting job, in one statement of its own.
func Kick(ctx context.Context, pool *pgxpool.Pool, subs []app.SubscriptionRef) error {
	if len(subs) == 0 {
		return nil
	}
	envs, ids := make([]string, len(subs)), make([]string, len(subs))
	for i, s := range subs {
		envs[i], ids[i] = s.EnvID, s.ID
	}
	opts := DeliverEventsArgs{}.InsertOpts()
	if _, err := pool.Exec(ctx, kickSQL, envs, ids, DeliverEventsArgs{}.Kind(), opts.MaxAttempts, opts.Queue, insertPayload(opts.Queue)); err != nil {
		return fmt.Errorf("jobs: kicking %d event subscriptions: %w", len(subs), err)
	}
	return nil
}

// Stepper makes the steps of a subscription's deliveries; *app.EventDeliveries is the real one.
type Stepper interface {
	Step(ctx context.Context, envID, id string) (app.EventStep, error)
}

var _ Stepper = (*app.EventDeliveries)(nil)

// heldWait is how long a job waits when the events it is to take have
// committed but cannot be read yet (app.EventStep.Held).
const heldWait = 200 * time.Millisecond

// DefaultMaxEventWait caps a snooze: a head that backs off for longer is
// looked at again then, and waits on.
const DefaultMaxEventWait = time.Hour

// EventsWorkerConfig tunes DeliverEventsWorker.
type EventsWorkerConfig struct {
	// Timeout bounds one run; the client's JobTimeout (DefaultJobTimeout
	// when zero), so that River's rescue of abandoned jobs holds for it.
	Timeout time.Duration
	// AttemptTimeout is the longest one attempt may last (the delivery
	// client's timeout plus the transactions around it): a run starts an
	// attempt only while one fits before its end. Timeout minus 1 s when
	// zero.
	AttemptTimeout time.Duration
	// MaxWait caps how long a job snoozes; DefaultMaxEventWait when zero.
	MaxWait time.Duration
	// Logger notes failed runs; none when nil.
	Logger *slog.Logger
}

// DeliverEventsWorker runs DeliverEventsArgs jobs: it steps the
// subscription as long as steps do something and the run has time for one
// more, then:
//
//   - nothing pending and nothing new in the feed, or the subscription
//     deleted or disabled: the job completes (the next events kick a new
//     one);
//   - the head held by another sender (another job of the subscription,
//     running): the job completes, and that one carries on (a sender that
//     died leaves a claim that lapses; River rescues its job, and the
//     kicker's refresh kicks the subscription meanwhile);
//   - the head backs off: the job snoozes until it is due (snoozes do not
//     use up River's attempts);
//   - events held back, or the run's time is up: the job snoozes a moment;
//   - an infrastructure error: River retries the run with its backoff.
type DeliverEventsWorker struct {
	river.WorkerDefaults[DeliverEventsArgs]
	steps Stepper
	cfg   EventsWorkerConfig
	log   *slog.Logger
	// kicker, when set, is told of each subscription a job walks (see
	// WithKicker).
	kicker *EventKicker
}

// WithKicker makes the worker tell k of the subscription of each job it
// runs, before the job reads the feed: k then watches its environment,
// whatever it read last, so that the events committed after the job
// looked are kicked. A subscription made a moment ago, in this process or
// another, is heard of so by the process whose worker first runs its job.
func (w *DeliverEventsWorker) WithKicker(k *EventKicker) { w.kicker = k }

// NewDeliverEventsWorker returns the worker.
func NewDeliverEventsWorker(steps Stepper, cfg EventsWorkerConfig) *DeliverEventsWorker {
	cfg.Timeout = cmpOr(cfg.Timeout, DefaultJobTimeout)
	cfg.AttemptTimeout = cmpOr(cfg.AttemptTimeout, max(cfg.Timeout-time.Second, time.Second))
	cfg.MaxWait = cmpOr(cfg.MaxWait, DefaultMaxEventWait)
	return &DeliverEventsWorker{steps: steps, cfg: cfg, log: orDiscard(cfg.Logger)}
}

// Work walks the subscription.
func (w *DeliverEventsWorker) Work(ctx context.Context, job *river.Job[DeliverEventsArgs]) error {
	args := job.Args
	if w.kicker != nil {
		w.kicker.Notice(app.SubscriptionRef{EnvID: args.EnvID, ID: args.SubscriptionID})
	}
	deadline, ok := ctx.Deadline()
	if !ok {
		deadline = time.Now().Add(w.cfg.Timeout)
	}
	for {
		step, err := w.steps.Step(ctx, args.EnvID, args.SubscriptionID)
		if err != nil {
			w.log.WarnContext(ctx, "event deliveries: a step failed; River runs the job again",
				slog.String("env_id", args.EnvID), slog.String("subscription_id", args.SubscriptionID), slog.String("error", err.Error()))
			return fmt.Errorf("event subscription %q of environment %q: %w", args.SubscriptionID, args.EnvID, err)
		}
		switch {
		case step.Idle, step.Gone, step.Busy:
			return nil
		case step.Held:
			return river.JobSnooze(heldWait)
		case step.Wait > 0:
			return river.JobSnooze(min(step.Wait, w.cfg.MaxWait))
		}
		// An attempt made, or the cursor moved: one more step if an
		// attempt still fits in the run.
		if time.Until(deadline) < w.cfg.AttemptTimeout {
			return river.JobSnooze(time.Millisecond)
		}
	}
}

// Timeout bounds one run.
func (w *DeliverEventsWorker) Timeout(*river.Job[DeliverEventsArgs]) time.Duration {
	return w.cfg.Timeout
}

// ActiveSubscriptions lists the subscriptions to kick; *app.EventDeliveries
// is the real one.
type ActiveSubscriptions interface {
	ActiveSubscriptions(ctx context.Context) ([]app.SubscriptionRef, error)
}

// DefaultKickRefresh is how often an EventKicker reads the active
// subscriptions again, watches the environments that have some and kicks
// them all: what a notification lost, or a subscription made in another
// process, costs at most.
const DefaultKickRefresh = 30 * time.Second

// kickEvery is the least time between two kicks of an environment's
// subscriptions by one process: what an event may wait for its kick, at
// most, when its environment's feed is busy.
const kickEvery = 50 * time.Millisecond

// EventKicker kicks an environment's subscriptions (Kick) soon after its
// feed grows: it watches the feed of every environment with an active
// subscription (ports.Events.WatchEvents).
type EventKicker struct {
	pool    *pgxpool.Pool
	subs    ActiveSubscriptions
	feed    ports.Events
	refresh time.Duration
	log     *slog.Logger

	mu      sync.Mutex
	byEnv   map[string][]app.SubscriptionRef
	watches map[string]func()
	ctx     context.Context // the watches', from Start to Stop
	stop    context.CancelFunc
	done    sync.WaitGroup
}

// NewEventKicker returns a kicker; refresh is DefaultKickRefresh when zero.
func NewEventKicker(pool *pgxpool.Pool, subs ActiveSubscriptions, feed ports.Events, refresh time.Duration, logger *slog.Logger) *EventKicker {
	return &EventKicker{pool: pool, subs: subs, feed: feed, refresh: cmpOr(refresh, DefaultKickRefresh), log: orDiscard(logger),
		byEnv: map[string][]app.SubscriptionRef{}, watches: map[string]func(){}}
}

// Start starts watching in the background, until Stop.
func (k *EventKicker) Start() {
	ctx, cancel := context.WithCancel(context.Background())
	k.mu.Lock()
	k.ctx, k.stop = ctx, cancel
	k.mu.Unlock()
	k.done.Add(1)
	go func() {
		defer k.done.Done()
		k.run(ctx)
	}()
}

// Stop stops the watches and waits for them to end.
func (k *EventKicker) Stop() {
	k.mu.Lock()
	if k.stop != nil {
		k.stop() // under k.mu: Notice starts no watch once it is done
	}
	k.mu.Unlock()
	k.done.Wait()
	k.mu.Lock()
	defer k.mu.Unlock()
	for env, unwatch := range k.watches {
		unwatch()
		delete(k.watches, env)
	}
}

func (k *EventKicker) run(ctx context.Context) {
	tick := time.NewTicker(k.refresh)
	defer tick.Stop()
	for {
		k.reload(ctx)
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
	}
}

// reload reads the active subscriptions, kicks them all, and watches the
// environments that have some (and no more those that have none).
func (k *EventKicker) reload(ctx context.Context) {
	subs, err := k.subs.ActiveSubscriptions(ctx)
	if err != nil {
		if ctx.Err() == nil {
			k.log.WarnContext(ctx, "event deliveries: reading the active subscriptions failed; trying again later", "error", err)
		}
		return
	}
	byEnv := map[string][]app.SubscriptionRef{}
	for _, s := range subs {
		byEnv[s.EnvID] = append(byEnv[s.EnvID], s)
	}
	k.mu.Lock()
	k.byEnv = byEnv
	for env, unwatch := range k.watches {
		if _, ok := byEnv[env]; !ok {
			unwatch()
			delete(k.watches, env)
		}
	}
	for env := range byEnv {
		if _, ok := k.watches[env]; !ok {
			k.watch(ctx, env)
		}
	}
	k.mu.Unlock()
	k.kick(ctx, subs)
}

// Notice makes the kicker kick the subscription, with its environment's
// others, whenever the environment's feed grows, until a refresh finds it
// inactive. A kicker not started (or stopped) only notes it.
func (k *EventKicker) Notice(ref app.SubscriptionRef) {
	k.mu.Lock()
	defer k.mu.Unlock()
	if !slices.Contains(k.byEnv[ref.EnvID], ref) {
		k.byEnv[ref.EnvID] = append(slices.Clone(k.byEnv[ref.EnvID]), ref)
	}
	if _, ok := k.watches[ref.EnvID]; !ok && k.ctx != nil && k.ctx.Err() == nil {
		k.watch(k.ctx, ref.EnvID)
	}
}

// watch kicks env's subscriptions whenever its feed may have grown. The
// caller holds k.mu.
func (k *EventKicker) watch(ctx context.Context, env string) {
	ready, unwatch := k.feed.WatchEvents(env)
	wctx, cancel := context.WithCancel(ctx)
	k.watches[env] = func() { cancel(); unwatch() }
	k.done.Add(1)
	go func() {
		defer k.done.Done()
		for {
			select {
			case <-wctx.Done():
				return
			case <-ready:
			}
			k.mu.Lock()
			subs := k.byEnv[env]
			k.mu.Unlock()
			k.kick(wctx, subs)
			// The commits of the next moment are kicked together: one
			// statement per kickEvery at most, however busy the feed.
			select {
			case <-wctx.Done():
				return
			case <-time.After(kickEvery):
			}
		}
	}()
}

func (k *EventKicker) kick(ctx context.Context, subs []app.SubscriptionRef) {
	if err := Kick(ctx, k.pool, subs); err != nil && !errors.Is(err, context.Canceled) && ctx.Err() == nil {
		k.log.WarnContext(ctx, "event deliveries: kicking subscriptions failed; the next refresh tries again", "error", err)
	}
}

// ExpireEventDeliveriesInterval is how often the finished deliveries past
// their retention are deleted.
const ExpireEventDeliveriesInterval = time.Hour

// ExpireEventDeliveriesArgs is the periodic job that deletes them.
type ExpireEventDeliveriesArgs struct{}

// Kind names the job in river_job.kind.
func (ExpireEventDeliveriesArgs) Kind() string { return "expire_event_deliveries" }

// InsertOpts puts the job on the maintenance queue, without retries: the
// next run does the same work.
func (ExpireEventDeliveriesArgs) InsertOpts() river.InsertOpts {
	return river.InsertOpts{Queue: QueueMaintenance, MaxAttempts: 1}
}

// ExpireEventDeliveriesPeriodicJob runs the expiry every
// ExpireEventDeliveriesInterval, and once as the client becomes leader.
func ExpireEventDeliveriesPeriodicJob() *river.PeriodicJob {
	return maintenanceJob(ExpireEventDeliveriesArgs{}, ExpireEventDeliveriesInterval)
}

// ExpireEventDeliveriesWorker runs app.EventDeliveries.ExpireDeliveries.
type ExpireEventDeliveriesWorker struct {
	river.WorkerDefaults[ExpireEventDeliveriesArgs]
	deliveries *app.EventDeliveries
	log        *slog.Logger
}

// NewExpireEventDeliveriesWorker returns the worker.
func NewExpireEventDeliveriesWorker(deliveries *app.EventDeliveries, logger *slog.Logger) *ExpireEventDeliveriesWorker {
	return &ExpireEventDeliveriesWorker{deliveries: deliveries, log: orDiscard(logger)}
}

// Work deletes the expired deliveries once.
func (w *ExpireEventDeliveriesWorker) Work(ctx context.Context, _ *river.Job[ExpireEventDeliveriesArgs]) error {
	n, err := w.deliveries.ExpireDeliveries(ctx)
	if n > 0 {
		w.log.InfoContext(ctx, "event deliveries expired", "deleted", n)
	}
	return err
}
