package graph

import "github.com/chatty/chatty/ent"

// Page sizes of connections.
const (
	DefaultPageSize = 20
	MaxPageSize     = 100
)

// pageSize is the number of items a page argument asks for, capped.
func pageSize(first, last *int) int {
	n := DefaultPageSize
	switch {
	case first != nil:
		n = *first
	case last != nil:
		n = *last
	}
	if n < 1 {
		n = 1
	}
	if n > MaxPageSize {
		n = MaxPageSize
	}
	return n
}

// complexity makes a connection cost its page size times its items.
func complexity() ComplexityRoot {
	var c ComplexityRoot
	c.Query.SearchUsers = func(child int, _ string, first *int, _ *ent.Cursor) int {
		return 1 + child*pageSize(first, nil)
	}
	return c
}
