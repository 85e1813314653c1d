package server_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/chatty/chatty/internal/auth"
	"github.com/chatty/chatty/internal/chat"
	"github.com/chatty/chatty/internal/database"
	"github.com/chatty/chatty/internal/database/dbtest"
	"github.com/chatty/chatty/internal/server"
	"github.com/chatty/chatty/internal/upload"
)

// testSecret signs the access tokens of test servers; tests use it to forge tokens.
var testSecret = []byte("test-secret-test-secret-test-secret!")

// forEachDB runs fn as a subtest on every backend, each with a fresh server
// over a fresh database.
func forEachDB(t *testing.T, fn func(t *testing.T, e *env)) {
	t.Helper()
	for _, b := range dbtest.Backends() {
		t.Run(b, func(t *testing.T) {
			t.Parallel()
			fn(t, newEnv(t, b))
		})
	}
}

// env is a running chatty over a fresh database.
type env struct {
	URL    string
	DB     *database.DB
	Auth   *auth.Service
	Chat   *chat.Service
	Server *server.Server
}

// envOption changes how newEnv builds its server.
type envOption struct {
	// selfURL: the server's public URL is its own address (not
	// http://chatty.test), for clients that follow the URLs it hands out
	// (a browser loading attachments).
	selfURL bool
	server  func(*server.Config, *auth.Options)
	db      database.Option
	chat    []chat.Option
}

func newEnv(t testing.TB, backend string, opts ...envOption) *env {
	t.Helper()
	var dbOpts []database.Option
	for _, o := range opts {
		if o.db != nil {
			dbOpts = append(dbOpts, o.db)
		}
	}
	return newEnvOn(t, dbtest.Open(t, backend, dbOpts...), opts...)
}

