package graph

import (
	"context"

	"github.com/99designs/gqlgen/graphql"

	"github.com/chatty/chatty/ent"
	"github.com/chatty/chatty/ent/block"
	"github.com/chatty/chatty/internal/apperr"
)

var errNotBlockCursor = apperr.New(apperr.BadInput, "malformed cursor: use a cursor from an earlier page of blockedUsers")

// pageBlocked pages the viewer's blocks (q) as a connection of the blocked
// users, the newest block first. A cursor is the block's id (ids grow
// with time), so pages stay put while blocks come and go.
func pageBlocked(ctx context.Context, q *ent.BlockQuery, first *int, after *ent.Cursor) (*ent.UserConnection, error) {
	n, err := pageSize("first", first)
	if err != nil {
		return nil, err
	}
	conn := &ent.UserConnection{Edges: []*ent.UserEdge{}}
	if fc := graphql.GetFieldContext(ctx); fc != nil && len(collect(graphql.GetOperationContext(ctx), fc.Field.Selections, "totalCount")) > 0 {
		if conn.TotalCount, err = q.Clone().Count(ctx); err != nil {
			return nil, err
		}
	}
	if after != nil {
		if after.Value != nil { // a cursor of another list
			return nil, errNotBlockCursor
		}
		q.Where(block.IDLT(after.ID))
		conn.PageInfo.HasPreviousPage = true
	}
	if n == 0 {
		return conn, nil
	}
	bs, err := q.Order(ent.Desc(block.FieldID)).Limit(n + 1).WithBlocked().All(ctx)
	if err != nil {
		return nil, err
	}
	if len(bs) > n {
		conn.PageInfo.HasNextPage = true
		bs = bs[:n]
	}
	for _, b := range bs {
		conn.Edges = append(conn.Edges, &ent.UserEdge{Node: b.Edges.Blocked, Cursor: ent.Cursor{ID: b.ID}})
	}
	if len(conn.Edges) > 0 {
		conn.PageInfo.StartCursor = &conn.Edges[0].Cursor
		conn.PageInfo.EndCursor = &conn.Edges[len(conn.Edges)-1].Cursor
	}
	return conn, prefetchUsers(ctx, conn, true) // User.blocked: true for all, no query
}
