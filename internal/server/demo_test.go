package server_test

import (
	"bytes"
	"context"
	"image"
	"io"
	"log/slog"
	"testing"

	"github.com/chatty/chatty/internal/demo"
)

// CHATTY_DEMO=1 on an empty database: the two documented accounts sign in
// with the documented password and find each other as friends, with a
// direct room holding Korean and English messages and an image whose
// thumbnail exists (a real upload), one message unread for 민수. Seeding
// again, or a database where someone signed up, adds nothing.
func TestDemo(t *testing.T) {
	forEachDB(t, func(t *testing.T, e *env) {
		ctx := context.Background()
		log := slog.New(slog.NewTextHandler(io.Discard, nil))
		seeded, err := demo.Seed(ctx, e.DB.Client, e.Auth, e.Chat, log)
		if err != nil || !seeded {
			t.Fatalf("Seed on an empty database: %v, %v", seeded, err)
		}

		signIn := func(email string) *client {
			var out struct{ SignIn struct{ AccessToken string } }
			e.anon().do(t, signInMutation, map[string]any{"e": email, "p": demo.Password}).Decode(t, &out)
			return e.as(out.SignIn.AccessToken)
		}
		minsu, alex := signIn(demo.Accounts[0].Email), signIn(demo.Accounts[1].Email)

		const roomsOp = `{ viewer { nickname } friends { edges { node { nickname } } }
			rooms { edges { node { kind unreadCount messages(last: 20) { edges { node { kind body sender { nickname }
			attachment { filename contentType width thumbnailURL url } } } } } } } }`
		type page struct {
			Viewer  struct{ Nickname string }
			Friends struct {
				Edges []struct{ Node struct{ Nickname string } }
			}
			Rooms struct {
				Edges []struct {
					Node struct {
						Kind        string
						UnreadCount int
						Messages    struct {
							Edges []struct {
								Node struct {
									Kind, Body string
									Sender     struct{ Nickname string }
									Attachment *struct {
										Filename, ContentType, URL string
										Width                      *int
										ThumbnailURL               *string
									}
								}
							}
						}
					}
				}
			}
		}
		var m, a page
		minsu.do(t, roomsOp, nil).Decode(t, &m)
		alex.do(t, roomsOp, nil).Decode(t, &a)
		if m.Viewer.Nickname != "김민수" || a.Viewer.Nickname != "Alex" {
			t.Fatalf("demo accounts are %q and %q", m.Viewer.Nickname, a.Viewer.Nickname)
		}
		if len(m.Friends.Edges) != 1 || m.Friends.Edges[0].Node.Nickname != "Alex" || len(a.Friends.Edges) != 1 {
			t.Fatalf("friends: 민수 %+v, Alex %+v", m.Friends, a.Friends)
		}
		if len(m.Rooms.Edges) != 1 || m.Rooms.Edges[0].Node.Kind != "DIRECT" {
			t.Fatalf("민수's rooms: %+v", m.Rooms)
		}
		if m.Rooms.Edges[0].Node.UnreadCount != 1 || a.Rooms.Edges[0].Node.UnreadCount != 0 {
			t.Fatalf("unread: 민수 %d (want 1), Alex %d (want 0)", m.Rooms.Edges[0].Node.UnreadCount, a.Rooms.Edges[0].Node.UnreadCount)
		}
		msgs := m.Rooms.Edges[0].Node.Messages.Edges
		var hangul, latin, images int
		senders := map[string]bool{}
		for _, edge := range msgs {
			n := edge.Node
			senders[n.Sender.Nickname] = true
			if bytes.ContainsFunc([]byte(n.Body), func(r rune) bool { return r >= 0xAC00 && r <= 0xD7A3 }) {
				hangul++
			}
			if bytes.ContainsAny([]byte(n.Body), "abcdefghijklmnopqrstuvwxyz") {
				latin++
			}
			if n.Kind != "IMAGE" {
				continue
			}
			images++
			at := n.Attachment
			if at == nil || at.ContentType != "image/png" || at.Width == nil || at.ThumbnailURL == nil {
				t.Fatalf("demo image: %+v", at)
			}
			for _, link := range []string{at.URL, *at.ThumbnailURL} {
				resp, body := e.fetch(t, link)
				if _, _, err := image.Decode(bytes.NewReader(body)); resp.StatusCode != 200 || err != nil {
					t.Fatalf("demo image %s: %d, %v", link, resp.StatusCode, err)
				}
			}
		}
		if len(msgs) < 4 || images != 1 || hangul < 2 || latin < 2 || !senders["김민수"] || !senders["Alex"] {
			t.Fatalf("demo conversation: %d messages, %d images, %d with Korean, %d with English, senders %v", len(msgs), images, hangul, latin, senders)
		}

		// Again: nothing added.
		if seeded, err := demo.Seed(ctx, e.DB.Client, e.Auth, e.Chat, log); err != nil || seeded {
			t.Fatalf("Seed a second time: %v, %v", seeded, err)
		}
		var again page
		minsu.do(t, roomsOp, nil).Decode(t, &again)
		if len(again.Rooms.Edges) != 1 || len(again.Rooms.Edges[0].Node.Messages.Edges) != len(msgs) || len(again.Friends.Edges) != 1 {
			t.Fatalf("after a second Seed: %+v", again)
		}
	})
}

// A database with any user is not the demo's to fill.
func TestDemoLeavesAUsedDatabaseAlone(t *testing.T) {
	e := newEnv(t, "sqlite")
	e.signUp(t, "먼저 온 사람")
	seeded, err := demo.Seed(context.Background(), e.DB.Client, e.Auth, e.Chat, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil || seeded {
		t.Fatalf("Seed with a user present: %v, %v", seeded, err)
	}
	if r := e.anon().do(t, signInMutation, map[string]any{"e": demo.Accounts[0].Email, "p": demo.Password}); r.Code() == "" {
		t.Fatalf("a demo account exists: %s", r.Raw)
	}
}
