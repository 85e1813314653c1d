package server

import (
	"net/http"
	"regexp"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/chatty/chatty/internal/auth"
	"github.com/chatty/chatty/internal/database"
)

// metrics are the Prometheus series chatty exports on /metrics.
type metrics struct {
	registry      *prometheus.Registry
	requests      *prometheus.CounterVec
	latency       *prometheus.HistogramVec
	graphqlErrors *prometheus.CounterVec
	websockets    prometheus.Gauge
	// upgrades counts WebSocket upgrade requests by status (101 when
	// accepted); they stay out of requests and latency, as a socket's
	// "request" lasts as long as the socket.
	upgrades *prometheus.CounterVec
}

func newMetrics() *metrics {
	m := &metrics{
		registry: prometheus.NewRegistry(),
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "chatty_http_requests_total",
			Help: "HTTP requests served, by route, method and status code (WebSocket upgrades excluded).",
		}, []string{"route", "method", "code"}),
		latency: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "chatty_http_request_duration_seconds",
			Help:    "Time to serve HTTP requests, by route (WebSocket upgrades excluded).",
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
		upgrades: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "chatty_websocket_upgrades_total",
			Help: "WebSocket upgrade requests, by route and status code (101: accepted).",
		}, []string{"route", "code"}),
	}
	m.registry.MustRegister(
		m.requests, m.latency, m.graphqlErrors, m.websockets, m.upgrades,
		// Besides the defaults: the live heap, the heap goal and the GC
		// cycles (go_gc_heap_live_bytes, go_gc_heap_goal_bytes,
		// go_gc_cycles_total_gc_cycles_total). The live heap is what
		// held objects take (as of the last cycle); RSS follows the goal,
		// about twice it with GOGC=100.
		collectors.NewGoCollector(collectors.WithGoCollectorRuntimeMetrics(
			collectors.GoRuntimeMetricsRule{Matcher: regexp.MustCompile(`^/gc/(heap/live|heap/goal|cycles/total):`)})),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
	)
	return m
}

func (m *metrics) handler() http.Handler {
	return promhttp.HandlerFor(m.registry, promhttp.HandlerOpts{})
}

// watchPasswordHashes exports how many password hashes run and wait for a
// slot: a queue that stays long says CHATTY_PASSWORD_HASH_CONCURRENCY (or
// the machine) is too small for the sign-in traffic.
func (m *metrics) watchPasswordHashes(a *auth.Service) {
	m.registry.MustRegister(
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "chatty_password_hashes_running",
			Help: "Password hashes (argon2id) running now.",
		}, func() float64 { r, _ := a.PasswordHashes(); return float64(r) }),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "chatty_password_hashes_waiting",
			Help: "Requests waiting for a password hashing slot now.",
		}, func() float64 { _, w := a.PasswordHashes(); return float64(w) }),
	)
}

// watchStatements exports how many round trips the server has made to the
// database: each statement (BEGIN, COMMIT and ROLLBACK included), and a
// script of several statements once (database.Scripts, MariaDB's sends),
// so that load tests can tell what a request costs the database. The name
// stays, for dashboards.
func (m *metrics) watchStatements(db *database.DB) {
	m.registry.MustRegister(prometheus.NewCounterFunc(prometheus.CounterOpts{
		Name: "chatty_db_statements_total",
		Help: "Round trips to the database: SQL statements (BEGIN, COMMIT and ROLLBACK included), a script of several statements counting once.",
	}, func() float64 { return float64(db.Statements()) }))
}
