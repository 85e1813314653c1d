package server_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"net/netip"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/chatty/chatty/ent/session"
	"github.com/chatty/chatty/internal/auth"
	"github.com/chatty/chatty/internal/database/dbtest"
	"github.com/chatty/chatty/internal/server"
)

// forEachDBOpts is forEachDB with options for the server of each backend.
func forEachDBOpts(t *testing.T, opts []envOption, fn func(t *testing.T, e *env)) {
	t.Helper()
	for _, b := range dbtest.Backends() {
		t.Run(b, func(t *testing.T) {
			t.Parallel()
			fn(t, newEnv(t, b, opts...))
		})
	}
}

// behindProxy makes the test client (on loopback) the trusted load balancer.
func behindProxy(cidrs ...string) envOption {
	return envOption{server: func(c *server.Config, _ *auth.Options) {
		for _, s := range cidrs {
			c.TrustedProxies = append(c.TrustedProxies, netip.MustParsePrefix(s))
		}
	}}
}

func withAuth(f func(*auth.Options)) envOption {
	return envOption{server: func(_ *server.Config, o *auth.Options) { f(o) }}
}

// doFrom POSTs an operation with an X-Forwarded-For header (none when xff is "").
func (c *client) doFrom(t *testing.T, xff, query string, vars map[string]any) gqlResponse {
	t.Helper()
	body, _ := json.Marshal(map[string]any{"query": query, "variables": vars})
	req, _ := http.NewRequest(http.MethodPost, c.e.URL+"/graphql", bytes.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	if xff != "" {
		req.Header.Set("X-Forwarded-For", xff)
	}
	if c.token != "" {
		req.Header.Set("Authorization", "Bearer "+c.token)
	}
	return send(t, req)
}

// retryAfter is the first error's extensions.retryAfter (0 when absent).
func (r gqlResponse) retryAfter() float64 {
	if len(r.Errors) == 0 {
		return 0
	}
	n, _ := r.Errors[0].Extensions["retryAfter"].(float64)
	return n
}

const (
	ownerAddr    = "198.51.100.7"
	attackerAddr = "203.0.113.9"
)

// An attacker who knows the owner's email exhausts the attempts of their
// own address; the owner, from another, still signs in. Behind a trusted
// load balancer the addresses come from X-Forwarded-For, and what the
// attacker writes into that header themselves is not believed.
func TestSignInLimitIsPerAccountAndAddress(t *testing.T) {
	forEachDBOpts(t, []envOption{behindProxy("127.0.0.0/8", "::1/128")}, func(t *testing.T, e *env) {
		owner := e.signUp(t, "owner")
		vars := func(p string) map[string]any { return map[string]any{"e": owner.Email, "p": p} }
		for i := 0; i < 10; i++ {
			if r := e.anon().doFrom(t, attackerAddr, signInMutation, vars("wrong password")); r.Code() != "UNAUTHENTICATED" {
				t.Fatalf("attempt %d: %s, want UNAUTHENTICATED", i+1, r.Raw)
			}
		}
		r := e.anon().doFrom(t, attackerAddr, signInMutation, vars(owner.Password))
		if r.Code() != "RATE_LIMITED" || r.retryAfter() < 1 {
			t.Fatalf("11th attempt from the attacker's address: %s, want RATE_LIMITED with retryAfter", r.Raw)
		}
		// The attacker claims the owner's address; the load balancer appends the real one.
		if r := e.anon().doFrom(t, ownerAddr+", "+attackerAddr, signInMutation, vars(owner.Password)); r.Code() != "RATE_LIMITED" {
			t.Fatalf("a spoofed X-Forwarded-For behind the proxy escaped the limit: %s", r.Raw)
		}

		var out signInData
		e.anon().doFrom(t, ownerAddr, signInMutation, vars(owner.Password)).Decode(t, &out)
		if out.SignIn.User.ID != owner.ID {
			t.Fatalf("the owner signed in as %+v", out.SignIn.User)
		}
		// The session remembers where the owner signed in from.
		ips, err := e.DB.Client.Session.Query().Where(session.ClientIP(ownerAddr)).Count(t.Context())
		if err != nil || ips != 1 {
			t.Fatalf("sessions from %s: %d (%v), want 1", ownerAddr, ips, err)
		}
	})
}

// Many addresses together still meet a ceiling per account: 100 attempts.
func TestSignInCeilingPerAccount(t *testing.T) {
	forEachDBOpts(t, []envOption{behindProxy("127.0.0.0/8", "::1/128")}, func(t *testing.T, e *env) {
		owner := e.signUp(t, "popular")
		vars := func(p string) map[string]any { return map[string]any{"e": owner.Email, "p": p} }
		for addr := 1; addr <= 10; addr++ {
			for i := 0; i < 10; i++ {
				if r := e.anon().doFrom(t, fmt.Sprintf("192.0.2.%d", addr), signInMutation, vars("wrong password")); r.Code() != "UNAUTHENTICATED" {
					t.Fatalf("address %d, attempt %d: %s, want UNAUTHENTICATED", addr, i+1, r.Raw)
				}
			}
		}
		if r := e.anon().doFrom(t, ownerAddr, signInMutation, vars(owner.Password)); r.Code() != "RATE_LIMITED" || r.retryAfter() < 1 {
			t.Fatalf("the 101st attempt on one account: %s, want RATE_LIMITED with retryAfter", r.Raw)
		}
		// Other accounts are not affected.
		other := e.signUp(t, "bystander")
		if r := e.anon().doFrom(t, ownerAddr, signInMutation, map[string]any{"e": other.Email, "p": other.Password}); r.Code() != "" {
			t.Fatalf("another account was limited too: %s", r.Raw)
		}
	})
}

// Guesses from many addresses exhaust the account's ceiling, but an
// address the owner signed in from lately still gets in; a new address
// waits like everyone else.
func TestSignInFromAKnownAddressSkipsTheCeiling(t *testing.T) {
	forEachDBOpts(t, []envOption{behindProxy("127.0.0.0/8", "::1/128")}, func(t *testing.T, e *env) {
		owner := e.signUp(t, "단골")
		vars := func(p string) map[string]any { return map[string]any{"e": owner.Email, "p": p} }
		const home = "198.51.100.7"
		if r := e.anon().doFrom(t, home, signInMutation, vars(owner.Password)); r.Code() != "" {
			t.Fatalf("signing in from home: %s", r.Raw)
		}
		for addr := 1; addr <= 10; addr++ {
			for i := 0; i < 10; i++ {
				e.anon().doFrom(t, fmt.Sprintf("192.0.2.%d", addr), signInMutation, vars("wrong password"))
			}
		}
		if r := e.anon().doFrom(t, "203.0.113.9", signInMutation, vars(owner.Password)); r.Code() != "RATE_LIMITED" {
			t.Fatalf("a new address after 100 guesses: %s, want RATE_LIMITED", r.Raw)
		}
		if r := e.anon().doFrom(t, home, signInMutation, vars(owner.Password)); r.Code() != "" {
			t.Fatalf("the owner's usual address after 100 guesses elsewhere: %s, want signed in", r.Raw)
		}
	})
}

// X-Forwarded-For from a peer that is not a trusted proxy is ignored: a
// client cannot pick a fresh address for each attempt.
func TestForwardedForFromUntrustedPeerIsIgnored(t *testing.T) {
	for name, opts := range map[string][]envOption{
		"no trusted proxies":    nil,
		"other trusted proxies": {behindProxy("10.0.0.0/8")},
	} {
		t.Run(name, func(t *testing.T) {
			forEachDBOpts(t, opts, func(t *testing.T, e *env) {
				owner := e.signUp(t, "owner")
				for i := 0; i < 10; i++ {
					xff := fmt.Sprintf("192.0.2.%d", i+1)
					if r := e.anon().doFrom(t, xff, signInMutation, map[string]any{"e": owner.Email, "p": "wrong password"}); r.Code() != "UNAUTHENTICATED" {
						t.Fatalf("attempt %d: %s, want UNAUTHENTICATED", i+1, r.Raw)
					}
				}
				if r := e.anon().doFrom(t, ownerAddr, signInMutation, map[string]any{"e": owner.Email, "p": owner.Password}); r.Code() != "RATE_LIMITED" {
					t.Fatalf("a spoofed X-Forwarded-For from an untrusted peer was believed: %s", r.Raw)
				}
			})
		})
	}
}

// hashProbe watches the password hashes a server runs: how many at once
// at most; and it holds the next hold hashes in their slots until released.
type hashProbe struct {
	running, max atomic.Int64
	hold         atomic.Int64
	release      chan struct{}
	releaseOnce  sync.Once
}

func newHashProbe() *hashProbe { return &hashProbe{release: make(chan struct{})} }

// letGo releases the held hashes and holds no more.
func (p *hashProbe) letGo() {
	p.releaseOnce.Do(func() {
		p.hold.Store(0)
		close(p.release)
	})
}

func (p *hashProbe) option(slots int, wait time.Duration) envOption {
	return withAuth(func(o *auth.Options) {
		o.HashConcurrency, o.HashWait = slots, wait
		o.OnPasswordHash = func() func() {
			n := p.running.Add(1)
			for m := p.max.Load(); n > m && !p.max.CompareAndSwap(m, n); m = p.max.Load() {
			}
			if p.hold.Add(-1) >= 0 {
				<-p.release
			}
			return func() { p.running.Add(-1) }
		}
	})
}

// waitFor polls cond until it holds; the deadline only keeps a broken
// build from hanging, it is not what the test measures.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(30 * time.Second); !cond(); time.Sleep(5 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("never saw %s", what)
		}
	}
}

