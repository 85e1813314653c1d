package server

import (
	"log/slog"
	"net/http"
	"time"
)

// Timeouts of the HTTP server; see DefaultTimeouts.
type Timeouts struct {
	// ReadHeader: the request's headers must arrive within it.
	ReadHeader time.Duration
	// Read: the whole request, body included (an upload), within it.
	Read time.Duration
	// Write: the answer must be written within it, counted from the
	// request's headers. A WebSocket is not bound by it (the upgrade clears
	// the connection's deadlines; pings find dead peers); a file download
	// gets longer by its size at 32 KiB/s; an upload's answer gets it anew
	// once the body is in.
	Write time.Duration
	// Idle: a kept-alive connection is closed after this long unused.
	Idle time.Duration
}

// DefaultTimeouts are the HTTP server's timeouts unless configured: the
// write timeout leaves room for the database deadline (10 s by default).
var DefaultTimeouts = Timeouts{
	ReadHeader: 10 * time.Second,
	Read:       2 * time.Minute, // a 25 MiB upload at ~200 KiB/s
	Write:      30 * time.Second,
	Idle:       2 * time.Minute,
}

// HTTPServer returns the http.Server of this handler on addr, with the
// timeouts of the configuration, errors logged, and WebSockets closed on
// Shutdown.
func (s *Server) HTTPServer(addr string) *http.Server {
	t := s.cfg.Timeouts
	hs := &http.Server{
		Addr:              addr,
		Handler:           s.Handler(),
		ReadHeaderTimeout: t.ReadHeader,
		ReadTimeout:       t.Read,
		WriteTimeout:      t.Write,
		IdleTimeout:       t.Idle,
		ErrorLog:          slog.NewLogLogger(s.log.Handler(), slog.LevelWarn),
	}
	hs.RegisterOnShutdown(s.CloseWebSockets)
	return hs
}
