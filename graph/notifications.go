package graph

import (
	"context"

	"github.com/chatty/chatty/ent"
	"github.com/chatty/chatty/graph/model"
	"github.com/chatty/chatty/internal/apperr"
	"github.com/chatty/chatty/internal/chat"
	"github.com/chatty/chatty/internal/viewer"
)

var errNotNotificationCursor = apperr.New(apperr.BadInput, "malformed cursor: use a Notification.cursor or a cursor of notificationHistory")

// notificationID reads a notification cursor (nil: none).
func notificationID(c *ent.Cursor) (*int, error) {
	if c == nil {
		return nil, nil
	}
	if tag, ok := c.Value.(string); !ok || tag != chat.NotificationCursorTag || c.ID <= 0 {
		return nil, errNotNotificationCursor
	}
	return &c.ID, nil
}

// pageNotifications pages the viewer's notification history, newest
// first. A cursor is a notification's id (ids grow with time), so pages
// stay put while new notifications arrive: they come before the first
// page, never inside a later one.
func pageNotifications(ctx context.Context, c *chat.Service, v viewer.Viewer, first *int, after *ent.Cursor) (*model.NotificationConnection, error) {
	n, err := pageSize("first", first)
	if err != nil {
		return nil, err
	}
	before, err := notificationID(after)
	if err != nil {
		return nil, err
	}
	page, err := c.NotificationHistory(ctx, v, deref(before), n)
	if err != nil {
		return nil, err
	}
	conn := &model.NotificationConnection{
		Edges:       make([]*model.NotificationEdge, len(page.Notifications)),
		PageInfo:    &ent.PageInfo{HasNextPage: page.HasNextPage, HasPreviousPage: after != nil},
		TotalCount:  page.TotalCount,
		UnreadCount: page.UnreadCount,
	}
	for i, nt := range page.Notifications {
		conn.Edges[i] = &model.NotificationEdge{Node: nt, Cursor: nt.Cursor()}
	}
	if len(conn.Edges) > 0 {
		conn.PageInfo.StartCursor = &conn.Edges[0].Cursor
		conn.PageInfo.EndCursor = &conn.Edges[len(conn.Edges)-1].Cursor
	}
	return conn, nil
}

func deref(p *int) int {
	if p == nil {
		return 0
	}
	return *p
}
