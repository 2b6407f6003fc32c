package main

import (
	"context"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"callconnect/adapters/postgres"
	"callconnect/domain"
)

// Size of BenchmarkBinaryMonitor.
const (
	monitorRows      = 1_000_000
	monitorDays      = 30
	monitorOtherEnv  = "other" // a tenth of the rows, so that env_id does filter
	monitorLeads     = 5_000
	monitorSamples   = 200 // pages read per p99, per page kind
	monitorWriteRate = 100 // clicks per second while the pages are read: each writes an exchange
	purgeRows        = 100_000
	purgeDayAt       = 40 // days ago: the first day to purge, the next run's the day after
	monitorRuns      = 3
)

// exchangeRows inserts rows $3..$4 of the synthetic monitor: occurred_at
// spread evenly from $1 in steps of $2 µs; ids in time order (as
// ports.Random makes them); a call has 4 exchanges; 5,000 leads; statuses
// 200 (70 %), 401, 422, 503 and no answer; every tenth row of the other
// environment.
var exchangeRows = `INSERT INTO exchanges (id, env_id, direction, method, url, status_code, duration_ms, call_id, lead_id,
		occurred_at, request_headers, request_body, response_body, error)
	SELECT 'PREFIX' || lpad(g::text, 10, '0'),
		CASE WHEN g % 10 = 0 THEN '` + monitorOtherEnv + `' ELSE 'acme' END,
		CASE WHEN g % 2 = 0 THEN 'out' ELSE 'in' END,
		'POST', 'https://partner.example.com/calls',
		CASE WHEN g % 20 < 14 THEN 200 WHEN g % 20 < 16 THEN 401 WHEN g % 20 < 17 THEN 422 WHEN g % 20 < 19 THEN 503 ELSE 0 END,
		g % 900, 'c' || (g / 4), 'l' || (g % ` + strconv.Itoa(monitorLeads) + `),
		$1::timestamptz + (g * $2::bigint) * interval '1 microsecond',
		'{"Content-Type": ["application/json"], "Webhook-Signature": ["[redacted]"]}',
		'{"idligacao": "c' || (g / 4) || '", "telefone": "48999476359", "corretor": {"nome": "Corretor"}}',
		'{"ok": true}', NULL
	FROM generate_series($3::bigint, $4::bigint) AS g`

