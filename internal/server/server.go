// Package server builds chatty's http.Handler: the GraphQL endpoint with its
// transports and limits, GraphiQL, health, readiness and metrics.
package server

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"net/netip"
	"strings"
	"sync"
	"time"

	"github.com/99designs/gqlgen/graphql"
	"github.com/99designs/gqlgen/graphql/handler"
	"github.com/99designs/gqlgen/graphql/handler/extension"
	"github.com/99designs/gqlgen/graphql/handler/lru"
	"github.com/99designs/gqlgen/graphql/handler/transport"
	"github.com/gorilla/websocket"
	"github.com/vektah/gqlparser/v2/ast"
	"github.com/vektah/gqlparser/v2/gqlerror"

	"github.com/chatty/chatty/graph"
	"github.com/chatty/chatty/internal/auth"
	"github.com/chatty/chatty/internal/chat"
	"github.com/chatty/chatty/internal/database"
	"github.com/chatty/chatty/internal/pubsub"
	"github.com/chatty/chatty/internal/upload"
	"github.com/chatty/chatty/web"
)

// Limits on what one request may ask.
type Limits struct {
	// MaxBodyBytes caps a JSON request body (1 MiB).
	MaxBodyBytes int64
	// MaxUploadBytes caps a multipart request with files (25 MiB).
	MaxUploadBytes int64
	// MaxFields caps the fields and fragments an operation expands to,
	// each fragment counted every time it is spread (10000).
	MaxFields int
	// MaxFragments caps the fragments a document defines (100).
	MaxFragments int
	// MaxDepth caps how deep an operation nests (12).
	MaxDepth int
	// MaxAliases caps the aliases in an operation (30).
	MaxAliases int
	// MaxComplexity caps gqlgen's complexity score (5000).
	MaxComplexity int
	// MaxTokens caps the tokens the parser reads (5000).
	MaxTokens int
	// WebSocket: ping every WSPingInterval (25 s; silent for two is dead),
	// connection_init within WSInitTimeout (10 s), writes within
	// WSWriteTimeout (10 s), at most WSMaxSubscriptions operations per
	// connection (100), messages of at most WSReadLimit bytes (64 KiB).
	WSPingInterval, WSInitTimeout, WSWriteTimeout time.Duration
	WSMaxSubscriptions                            int
	WSReadLimit                                   int64
}

// Config is what the handler is built from.
type Config struct {
	Logger *slog.Logger
	DB     *database.DB
	Auth   *auth.Service
	Chat   *chat.Service
	// PublicURL is the base of absolute URLs; its origin is always allowed.
	PublicURL string
	// AllowedOrigins are further browser origins allowed to call the API ("*": any).
	AllowedOrigins []string
	// TrustedProxies are the addresses of proxies (load balancers) whose
	// X-Forwarded-For is believed; from anyone else it is ignored.
	TrustedProxies []netip.Prefix
	// Signer signs and checks the URLs of attachments.
	Signer upload.Signer
	Limits Limits
	// NoIntrospection refuses __schema and __type queries (GraphiQL then
	// can't load the schema).
	NoIntrospection bool
	// MetricsApart leaves /metrics off the handler: it is served on its own
	// address, through MetricsHandler.
	MetricsApart bool
	// DBTimeout bounds the database work of one request: an HTTP request,
	// or one query or mutation over a WebSocket (a subscription lives on).
	// Past it the client gets SERVICE_UNAVAILABLE (10 s).
	DBTimeout time.Duration
	// Timeouts of the http.Server that HTTPServer builds.
	Timeouts Timeouts
	// Redis, when the deployment has one, holds what the instances share
	// besides live events: persisted queries.
	Redis *pubsub.Redis
}

// Server is chatty's HTTP side.
type Server struct {
	cfg     Config
	log     *slog.Logger
	metrics *metrics
	origins *originPolicy
	sockets *wsRegistry
	handler http.Handler
	// pool is the pool's waits as of the last /readyz.
	pool poolSample
}

