package main

import (
	"context"
	"database/sql"
	"io"
	"log/slog"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/chatty/chatty/internal/auth"
	"github.com/chatty/chatty/internal/chat"
	"github.com/chatty/chatty/internal/database"
	"github.com/chatty/chatty/internal/database/dbtest"
	"github.com/chatty/chatty/internal/server"
	"github.com/chatty/chatty/internal/upload"
)

// TestSmokeProfile runs every scenario of the smoke profile, with the raw
// baseline, against a real chatty (served in-process over a loopback
// port) on each database. It proves the tool works, not how fast anything
// is: what it asserts is what the bench itself checks — every subscriber
// got every message once and in seq order, every acknowledged send is
// stored once with gapless seqs, every idle socket stayed open.
func TestSmokeProfile(t *testing.T) {
	for _, backend := range dbtest.Backends() {
		t.Run(backend, func(t *testing.T) {
			cfg := dbtest.Config(t, backend)
			ctx := context.Background()
			db := dbtest.OpenConfig(t, cfg)
			url := serveChatty(t, db)

			out := t.TempDir()
			rep, err := run(ctx, options{
				url: url, out: out, profile: "smoke", baseline: "raw",
				scenarios: []string{"fanout", "send", "history", "upload", "idle"}, pid: os.Getpid(), sources: 4,
				rawInProcess: true, log: io.Discard,
				rawDB: func() (*sql.DB, string, error) {
					if cfg.Driver == "sqlite" {
						return openRawDB("sqlite:" + cfg.DSN)
					}
					d, err := sql.Open("mysql", cfg.DSN)
					return d, "mysql", err
				},
			})
			if err != nil {
				t.Fatal(err)
			}
			if len(rep.Errors) > 0 {
				t.Fatalf("scenarios failed: %v", rep.Errors)
			}
			targets := map[string]int{}
			for _, f := range rep.Fanout {
				targets["fanout "+f.Target]++
				if f.Ready != f.Subscribers || f.Complete != f.Subscribers || len(f.SendErrors) > 0 {
					t.Errorf("fanout %s %s: %d of %d ready, %d complete, send errors %v, problems %v",
						f.Target, f.Selection, f.Ready, f.Subscribers, f.Complete, f.SendErrors, f.Problems)
				}
				if f.PacedMessages == 0 || len(f.latencies) != f.Subscribers*f.PacedMessages {
					t.Errorf("fanout %s %s: %d latencies of %d paced messages to %d subscribers", f.Target, f.Selection, len(f.latencies), f.PacedMessages, f.Subscribers)
				}
			}
			for _, s := range rep.Send {
				targets["send "+s.Target]++
				if s.Sends == 0 || len(s.Errors) > 0 {
					t.Errorf("send %s c=%d: %d sends, errors %v", s.Target, s.Concurrency, s.Sends, s.Errors)
				}
			}
			if c := rep.SendCheck; c == nil || !c.OK || c.Acked == 0 {
				t.Errorf("sends read back: %+v", c)
			}
			for _, h := range rep.History {
				targets["history"]++
				if h.Pages == 0 || len(h.Errors) > 0 || len(h.Problems) > 0 {
					t.Errorf("history c=%d: %d pages, errors %v, problems %v", h.Concurrency, h.Pages, h.Errors, h.Problems)
				}
			}
			for _, u := range rep.Upload {
				targets["upload"]++
				if len(u.Problems) > 0 {
					t.Errorf("upload %d MiB: %v", u.SizeMiB, u.Problems)
				}
			}
			for _, i := range rep.Idle {
				targets["idle "+i.Target]++
				if i.Held != i.Sockets || len(i.Points) != 3 {
					t.Errorf("idle %s: %d of %d held, %d points, problems %v", i.Target, i.Held, i.Sockets, len(i.Points), i.Problems)
				}
			}
			want := map[string]int{"fanout chatty": 2, "fanout raw": 1, "send chatty": 2, "send raw": 2, "idle chatty": 1, "idle raw": 1, "history": 2, "upload": 1}
			for k, n := range want {
				if targets[k] != n {
					t.Errorf("%s: %d results, want %d (all: %v)", k, targets[k], n, targets)
				}
			}

			if err := rep.write(out); err != nil {
				t.Fatal(err)
			}
			md, _ := os.ReadFile(filepath.Join(out, "report.md"))
			if !strings.Contains(string(md), "| measure | chatty | raw | chatty / raw |") || !strings.Contains(string(md), "10/10 complete") {
				t.Errorf("report.md:\n%s", md)
			}
			for _, f := range []string{"report.json", "latency-cdf.svg", "idle-rss.svg"} {
				if st, err := os.Stat(filepath.Join(out, f)); err != nil || st.Size() == 0 {
					t.Errorf("%s not written: %v", f, err)
				}
			}
		})
	}
}

