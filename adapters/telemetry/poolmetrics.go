package telemetry

import (
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/prometheus/client_golang/prometheus"
)

// poolCollector exports a pgx pool's statistics, read when scraped:
//
//	callconnect_db_pool_acquired_conns                 connections in use now
//	callconnect_db_pool_idle_conns                     connections open and free now
//	callconnect_db_pool_total_conns                    connections open now (acquired, idle, being opened)
//	callconnect_db_pool_max_conns                      the pool's size limit
//	callconnect_db_pool_acquires_total                 connections handed out
//	callconnect_db_pool_acquire_duration_seconds_total time spent waiting for them
//	callconnect_db_pool_empty_acquires_total           acquires that found no free connection and waited
//	callconnect_db_pool_empty_acquire_wait_seconds_total time those waited
//	callconnect_db_pool_canceled_acquires_total        acquires given up (their context ended first)
//
// A pool short of connections shows as acquired = max with empty acquires
// and their wait climbing.
type poolCollector struct {
	pool  *pgxpool.Pool
	descs []poolMetric
}

type poolMetric struct {
	desc  *prometheus.Desc
	kind  prometheus.ValueType
	value func(*pgxpool.Stat) float64
}

// RegisterPoolMetrics registers the metrics of pool on reg.
func RegisterPoolMetrics(reg prometheus.Registerer, pool *pgxpool.Pool) error {
	metric := func(name, help string, kind prometheus.ValueType, value func(*pgxpool.Stat) float64) poolMetric {
		return poolMetric{desc: prometheus.NewDesc("callconnect_db_pool_"+name, help, nil, nil), kind: kind, value: value}
	}
	gauge, counter := prometheus.GaugeValue, prometheus.CounterValue
	return reg.Register(&poolCollector{pool: pool, descs: []poolMetric{
		metric("acquired_conns", "PostgreSQL connections in use.", gauge, func(s *pgxpool.Stat) float64 { return float64(s.AcquiredConns()) }),
		metric("idle_conns", "PostgreSQL connections open and free.", gauge, func(s *pgxpool.Stat) float64 { return float64(s.IdleConns()) }),
		metric("total_conns", "PostgreSQL connections open or being opened.", gauge, func(s *pgxpool.Stat) float64 { return float64(s.TotalConns()) }),
		metric("max_conns", "The pool's limit of PostgreSQL connections.", gauge, func(s *pgxpool.Stat) float64 { return float64(s.MaxConns()) }),
		metric("acquires_total", "Connections handed out by the pool.", counter, func(s *pgxpool.Stat) float64 { return float64(s.AcquireCount()) }),
		metric("acquire_duration_seconds_total", "Time spent acquiring connections.", counter,
			func(s *pgxpool.Stat) float64 { return s.AcquireDuration().Seconds() }),
		metric("empty_acquires_total", "Acquires that found no free connection and had to wait.", counter,
			func(s *pgxpool.Stat) float64 { return float64(s.EmptyAcquireCount()) }),
		metric("empty_acquire_wait_seconds_total", "Time the acquires that found no free connection waited.", counter,
			func(s *pgxpool.Stat) float64 { return s.EmptyAcquireWaitTime().Seconds() }),
		metric("canceled_acquires_total", "Acquires given up because their context ended.", counter,
			func(s *pgxpool.Stat) float64 { return float64(s.CanceledAcquireCount()) }),
	}})
}

func (c *poolCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, m := range c.descs {
		ch <- m.desc
	}
}

func (c *poolCollector) Collect(ch chan<- prometheus.Metric) {
	stat := c.pool.Stat()
	for _, m := range c.descs {
		ch <- prometheus.MustNewConstMetric(m.desc, m.kind, m.value(stat))
	}
}