// post sends an operation from a goroutine other than the test's.
func post(url, query string, vars map[string]any) (gqlResponse, error) {
	body, _ := json.Marshal(map[string]any{"query": query, "variables": vars})
	resp, err := http.Post(url+"/graphql", "application/json", bytes.NewReader(body))
	if err != nil {
		return gqlResponse{}, err
	}
	defer resp.Body.Close()
	var out gqlResponse
	err = json.NewDecoder(resp.Body).Decode(&out)
	out.Status = resp.StatusCode
	return out, err
}

const signUpMutation = `mutation($in: SignUpInput!) { signUp(input: $in) { user { id } } }`

func signUpVars(email string) map[string]any {
	return map[string]any{"in": map[string]any{"email": email, "password": "correct horse battery", "nickname": "burst"}}
}

// A burst of sign-ups never runs more password hashes at once than the
// slots allow: the rest queue, then all go through.
func TestPasswordHashingIsBounded(t *testing.T) {
	const slots, burst = 2, 8
	forEachDB(t, func(t *testing.T, e0 *env) {
		p := newHashProbe()
		p.hold.Store(burst)
		e := newEnvOn(t, e0.DB, p.option(slots, time.Minute))
		t.Cleanup(p.letGo) // before the server closes, should the test fail
		var wg sync.WaitGroup
		results := make([]gqlResponse, burst)
		errs := make([]error, burst)
		for i := range burst {
			wg.Go(func() {
				results[i], errs[i] = post(e.URL, signUpMutation, signUpVars(fmt.Sprintf("burst%d-%d@example.com", i, time.Now().UnixNano())))
			})
		}
		// Every request is either hashing or waiting for a slot.
		waitFor(t, fmt.Sprintf("%d hashing and %d waiting", slots, burst-slots), func() bool {
			if m := p.max.Load(); m > slots {
				t.Fatalf("%d hashes ran at once, want at most %d", m, slots)
			}
			r, w := e.Auth.PasswordHashes()
			return r == slots && w == burst-slots
		})
		if m := p.max.Load(); m != slots {
			t.Fatalf("%d hashes ran at once, want %d", m, slots)
		}
		// Operators see the queue on /metrics.
		_, metrics := get(t, e.URL+"/metrics")
		mustContain(t, metrics, fmt.Sprintf("chatty_password_hashes_running %d\n", slots), fmt.Sprintf("chatty_password_hashes_waiting %d\n", burst-slots))
		p.letGo()
		wg.Wait()
		for i := range burst {
			if errs[i] != nil || results[i].Code() != "" {
				t.Fatalf("sign-up %d: %v %+v", i, errs[i], results[i].Errors)
			}
		}
		if m := p.max.Load(); m != slots {
			t.Fatalf("%d hashes ran at once, want at most %d", m, slots)
		}
		if r, w := e.Auth.PasswordHashes(); r != 0 || w != 0 {
			t.Fatalf("after the burst: %d hashing, %d waiting", r, w)
		}
	})
}

