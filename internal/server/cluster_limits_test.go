package server_test

import (
	"fmt"
	"testing"
	"time"

	"github.com/chatty/chatty/internal/auth"
	"github.com/chatty/chatty/internal/database/dbtest"
)

// Two instances over one Redis enforce one set of limits: attempts spent
// through one count on the other, for sign-in, searchUsers and
// searchMessages (limits made small and slow to refill, so the test does
// not depend on how fast the machine is), and for the cap of live
// subscriptions per account (200 over all instances).
func TestLimitsHoldAcrossInstances(t *testing.T) {
	url := redisURL(t)
	for _, backend := range dbtest.Backends() {
		t.Run(backend, func(t *testing.T) {
			t.Parallel()
			db := dbtest.Open(t, backend)
			prefix := testRedisPrefix(t)
			small := withAuth(func(o *auth.Options) {
				o.SignInPerAccountClient = auth.Limit{Burst: 4, Every: time.Hour}
				o.SearchPerUser = auth.Limit{Burst: 3, Every: time.Hour}
				o.MessageSearchPerUser = auth.Limit{Burst: 3, Every: time.Hour}
			})
			proxy := behindProxy("127.0.0.0/8", "::1/128")
			one, two := redisInstance(t, db, url, prefix, small, proxy), redisInstance(t, db, url, prefix, small, proxy)
			owner := one.signUp(t, "owner")

			// Sign-in: 4 attempts per account and address, two through
			// each instance; the fifth is refused on both.
			vars := map[string]any{"e": owner.Email, "p": "wrong password"}
			for i, e := range []*env{one, two, one, two} {
				if r := e.anon().doFrom(t, attackerAddr, signInMutation, vars); r.Code() != "UNAUTHENTICATED" {
					t.Fatalf("attempt %d: %s, want UNAUTHENTICATED", i+1, r.Raw)
				}
			}
			for name, e := range map[string]*env{"one": one, "two": two} {
				if r := e.anon().doFrom(t, attackerAddr, signInMutation, vars); r.Code() != "RATE_LIMITED" || r.retryAfter() < 1 {
					t.Fatalf("5th attempt through instance %s: %s, want RATE_LIMITED", name, r.Raw)
				}
			}
			// The owner, from elsewhere, is not locked out.
			var in signInData
			two.anon().doFrom(t, ownerAddr, signInMutation, map[string]any{"e": owner.Email, "p": owner.Password}).Decode(t, &in)

			// Searches: 3 per user, spread over both instances.
			for _, op := range []string{`{ searchUsers(query: "own") { totalCount } }`, `{ searchMessages(query: "hello") { totalCount } }`} {
				for i, e := range []*env{one, two, one} {
					if r := e.client(owner).do(t, op, nil); len(r.Errors) > 0 {
						t.Fatalf("%s, search %d: %s", op, i+1, r.Raw)
					}
				}
				if r := two.client(owner).do(t, op, nil); r.Code() != "RATE_LIMITED" || r.retryAfter() < 1 {
					t.Fatalf("%s, 4th search on the other instance: %s, want RATE_LIMITED", op, r.Raw)
				}
			}

			// Live subscriptions: 100 through each instance fill the cap;
			// the 201st is refused on either, and a place given back on
			// one is taken on the other.
			talker := one.signUp(t, "talker")
			r, after := one.client(talker).wsOpenRoom(t, "cap", owner.ID)
			subVars := map[string]any{"r": r.ID, "after": after}
			c1, c2 := one.wsConnect(t, protoTransportWS, owner), two.wsConnect(t, protoTransportWS, owner)
			for _, c := range []*wsClient{c1, c2} {
				for i := range 100 {
					c.subscribe(fmt.Sprintf("m%d", i), wsMessageAddedOp, subVars)
				}
			}
			sent := one.client(talker).send(t, r.ID, "to all 200")
			for _, c := range []*wsClient{c1, c2} {
				for i := range 100 {
					if m := c.message(fmt.Sprintf("m%d", i)); m.ID != sent.ID {
						t.Fatalf("m%d: got %+v, want message %s", i, m, sent.ID)
					}
				}
			}
			for name, e := range map[string]*env{"one": one, "two": two} {
				c := e.wsConnect(t, protoTransportWS, owner)
				c.subscribe("over", wsNotificationsOp, nil)
				if code := c.refused("over"); code != "RATE_LIMITED" {
					t.Fatalf("201st subscription through instance %s: code %q, want RATE_LIMITED", name, code)
				}
			}
			c2.stop("m0")
			c3 := one.wsConnect(t, protoTransportWS, owner)
			c3.subscribeUntilAccepted(t, "again", subVars, sent.ID)
			c3.subscribe("over-again", wsNotificationsOp, nil)
			if code := c3.refused("over-again"); code != "RATE_LIMITED" {
				t.Fatalf("over the cap again: code %q, want RATE_LIMITED", code)
			}
		})
	}
}
