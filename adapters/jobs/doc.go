// Package jobs delivers calls to partners through River, a job queue in the
// service's own PostgreSQL: the delivery job is inserted in the same
// transaction as the call (Enqueuer, the outbox), and a River client runs it
// (DeliverCallWorker) with retries, the dispatch deadline and rescue of jobs
// whose process died mid-attempt. River's tables come from the service's goose
// migrations (migrations/00003_river.sql, generated from the River library:
// see migration_test.go), so there is no second migration system.
//
// It pushes the events feed to the CRMs' event subscriptions the same way
// (events.go): a job per subscription, inserted with the subscription and
// kicked as its environment's feed grows, walks its events in order.
//
// Every constructor is an ordinary function; module.go only collects them
// for fx.
package jobs
