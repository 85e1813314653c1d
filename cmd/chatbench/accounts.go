package main

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"time"
)

// user is an account the bench signed up.
type user struct {
	ID, Token string
}

// run tag keeps emails of several runs against one database apart.
var runTag = fmt.Sprintf("%x", time.Now().UnixNano()&0xffffffffff)

var userSeq atomic.Int64

// signUp creates n accounts through the signUp mutation, a few at a time
// (password hashing is bounded on the server; a RATE_LIMITED answer is
// retried after retryAfter).
func signUp(ctx context.Context, a *api, n int, prefix string) ([]user, error) {
	out := make([]user, n)
	errs := make(chan error, n)
	sem := make(chan struct{}, 3)
	var wg sync.WaitGroup
	for i := range n {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			k := userSeq.Add(1)
			email := fmt.Sprintf("bench-%s-%s-%d@chatbench.test", runTag, prefix, k)
			var r struct {
				SignUp struct {
					AccessToken string `json:"accessToken"`
					User        struct {
						ID string `json:"id"`
					} `json:"user"`
				} `json:"signUp"`
			}
			var err error
			for attempt := 0; attempt < 20; attempt++ {
				err = a.do(ctx, "", `mutation($in: SignUpInput!) { signUp(input: $in) { accessToken user { id } } }`,
					map[string]any{"in": map[string]any{"email": email, "password": "bench-password-" + runTag, "nickname": fmt.Sprintf("b%s%d", prefix, k)}}, &r)
				if err == nil || codeOf(err) != "RATE_LIMITED" {
					break
				}
				select {
				case <-ctx.Done():
					errs <- ctx.Err()
					return
				case <-time.After(500 * time.Millisecond):
				}
			}
			if err != nil {
				errs <- fmt.Errorf("signUp %s: %w", email, err)
				return
			}
			out[i] = user{ID: r.SignUp.User.ID, Token: r.SignUp.AccessToken}
		}()
	}
	wg.Wait()
	close(errs)
	if err := <-errs; err != nil {
		return nil, err
	}
	return out, nil
}

// createRoom makes a group room of owner and members (at most 499 of them).
func createRoom(ctx context.Context, a *api, owner user, members []user, name string) (string, error) {
	ids := make([]string, 0, len(members))
	for _, m := range members {
		if m.ID != owner.ID {
			ids = append(ids, m.ID)
		}
	}
	var r struct {
		CreateRoom struct {
			ID string `json:"id"`
		} `json:"createRoom"`
	}
	err := a.do(ctx, owner.Token, `mutation($in: CreateRoomInput!) { createRoom(input: $in) { id } }`,
		map[string]any{"in": map[string]any{"memberIds": ids, "name": name}}, &r)
	if err != nil {
		return "", fmt.Errorf("createRoom: %w", err)
	}
	return r.CreateRoom.ID, nil
}

// sent is one sendMessage as the bench saw it.
type sent struct {
	clientID string
	seq      int64
	at       time.Duration // when the request started
	err      error
}

const sendMutation = `mutation($in: SendMessageInput!) { sendMessage(input: $in) { id seq } }`

// sendMessage sends one persisted message and returns its seq.
func sendMessage(ctx context.Context, a *api, token, roomID, clientID, body string) (int64, error) {
	var r struct {
		SendMessage struct {
			Seq int64 `json:"seq"`
		} `json:"sendMessage"`
	}
	err := a.do(ctx, token, sendMutation, map[string]any{"in": map[string]any{"roomId": roomID, "body": body, "clientId": clientID}}, &r)
	return r.SendMessage.Seq, err
}
