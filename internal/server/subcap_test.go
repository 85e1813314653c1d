package server_test

import (
	"encoding/json"
	"fmt"
	"testing"
	"time"
)

// An account holds at most 200 live subscriptions on an instance, over
// all its sockets (notifications counted as messageAdded): the 201st is
// refused with RATE_LIMITED, and a subscription the client completes, or a
// socket it closes, gives its places back.
func TestSubscriptionCapPerAccount(t *testing.T) {
	forEachDB(t, func(t *testing.T, e *env) {
		a, b := e.signUp(t, "holder"), e.signUp(t, "talker")
		r, after := e.client(b).wsOpenRoom(t, "cap", a.ID)
		vars := map[string]any{"r": r.ID, "after": after}

		// 100 per socket (the per-connection limit).
		c1, c2 := e.wsConnect(t, protoTransportWS, a), e.wsConnect(t, protoTransportWS, a)
		for _, c := range []*wsClient{c1, c2} {
			for i := range 100 {
				c.subscribe(fmt.Sprintf("m%d", i), wsMessageAddedOp, vars)
			}
		}
		sent := e.client(b).send(t, r.ID, "to all 200")
		for _, c := range []*wsClient{c1, c2} {
			for i := range 100 {
				if m := c.message(fmt.Sprintf("m%d", i)); m.ID != sent.ID {
					t.Fatalf("m%d: got %+v, want message %s", i, m, sent.ID)
				}
			}
		}

		c3 := e.wsConnect(t, protoTransportWS, a)
		c3.subscribe("over", wsMessageAddedOp, vars)
		if code := c3.refused("over"); code != "RATE_LIMITED" {
			t.Fatalf("201st subscription: code %q, want RATE_LIMITED", code)
		}
		c3.subscribe("over-n", wsNotificationsOp, nil)
		if code := c3.refused("over-n"); code != "RATE_LIMITED" {
			t.Fatalf("201st subscription (notifications): code %q, want RATE_LIMITED", code)
		}

		// Completing one gives its place back (once the server has ended
		// it: retried, bounded).
		c1.stop("m0")
		c3.subscribeUntilAccepted(t, "again", vars, sent.ID)
		c3.subscribe("over2", wsMessageAddedOp, vars)
		if code := c3.refused("over2"); code != "RATE_LIMITED" {
			t.Fatalf("subscription over the cap again: code %q, want RATE_LIMITED", code)
		}

		// Closing a socket gives all of its places back.
		c2.Close()
		c4 := e.wsConnect(t, protoTransportWS, a)
		for i := range 100 {
			c4.subscribeUntilAccepted(t, fmt.Sprintf("after-close-%d", i), vars, sent.ID)
		}
		c4.subscribe("over3", wsNotificationsOp, nil)
		if code := c4.refused("over3"); code != "RATE_LIMITED" {
			t.Fatalf("subscription over the cap after the close: code %q, want RATE_LIMITED", code)
		}
	})
}

// subscribeUntilAccepted subscribes id to messageAdded with vars (whose
// cursor is just before the message want) until it is not refused with
// RATE_LIMITED (at most for wsWait), and checks that it replays want.
func (c *wsClient) subscribeUntilAccepted(t *testing.T, id string, vars map[string]any, want string) {
	t.Helper()
	deadline := time.Now().Add(wsWait)
	for n := 0; ; n++ {
		try := fmt.Sprintf("%s-%d", id, n)
		c.subscribe(try, wsMessageAddedOp, vars)
		f := c.mustNextFor(try)
		if errs := f.errorsOf(); len(errs) > 0 {
			if errs[0].Code() != "RATE_LIMITED" || time.Now().After(deadline) {
				t.Fatalf("%s: refused with %v", try, f)
			}
			if f.Type != "error" {
				c.completed(try)
			}
			time.Sleep(20 * time.Millisecond)
			continue
		}
		data, _ := f.result()
		var got struct {
			MessageAdded struct{ ID string } `json:"messageAdded"`
		}
		if f.Type != c.dataType() || json.Unmarshal(data, &got) != nil || got.MessageAdded.ID != want {
			t.Fatalf("%s: got %v, want message %s", try, f, want)
		}
		return
	}
}