// New builds the server.
func New(cfg Config) *Server {
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	l := &cfg.Limits
	setDefault(&l.MaxBodyBytes, 1<<20)
	setDefault(&l.MaxUploadBytes, defaultMaxUploadBytes)
	setDefault(&l.MaxFields, 10000)
	setDefault(&l.MaxFragments, 100)
	setDefault(&l.MaxDepth, 12)
	setDefault(&l.MaxAliases, 30)
	setDefault(&l.MaxComplexity, 5000)
	setDefault(&l.MaxTokens, 5000)
	setDefault(&l.WSPingInterval, 25*time.Second)
	setDefault(&l.WSInitTimeout, 10*time.Second)
	setDefault(&l.WSWriteTimeout, 10*time.Second)
	setDefault(&l.WSMaxSubscriptions, defaultWSMaxSubsPerConn)
	setDefault(&l.WSReadLimit, 64<<10)
	setDefault(&cfg.DBTimeout, 10*time.Second)
	setDefault(&cfg.Timeouts.ReadHeader, DefaultTimeouts.ReadHeader)
	setDefault(&cfg.Timeouts.Read, DefaultTimeouts.Read)
	setDefault(&cfg.Timeouts.Write, DefaultTimeouts.Write)
	setDefault(&cfg.Timeouts.Idle, DefaultTimeouts.Idle)

	s := &Server{
		cfg:     cfg,
		log:     cfg.Logger,
		metrics: newMetrics(),
		origins: newOriginPolicy(cfg.PublicURL, cfg.AllowedOrigins),
	}
	if cfg.Auth != nil {
		s.metrics.watchPasswordHashes(cfg.Auth)
	}
	if cfg.DB != nil {
		s.metrics.watchStatements(cfg.DB)
	}
	s.sockets = &wsRegistry{conns: map[*wsConn]struct{}{}, gauge: s.metrics.websockets}
	mux := http.NewServeMux()
	gql := s.graphQL()
	mux.Handle("/graphql", s.instrument("graphql", s.cors(s.limitBody(s.requestContext(s.webSockets(gql))))))
	mux.Handle("GET /graphql/schema.graphql", s.instrument("schema", s.cors(s.serveSchema())))
	// Files, thumbnails and avatars may be fetched by allowed origins
	// (fileCORS answers their preflights too).
	for pattern, h := range map[string]http.Handler{
		"/files/{id}/{name}": s.serveFile(false),
		"/thumbnails/{id}":   s.serveFile(true),
		"/avatars/{id}":      http.HandlerFunc(s.serveAvatar),
	} {
		h = s.instrument("files", s.fileCORS(h))
		mux.Handle("GET "+pattern, h)
		mux.Handle("OPTIONS "+pattern, h)
	}
	mux.Handle("GET /healthz", s.instrument("healthz", http.HandlerFunc(s.healthz)))
	mux.Handle("GET /readyz", s.instrument("readyz", http.HandlerFunc(s.readyz)))
	if !cfg.MetricsApart {
		mux.Handle("GET /metrics", s.metrics.handler())
	}
	mux.Handle("GET /widget.js", s.instrument("widget", widgetHandler))
	mux.Handle("GET /playground", http.RedirectHandler("/", http.StatusMovedPermanently))
	mux.Handle("GET /app", http.RedirectHandler(webAppPrefix, http.StatusMovedPermanently))
	mux.Handle(webAppPrefix, s.instrument("app", webApp(web.Dist(), cfg.PublicURL)))
	mux.Handle("/", s.instrument("graphiql", graphiQL("/graphql")))
	s.handler = s.withClient(s.recover(mux))
	return s
}

func setDefault[T int | int64 | time.Duration](v *T, def T) {
	if *v == 0 {
		*v = def
	}
}

// CloseWebSockets closes every WebSocket with 1001 (going away): for
// http.Server.RegisterOnShutdown, as Shutdown does not touch hijacked
// connections. Clients reconnect (to another instance) and resume.
func (s *Server) CloseWebSockets() { s.sockets.closeAll(closeGoingAway, "server shutting down") }

// Handler returns the root http.Handler.
func (s *Server) Handler() http.Handler { return s.handler }

// MetricsHandler serves the Prometheus metrics, for a listener of its own
// (with Config.MetricsApart).
func (s *Server) MetricsHandler() http.Handler {
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", s.metrics.handler())
	return mux
}

