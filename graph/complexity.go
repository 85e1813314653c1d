package graph

import (
	"github.com/chatty/chatty/ent"
	"github.com/chatty/chatty/internal/apperr"
)

// Page sizes of connections.
const (
	DefaultPageSize = 20
	MaxPageSize     = 100
)

// pageSize checks a first or last argument: 0 to MaxPageSize, DefaultPageSize when absent.
func pageSize(name string, n *int) (int, error) {
	switch {
	case n == nil:
		return DefaultPageSize, nil
	case *n < 0:
		return 0, apperr.Input(name, "%s must not be negative", name)
	case *n > MaxPageSize:
		return 0, apperr.Input(name, "%s must be at most %d", name, MaxPageSize)
	}
	return *n, nil
}

// cost is what complexity charges for a page: the items it may hold.
func cost(first, last *int) int {
	n := DefaultPageSize
	switch {
	case first != nil:
		n = *first
	case last != nil:
		n = *last
	}
	return min(max(n, 1), MaxPageSize)
}

// complexity makes a connection cost its page size times its items.
func complexity() ComplexityRoot {
	var c ComplexityRoot
	c.Query.SearchUsers = func(child int, _ string, first *int, _ *ent.Cursor) int {
		return 1 + child*cost(first, nil)
	}
	c.Query.Friends = func(child int, first *int, _ *ent.Cursor) int { return 1 + child*cost(first, nil) }
	c.Query.FriendRequests = func(child int, first *int, _ *ent.Cursor) int { return 1 + child*cost(first, nil) }
	c.Query.Rooms = func(child int, first *int, _ *ent.Cursor) int { return 1 + child*cost(first, nil) }
	c.Query.SearchMessages = func(child int, _ string, _ *int, first *int, _ *ent.Cursor) int {
		return 1 + child*cost(first, nil)
	}
	c.Query.BlockedUsers = func(child int, first *int, _ *ent.Cursor) int { return 1 + child*cost(first, nil) }
	c.Room.Messages = func(child int, first *int, _ *ent.Cursor, last *int, _ *ent.Cursor) int {
		return 1 + child*cost(first, last)
	}
	c.Room.Members = func(child int) int { return 1 + child*10 } // a typical room's members
	return c
}
