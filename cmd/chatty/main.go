// Command chatty serves the chat API: GraphQL over HTTP and WebSocket,
// GraphiQL at /, health at /healthz and /readyz, metrics at /metrics.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/chatty/chatty/internal/auth"
	"github.com/chatty/chatty/internal/chat"
	"github.com/chatty/chatty/internal/config"
	"github.com/chatty/chatty/internal/database"
	"github.com/chatty/chatty/internal/demo"
	"github.com/chatty/chatty/internal/pubsub"
	"github.com/chatty/chatty/internal/ratelimit"
	"github.com/chatty/chatty/internal/server"
	"github.com/chatty/chatty/internal/upload"
)

func main() {
	if len(os.Args) == 2 && os.Args[1] == "schema" { // make schema: the SDL served at /graphql/schema.graphql
		fmt.Print(server.SchemaSDL())
		return
	}
	cfg, err := config.Load(os.Args[1:], os.Getenv)
	if errors.Is(err, flag.ErrHelp) {
		return
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(2)
	}
	log := slog.New(slog.NewJSONHandler(os.Stderr, &slog.HandlerOptions{Level: cfg.LogLevel}))
	slog.SetDefault(log)
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err = run(ctx, cfg, log)
	stop()
	if err != nil {
		log.Error("chatty stopped", "err", err)
		os.Exit(1)
	}
}

// run serves until ctx ends (then shuts down gracefully) or serving fails.
func run(ctx context.Context, cfg *config.Config, log *slog.Logger) error {

	if cfg.JWTSecretGenerated {
		log.Warn("CHATTY_JWT_SECRET is not set: using a random secret for this run; every access token dies with the process and several instances cannot share sessions. Set CHATTY_JWT_SECRET (32+ bytes) in production.")
	}

	openCtx, cancel := context.WithTimeout(ctx, 30*time.Second)
	db, err := database.Open(openCtx, cfg.Database)
	cancel()
	if err != nil {
		return err
	}
	defer db.Close() // last: after the server has drained
	if err := db.Migrate(ctx); err != nil {
		return err
	}

	store, err := openStorage(ctx, cfg, log)
	if err != nil {
		return err
	}
	var shared *pubsub.Redis
	var limits *ratelimit.Redis // nil: limits count per instance
	chatOpts := []chat.Option{
		chat.WithUploads(upload.NewService(store, upload.Limits{DecodeMemory: cfg.ImageMemory})),
		chat.WithUploadQuota(cfg.UploadQuota),
		chat.WithDialect(db.Dialect),
		chat.WithScripts(db.Scripts),
	}
	if cfg.RedisURL != "" {
		broker, err := pubsub.NewRedis(ctx, cfg.RedisURL, pubsub.WithLogger(log), pubsub.WithPrefix(cfg.RedisPrefix))
		if err != nil {
			return fmt.Errorf("CHATTY_REDIS_URL: %w", err)
		}
		defer broker.Close() // after the server, before the database
		shared = broker
		limits = ratelimit.NewRedis(broker.Client(), broker.Key("limit:"), log)
		defer limits.Close()
		chatOpts = append(chatOpts, chat.WithSharedLimits(limits))
		chatOpts = append(chatOpts, chat.WithBroker(broker), chat.WithPresence(broker.Presence()))
		log.Info("live events go through Redis", "redis", cfg.RedisURLRedacted(), "redis_prefix", cfg.RedisPrefix)
	}

	chatSvc := chat.NewService(db.Client, log, chatOpts...)
	// Stored notifications older than the retention go, hourly.
	go chatSvc.PruneNotificationsEvery(ctx, cfg.NotificationRetention, time.Hour)
	authSvc, err := auth.NewService(db.Client, auth.Options{
		Secret:          []byte(cfg.JWTSecret),
		Issuer:          cfg.PublicURL,
		Logger:          log,
		Providers:       providers(cfg.OAuth),
		RedirectAllowed: server.OriginAllowed(cfg.PublicURL, cfg.AllowedOrigins),
		SessionsEnded:   chatSvc.SessionsEnded,
		AccountDeleted:  chatSvc.AccountDeleted,
		HashConcurrency: cfg.PasswordHashConcurrency,
		Shared:          limits,
	})
	if err != nil {
		return err
	}
	if cfg.Demo {
		if _, err := demo.Seed(ctx, db.Client, authSvc, chatSvc, log); err != nil {
			return err
		}
	}
	srv := server.New(server.Config{
		Logger:          log,
		DB:              db,
		Auth:            authSvc,
		Chat:            chatSvc,
		PublicURL:       cfg.PublicURL,
		AllowedOrigins:  cfg.AllowedOrigins,
		Signer:          upload.NewSigner([]byte(cfg.JWTSecret)),
		NoIntrospection: !cfg.Introspection,
		MetricsApart:    cfg.MetricsAddr != "",
		TrustedProxies:  cfg.TrustedProxies,
		DBTimeout:       cfg.DBTimeout,
		Redis:           shared,
	})

	// Bind first: an address in use is reported before anything says "listening".
	ln, err := net.Listen("tcp", cfg.Addr)
	if err != nil {
		return fmt.Errorf("CHATTY_ADDR: %w", err)
	}
	defer ln.Close()
	// Read-header, read, write and idle timeouts: server.DefaultTimeouts.
	httpSrv := srv.HTTPServer(cfg.Addr)
	servers := []*http.Server{httpSrv}
	errc := make(chan error, 2)

	listening := []any{"addr", ln.Addr().String(), "introspection", cfg.Introspection,
		"public_url", cfg.PublicURL, "database", cfg.Database.Driver, "graphiql", cfg.PublicURL + "/"}
	if cfg.MetricsAddr != "" {
		mln, err := net.Listen("tcp", cfg.MetricsAddr)
		if err != nil {
			return fmt.Errorf("CHATTY_METRICS_ADDR: %w", err)
		}
		defer mln.Close()
		listening = append(listening, "metrics_addr", mln.Addr().String())
		metricsSrv := &http.Server{
			Handler:           srv.MetricsHandler(),
			ReadHeaderTimeout: 10 * time.Second,
			ReadTimeout:       30 * time.Second,
			WriteTimeout:      30 * time.Second,
			IdleTimeout:       2 * time.Minute,
			ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelWarn),
		}
		servers = append(servers, metricsSrv)
		go func() { errc <- fmt.Errorf("metrics: %w", metricsSrv.Serve(mln)) }()
	}
	log.Info("chatty listening", listening...)
	go func() { errc <- httpSrv.Serve(ln) }()

	select {
	case err := <-errc:
		return fmt.Errorf("serve: %w", err)
	case <-ctx.Done():
	}
	log.Info("shutting down")
	shutdownCtx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	for _, hs := range servers {
		if err := hs.Shutdown(shutdownCtx); err != nil {
			return fmt.Errorf("shutdown: %w", err)
		}
	}
	log.Info("stopped")
	return nil
}

