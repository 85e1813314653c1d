package server_test

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/chatty/chatty/internal/auth"
	"github.com/chatty/chatty/internal/server"
)

// TestNodeClients runs every e2e/*.test.mjs script against a real chatty
// (SQLite) with the server's URL as its argument: real npm clients
// (graphql-http's audit, headless Chromium with GraphiQL, ...). A script
// passes when it exits 0; exit code 77 means it could not run here (no
// browser, say): skipped, or failed under CHATTY_CI=1.
//
// Node and the e2e packages (npm ci in e2e/) are needed; without them the
// test is skipped, unless CHATTY_CI=1 (set by .ci/run) makes their absence a
// failure.
// scriptEnv gives a script's chatty options beyond the defaults.
var scriptEnv = map[string][]envOption{
	// Access tokens live 30 s: during the browser test the app refreshes
	// its session many times, and the server closes its WebSocket with
	// 4403 several times, so the reconnect with a fresh token that resumes
	// roomEvents with after is exercised while people chat.
	"webapp.test.mjs": {{server: func(_ *server.Config, ao *auth.Options) { ao.AccessTTL = 30 * time.Second }}},
}

func TestNodeClients(t *testing.T) {
	root, _ := filepath.Abs("../../e2e")
	scripts, _ := filepath.Glob(filepath.Join(root, "*.test.mjs"))
	required := os.Getenv("CHATTY_CI") == "1"
	_, nodeErr := exec.LookPath("node")
	_, modErr := os.Stat(filepath.Join(root, "node_modules"))
	switch {
	case nodeErr != nil || modErr != nil:
		if required {
			t.Fatalf("CHATTY_CI=1 but node (%v) or e2e/node_modules (%v) is missing: run npm ci in e2e/", nodeErr, modErr)
		}
		t.Skip("node or e2e/node_modules missing (run `npm ci` in e2e/); CI runs these with CHATTY_CI=1")
	case len(scripts) == 0:
		t.Fatal("no e2e/*.test.mjs scripts")
	}
	for _, script := range scripts {
		t.Run(filepath.Base(script), func(t *testing.T) {
			t.Parallel()
			opts := append([]envOption{{selfURL: true}}, scriptEnv[filepath.Base(script)]...) // a browser loads the files it is given
			e := newEnv(t, "sqlite", opts...)
			ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
			defer cancel()
			cmd := exec.CommandContext(ctx, "node", script, e.URL)
			cmd.Dir = root
			out, err := cmd.CombinedOutput()
			if cmd.ProcessState != nil && cmd.ProcessState.ExitCode() == 77 { // the script's "skipped"
				if required {
					t.Fatalf("CHATTY_CI=1 but %s could not run:\n%s", filepath.Base(script), out)
				}
				t.Skipf("%s", out)
			}
			if err != nil {
				t.Fatalf("node %s: %v\n%s", filepath.Base(script), err, out)
			}
			if testing.Verbose() {
				t.Logf("%s", out)
			}
		})
	}
}
