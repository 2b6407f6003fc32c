package jobs

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/riverqueue/river"
	"github.com/riverqueue/river/riverdriver/riverpgxv5"
	"github.com/riverqueue/river/rivermigrate"
	"github.com/riverqueue/river/rivertype"
)

// Defaults of Config.
const (
	// DefaultMaxWorkers is how many deliveries one process runs at once.
	// A delivery mostly waits on the partner, so many fit in one process;
	// the database pool, not this, bounds the transactions around them.
	DefaultMaxWorkers = 100
	// DefaultJobTimeout is the partner client's default total timeout (15 s)
	// plus 3 s for the claim and record transactions around the request.
	DefaultJobTimeout = 18 * time.Second
	// rescueMargin is how much longer than the job timeout a job may stay
	// running before it is taken for abandoned.
	rescueMargin = 4 * time.Second
	// DefaultStopTimeout is how long a stop lets running deliveries finish
	// before cancelling them.
	DefaultStopTimeout = 10 * time.Second
)

// River's fixed intervals that bound how fast an abandoned job comes back;
// River does not let them be configured. They are here for the arithmetic
// of Config.RescueAfter.
const (
	riverRescuerInterval   = 30 * time.Second // how often the leader looks for stuck jobs
	riverSchedulerInterval = 5 * time.Second  // how often retryable and scheduled jobs become available
)

// Pick-up tuning of the processing client. New jobs are not polled for:
// each insert's NOTIFY (see Enqueuer) wakes the client as its transaction
// commits.
const (
	// fetchCooldown is the least time between two fetches of the queue: a
	// job whose notification arrives within it of the last fetch waits for
	// its end. It bounds the fetch queries of a replica (all replicas are
	// woken by every notification) to 500 a second, most of them cheap
	// under load as they lock several jobs at once. Measured with
	// BenchmarkClickToPartner at 200 clicks/s: 5 ms cost 4 ms of median
	// latency over 2 ms, and bought no throughput. River's default is 100 ms.
	fetchCooldown = 2 * time.Millisecond
	// fetchPollInterval is the fallback when no notification comes (one
	// lost while the listener reconnects) and, above all, what picks up a
	// short snooze: River makes a job snoozed for less than 5 s available
	// at once with a scheduled_at in the future, and only a fetch after that
	// time takes it, so a retry comes up to this late. River's default is
	// 1 s; a fetch that finds nothing is one indexed query.
	fetchPollInterval = 100 * time.Millisecond
)

// completedJobRetention is how long finished delivery jobs stay in
// river_job. River keeps them 24 h by default; a delivery job holds nothing
// the calls table does not (attempts, exchanges), so an hour for looking
// into a recent incident is enough, and it keeps the queue's table small
// under load. Cancelled and discarded jobs keep River's defaults (1 and 7
// days): they are the ones worth looking into.
const completedJobRetention = time.Hour

// Config tunes the processing client.
type Config struct {
	// MaxWorkers is how many deliveries this process runs at once.
	// DefaultMaxWorkers when zero.
	MaxWorkers int
	// EventWorkers is how many event subscriptions this process walks at
	// once (QueueEvents); DefaultEventWorkers when zero.
	EventWorkers int
	// JobTimeout bounds one delivery run; set it to the partner client's
	// total timeout plus a few seconds. DefaultJobTimeout when zero.
	JobTimeout time.Duration
	// RescueAfter is how long a job may stay running before it is taken for
	// abandoned (its process died mid-attempt) and run again. It must be at
	// least JobTimeout, or live attempts would be run twice. An abandoned
	// delivery is picked up again at most about RescueAfter + 36 s later
	// (River's rescuer runs every 30 s, its scheduler every 5 s, and River
	// waits about 1 s before a first retry). JobTimeout + 4 s when zero: with
	// the default timeout, 22 s, so abandoned deliveries resume within a
	// minute.
	RescueAfter time.Duration
	// StopTimeout is how long Stop lets running deliveries finish before
	// cancelling them. DefaultStopTimeout when zero.
	StopTimeout time.Duration
	// Logger receives River's logs; none when nil.
	Logger *slog.Logger
	// PeriodicJobs are inserted by whichever client is the elected leader,
	// on their schedules; their workers must be among the client's. With
	// any, the client also works QueueMaintenance (one job at a time).
	PeriodicJobs []*river.PeriodicJob
	// Middleware runs around every job this client works (the wait metric:
	// NewJobWaitMiddleware).
	Middleware []rivertype.Middleware

	// pollInterval replaces fetchPollInterval, for tests.
	pollInterval time.Duration
}