// When every slot stays busy longer than a request may wait, the request is
// answered RATE_LIMITED with a retry hint instead of piling up: sign-up,
// sign-in and a password change alike.
func TestPasswordHashingWaitIsBounded(t *testing.T) {
	forEachDB(t, func(t *testing.T, e0 *env) {
		p := newHashProbe()
		e := newEnvOn(t, e0.DB, p.option(1, 50*time.Millisecond))
		t.Cleanup(p.letGo) // before the server closes, should the test fail
		a := e.signUp(t, "patient")

		p.hold.Store(1)
		first := make(chan error, 1)
		go func() {
			r, err := post(e.URL, signUpMutation, signUpVars(fmt.Sprintf("first-%d@example.com", time.Now().UnixNano())))
			if err == nil && r.Code() != "" {
				err = fmt.Errorf("%+v", r.Errors)
			}
			first <- err
		}()
		waitFor(t, "the only slot taken", func() bool { r, _ := e.Auth.PasswordHashes(); return r == 1 })

		busy := map[string]gqlResponse{
			"sign-up": e.anon().do(t, signUpMutation, signUpVars(fmt.Sprintf("second-%d@example.com", time.Now().UnixNano()))),
			"sign-in": e.anon().do(t, signInMutation, map[string]any{"e": a.Email, "p": a.Password}),
			"password change": e.client(a).do(t, `mutation($p: String!, $c: String!) { updateProfile(input: {password: $p, currentPassword: $c}) { id } }`,
				map[string]any{"p": "a new password", "c": a.Password}),
		}
		for what, r := range busy {
			if r.Code() != "RATE_LIMITED" || r.retryAfter() != 1 {
				t.Errorf("%s while hashing is saturated: %s, want RATE_LIMITED with retryAfter 1", what, r.Raw)
			}
		}
		p.letGo()
		if err := <-first; err != nil {
			t.Fatalf("the sign-up holding the slot: %v", err)
		}
		// With the slot free again everything works.
		if r := e.anon().do(t, signInMutation, map[string]any{"e": a.Email, "p": a.Password}); r.Code() != "" {
			t.Fatalf("sign-in after the burst: %s", r.Raw)
		}
	})
}

