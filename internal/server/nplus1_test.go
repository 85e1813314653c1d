package server_test

import (
	"context"
	"fmt"
	"sync/atomic"
	"testing"

	"entgo.io/ent/dialect"

	"github.com/chatty/chatty/internal/database"
	"github.com/chatty/chatty/internal/database/dbtest"
)

// statementCounter counts the SQL statements the server sends.
type statementCounter struct{ n atomic.Int64 }

func (c *statementCounter) option() envOption {
	return envOption{db: database.WithDriver(func(d dialect.Driver) dialect.Driver {
		return dialect.DebugWithContext(d, func(context.Context, ...any) { c.n.Add(1) })
	})}
}

// The rooms page with members, lastMessage and unreadCount costs the same
// number of statements for 5 rooms as for 50.
func TestRoomsPageStatementsDoNotGrowWithPageSize(t *testing.T) {
	forEachDBWith(t, func(t *testing.T, e *env, counter *statementCounter) {
		a, b := e.signUp(t, "owner"), e.signUp(t, "friend")
		ca, cb := e.client(a), e.client(b)
		for i := 0; i < 50; i++ {
			name := fmt.Sprintf("room %02d", i)
			r := ca.createRoom(t, &name, b.ID)
			cb.send(t, r.ID, fmt.Sprintf("message %d", i))
		}
		page := `query($n: Int!) { rooms(first: $n) { totalCount edges { cursor node {
			id name kind unreadCount members { id nickname } lastMessage { id body seq } } } } }`
		cost := func(n int) int64 {
			var out struct {
				Rooms struct {
					Edges []struct {
						Node struct {
							UnreadCount int
							Members     []struct{ ID string }
							LastMessage *struct{ Body string }
						}
					}
				}
			}
			before := counter.n.Load()
			ca.do(t, page, map[string]any{"n": n}).Decode(t, &out)
			spent := counter.n.Load() - before
			if len(out.Rooms.Edges) != n {
				t.Fatalf("page of %d has %d rooms", n, len(out.Rooms.Edges))
			}
			for _, ed := range out.Rooms.Edges {
				if ed.Node.UnreadCount != 1 || len(ed.Node.Members) != 2 || ed.Node.LastMessage == nil {
					t.Fatalf("room on the page: %+v", ed.Node)
				}
			}
			return spent
		}
		small, large := cost(5), cost(50)
		t.Logf("statements: %d for 5 rooms, %d for 50", small, large)
		if small != large {
			t.Fatalf("a page of 5 rooms costs %d statements, a page of 50 costs %d: something is loaded per room", small, large)
		}
		if large > 10 {
			t.Fatalf("a rooms page costs %d statements; expected a handful", large)
		}
	})
}

// forEachDBWith is forEachDB with a statement counter on the server's driver.
func forEachDBWith(t *testing.T, fn func(t *testing.T, e *env, c *statementCounter)) {
	t.Helper()
	for _, b := range dbtest.Backends() {
		t.Run(b, func(t *testing.T) {
			t.Parallel()
			c := &statementCounter{}
			fn(t, newEnv(t, b, c.option()), c)
		})
	}
}
