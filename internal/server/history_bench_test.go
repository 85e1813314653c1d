package server_test

// A benchmark of reading a room's history through the real handler: pages
// of 50 messages with their sender, read backwards (newest first) with
// Room.messages(last: 50, before: …), as cmd/chatbench's history scenario
// and the web app do. The client runs in the same process; compare runs
// (cpu-ns/page, statements/page, allocs/op), not absolute values.
//
//	go test ./internal/server/ -run '^$' -bench HistoryPage -benchmem
//	go test ./internal/server/ -run '^$' -bench HistoryPage/sqlite -cpuprofile cpu.out

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"testing"

	"github.com/chatty/chatty/internal/cputime"
	"github.com/chatty/chatty/internal/database/dbtest"
)

const historyPageOp = `query($id: ID!, $before: Cursor) { room(id: $id) { messages(last: 50, before: $before) {
  edges { node { id seq kind body clientId createdAt sender { id nickname avatarURL } } }
  pageInfo { hasPreviousPage startCursor } } } }`

func BenchmarkHistoryPage(b *testing.B) {
	for _, backend := range dbtest.Backends() {
		b.Run(backend, func(b *testing.B) {
			counter := &statementCounter{}
			e := newEnv(b, backend, counter.option())
			owner, reader := benchSignUp(b, e, "keeper"), benchSignUp(b, e, "reader")
			var room struct{ CreateRoom struct{ ID string } }
			benchDo(b, e, owner.AccessToken, createRoomOp, map[string]any{"ids": []string{reader.ID}, "name": "history"}, &room)
			id := room.CreateRoom.ID
			for i := range 300 {
				benchDo(b, e, owner.AccessToken, `mutation($r: ID!, $b: String!) { sendMessage(input: {roomId: $r, body: $b}) { id } }`,
					map[string]any{"r": id, "b": fmt.Sprintf("history message %d, long enough to look like a chat line", i)}, nil)
			}
			client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 4}}
			var before any
			page := func() {
				body, _ := json.Marshal(map[string]any{"query": historyPageOp, "variables": map[string]any{"id": id, "before": before}})
				req, _ := http.NewRequest(http.MethodPost, e.URL+"/graphql", bytes.NewReader(body))
				req.Header.Set("Content-Type", "application/json")
				req.Header.Set("Authorization", "Bearer "+reader.AccessToken)
				resp, err := client.Do(req)
				if err != nil {
					b.Fatal(err)
				}
				defer resp.Body.Close()
				var out struct {
					Data struct {
						Room struct {
							Messages struct {
								Edges []struct {
									Node struct {
										Seq    int64
										Sender struct{ Nickname string }
									}
								}
								PageInfo struct {
									HasPreviousPage bool
									StartCursor     string
								}
							}
						}
					}
					Errors []gqlError
				}
				if err := json.NewDecoder(resp.Body).Decode(&out); err != nil || len(out.Errors) > 0 {
					b.Fatalf("history page: %v %+v", err, out.Errors)
				}
				m := out.Data.Room.Messages
				if len(m.Edges) == 0 || (len(m.Edges) != 50 && m.PageInfo.HasPreviousPage) || m.Edges[0].Node.Sender.Nickname != "keeper" {
					b.Fatalf("history page of %d messages, hasPreviousPage %v", len(m.Edges), m.PageInfo.HasPreviousPage)
				}
				before = nil
				if m.PageInfo.HasPreviousPage {
					before = m.PageInfo.StartCursor
				}
			}
			page() // the session read and the first connection
			stmts := counter.n.Load()
			cpu := cputime.Self()
			b.ResetTimer()
			for range b.N {
				page()
			}
			b.StopTimer()
			b.ReportMetric(float64(counter.n.Load()-stmts)/float64(b.N), "statements/page")
			b.ReportMetric(float64((cputime.Self()-cpu).Nanoseconds())/float64(b.N), "cpu-ns/page")
		})
	}
}
