package server

import (
	"net/http"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// metrics are the Prometheus series chatty exports on /metrics.
type metrics struct {
	registry      *prometheus.Registry
	requests      *prometheus.CounterVec
	latency       *prometheus.HistogramVec
	graphqlErrors *prometheus.CounterVec
	websockets    prometheus.Gauge
}

func newMetrics() *metrics {
	m := &metrics{
		registry: prometheus.NewRegistry(),
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "chatty_http_requests_total",
			Help: "HTTP requests served, by route, method and status code.",
		}, []string{"route", "method", "code"}),
		latency: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "chatty_http_request_duration_seconds",
			Help:    "Time to serve HTTP requests, by route.",
			Buckets: prometheus.DefBuckets,
		}, []string{"route"}),
		graphqlErrors: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "chatty_graphql_errors_total",
			Help: "Errors in GraphQL responses, by extensions.code.",
		}, []string{"code"}),
		websockets: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "chatty_websocket_connections",
			Help: "WebSocket connections open now.",
		}),
	}
	m.registry.MustRegister(
		m.requests, m.latency, m.graphqlErrors, m.websockets,
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
	)
	return m
}

func (m *metrics) handler() http.Handler {
	return promhttp.HandlerFor(m.registry, promhttp.HandlerOpts{})
}
