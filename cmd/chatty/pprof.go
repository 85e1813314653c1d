//go:build pprof

package main

import (
	"log/slog"
	"net/http"
	_ "net/http/pprof" // registers /debug/pprof/ on http.DefaultServeMux
	"os"
)

// Built with -tags pprof, chatty serves net/http/pprof on
// CHATTY_PPROF_ADDR (a loopback address) for profiling under load.
func init() {
	addr := os.Getenv("CHATTY_PPROF_ADDR")
	if addr == "" {
		return
	}
	go func() { slog.Error("pprof", "err", http.ListenAndServe(addr, nil)) }()
}