// serveChatty serves a real chatty over db on a loopback port, as
// cmd/chatty wires it (cheap password hashing keeps the test fast).
func serveChatty(t *testing.T, db *database.DB) string {
	t.Helper()
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	secret := []byte("chatbench-test-secret-chatbench-test")
	disk, err := upload.NewDisk(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	chatSvc := chat.NewService(db.Client, log, chat.WithUploads(upload.NewService(disk, upload.Limits{})))
	authSvc, err := auth.NewService(db.Client, auth.Options{
		Secret: secret, Issuer: "http://chatty.test", Logger: log,
		Password:       auth.PasswordParams{Memory: 1024, Time: 1, Threads: 1},
		SessionsEnded:  chatSvc.SessionsEnded,
		AccountDeleted: chatSvc.AccountDeleted,
	})
	if err != nil {
		t.Fatal(err)
	}
	srv := server.New(server.Config{Logger: log, DB: db, Auth: authSvc, Chat: chatSvc, PublicURL: "http://chatty.test", Signer: upload.NewSigner(secret)})
	ts := httptest.NewServer(srv.Handler())
	t.Cleanup(ts.Close)
	return ts.URL
}

func TestFastNextAgreesWithJSON(t *testing.T) {
	for _, c := range []struct {
		frame string
		seq   int64
		ok    bool
	}{
		{`{"id":"1","type":"next","payload":{"data":{"messageAdded":{"id":"5","seq":42}}}}`, 42, true},
		{`{"payload":{"data":{"messageAdded":{"body":"\"seq\":7 \"type\":\"next\"","seq":3}}},"id":"1","type":"next"}`, 3, true},
		{`{"id":"1","type":"next","payload":{"data":null,"errors":[{"message":"x"}]}}`, 0, false},
		{`{"id":"1","type":"complete"}`, 0, false},
		{`{"type":"ping"}`, 0, false},
	} {
		seq, ok := fastNext([]byte(c.frame))
		if seq != c.seq || ok != c.ok {
			t.Errorf("fastNext(%s) = %d, %v; want %d, %v", c.frame, seq, ok, c.seq, c.ok)
		}
	}
}

func TestCheckStreamFindsEveryFault(t *testing.T) {
	d := func(seqs ...int64) []delivery {
		var out []delivery
		for _, s := range seqs {
			out = append(out, delivery{seq: s})
		}
		return out
	}
	for _, c := range []struct {
		name string
		got  []delivery
		want string // substring of the problem; "" for none
	}{
		{"whole, after warm-up", d(3, 4, 5, 6, 7), ""},
		{"gap", d(3, 4, 6, 7), "gap"},
		{"repeat", d(3, 4, 4, 5, 6, 7), "repeat"},
		{"disorder", d(3, 5, 4, 6, 7), "disorder"},
		{"first measured missing", d(5, 6, 7), "first measured seq 4 missing"},
		{"stopped early", d(3, 4, 5), "stopped at seq 5 of 7"},
		{"nothing", nil, "received nothing"},
	} {
		got := checkStream(c.got, 4, 7)
		if (c.want == "") != (got == "") || !strings.Contains(got, c.want) {
			t.Errorf("%s: checkStream = %q, want %q", c.name, got, c.want)
		}
	}
}