func (c Config) withDefaults() Config {
	if c.MaxWorkers <= 0 {
		c.MaxWorkers = DefaultMaxWorkers
	}
	if c.EventWorkers <= 0 {
		c.EventWorkers = DefaultEventWorkers
	}
	c.JobTimeout = cmpOr(c.JobTimeout, DefaultJobTimeout)
	c.RescueAfter = cmpOr(c.RescueAfter, c.JobTimeout+rescueMargin)
	c.StopTimeout = cmpOr(c.StopTimeout, DefaultStopTimeout)
	return c
}

// Client works the deliveries queue: the processing River client.
type Client struct {
	river    *river.Client[pgx.Tx]
	migrator *rivermigrate.Migrator[pgx.Tx]
	logger   *slog.Logger

	mu         sync.Mutex
	stopping   bool
	cancelWait context.CancelFunc // ends the wait for River's schema, if any
	waited     chan struct{}      // closed when that wait has ended
}

// NewWorkers registers the delivery worker with River, and the recording
// sweep's when one is given (its periodic job then goes in
// Config.PeriodicJobs: SweepRecordingsPeriodicJob).
func NewWorkers(w *DeliverCallWorker, sweep ...*SweepRecordingsWorker) (*river.Workers, error) {
	workers := river.NewWorkers()
	if err := river.AddWorkerSafely(workers, w); err != nil {
		return nil, fmt.Errorf("jobs: registering the delivery worker: %w", err)
	}
	for _, s := range sweep {
		if s == nil {
			continue
		}
		if err := river.AddWorkerSafely(workers, s); err != nil {
			return nil, fmt.Errorf("jobs: registering the recording sweep worker: %w", err)
		}
	}
	return workers, nil
}

// NewClient returns the client that works the deliveries queue on pool with
// workers. Several processes may run one each on the same database: each job
// is run by one of them at a time (River locks it with FOR UPDATE SKIP
// LOCKED), and one of them, elected, rescues jobs of processes that died.
//
// New jobs are picked up at once, not at the next poll: the Enqueuer's insert
// sends a NOTIFY with the transaction's commit, which wakes the client's
// LISTEN connection (one connection of pool, held for good).
func NewClient(pool *pgxpool.Pool, workers *river.Workers, cfg Config) (*Client, error) {
	cfg = cfg.withDefaults()
	if cfg.RescueAfter < cfg.JobTimeout {
		return nil, fmt.Errorf("jobs: RescueAfter (%s) must be at least JobTimeout (%s), or running deliveries would be run twice",
			cfg.RescueAfter, cfg.JobTimeout)
	}
	logger := orDiscard(cfg.Logger)
	queues := map[string]river.QueueConfig{QueueDeliveries: {MaxWorkers: cfg.MaxWorkers}, QueueEvents: {MaxWorkers: cfg.EventWorkers}}
	if len(cfg.PeriodicJobs) > 0 {
		queues[QueueMaintenance] = river.QueueConfig{MaxWorkers: 1}
	}
	client, err := river.NewClient(riverpgxv5.New(pool), &river.Config{
		Queues:               queues,
		PeriodicJobs:         cfg.PeriodicJobs,
		Workers:              workers,
		JobTimeout:           cfg.JobTimeout,
		RescueStuckJobsAfter: cfg.RescueAfter,
		FetchCooldown:        fetchCooldown,
		FetchPollInterval:    cmpOr(cfg.pollInterval, fetchPollInterval),
		MaxAttempts:          maxAttempts,
		SoftStopTimeout:      cfg.StopTimeout,

		CompletedJobRetentionPeriod: completedJobRetention,
		Logger:                      logger,
		Middleware:                  cfg.Middleware,
	})
	if err != nil {
		return nil, fmt.Errorf("jobs: processing River client: %w", err)
	}
	migrator, err := rivermigrate.New(riverpgxv5.New(pool), &rivermigrate.Config{Logger: logger})
	if err != nil {
		return nil, fmt.Errorf("jobs: River migrator: %w", err)
	}
	return &Client{river: client, migrator: migrator, logger: logger}, nil
}

