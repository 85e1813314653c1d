// Package demo fills an empty chatty with two accounts that know each
// other and a conversation, so a newcomer sees a living app at once
// (CHATTY_DEMO=1, make demo). Everything goes through the same domain
// calls the API makes: the image is a real upload, with its thumbnail.
package demo

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"image"
	"image/color"
	"image/png"
	"log/slog"

	"github.com/chatty/chatty/ent"
	"github.com/chatty/chatty/internal/auth"
	"github.com/chatty/chatty/internal/chat"
	"github.com/chatty/chatty/internal/viewer"
)

// Password is the password of both demo accounts (README, "Demo").
const Password = "chatty-demo-1234"

// Account is a demo account's sign-in.
type Account struct{ Email, Nickname, Bio string }

// Accounts are the demo accounts, in the order they are made.
var Accounts = [2]Account{
	{Email: "minsu@demo.chatty.test", Nickname: "김민수", Bio: "서울에서 커피 마시는 개발자 ☕"},
	{Email: "alex@demo.chatty.test", Nickname: "Alex", Bio: "Learning Korean, one message at a time"},
}

// conversation is the direct room's history: who (0: 민수, 1: Alex)
// says what; an image goes after the message at index imageAfter.
var conversation = []struct {
	from int
	body string
}{
	{1, "안녕하세요 민수 씨! Ready for Saturday? 🙂"},
	{0, "네, 좋아요! 토요일 오후 3시에 한강에서 만나요."},
	{1, "Perfect. I found the spot from last time — look:"},
	{0, "와, 노을 정말 예쁘다! 🌇 That's the Banpo bridge, right?"},
	{1, "맞아요! 다음에는 치킨도 가져가요 🍗"},
}

const imageAfter = 2

// Seed fills db with the demo when it has no user at all, and reports
// whether it did. A database where anyone ever signed up is left alone.
func Seed(ctx context.Context, db *ent.Client, accounts *auth.Service, chats *chat.Service, log *slog.Logger) (bool, error) {
	n, err := db.User.Query().Count(ctx)
	if err != nil {
		return false, fmt.Errorf("demo: count users: %w", err)
	}
	if n > 0 {
		log.InfoContext(ctx, "demo: the database has users already: nothing added", "users", n)
		return false, nil
	}
	var v [2]viewer.Viewer
	for i, a := range Accounts {
		bio := a.Bio
		p, err := accounts.SignUp(ctx, auth.SignUpInput{Email: a.Email, Password: Password, Nickname: a.Nickname, Bio: &bio})
		if errors.Is(err, auth.ErrEmailTaken) && i == 0 {
			// Another instance, started at the same moment, is seeding.
			log.InfoContext(ctx, "demo: another instance is adding the demo")
			return false, nil
		}
		if err != nil {
			return false, fmt.Errorf("demo: sign up %s: %w", a.Email, err)
		}
		v[i] = viewer.Viewer{UserID: p.User.ID, SessionID: p.SessionID}
		if _, err := accounts.SignOut(ctx, p.RefreshToken); err != nil { // the seeding session is not anyone's
			return false, fmt.Errorf("demo: sign out %s: %w", a.Email, err)
		}
	}
	// Alex asks, 민수 accepts.
	if _, err := chats.AddFriend(ctx, v[1], v[0].UserID); err != nil {
		return false, fmt.Errorf("demo: friend request: %w", err)
	}
	if _, err := chats.AddFriend(ctx, v[0], v[1].UserID); err != nil {
		return false, fmt.Errorf("demo: accept friend request: %w", err)
	}
	room, err := chats.CreateRoom(ctx, v[1], chat.CreateRoomInput{MemberIDs: []int{v[0].UserID}})
	if err != nil {
		return false, fmt.Errorf("demo: direct room: %w", err)
	}
	sent := make([]*ent.Message, len(conversation))
	for i, m := range conversation {
		if sent[i], err = chats.SendMessage(ctx, v[m.from], chat.SendMessageInput{RoomID: room.ID, Body: m.body}); err != nil {
			return false, fmt.Errorf("demo: message %d: %w", i, err)
		}
		if i == imageAfter {
			caption := "지난번 그 자리 · the spot"
			if _, err := chats.SendFile(ctx, v[m.from], chat.SendFileInput{
				RoomID: room.ID, File: bytes.NewReader(SunsetPNG()), Filename: "한강 노을.png", Caption: &caption,
			}); err != nil {
				return false, fmt.Errorf("demo: image: %w", err)
			}
		}
	}
	// Alex has read it all; 민수 all but Alex's last message: a badge of 1.
	last := len(sent) - 1
	for who, upTo := range map[int]int{1: last, 0: last - 1} {
		if _, err := chats.MarkRoomRead(ctx, v[who], room.ID, &sent[upTo].ID); err != nil {
			return false, fmt.Errorf("demo: mark read: %w", err)
		}
	}
	log.InfoContext(ctx, "demo: added two accounts, a friendship and a conversation",
		"emails", []string{Accounts[0].Email, Accounts[1].Email}, "password", Password)
	return true, nil
}

// SunsetPNG draws a small sunset over a river (480×320): a sky fading
// from blue to orange, a sun, and water reflecting it.
func SunsetPNG() []byte {
	const w, h, horizon = 480, 320, 200
	img := image.NewRGBA(image.Rect(0, 0, w, h))
	lerp := func(a, b uint8, t float64) uint8 { return uint8(float64(a) + (float64(b)-float64(a))*t) }
	for y := range h {
		for x := range w {
			var c color.RGBA
			if y < horizon {
				t := float64(y) / horizon
				c = color.RGBA{lerp(40, 250, t), lerp(60, 150, t), lerp(140, 80, t), 255}
				if dx, dy := x-300, y-170; dx*dx+dy*dy < 30*30 {
					c = color.RGBA{255, 220, 120, 255}
				}
			} else {
				t := float64(y-horizon) / (h - horizon)
				c = color.RGBA{lerp(200, 20, t), lerp(110, 40, t), lerp(90, 90, t), 255}
				if x > 270 && x < 330 && (y/6)%2 == 0 {
					c = color.RGBA{250, 200, 110, 255} // the sun on the water
				}
			}
			img.SetRGBA(x, y, c)
		}
	}
	var b bytes.Buffer
	if err := png.Encode(&b, img); err != nil {
		panic(err) // encoding an in-memory RGBA image does not fail
	}
	return b.Bytes()
}