// graphQL builds gqlgen's handler: transports, limits, errors.
func (s *Server) graphQL() http.Handler {
	resolver := &graph.Resolver{
		DB:        s.cfg.DB.Client,
		Auth:      s.cfg.Auth,
		Chat:      s.cfg.Chat,
		PublicURL: s.cfg.PublicURL,
		Files:     graph.Files{Signer: s.cfg.Signer, PublicURL: s.cfg.PublicURL},
	}
	srv := handler.New(graph.NewSchema(resolver))
	srv.AddTransport(transport.Options{})
	// WebSockets: chatty's own transport (websocket.go), light per idle socket.
	srv.AddTransport(newWSTransport(wsOptions{
		PingInterval:   s.cfg.Limits.WSPingInterval,
		WriteTimeout:   s.cfg.Limits.WSWriteTimeout,
		InitTimeout:    s.cfg.Limits.WSInitTimeout,
		MaxSubsPerConn: s.cfg.Limits.WSMaxSubscriptions,
		ReadLimit:      s.cfg.Limits.WSReadLimit,
	}, s.origins, s.sockets, s.log, s.wsInit))
	srv.AddTransport(graphQLOverHTTP{}) // GET and POST, see graphqlhttp.go
	// GraphQL multipart requests (uploads), see multipart.go.
	srv.AddTransport(uploads{
		MaxUploadSize: s.cfg.Limits.MaxUploadBytes,
		MaxFieldSize:  s.cfg.Limits.MaxBodyBytes,
		MaxMemory:     4 << 20, // larger files go to a temporary file
		// Once the body is in: the operation's deadline (six database
		// deadlines for one carrying files) and time to answer.
		WriteTimeout: uploadTimeouts*s.cfg.DBTimeout + answerMargin,
	})
	srv.AddTransport(unsupportedRequest{}) // last: 415/405 for what no transport above serves
	srv.SetQueryCache(lru.New[*ast.QueryDocument](1000))
	// Apollo's PersistedQueryLink: see apq.go. A mutator, so it runs before
	// the limits below look at the query it fills in.
	srv.Use(newPersistedQueryExtension(newPersistedQueries(s.cfg.Redis, s.log)))
	srv.SetParserTokenLimit(s.cfg.Limits.MaxTokens)
	// Too many fragments are refused before parsing (validation grows with
	// their square); the shape check is the first operation-context
	// mutator: it refuses an operation that expands exponentially before
	// anything else walks it.
	srv.Use(graph.FragmentLimit{Max: s.cfg.Limits.MaxFragments})
	srv.Use(graph.ShapeLimit{MaxFields: s.cfg.Limits.MaxFields, MaxDepth: s.cfg.Limits.MaxDepth, MaxAliases: s.cfg.Limits.MaxAliases})
	if s.cfg.NoIntrospection {
		srv.Use(noIntrospection{})
	} else {
		srv.Use(extension.Introspection{})
	}
	srv.Use(&graph.ComplexityLimit{Max: s.cfg.Limits.MaxComplexity}) // gqlgen's, without stats a subscription would keep
	srv.AroundOperations(s.operationDeadline)
	srv.AroundOperations(resolver.Loaders())
	srv.Use(&graph.LiveResponses{Chat: s.cfg.Chat}) // subscriptions: one execution per event and operation
	srv.Use(&graph.PageEdges{})                     // a primed page of messages: its edges in order, no goroutine each
	srv.SetErrorPresenter(graph.ErrorPresenter(s.log))
	srv.SetRecoverFunc(graph.Recover(s.log))
	srv.AroundResponses(func(ctx context.Context, next graphql.ResponseHandler) *graphql.Response {
		resp := next(ctx)
		if resp != nil {
			for _, e := range resp.Errors {
				code, _ := e.Extensions["code"].(string)
				s.metrics.graphqlErrors.WithLabelValues(code).Inc()
			}
		}
		return resp
	})
	return srv
}

func (s *Server) healthz(w http.ResponseWriter, _ *http.Request) {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	_, _ = w.Write([]byte("ok\n"))
}

// readyz answers 200 while the database answers within a second and the
// pool has a connection to spare; 503 (with the reason) when every
// connection is in use and requests waited for one half a second on
// average since the last check, or when a ping does not come back in
// time, so a load balancer sends traffic elsewhere while this instance is
// stalled (a busy pool whose waits are short stays ready).
func (s *Server) readyz(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	st := s.cfg.DB.SQL.Stats()
	waits, waited := s.pool.since(st.WaitCount, st.WaitDuration)
	if st.MaxOpenConnections > 0 && st.InUse >= st.MaxOpenConnections && waits > 0 && waited/time.Duration(waits) >= readyPingTimeout/2 {
		s.log.WarnContext(r.Context(), "not ready: database pool exhausted", "in_use", st.InUse, "max_open", st.MaxOpenConnections, "waits", waits, "waited", waited)
		w.WriteHeader(http.StatusServiceUnavailable)
		_, _ = w.Write([]byte("database pool exhausted\n"))
		return
	}
	ctx, cancel := context.WithTimeout(r.Context(), readyPingTimeout)
	defer cancel()
	if err := s.cfg.DB.Ping(ctx); err != nil {
		s.log.WarnContext(ctx, "not ready: database does not answer", "err", err)
		w.WriteHeader(http.StatusServiceUnavailable)
		_, _ = w.Write([]byte("database unavailable\n"))
		return
	}
	_, _ = w.Write([]byte("ready\n"))
}

