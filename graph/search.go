package graph

import (
	"context"

	"github.com/99designs/gqlgen/graphql"

	"github.com/chatty/chatty/ent"
	"github.com/chatty/chatty/internal/apperr"
	"github.com/chatty/chatty/internal/chat"
)

// searchCursorTag marks a cursor of searchMessages: a message's id with
// this value. A cursor of another list (a message page's carries the
// message's seq, a room's events cursor a revision) is refused.
const searchCursorTag = "search"

var errNotSearchCursor = apperr.New(apperr.BadInput, "malformed cursor: use a cursor from an earlier page of searchMessages")

// pageSearch pages the messages matching q, newest first. A cursor is the
// message's id (ids grow with time), so pages stay put while new messages
// arrive: they come before the first page, never inside a later one.
func pageSearch(ctx context.Context, c *chat.Service, q *chat.SearchQuery, first *int, after *ent.Cursor) (*ent.MessageConnection, error) {
	n, err := pageSize("first", first)
	if err != nil {
		return nil, err
	}
	before := 0
	if after != nil {
		if tag, ok := after.Value.(string); !ok || tag != searchCursorTag {
			return nil, errNotSearchCursor
		}
		before = after.ID
	}
	conn := &ent.MessageConnection{Edges: []*ent.MessageEdge{}}
	if fc := graphql.GetFieldContext(ctx); fc != nil && len(collect(graphql.GetOperationContext(ctx), fc.Field.Selections, "totalCount")) > 0 {
		if conn.TotalCount, err = c.CountSearch(ctx, q); err != nil {
			return nil, err
		}
	}
	conn.PageInfo.HasPreviousPage = after != nil
	if n == 0 {
		return conn, nil
	}
	ms, more, err := c.SearchMessages(ctx, q, before, n)
	if err != nil {
		return nil, err
	}
	conn.PageInfo.HasNextPage = more
	for _, m := range ms {
		conn.Edges = append(conn.Edges, &ent.MessageEdge{Node: m, Cursor: ent.Cursor{ID: m.ID, Value: searchCursorTag}})
	}
	if len(conn.Edges) > 0 {
		conn.PageInfo.StartCursor = &conn.Edges[0].Cursor
		conn.PageInfo.EndCursor = &conn.Edges[len(conn.Edges)-1].Cursor
	}
	return conn, prefetchMessages(ctx, conn)
}