// newEnvOn runs a chatty over db, which other envs may share (instances
// of one deployment).
func newEnvOn(t testing.TB, db *database.DB, opts ...envOption) *env {
	t.Helper()
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	if testing.Verbose() {
		log = slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	}
	ao := auth.Options{
		Secret:   testSecret,
		Issuer:   "http://chatty.test",
		Password: auth.PasswordParams{Memory: 1024, Time: 1, Threads: 1}, // cheap hashing keeps tests fast
		Logger:   log,
	}
	sc := server.Config{Logger: log, DB: db, PublicURL: "http://chatty.test", Signer: upload.NewSigner(testSecret)}
	for _, o := range opts {
		if o.server != nil {
			o.server(&sc, &ao)
		}
	}
	disk, err := upload.NewDisk(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	chatOpts := []chat.Option{chat.WithUploads(upload.NewService(disk, upload.Limits{})), chat.WithDialect(db.Dialect), chat.WithScripts(db.Scripts)}
	for _, o := range opts {
		chatOpts = append(chatOpts, o.chat...)
	}
	sc.Chat = chat.NewService(db.Client, log, chatOpts...)
	ao.SessionsEnded = sc.Chat.SessionsEnded
	ao.AccountDeleted = sc.Chat.AccountDeleted
	authSvc, err := auth.NewService(db.Client, ao)
	if err != nil {
		t.Fatal(err)
	}
	sc.Auth = authSvc
	ts := httptest.NewUnstartedServer(nil)
	for _, o := range opts {
		if o.selfURL {
			sc.PublicURL = "http://" + ts.Listener.Addr().String()
		}
	}
	srv := server.New(sc)
	ts.Config.Handler = srv.Handler()
	ts.Start()
	t.Cleanup(ts.Close)
	return &env{URL: ts.URL, DB: db, Auth: authSvc, Chat: sc.Chat, Server: srv}
}

// gqlError is one entry of a response's errors.
type gqlError struct {
	Message    string         `json:"message"`
	Path       []any          `json:"path"`
	Extensions map[string]any `json:"extensions"`
}

func (e gqlError) Code() string { s, _ := e.Extensions["code"].(string); return s }

// gqlResponse is a decoded GraphQL response.
type gqlResponse struct {
	Status int
	Data   json.RawMessage `json:"data"`
	Errors []gqlError      `json:"errors"`
	Raw    string
}

// Code returns the code of the first error, "" when there is none.
func (r gqlResponse) Code() string {
	if len(r.Errors) == 0 {
		return ""
	}
	return r.Errors[0].Code()
}

// Decode unmarshals data into v, failing the test on errors.
func (r gqlResponse) Decode(t *testing.T, v any) {
	t.Helper()
	if len(r.Errors) > 0 {
		t.Fatalf("unexpected errors: %s", r.Raw)
	}
	if err := json.Unmarshal(r.Data, v); err != nil {
		t.Fatalf("decode %s: %v", r.Raw, err)
	}
}

// DecodeData unmarshals data into v whatever the errors say (for partial results).
func (r gqlResponse) DecodeData(t *testing.T, v any) {
	t.Helper()
	if err := json.Unmarshal(r.Data, v); err != nil {
		t.Fatalf("decode %s: %v", r.Raw, err)
	}
}

// client talks to an env as one user (or anonymously, with no token).
type client struct {
	e     *env
	token string
}

func (e *env) anon() *client { return &client{e: e} }

func (e *env) as(token string) *client { return &client{e: e, token: token} }

// do POSTs a GraphQL operation and decodes the answer.
func (c *client) do(t *testing.T, query string, vars map[string]any) gqlResponse {
	t.Helper()
	body, _ := json.Marshal(map[string]any{"query": query, "variables": vars})
	req, _ := http.NewRequest(http.MethodPost, c.e.URL+"/graphql", bytes.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	if c.token != "" {
		req.Header.Set("Authorization", "Bearer "+c.token)
	}
	return send(t, req)
}

func send(t *testing.T, req *http.Request) gqlResponse {
	t.Helper()
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", req.Method, req.URL, err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	out := gqlResponse{Status: resp.StatusCode, Raw: string(raw)}
	if err := json.Unmarshal(raw, &out); err != nil {
		t.Fatalf("%s %s: status %d, body %q is not JSON: %v", req.Method, req.URL, resp.StatusCode, raw, err)
	}
	out.Status = resp.StatusCode
	return out
}

// account is a signed-up user as the tests see it.
type account struct {
	ID, Email, Password, Nickname string
	AccessToken, RefreshToken     string
}

var seq = func() func() int {
	var n int
	var mu = make(chan struct{}, 1)
	return func() int { mu <- struct{}{}; n++; v := n; <-mu; return v }
}()

// signUp creates a fresh account through the API.
func (e *env) signUp(t *testing.T, nickname string) account {
	t.Helper()
	n := seq()
	a := account{
		Email:    fmt.Sprintf("user%d-%d@example.com", n, time.Now().UnixNano()),
		Password: "correct horse battery",
		Nickname: nickname,
	}
	var out struct {
		SignUp struct {
			AccessToken, RefreshToken string
			User                      struct{ ID string }
		}
	}
	e.anon().do(t, `mutation($in: SignUpInput!) { signUp(input: $in) { accessToken refreshToken user { id } } }`,
		map[string]any{"in": map[string]any{"email": a.Email, "password": a.Password, "nickname": nickname}}).Decode(t, &out)
	a.ID, a.AccessToken, a.RefreshToken = out.SignUp.User.ID, out.SignUp.AccessToken, out.SignUp.RefreshToken
	if a.ID == "" || a.AccessToken == "" || a.RefreshToken == "" {
		t.Fatalf("signUp returned %+v", out)
	}
	return a
}

func (e *env) client(a account) *client { return e.as(a.AccessToken) }

// mustContain fails unless s contains every one of subs.
func mustContain(t *testing.T, s string, subs ...string) {
	t.Helper()
	for _, sub := range subs {
		if !strings.Contains(s, sub) {
			t.Fatalf("%q does not contain %q", s, sub)
		}
	}
}
