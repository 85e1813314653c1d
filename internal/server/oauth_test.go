package server_test

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"

	"github.com/chatty/chatty/ent/user"
	"github.com/chatty/chatty/internal/auth"
	"github.com/chatty/chatty/internal/server"
)

// fakeProvider is an OAuth 2.0 provider on httptest: it hands out codes the
// test chooses, checks the PKCE verifier against the challenge of the
// authorization URL, and answers user info in the provider's own shape.
type fakeProvider struct {
	t  *testing.T
	ts *httptest.Server

	mu     sync.Mutex
	codes  map[string]fakeGrant // code → what it grants
	tokens map[string]string    // access token → user-info JSON
}

type fakeGrant struct {
	challenge, redirectURI, userInfo string
}

func newFakeProvider(t *testing.T) *fakeProvider {
	f := &fakeProvider{t: t, codes: map[string]fakeGrant{}, tokens: map[string]string{}}
	mux := http.NewServeMux()
	mux.HandleFunc("POST /token", func(w http.ResponseWriter, r *http.Request) {
		_ = r.ParseForm()
		f.mu.Lock()
		g, ok := f.codes[r.PostForm.Get("code")]
		delete(f.codes, r.PostForm.Get("code"))
		f.mu.Unlock()
		sum := sha256.Sum256([]byte(r.PostForm.Get("code_verifier")))
		switch {
		case !ok, r.PostForm.Get("grant_type") != "authorization_code",
			r.PostForm.Get("client_id") != "chatty-client", r.PostForm.Get("client_secret") != "chatty-secret",
			r.PostForm.Get("redirect_uri") != g.redirectURI,
			base64.RawURLEncoding.EncodeToString(sum[:]) != g.challenge:
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(http.StatusBadRequest)
			_, _ = w.Write([]byte(`{"error":"invalid_grant"}`))
			return
		}
		token := "tok-" + r.PostForm.Get("code")
		f.mu.Lock()
		f.tokens[token] = g.userInfo
		f.mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write([]byte(`{"access_token":"` + token + `","token_type":"bearer","expires_in":3600}`))
	})
	mux.HandleFunc("GET /me", func(w http.ResponseWriter, r *http.Request) {
		f.mu.Lock()
		info, ok := f.tokens[strings.TrimPrefix(r.Header.Get("Authorization"), "Bearer ")]
		f.mu.Unlock()
		if !ok {
			w.WriteHeader(http.StatusUnauthorized)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write([]byte(info))
	})
	f.ts = httptest.NewServer(mux)
	t.Cleanup(f.ts.Close)
	return f
}

// at points a real provider definition at the fake.
func (f *fakeProvider) at(p auth.Provider) auth.Provider {
	p.AuthURL, p.TokenURL, p.UserInfoURL = f.ts.URL+"/authorize", f.ts.URL+"/token", f.ts.URL+"/me"
	return p
}

// authorize plays the browser and the user at the provider: it checks the
// authorization URL and returns the code the provider sends back.
func (f *fakeProvider) authorize(authURL, state, code, userInfo string) string {
	f.t.Helper()
	u, err := url.Parse(authURL)
	if err != nil || !strings.HasPrefix(authURL, f.ts.URL+"/authorize?") {
		f.t.Fatalf("authorizationURL %q does not go to the provider", authURL)
	}
	q := u.Query()
	if q.Get("state") != state || q.Get("client_id") != "chatty-client" || q.Get("response_type") != "code" ||
		q.Get("code_challenge_method") != "S256" || q.Get("code_challenge") == "" {
		f.t.Fatalf("authorizationURL lacks what the provider needs: %v", q)
	}
	f.mu.Lock()
	f.codes[code] = fakeGrant{challenge: q.Get("code_challenge"), redirectURI: q.Get("redirect_uri"), userInfo: userInfo}
	f.mu.Unlock()
	return code
}

const (
	startOAuthOp    = `mutation($p: AuthProvider!, $r: String!) { startOAuth(provider: $p, redirectURI: $r) { authorizationURL state } }`
	completeOAuthOp = `mutation($p: AuthProvider!, $c: String!, $s: String!) { completeOAuth(provider: $p, code: $c, state: $s) { accessToken refreshToken user { id nickname email } } }`
)

type oauthResult struct {
	AccessToken string
	User        struct {
		ID, Nickname string
		Email        *string
	}
}

func TestOAuthSignIn(t *testing.T) {
	forEachDB(t, func(t *testing.T, e0 *env) {
		fake := newFakeProvider(t)
		e := newEnvOn(t, e0.DB, envOption{server: func(c *server.Config, ao *auth.Options) {
			ao.Providers = []auth.Provider{
				fake.at(auth.Kakao("chatty-client", "chatty-secret")),
				fake.at(auth.Google("chatty-client", "chatty-secret")),
			}
			ao.RedirectAllowed = server.OriginAllowed("http://chatty.test", []string{"http://app.test"})
		}})
		const redirect = "http://app.test/oauth/callback"
		signIn := func(provider, code, userInfo string) gqlResponse {
			t.Helper()
			var start struct {
				StartOAuth struct{ AuthorizationURL, State string }
			}
			e.anon().do(t, startOAuthOp, map[string]any{"p": provider, "r": redirect}).Decode(t, &start)
			fake.authorize(start.StartOAuth.AuthorizationURL, start.StartOAuth.State, code, userInfo)
			return e.anon().do(t, completeOAuthOp, map[string]any{"p": provider, "c": code, "s": start.StartOAuth.State})
		}
		kakao := `{"id": 4242424242, "kakao_account": {"email": "friend@kakao.example", "is_email_valid": true, "is_email_verified": true, "profile": {"nickname": "카카오친구 🐻"}}}`

		var first struct{ CompleteOAuth oauthResult }
		signIn("KAKAO", "code-1", kakao).Decode(t, &first)
		got := first.CompleteOAuth
		if got.User.Nickname != "카카오친구 🐻" || got.User.Email == nil || *got.User.Email != "friend@kakao.example" || got.AccessToken == "" {
			t.Fatalf("new Kakao account: %+v", got)
		}
		var v viewerData
		e.as(got.AccessToken).do(t, viewerQuery, nil).Decode(t, &v)
		if v.Viewer == nil || v.Viewer.ID != got.User.ID {
			t.Fatalf("viewer with the OAuth token: %+v", v.Viewer)
		}

		// The same Kakao identity signs in to the same account.
		var again struct{ CompleteOAuth oauthResult }
		signIn("KAKAO", "code-2", kakao).Decode(t, &again)
		if again.CompleteOAuth.User.ID != got.User.ID {
			t.Fatalf("second Kakao sign-in made account %s, want %s", again.CompleteOAuth.User.ID, got.User.ID)
		}

		// A Google identity with the verified email of an email account joins that account.
		owner := e.signUp(t, "메일주인")
		google := `{"sub": "g-777", "email": "` + strings.ToUpper(owner.Email) + `", "email_verified": true, "name": "Owner"}`
		var linked struct{ CompleteOAuth oauthResult }
		signIn("GOOGLE", "code-3", google).Decode(t, &linked)
		if linked.CompleteOAuth.User.ID != owner.ID {
			t.Fatalf("Google with a verified matching email made account %s, want %s", linked.CompleteOAuth.User.ID, owner.ID)
		}
		// An unverified email is not trusted: a new account, without that email.
		unverified := `{"sub": "g-888", "email": "` + owner.Email + `", "email_verified": false, "name": "x"}`
		var fresh struct{ CompleteOAuth oauthResult }
		signIn("GOOGLE", "code-4", unverified).Decode(t, &fresh)
		if fresh.CompleteOAuth.User.ID == owner.ID || fresh.CompleteOAuth.User.Email != nil || fresh.CompleteOAuth.User.Nickname != "google-g-888" {
			t.Fatalf("Google with an unverified email: %+v", fresh.CompleteOAuth.User)
		}
	})
}

func TestOAuthRefusals(t *testing.T) {
	fake := newFakeProvider(t)
	e := newEnv(t, "sqlite", envOption{server: func(c *server.Config, ao *auth.Options) {
		ao.Providers = []auth.Provider{fake.at(auth.Kakao("chatty-client", "chatty-secret"))}
		ao.RedirectAllowed = server.OriginAllowed("http://chatty.test", nil)
	}})
	const redirect = "http://chatty.test/cb"
	start := func(provider, redirectURI string) (gqlResponse, string, string) {
		r := e.anon().do(t, startOAuthOp, map[string]any{"p": provider, "r": redirectURI})
		var out struct {
			StartOAuth struct{ AuthorizationURL, State string }
		}
		_ = json.Unmarshal(r.Data, &out)
		return r, out.StartOAuth.AuthorizationURL, out.StartOAuth.State
	}
	info := `{"id": 1, "kakao_account": {"profile": {"nickname": "k"}}}`

	for name, tc := range map[string]struct{ provider, redirect, field string }{
		"provider not set up": {"NAVER", redirect, "provider"},
		"foreign redirect":    {"KAKAO", "https://evil.example/cb", "redirectURI"},
		"relative redirect":   {"KAKAO", "/cb", "redirectURI"},
		"non-http redirect":   {"KAKAO", "javascript:alert(1)", "redirectURI"},
	} {
		if r, _, _ := start(tc.provider, tc.redirect); r.Code() != "BAD_USER_INPUT" || r.Errors[0].Extensions["field"] != tc.field {
			t.Errorf("%s: %s", name, r.Raw)
		}
	}

	_, authURL, state := start("KAKAO", redirect)
	code := fake.authorize(authURL, state, "good", info)
	if r := e.anon().do(t, completeOAuthOp, map[string]any{"p": "KAKAO", "c": "wrong-code", "s": state}); r.Code() != "UNAUTHENTICATED" {
		t.Errorf("a code the provider refuses: %s", r.Raw)
	}
	// The state was spent by the failed attempt: start again.
	if r := e.anon().do(t, completeOAuthOp, map[string]any{"p": "KAKAO", "c": code, "s": state}); r.Code() != "BAD_USER_INPUT" {
		t.Errorf("a spent state: %s", r.Raw)
	}
	_, authURL, state = start("KAKAO", redirect)
	code = fake.authorize(authURL, state, "good-2", info)
	if r := e.anon().do(t, completeOAuthOp, map[string]any{"p": "KAKAO", "c": code, "s": "made-up"}); r.Code() != "BAD_USER_INPUT" {
		t.Errorf("an unknown state: %s", r.Raw)
	}
	var ok struct{ CompleteOAuth oauthResult }
	e.anon().do(t, completeOAuthOp, map[string]any{"p": "KAKAO", "c": code, "s": state}).Decode(t, &ok)
	if ok.CompleteOAuth.User.Nickname != "kakao-1" {
		t.Errorf("a one-letter Kakao nickname became %q", ok.CompleteOAuth.User.Nickname)
	}
	if r := e.anon().do(t, completeOAuthOp, map[string]any{"p": "KAKAO", "c": code, "s": state}); r.Code() != "BAD_USER_INPUT" {
		t.Errorf("a state presented twice: %s", r.Raw)
	}
}

// Naver answers user info as {"resultcode", "message", "response": {...}}:
// the account is the response's id; nickname, else name; its email is the
// Naver account's own, taken as verified. A resultcode other than "00" is a
// refused sign-in, not an account.
func TestOAuthNaverProfile(t *testing.T) {
	forEachDB(t, func(t *testing.T, e0 *env) {
		fake := newFakeProvider(t)
		e := newEnvOn(t, e0.DB, envOption{server: func(c *server.Config, ao *auth.Options) {
			ao.Providers = []auth.Provider{fake.at(auth.Naver("chatty-client", "chatty-secret"))}
			ao.RedirectAllowed = server.OriginAllowed("http://chatty.test", nil)
		}})
		const redirect = "http://chatty.test/oauth/callback"
		signIn := func(code, userInfo string) gqlResponse {
			t.Helper()
			var start struct {
				StartOAuth struct{ AuthorizationURL, State string }
			}
			e.anon().do(t, startOAuthOp, map[string]any{"p": "NAVER", "r": redirect}).Decode(t, &start)
			fake.authorize(start.StartOAuth.AuthorizationURL, start.StartOAuth.State, code, userInfo)
			return e.anon().do(t, completeOAuthOp, map[string]any{"p": "NAVER", "c": code, "s": start.StartOAuth.State})
		}

		naver := `{"resultcode": "00", "message": "success", "response": {"id": "nv-Zx81_q", "email": "Chingu@Naver.example", "nickname": "네이버친구", "name": "홍길동"}}`
		var first struct{ CompleteOAuth oauthResult }
		signIn("n-1", naver).Decode(t, &first)
		got := first.CompleteOAuth.User
		if got.Nickname != "네이버친구" || got.Email == nil || *got.Email != "chingu@naver.example" || first.CompleteOAuth.AccessToken == "" {
			t.Fatalf("new Naver account: %+v", got)
		}
		var again struct{ CompleteOAuth oauthResult }
		signIn("n-2", naver).Decode(t, &again)
		if again.CompleteOAuth.User.ID != got.ID {
			t.Fatalf("the same Naver id made account %s, want %s", again.CompleteOAuth.User.ID, got.ID)
		}

		// No nickname shared: the name stands in.
		var named struct{ CompleteOAuth oauthResult }
		signIn("n-3", `{"resultcode": "00", "message": "success", "response": {"id": "nv-2", "name": "김철수"}}`).Decode(t, &named)
		if named.CompleteOAuth.User.Nickname != "김철수" || named.CompleteOAuth.User.Email != nil || named.CompleteOAuth.User.ID == got.ID {
			t.Fatalf("Naver account without nickname or email: %+v", named.CompleteOAuth.User)
		}

		// The email of an existing account joins it.
		owner := e.signUp(t, "메일주인")
		var linked struct{ CompleteOAuth oauthResult }
		signIn("n-4", `{"resultcode": "00", "message": "success", "response": {"id": "nv-3", "email": "`+owner.Email+`", "nickname": "x"}}`).Decode(t, &linked)
		if linked.CompleteOAuth.User.ID != owner.ID {
			t.Fatalf("Naver with the email of an account made account %s, want %s", linked.CompleteOAuth.User.ID, owner.ID)
		}

		// Naver refuses (resultcode 024: authentication failed): no account.
		if r := signIn("n-5", `{"resultcode": "024", "message": "Authentication failed", "response": {"id": "nv-4", "nickname": "ghost"}}`); r.Code() != "UNAUTHENTICATED" || len(r.Errors) == 0 {
			t.Fatalf("a Naver answer with resultcode 024: %s", r.Raw)
		}
		if n, err := e.DB.Client.User.Query().Where(user.Nickname("ghost")).Count(context.Background()); err != nil || n != 0 {
			t.Fatalf("a refused Naver sign-in made %d accounts (%v)", n, err)
		}
	})
}

// TestAuthProviders: a sign-in screen asks which social providers to show;
// the answer is the providers with credentials, in the API's order, to
// anyone (no token needed).
func TestAuthProviders(t *testing.T) {
	forEachDB(t, func(t *testing.T, e *env) {
		const op = `{ authProviders }`
		var none struct{ AuthProviders []string }
		e.anon().do(t, op, nil).Decode(t, &none)
		if none.AuthProviders == nil || len(none.AuthProviders) != 0 {
			t.Fatalf("no provider configured: authProviders = %#v, want []", none.AuthProviders)
		}

		some := newEnvOn(t, e.DB, envOption{server: func(c *server.Config, ao *auth.Options) {
			ao.Providers = []auth.Provider{auth.Kakao("k", ""), auth.Google("g", "gs")}
		}})
		var got struct{ AuthProviders []string }
		some.anon().do(t, op, nil).Decode(t, &got)
		if strings.Join(got.AuthProviders, ",") != "GOOGLE,KAKAO" {
			t.Fatalf("Kakao and Google configured: authProviders = %v, want [GOOGLE KAKAO]", got.AuthProviders)
		}
		// What it lists, startOAuth accepts; what it leaves out is refused.
		if r := some.anon().do(t, startOAuthOp, map[string]any{"p": "NAVER", "r": "http://chatty.test/cb"}); r.Code() != "BAD_USER_INPUT" {
			t.Fatalf("startOAuth(NAVER) unconfigured: %s", r.Raw)
		}
		var start struct {
			StartOAuth struct{ AuthorizationURL string }
		}
		some.anon().do(t, startOAuthOp, map[string]any{"p": "KAKAO", "r": "http://chatty.test/cb"}).Decode(t, &start)
	})
}
