package jobs

import (
	"errors"

	"github.com/prometheus/client_golang/prometheus"

	"callconnect/app"
	"callconnect/domain"
)

// Metrics are the delivery metrics, registered on a prometheus.Registerer:
//
//	callconnect_delivery_attempts_total{verdict}   requests sent to partners, by what the answer meant:
//	                                               delivered, retry or permanent
//	callconnect_delivery_outcomes_total{status}    what each run left the call as: delivered,
//	                                               undeliverable, or retry (queued for another attempt)
//	callconnect_click_to_partner_seconds           from the click to the partner's 2xx
type Metrics struct {
	attempts       *prometheus.CounterVec
	outcomes       *prometheus.CounterVec
	clickToPartner prometheus.Histogram
}

// Label values.
const (
	verdictDelivered = "delivered"
	verdictRetry     = "retry"
	verdictPermanent = "permanent"

	outcomeDelivered     = "delivered"
	outcomeUndeliverable = "undeliverable"
	outcomeRetry         = "retry"
)

// clickToPartnerBuckets span 1 ms (a partner on the same network, picked up
// at once) to 60 s (retries late in a dispatch window), roughly ×2.5 apart.
var clickToPartnerBuckets = []float64{.001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30, 60}

// NewMetrics registers the delivery metrics on reg. Registering twice on one
// registerer shares the metrics (a second worker in a process, a test).
func NewMetrics(reg prometheus.Registerer) (*Metrics, error) {
	m := &Metrics{
		attempts: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "callconnect_delivery_attempts_total",
			Help: "Delivery requests sent to partners, by verdict of the answer (delivered, retry, permanent).",
		}, []string{"verdict"}),
		outcomes: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "callconnect_delivery_outcomes_total",
			Help: "Delivery runs by what they left the call as (delivered, undeliverable, retry).",
		}, []string{"status"}),
		clickToPartner: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "callconnect_click_to_partner_seconds",
			Help:    "Time from the click (Ligar) to the partner's 2xx answer.",
			Buckets: clickToPartnerBuckets,
		}),
	}
	var err error
	if m.attempts, err = registerOnce(reg, m.attempts); err != nil {
		return nil, err
	}
	if m.outcomes, err = registerOnce(reg, m.outcomes); err != nil {
		return nil, err
	}
	if m.clickToPartner, err = registerOnce(reg, m.clickToPartner); err != nil {
		return nil, err
	}
	// Every series exists from the start, at zero, so that rates and alerts
	// work before the first event.
	for _, v := range []string{verdictDelivered, verdictRetry, verdictPermanent} {
		m.attempts.WithLabelValues(v)
	}
	for _, s := range []string{outcomeDelivered, outcomeUndeliverable, outcomeRetry} {
		m.outcomes.WithLabelValues(s)
	}
	return m, nil
}

func registerOnce[C prometheus.Collector](reg prometheus.Registerer, c C) (C, error) {
	if err := reg.Register(c); err != nil {
		var already prometheus.AlreadyRegisteredError
		if errors.As(err, &already) {
			if existing, ok := already.ExistingCollector.(C); ok {
				return existing, nil
			}
		}
		return c, err
	}
	return c, nil
}

// observe records one run of Deliver.
func (m *Metrics) observe(out app.DeliveryOutcome) {
	if m == nil {
		return
	}
	if out.Attempted {
		m.attempts.WithLabelValues(verdictLabel(out.Verdict)).Inc()
	}
	switch {
	case out.RetryIn > 0:
		m.outcomes.WithLabelValues(outcomeRetry).Inc()
	case out.Attempted && out.Call.Status() == domain.CallDelivered:
		m.outcomes.WithLabelValues(outcomeDelivered).Inc()
		if out.ClickToPartner > 0 {
			m.clickToPartner.Observe(out.ClickToPartner.Seconds())
		}
	case out.Call.Status() == domain.CallUndeliverable:
		// Without an attempt too: the deadline passed while the call
		// waited, or the integration was switched off.
		m.outcomes.WithLabelValues(outcomeUndeliverable).Inc()
	}
}

func verdictLabel(v domain.Verdict) string {
	switch v {
	case domain.VerdictDelivered:
		return verdictDelivered
	case domain.VerdictRetry:
		return verdictRetry
	}
	return verdictPermanent
}

// batchRunMetrics count the work of a periodic job that handles rows a
// batch at a time: its runs by result (ok, cut_short or failed) and the
// rows it handled.
type batchRunMetrics struct {
	runs  *prometheus.CounterVec
	items prometheus.Counter
}

// newBatchRunMetrics registers the two counters on reg (sharing them when
// registered twice); runs gets the label "result".
func newBatchRunMetrics(reg prometheus.Registerer, runs, items prometheus.CounterOpts) (batchRunMetrics, error) {
	m := batchRunMetrics{runs: prometheus.NewCounterVec(runs, []string{"result"}), items: prometheus.NewCounter(items)}
	var err error
	if m.runs, err = registerOnce(reg, m.runs); err != nil {
		return batchRunMetrics{}, err
	}
	if m.items, err = registerOnce(reg, m.items); err != nil {
		return batchRunMetrics{}, err
	}
	for _, result := range []string{"ok", "cut_short", "failed"} {
		m.runs.WithLabelValues(result)
	}
	return m, nil
}

// recordBatchRun counts a run that handled n rows (m may be nil) and
// returns what the job returns: a run cut short is no failure, and the
// next run goes on.
func recordBatchRun(m *batchRunMetrics, n int64, cutShort bool, err error) error {
	result := "ok"
	switch {
	case cutShort:
		result, err = "cut_short", nil
	case err != nil:
		result = "failed"
	}
	if m != nil {
		m.items.Add(float64(n))
		m.runs.WithLabelValues(result).Inc()
	}
	return err
}