// providers are the OAuth providers with credentials in the configuration.
func providers(creds map[string]config.OAuthClient) []auth.Provider {
	var out []auth.Provider
	for name, newProvider := range map[string]func(id, secret string) auth.Provider{
		"GOOGLE": auth.Google, "NAVER": auth.Naver, "KAKAO": auth.Kakao,
	} {
		if c, ok := creds[name]; ok {
			out = append(out, newProvider(c.ID, c.Secret))
		}
	}
	return out
}

// openStorage opens where files are kept: the S3 bucket CHATTY_STORAGE_URL
// names, or else the directory CHATTY_UPLOAD_DIR.
func openStorage(ctx context.Context, cfg *config.Config, log *slog.Logger) (upload.Storage, error) {
	if cfg.Storage == nil {
		disk, err := upload.NewDisk(cfg.UploadDir)
		if err != nil {
			return nil, fmt.Errorf("CHATTY_UPLOAD_DIR: %w", err)
		}
		return disk, nil
	}
	openCtx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	s3, err := upload.NewS3(openCtx, *cfg.Storage)
	if err != nil {
		return nil, fmt.Errorf("CHATTY_STORAGE_URL: %w", err)
	}
	log.Info("files are kept in S3-compatible storage", "bucket", cfg.Storage.Bucket, "endpoint", cfg.Storage.Endpoint)
	return s3, nil
}
