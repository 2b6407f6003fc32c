package telemetry

import (
	"strconv"

	"github.com/prometheus/client_golang/prometheus"

	"callconnect/domain"
)

// ExchangeMetrics counts what the integration monitor records:
//
//	callconnect_monitor_exchanges_total{direction,status_class}
//
// direction is in or out; status_class is 1xx to 5xx, or none when no
// answer came back (0) or the code is outside 100–599.
type ExchangeMetrics struct {
	exchanges *prometheus.CounterVec
}

// statusClasses are the values of the status_class label.
var statusClasses = []string{"1xx", "2xx", "3xx", "4xx", "5xx", "none"}

// NewExchangeMetrics registers the metric on reg; registering twice on one
// registerer shares it.
func NewExchangeMetrics(reg prometheus.Registerer) *ExchangeMetrics {
	m := &ExchangeMetrics{exchanges: registerOnce(reg, prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "callconnect_monitor_exchanges_total",
		Help: "Exchanges with partners recorded in the integration monitor, by direction (in, out) and status class (1xx-5xx, none).",
	}, []string{"direction", "status_class"}))}
	// Every series exists from the start, at zero.
	for _, d := range []domain.Direction{domain.Inbound, domain.Outbound} {
		for _, c := range statusClasses {
			m.exchanges.WithLabelValues(string(d), c)
		}
	}
	return m
}

// ExchangeRecorded counts one recorded exchange.
func (m *ExchangeMetrics) ExchangeRecorded(direction domain.Direction, statusCode int) {
	if direction != domain.Inbound && direction != domain.Outbound {
		return // the store refuses those; the labels stay bounded
	}
	m.exchanges.WithLabelValues(string(direction), statusClass(statusCode)).Inc()
}

func statusClass(code int) string {
	if code < 100 || code > 599 {
		return "none"
	}
	return strconv.Itoa(code/100) + "xx"
}