// An IPv6 client holds a whole /64: walking through its addresses does not
// buy fresh attempts.
func TestSignInLimitCountsIPv6PerSlash64(t *testing.T) {
	forEachDBOpts(t, []envOption{behindProxy("127.0.0.0/8", "::1/128")}, func(t *testing.T, e *env) {
		owner := e.signUp(t, "v6 owner")
		for i := 1; i <= 10; i++ {
			xff := fmt.Sprintf("2001:db8:1:2::%x", i)
			if r := e.anon().doFrom(t, xff, signInMutation, map[string]any{"e": owner.Email, "p": "wrong password"}); r.Code() != "UNAUTHENTICATED" {
				t.Fatalf("attempt %d: %s, want UNAUTHENTICATED", i, r.Raw)
			}
		}
		if r := e.anon().doFrom(t, "2001:db8:1:2:ffff::1", signInMutation, map[string]any{"e": owner.Email, "p": owner.Password}); r.Code() != "RATE_LIMITED" {
			t.Fatalf("a fresh address in the same /64 escaped the limit: %s", r.Raw)
		}
		if r := e.anon().doFrom(t, "2001:db8:1:3::1", signInMutation, map[string]any{"e": owner.Email, "p": owner.Password}); r.Code() != "" {
			t.Fatalf("the owner from another /64: %s", r.Raw)
		}
	})
}
