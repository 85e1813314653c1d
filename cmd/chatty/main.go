// Command chatty serves the chat API: GraphQL over HTTP and WebSocket,
// GraphiQL at /, health at /healthz and /readyz, metrics at /metrics.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/chatty/chatty/internal/auth"
	"github.com/chatty/chatty/internal/chat"
	"github.com/chatty/chatty/internal/config"
	"github.com/chatty/chatty/internal/database"
	"github.com/chatty/chatty/internal/pubsub"
	"github.com/chatty/chatty/internal/server"
	"github.com/chatty/chatty/internal/upload"
)

func main() {
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
	if err := run(cfg, log); err != nil {
		log.Error("chatty stopped", "err", err)
		os.Exit(1)
	}
}

func run(cfg *config.Config, log *slog.Logger) error {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()

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

	disk, err := upload.NewDisk(cfg.UploadDir)
	if err != nil {
		return fmt.Errorf("CHATTY_UPLOAD_DIR: %w", err)
	}
	chatOpts := []chat.Option{chat.WithUploads(upload.NewService(disk, upload.Limits{}))}
	if cfg.RedisURL != "" {
		broker, err := pubsub.NewRedis(ctx, cfg.RedisURL, pubsub.WithLogger(log))
		if err != nil {
			return fmt.Errorf("CHATTY_REDIS_URL: %w", err)
		}
		defer broker.Close() // after the server, before the database
		chatOpts = append(chatOpts, chat.WithBroker(broker), chat.WithPresence(broker.Presence()))
		log.Info("live events go through Redis", "redis", cfg.RedisURLRedacted())
	}

	chatSvc := chat.NewService(db.Client, log, chatOpts...)
	authSvc, err := auth.NewService(db.Client, auth.Options{
		Secret:          []byte(cfg.JWTSecret),
		Issuer:          cfg.PublicURL,
		Logger:          log,
		Providers:       providers(cfg.OAuth),
		RedirectAllowed: server.OriginAllowed(cfg.PublicURL, cfg.AllowedOrigins),
		SessionsEnded:   chatSvc.SessionsEnded,
	})
	if err != nil {
		return err
	}
	srv := server.New(server.Config{
		Logger:         log,
		DB:             db,
		Auth:           authSvc,
		Chat:           chatSvc,
		PublicURL:      cfg.PublicURL,
		AllowedOrigins: cfg.AllowedOrigins,
		Signer:         upload.NewSigner([]byte(cfg.JWTSecret)),
		DBTimeout:      cfg.DBTimeout,
	})

	// Read-header, read, write and idle timeouts: server.DefaultTimeouts.
	httpSrv := srv.HTTPServer(cfg.Addr)
	errc := make(chan error, 1)
	go func() {
		log.Info("chatty listening", "addr", cfg.Addr, "public_url", cfg.PublicURL, "database", cfg.Database.Driver, "graphiql", cfg.PublicURL+"/")
		errc <- httpSrv.ListenAndServe()
	}()

	select {
	case err := <-errc:
		return fmt.Errorf("serve: %w", err)
	case <-ctx.Done():
	}
	log.Info("shutting down")
	shutdownCtx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	if err := httpSrv.Shutdown(shutdownCtx); err != nil {
		return fmt.Errorf("shutdown: %w", err)
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