// schemaPollInterval is how often a client waiting for River's schema
// looks for it.
const schemaPollInterval = 2 * time.Second

// Start starts working the queue in the background until Stop. ctx must
// outlive start-up: cancelling it stops the client and cancels running
// deliveries (give fx's start context to nothing here).
//
// When River's schema is not current (a replica started with --no-migrate
// before anyone migrated), Start does not fail: it returns at once and the
// client starts as soon as the migrations have run, so that the process can
// serve and report itself not ready meanwhile.
func (c *Client) Start(ctx context.Context) error {
	ready, err := c.schemaReady(ctx)
	if err != nil {
		return err
	}
	if ready {
		return c.start(ctx)
	}
	c.logger.WarnContext(ctx, "jobs: River's tables are not migrated yet; deliveries start once they are")
	waitCtx, cancel := context.WithCancel(ctx)
	waited := make(chan struct{})
	c.mu.Lock()
	c.cancelWait, c.waited = cancel, waited
	c.mu.Unlock()
	go func() {
		defer close(waited)
		c.startWhenSchemaReady(ctx, waitCtx)
	}()
	return nil
}

func (c *Client) startWhenSchemaReady(ctx, waitCtx context.Context) {
	tick := time.NewTicker(schemaPollInterval)
	defer tick.Stop()
	for {
		select {
		case <-waitCtx.Done():
			return
		case <-tick.C:
		}
		if ready, err := c.schemaReady(waitCtx); err != nil || !ready {
			continue
		}
		c.mu.Lock()
		if c.stopping {
			c.mu.Unlock()
			return
		}
		err := c.start(ctx)
		c.mu.Unlock()
		if err != nil {
			c.logger.ErrorContext(ctx, "jobs: starting deliveries", slog.String("error", err.Error()))
			continue
		}
		c.logger.InfoContext(ctx, "jobs: River's tables are migrated; deliveries started")
		return
	}
}

// schemaReady reports whether every River migration of this version has
// been applied.
func (c *Client) schemaReady(ctx context.Context) (bool, error) {
	res, err := c.migrator.Validate(ctx, nil)
	if err != nil {
		return false, fmt.Errorf("jobs: checking River's schema: %w", err)
	}
	return res.OK, nil
}

func (c *Client) start(ctx context.Context) error {
	if err := c.river.Start(ctx); err != nil {
		return fmt.Errorf("jobs: starting the River client: %w", err)
	}
	return nil
}

// hardStopTimeout bounds the wait for cancelled deliveries to return.
const hardStopTimeout = 5 * time.Second

// Stop stops fetching and lets running deliveries finish, up to
// Config.StopTimeout; then their contexts are cancelled (an attempt cut
// short is recorded as a failed attempt and retried by whichever process
// runs the queue next). If ctx ends first, running deliveries are cancelled
// at once.
func (c *Client) Stop(ctx context.Context) error {
	c.mu.Lock()
	c.stopping = true
	cancelWait, waited := c.cancelWait, c.waited
	c.mu.Unlock()
	if cancelWait != nil {
		cancelWait()
		<-waited
	}
	err := c.river.Stop(ctx)
	if err == nil || !errors.Is(err, ctx.Err()) {
		return err
	}
	c.logger.WarnContext(ctx, "jobs: deliveries still running at the end of the stop; cancelling them")
	hardCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), hardStopTimeout)
	defer cancel()
	if err := c.river.StopAndCancel(hardCtx); err != nil {
		return fmt.Errorf("jobs: stopping the River client: %w", err)
	}
	return nil
}

// River is the underlying River client, for subscriptions and tests.
func (c *Client) River() *river.Client[pgx.Tx] { return c.river }