// BenchmarkBinaryMonitor measures the integration monitor of the built
// binary at 1,000,000 exchanges over 30 days, and the purge of a day of
// 100,000.
//
// Set-up, once: a database migrated by the binary, the exchanges made by
// SQL (generate_series, no round trip per row) into their day partitions,
// three days of 100,000 to purge 40 to 42 days ago, and the same rows in
// a plain table built as migration 00002 built exchanges, before
// partitioning (its indexes do not serve a DELETE by time, as the
// retention's DELETE would run there); then VACUUM ANALYZE. The service
// keeps exchanges for 10 years here, so that it purges nothing itself.
//
// Then three runs, each with clicks arriving at monitorWriteRate per
// second through the API (each delivery writes an exchange):
//   - first-page-p99-ms, filtered-page-p99-ms: the p99 of monitorSamples
//     GETs of the monitor's first page over HTTP, unfiltered and filtered
//     (direction=out, status=5xx), read one after the other (and their
//     medians, first-page-p50-ms and filtered-page-p50-ms);
//   - the purge of one day: DetachExchangeDays (DETACH PARTITION ...
//     CONCURRENTLY, the only step that holds a lock on exchanges: SHARE
//     UPDATE EXCLUSIVE, which holds up DDL on it such as attaching a new
//     day, and no read or write), purge-ms, then DropDetachedExchangeDays
//     (DROP TABLE of the detached day, which frees its files and locks
//     nothing anyone else uses), purge+drop-ms; beside them, the DELETE of
//     the same rows from the plain table, delete-ms, and the VACUUM that
//     makes their space reusable, delete+vacuum-ms;
//   - purge-read-max-ms: the slowest first page read over HTTP by a reader
//     looping while the purge ran (read-p50-ms and read-max-outside-ms
//     are the same reader's median and slowest in the second before and
//     after it), to show whether the purge held anyone up.
//
// writes/s is the rate the clicks reached.
//
//	go test ./cmd/callconnect -run '^$' -bench BinaryMonitor -benchtime 1x
func BenchmarkBinaryMonitor(b *testing.B) {
	ctx := context.Background()
	db := benchDatabase(b, clusterURL(b, nonDurable))
	pool := benchPool(b, db)
	partner := newBenchPartner(b)
	c := benchHTTP(b)
	svc := api{p: benchService(b, db, "CALLCONNECT_MONITOR_RETENTION=87600h"), c: c}
	// The clicks go round 2,000 leads: a lead's turn comes 20 s after its
	// last call, long delivered.
	svc.setUp(b, partner.url(), 2000)
	svc.call(b, 200, "PUT", "/v1/environments/"+monitorOtherEnv, `{"name":"Other","public_base_url":"https://other.example.com"}`)

	setupStart := time.Now()
	now := time.Now().UTC()
	from := now.AddDate(0, 0, -monitorDays)
	firstPurgeDay := domain.DayStart(now.AddDate(0, 0, -purgeDayAt-monitorRuns+1))
	purgeDay := func(run int) time.Time { return firstPurgeDay.AddDate(0, 0, run) }
	exec := func(sql string, args ...any) {
		if _, err := pool.Exec(ctx, sql, args...); err != nil {
			b.Fatalf("%v\n%.300s", err, sql)
		}
	}
	addDays := `SELECT exchanges_add_partition(d::date) FROM generate_series($1::date, $2::date, interval '1 day') AS d`
	exec(addDays, from, now.AddDate(0, 0, 1))
	exec(addDays, purgeDay(0), purgeDay(monitorRuns-1))
	step := int64(monitorDays * 24 * time.Hour / time.Microsecond / monitorRows)
	for lo := int64(1); lo <= monitorRows; lo += 100_000 {
		exec(strings.Replace(exchangeRows, "PREFIX", "x", 1), from, step, lo, min(lo+100_000-1, monitorRows))
	}
	for run := range monitorRuns {
		exec(strings.Replace(exchangeRows, "PREFIX", fmt.Sprintf("p%d", run), 1),
			purgeDay(run), int64(24*time.Hour/time.Microsecond/purgeRows), 0, purgeRows-1)
	}
	exec(`CREATE TABLE exchanges_plain (LIKE exchanges INCLUDING DEFAULTS INCLUDING CONSTRAINTS);
		ALTER TABLE exchanges_plain ADD PRIMARY KEY (id), ADD FOREIGN KEY (env_id) REFERENCES environments (id);
		CREATE INDEX ON exchanges_plain (env_id, occurred_at DESC, id DESC);
		CREATE INDEX ON exchanges_plain (env_id, call_id) WHERE call_id IS NOT NULL;`)
	exec(`INSERT INTO exchanges_plain SELECT * FROM exchanges`)
	exec(`VACUUM ANALYZE exchanges`)
	exec(`VACUUM ANALYZE exchanges_plain`)
	for run := range monitorRuns {
		var inDay, inPlain int
		if err := pool.QueryRow(ctx, `SELECT (SELECT count(*) FROM exchanges WHERE occurred_at >= $1 AND occurred_at < $2),
			(SELECT count(*) FROM exchanges_plain WHERE occurred_at >= $1 AND occurred_at < $2)`,
			purgeDay(run), purgeDay(run+1)).Scan(&inDay, &inPlain); err != nil {
			b.Fatal(err)
		}
		if inDay != purgeRows || inPlain != purgeRows {
			b.Fatalf("day to purge %d holds %d rows partitioned and %d plain, want %d each", run, inDay, inPlain, purgeRows)
		}
	}
	b.Logf("set-up: %d exchanges over %d days and %d days of %d to purge, in %s",
		monitorRows, monitorDays, monitorRuns, purgeRows, time.Since(setupStart).Round(time.Second))
	store, err := postgres.NewStore(pool, make([]byte, 32))
	if err != nil {
		b.Fatal(err)
	}

	// page reads one page over HTTP and returns how long it took.
	page := func(query string) (time.Duration, error) {
		start := time.Now()
		code, got, err := request(c, "GET", svc.url("/v1/environments/acme/monitor/exchanges"+query), nil,
			"Authorization", "Bearer "+testAdminToken)
		took := time.Since(start)
		if err != nil {
			return 0, err
		}
		var list struct {
			Items []json.RawMessage `json:"items"`
		}
		if code != 200 || json.Unmarshal(got, &list) != nil || len(list.Items) == 0 {
			return 0, fmt.Errorf("monitor page %q: %d %.300s", query, code, got)
		}
		return took, nil
	}
	const filtered = "?direction=out&status=5xx"

	for run := range monitorRuns {
		b.Run(fmt.Sprintf("run=%d", run+1), func(b *testing.B) {
			// The writes: clicks at a steady rate until the run ends.
			stopWrites := make(chan struct{})
			var clicked atomic.Int64
			var writeErr error
			var writes sync.WaitGroup
			writeStart := time.Now()
			writes.Go(func() {
				tick := time.NewTicker(time.Second / monitorWriteRate)
				defer tick.Stop()
				var inFlight sync.WaitGroup
				defer inFlight.Wait()
				var once sync.Once
				for {
					select {
					case <-stopWrites:
						return
					case <-tick.C:
					}
					inFlight.Go(func() {
						if _, err := svc.click(); err != nil {
							once.Do(func() { writeErr = err })
							return
						}
						clicked.Add(1)
					})
				}
			})
			defer func() {
				select {
				case <-stopWrites:
				default:
					close(stopWrites)
				}
				writes.Wait()
			}()

			for range 10 {
				for _, q := range []string{"", filtered} {
					if _, err := page(q); err != nil {
						b.Fatal(err)
					}
				}
			}
			var first, filter []time.Duration
			for range monitorSamples {
				d, err := page("")
				if err != nil {
					b.Fatal(err)
				}
				first = append(first, d)
				if d, err = page(filtered); err != nil {
					b.Fatal(err)
				}
				filter = append(filter, d)
			}

			// The purge, with a reader looping on the first page.
			day := purgeDay(run)
			stopReader := make(chan struct{})
			type read struct {
				at   time.Time
				took time.Duration
			}
			var reads []read
			var readErr error
			var reader sync.WaitGroup
			reader.Go(func() {
				for {
					select {
					case <-stopReader:
						return
					default:
					}
					at := time.Now()
					d, err := page("")
					if err != nil {
						readErr = err
						return
					}
					reads = append(reads, read{at, d})
				}
			})
			time.Sleep(time.Second) // shapes load: a second of the reader's pace without a purge
			purgeStart := time.Now()
			detached, err := store.DetachExchangeDays(ctx, day.Add(24*time.Hour))
			purge := time.Since(purgeStart)
			if err != nil || len(detached) != 1 || !detached[0].Equal(day) {
				b.Fatalf("DetachExchangeDays: %v, %v; want %s only", detached, err, day)
			}
			dropStart := time.Now()
			dropped, err := store.DropDetachedExchangeDays(ctx, day.Add(24*time.Hour))
			drop := time.Since(dropStart)
			purgeEnd := time.Now()
			if err != nil || len(dropped) != 1 || !dropped[0].Equal(day) {
				b.Fatalf("DropDetachedExchangeDays: %v, %v; want %s only", dropped, err, day)
			}
			time.Sleep(time.Second) // shapes load: a second of the reader's pace after the purge
			close(stopReader)
			reader.Wait()
			if readErr != nil {
				b.Fatal(readErr)
			}
			var during, outside []time.Duration
			for _, r := range reads {
				if r.at.Before(purgeEnd) && r.at.Add(r.took).After(purgeStart) {
					during = append(during, r.took)
				} else {
					outside = append(outside, r.took)
				}
			}
			if len(during) == 0 || len(outside) == 0 {
				b.Fatalf("the reader read %d pages during the purge and %d outside it", len(during), len(outside))
			}

			deleteStart := time.Now()
			tag, err := pool.Exec(ctx, `DELETE FROM exchanges_plain WHERE occurred_at >= $1 AND occurred_at < $2`, day, day.Add(24*time.Hour))
			del := time.Since(deleteStart)
			if err != nil || tag.RowsAffected() != purgeRows {
				b.Fatalf("DELETE: %d rows, %v", tag.RowsAffected(), err)
			}
			vacuumStart := time.Now()
			exec(`VACUUM exchanges_plain`)
			vacuum := time.Since(vacuumStart)

			close(stopWrites)
			writes.Wait()
			if writeErr != nil {
				b.Fatal(writeErr)
			}
			b.ReportMetric(ms(percentile(first, 99)), "first-page-p99-ms")
			b.ReportMetric(ms(percentile(filter, 99)), "filtered-page-p99-ms")
			b.ReportMetric(ms(percentile(first, 50)), "first-page-p50-ms")
			b.ReportMetric(ms(percentile(filter, 50)), "filtered-page-p50-ms")
			b.ReportMetric(float64(clicked.Load())/time.Since(writeStart).Seconds(), "writes/s")
			b.ReportMetric(ms(purge), "purge-ms")
			b.ReportMetric(ms(purge+drop), "purge+drop-ms")
			b.ReportMetric(ms(del), "delete-ms")
			b.ReportMetric(ms(del+vacuum), "delete+vacuum-ms")
			b.ReportMetric(ms(percentile(during, 100)), "purge-read-max-ms")
			b.ReportMetric(ms(percentile(outside, 50)), "read-p50-ms")
			b.ReportMetric(ms(percentile(outside, 100)), "read-max-outside-ms")
		})
	}
	svc.p.stop(b)
}

// BenchmarkBinaryColdStart times the built binary from its start to the
// first 200 of /readyz, on an empty database: the migrations are part of
// it. The binary is built before the clock starts. Reported: readyz-ms.
//
//	go test ./cmd/callconnect -run '^$' -bench BinaryColdStart -benchtime 1x -count 3
func BenchmarkBinaryColdStart(b *testing.B) {
	db := benchDatabase(b, clusterURL(b, nonDurable))
	if _, err := buildBinary(); err != nil {
		b.Fatal(err)
	}
	c := benchHTTP(b)
	b.ResetTimer()
	start := time.Now()
	p := benchService(b, db)
	tick := time.NewTicker(2 * time.Millisecond)
	defer tick.Stop()
	for {
		code, _, err := request(c, "GET", "http://"+p.addr+"/readyz", nil)
		if err == nil && code == 200 {
			break
		}
		if time.Since(start) > time.Minute {
			b.Fatalf("/readyz not 200 within a minute: %d %v", code, err)
		}
		<-tick.C
	}
	ready := time.Since(start)
	b.StopTimer()
	b.ReportMetric(ms(ready), "readyz-ms")
	p.stop(b)
}
