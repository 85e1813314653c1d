package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chatty/chatty/internal/config"
	"github.com/chatty/chatty/internal/demo"
	"github.com/chatty/chatty/internal/upload/s3test"
)

// start runs chatty as main does, with args, and returns its log lines
// (JSON objects, as they come) and the error run returns.
func start(t *testing.T, args ...string) (context.CancelFunc, <-chan map[string]any, <-chan error) {
	t.Helper()
	dir := t.TempDir()
	args = append([]string{
		"-database-url", "sqlite:" + filepath.Join(dir, "chatty.db"),
		"-upload-dir", filepath.Join(dir, "uploads"),
		"-jwt-secret", strings.Repeat("s", 32),
	}, args...)
	cfg, err := config.Load(args, func(string) string { return "" })
	if err != nil {
		t.Fatal(err)
	}
	pr, pw := io.Pipe()
	lines := make(chan map[string]any, 100)
	go func() {
		defer close(lines)
		sc := bufio.NewScanner(pr)
		for sc.Scan() {
			var m map[string]any
			if json.Unmarshal(sc.Bytes(), &m) == nil {
				lines <- m
			}
		}
	}()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		done <- run(ctx, cfg, slog.New(slog.NewJSONHandler(pw, nil)))
		pw.Close()
	}()
	t.Cleanup(func() { // before TempDir's: run has closed the database
		cancel()
		for range lines {
		}
	})
	return cancel, lines, done
}

// waitFor returns the first log line with msg, failing if run ends first.
func waitFor(t *testing.T, lines <-chan map[string]any, done <-chan error, msg string) map[string]any {
	t.Helper()
	timeout := time.After(time.Minute)
	for {
		select {
		case l, ok := <-lines:
			if !ok {
				t.Fatalf("chatty stopped before logging %q: %v", msg, <-done)
			}
			if l["msg"] == msg {
				return l
			}
		case <-timeout:
			t.Fatalf("no %q in the log after a minute", msg)
		}
	}
}

func httpGet(t *testing.T, url string) (int, string) {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// The production switches, through the real binary's wiring: /metrics on
// its own address only, introspection refused with a code.
func TestMetricsAddressAndIntrospectionOff(t *testing.T) {
	cancel, lines, done := start(t, "-addr", "127.0.0.1:0", "-metrics-addr", "127.0.0.1:0", "-introspection=false")
	l := waitFor(t, lines, done, "chatty listening")
	addr, _ := l["addr"].(string)
	metricsAddr, _ := l["metrics_addr"].(string)
	if addr == "" || metricsAddr == "" || addr == metricsAddr {
		t.Fatalf("listening line: %v", l)
	}

	resp, err := http.Post("http://"+addr+"/graphql", "application/json", strings.NewReader(`{"query":"{ __schema { types { name } } }"}`))
	if err != nil {
		t.Fatal(err)
	}
	var out struct {
		Errors []struct {
			Extensions struct{ Code string }
		}
	}
	_ = json.NewDecoder(resp.Body).Decode(&out)
	resp.Body.Close()
	if len(out.Errors) == 0 || out.Errors[0].Extensions.Code != "GRAPHQL_VALIDATION_FAILED" {
		t.Errorf("__schema with CHATTY_INTROSPECTION=false: %+v", out)
	}

	if code, _ := httpGet(t, "http://"+addr+"/metrics"); code != http.StatusNotFound {
		t.Errorf("/metrics on CHATTY_ADDR = %d, want 404", code)
	}
	code, body := httpGet(t, "http://"+metricsAddr+"/metrics")
	if code != http.StatusOK || !strings.Contains(body, `chatty_graphql_errors_total{code="GRAPHQL_VALIDATION_FAILED"} 1`) {
		t.Errorf("/metrics on CHATTY_METRICS_ADDR: %d\n%s", code, body)
	}
	if code, _ := httpGet(t, "http://"+metricsAddr+"/healthz"); code != http.StatusNotFound {
		t.Errorf("the metrics address serves more than /metrics: /healthz = %d", code)
	}

	cancel()
	if err := <-done; err != nil {
		t.Fatalf("run after shutdown: %v", err)
	}
}

// An address in use stops chatty with an error naming the variable, and
// nothing claims it is listening.
func TestBindFailureReportedBeforeListening(t *testing.T) {
	for _, flag := range []string{"-addr", "-metrics-addr"} {
		t.Run(flag, func(t *testing.T) {
			taken, err := net.Listen("tcp", "127.0.0.1:0")
			if err != nil {
				t.Fatal(err)
			}
			defer taken.Close()
			args := []string{"-addr", "127.0.0.1:0", flag, taken.Addr().String()}
			_, lines, done := start(t, args...)
			var said []string
			for l := range lines {
				said = append(said, l["msg"].(string))
			}
			err = <-done
			want := map[string]string{"-addr": "CHATTY_ADDR", "-metrics-addr": "CHATTY_METRICS_ADDR"}[flag]
			if err == nil || !strings.Contains(err.Error(), want) || !strings.Contains(err.Error(), "address already in use") {
				t.Fatalf("run with %s taken: %v", flag, err)
			}
			for _, msg := range said {
				if strings.Contains(msg, "listening") {
					t.Fatalf("logged %q although the bind failed", msg)
				}
			}
		})
	}
}

// CHATTY_STORAGE_URL through the real wiring: chatty starts on an existing
// bucket and says so; a bucket that does not exist stops it with an error
// naming the variable, before it listens.
func TestStorageURL(t *testing.T) {
	b := s3test.New(t)
	cancel, lines, done := start(t, "-addr", "127.0.0.1:0", "-storage-url", b.URL())
	waitFor(t, lines, done, "files are kept in S3-compatible storage")
	waitFor(t, lines, done, "chatty listening")
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}

	missing := strings.Replace(b.URL(), b.Config.Bucket, b.Config.Bucket+"-missing", 1)
	_, lines, done = start(t, "-addr", "127.0.0.1:0", "-storage-url", missing)
	for l := range lines {
		if msg, _ := l["msg"].(string); strings.Contains(msg, "listening") {
			t.Fatalf("logged %q without a bucket", msg)
		}
	}
	if err := <-done; err == nil || !strings.Contains(err.Error(), "CHATTY_STORAGE_URL") || !strings.Contains(err.Error(), "does not exist") {
		t.Fatalf("run on a missing bucket: %v", err)
	}
}

// CHATTY_DEMO=1 (-demo) fills the fresh database before serving: the
// documented account signs in with the documented password.
func TestDemoSwitch(t *testing.T) {
	cancel, lines, done := start(t, "-addr", "127.0.0.1:0", "-demo", "1")
	waitFor(t, lines, done, "demo: added two accounts, a friendship and a conversation")
	l := waitFor(t, lines, done, "chatty listening")
	addr, _ := l["addr"].(string)
	body, _ := json.Marshal(map[string]any{
		"query":     `mutation($e: String!, $p: String!) { signIn(input: {email: $e, password: $p}) { user { nickname } } }`,
		"variables": map[string]any{"e": demo.Accounts[1].Email, "p": demo.Password},
	})
	resp, err := http.Post("http://"+addr+"/graphql", "application/json", bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	var out struct {
		Data struct {
			SignIn struct{ User struct{ Nickname string } }
		}
	}
	_ = json.NewDecoder(resp.Body).Decode(&out)
	resp.Body.Close()
	if out.Data.SignIn.User.Nickname != demo.Accounts[1].Nickname {
		t.Fatalf("demo sign-in answered %+v", out)
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatalf("run after shutdown: %v", err)
	}
}