// readyPingTimeout is how long /readyz waits for the database.
const readyPingTimeout = time.Second

// poolSample remembers the pool's wait counters between /readyz checks.
type poolSample struct {
	mu     sync.Mutex
	count  int64
	waited time.Duration
}

// since returns the waits for a connection, and their total time, since
// the last call, and remembers these counters.
func (p *poolSample) since(count int64, waited time.Duration) (int64, time.Duration) {
	p.mu.Lock()
	defer p.mu.Unlock()
	dc, dw := count-p.count, waited-p.waited
	p.count, p.waited = count, waited
	return dc, dw
}

// requestContext gives a request to /graphql its viewer (auth's
// RequestContext) and bounds a plain HTTP request (its token check and
// its operation) by DBTimeout, in one copy of the request. A WebSocket
// gets no deadline here (each of its operations gets one from
// operationDeadline), nor does a multipart upload, whose body may take
// longer than that to arrive: its operation's deadline starts once the
// body is in.
func (s *Server) requestContext(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ctx := r.Context()
		if ct := r.Header.Get("Content-Type"); !websocket.IsWebSocketUpgrade(r) && (isPlainJSON(ct) || !strings.HasPrefix(strings.ToLower(ct), "multipart/")) {
			var cancel context.CancelFunc
			ctx, cancel = context.WithTimeout(ctx, s.cfg.DBTimeout)
			defer cancel()
		}
		next.ServeHTTP(w, r.WithContext(s.cfg.Auth.RequestContext(ctx, r)))
	})
}

// operationDeadline bounds each query and mutation, over HTTP or a
// WebSocket, by DBTimeout; a subscription is not cut. Work that runs out
// of time fails with SERVICE_UNAVAILABLE (see graph.ErrorPresenter).
func (s *Server) operationDeadline(ctx context.Context, next graphql.OperationHandler) graphql.ResponseHandler {
	if op := graphql.GetOperationContext(ctx).Operation; op != nil && op.Operation == ast.Subscription {
		return next(ctx)
	}
	timeout := s.cfg.DBTimeout
	if oc := graphql.GetOperationContext(ctx); hasUpload(oc.Variables) {
		// A file's operation also waits for its turn to decode images
		// (one per user at a time, within a memory budget), which is not
		// database work: it gets uploadTimeouts deadlines. Its lock waits
		// stay bound by the database's lock timeout.
		timeout *= uploadTimeouts
	}
	cancel := context.CancelFunc(func() {})
	if d, ok := ctx.Deadline(); !ok || time.Until(d) > timeout {
		// An HTTP request's deadline (requestContext) comes sooner: no
		// second timer for the same bound.
		ctx, cancel = context.WithTimeout(ctx, timeout)
	}
	responses := next(ctx)
	first := true
	return func(ctx context.Context) *graphql.Response {
		resp := responses(ctx)
		if first && resp == nil && errors.Is(ctx.Err(), context.DeadlineExceeded) {
			// gqlgen ends an operation whose context is done without an answer.
			resp = &graphql.Response{Errors: gqlerror.List{graph.ErrorPresenter(s.log)(ctx, ctx.Err())}}
		}
		first = false
		if resp == nil || resp.HasNext == nil || !*resp.HasNext {
			cancel()
		}
		return resp
	}
}

// uploadTimeouts is how many database deadlines an operation carrying
// files gets.
const uploadTimeouts = 6

// answerMargin is the time an answer has to be written after its
// operation's deadline.
const answerMargin = 20 * time.Second

// hasUpload reports whether variables carry a file.
func hasUpload(v any) bool {
	switch x := v.(type) {
	case graphql.Upload, *graphql.Upload:
		return true
	case map[string]any:
		for _, e := range x {
			if hasUpload(e) {
				return true
			}
		}
	case []any:
		for _, e := range x {
			if hasUpload(e) {
				return true
			}
		}
	}
	return false
}
