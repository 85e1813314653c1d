package server_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"sync"
	"testing"
)

// Once the server has handled a client's complete, nothing more of that
// subscription goes out, even while its messages are being delivered: the
// pong to a ping sent after the complete is the last word of the
// subscription, whatever was in flight. Many rounds against a room that
// keeps getting messages, so a delivery racing with the complete is
// likely in some round.
func TestWebSocketNothingAfterComplete(t *testing.T) {
	e := newEnv(t, "sqlite")
	a, b := e.signUp(t, "talker"), e.signUp(t, "quitter")
	r, _ := e.client(a).wsOpenRoom(t, "complete", b.ID)
	c := e.wsConnect(t, protoTransportWS, b)

	// a keeps sending (bounded) until the rounds are done.
	stop := make(chan struct{})
	var wg sync.WaitGroup
	wg.Go(func() {
		for i := range 3000 {
			select {
			case <-stop:
				return
			default:
			}
			if err := postMessage(e, a.AccessToken, r.ID, fmt.Sprint("m", i)); err != nil {
				t.Errorf("send %d: %v", i, err)
				return
			}
		}
	})
	defer func() {
		close(stop)
		wg.Wait()
	}()

	ended := map[string]bool{} // completed, and the pong after it came
	next := func() wsFrame {
		t.Helper()
		f, err := c.next(wsWait)
		if err != nil {
			t.Fatalf("waiting for a frame: %v", err)
		}
		if ended[f.ID] {
			t.Fatalf("got %v after the pong that followed its complete", f)
		}
		return f
	}
	const op = `subscription($r: ID!) { messageAdded(roomId: $r) { id seq } }`
	for round := range 100 {
		id := fmt.Sprint("live-", round)
		c.subscribe(id, op, map[string]any{"r": r.ID})
		for f := next(); f.ID != id || f.Type != "next"; f = next() {
		}
		c.stop(id)
		c.write(map[string]any{"type": "ping"})
		for f := next(); f.Type != "pong"; f = next() {
		}
		ended[id] = true
	}
	// The last round's too: read until the room's messages reach a new
	// subscription.
	c.subscribe("last", op, map[string]any{"r": r.ID})
	for f := next(); f.ID != "last"; f = next() {
	}
}

// postMessage sends a message over HTTP without the test's helpers (which
// stop the test: this runs in a goroutine of its own).
func postMessage(e *env, token, roomID, body string) error {
	b, _ := json.Marshal(map[string]any{"query": sendOp, "variables": map[string]any{"r": roomID, "b": body}})
	req, err := http.NewRequest(http.MethodPost, e.URL+"/graphql", bytes.NewReader(b))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	var out struct{ Errors []gqlError }
	if err := json.NewDecoder(resp.Body).Decode(&out); err != nil {
		return err
	}
	if len(out.Errors) > 0 {
		return fmt.Errorf("%+v", out.Errors)
	}
	return nil
}
