package graph

import (
	"context"

	"entgo.io/contrib/entgql"
	"entgo.io/ent/dialect/sql"
	"github.com/99designs/gqlgen/graphql"
	"github.com/vektah/gqlparser/v2/ast"

	"github.com/chatty/chatty/ent"
	"github.com/chatty/chatty/ent/message"
)

// seqOrder is the order of a room's messages: by seq, oldest first.
var seqOrder = &ent.MessageOrder{Field: ent.MessageOrderFieldSeq, Direction: entgql.OrderDirectionAsc}

// pageMessages reads one page of q, a room's messages, in seq order, as
// ent's Paginate with seqOrder does and with the same answer, for less:
//
//   - no COUNT of the whole connection unless totalCount is selected:
//     Paginate counts whenever pageInfo is selected, then takes
//     hasPreviousPage and hasNextPage from the extra row it reads anyway;
//   - ordered by seq alone (unique in a room; Paginate adds id): ordered
//     by seq and id, MariaDB sorts every message of the room for each
//     page, where by seq it reads the page from the (room_id, seq) index;
//     and a cursor bounds seq on its own as well as in the (seq, id)
//     comparison, a range an index can use.
func pageMessages(ctx context.Context, q *ent.MessageQuery, after *ent.Cursor, first *int, before *ent.Cursor, last *int) (*ent.MessageConnection, error) {
	sel := connectionFields(ctx)
	if sel["totalCount"] || !sel["edges"] || (first != nil && *first == 0) || (last != nil && *last == 0) {
		return q.Paginate(ctx, after, first, before, last, ent.WithMessageOrder(seqOrder))
	}
	n, backwards := 0, last != nil
	if backwards {
		n = *last
	} else if first != nil {
		n = *first
	}
	direction := entgql.OrderDirectionAsc
	if backwards {
		direction = entgql.OrderDirectionDesc
	}
	// A cursor's seq is unique in the room, so it alone bounds the page:
	// seq > v (seq < v backwards), as ent's composite (seq, id) bound
	// would, but in a form MariaDB's optimizer takes as a plain range of
	// the (room_id, seq) index (the composite OR cost it about 17 ms of
	// planning a page 10 000 messages deep in a room of 20 480).
	for _, c := range []*ent.Cursor{after, before} {
		switch {
		case c == nil:
		case c.Value == nil:
			for _, p := range entgql.CursorsPredicate(c, nil, message.FieldID, message.FieldSeq, direction) {
				q.Where(p)
			}
		case backwards:
			q.Where(sql.FieldLT(message.FieldSeq, c.Value))
		default:
			q.Where(sql.FieldGT(message.FieldSeq, c.Value))
		}
	}
	order := sql.OrderAsc()
	if backwards {
		order = sql.OrderDesc()
	}
	q.Order(message.BySeq(order))
	if n > 0 {
		q.Limit(n + 1)
	}
	nodes, err := q.All(ctx)
	if err != nil {
		return nil, err
	}
	conn := &ent.MessageConnection{Edges: []*ent.MessageEdge{}}
	conn.PageInfo.HasNextPage = before != nil
	conn.PageInfo.HasPreviousPage = after != nil
	if n > 0 && len(nodes) == n+1 {
		nodes = nodes[:n]
		if backwards {
			conn.PageInfo.HasPreviousPage = true
		} else {
			conn.PageInfo.HasNextPage = true
		}
	}
	conn.Edges = make([]*ent.MessageEdge, len(nodes))
	for i, m := range nodes {
		if backwards {
			i = len(nodes) - 1 - i
		}
		conn.Edges[i] = &ent.MessageEdge{Node: m, Cursor: ent.Cursor{ID: m.ID, Value: m.Seq}}
	}
	if l := len(conn.Edges); l > 0 {
		conn.PageInfo.StartCursor = &conn.Edges[0].Cursor
		conn.PageInfo.EndCursor = &conn.Edges[l-1].Cursor
	}
	conn.TotalCount = len(nodes)
	return conn, nil
}

// connectionFields names the fields the operation selects on the
// connection being resolved, fragments included.
func connectionFields(ctx context.Context) map[string]bool {
	oc, fc := graphql.GetOperationContext(ctx), graphql.GetFieldContext(ctx)
	out := map[string]bool{}
	if oc == nil || fc == nil {
		return map[string]bool{"edges": true, "pageInfo": true, "totalCount": true}
	}
	for _, f := range graphql.CollectFields(oc, fc.Field.Selections, nil) {
		out[f.Name] = true
	}
	return out
}

// prefetchMessages loads, in one query each, what the operation asks of
// the messages of a page beyond their own columns (the messages they
// answer, the senders and attachments of both, their reactions) and
// primes the loaders with it, so a page costs the same statements
// whatever its size, and no loader waits for its batch to fill.
func prefetchMessages(ctx context.Context, conn *ent.MessageConnection) error {
	if conn == nil || len(conn.Edges) == 0 {
		return nil
	}
	oc := graphql.GetOperationContext(ctx)
	node := nodeSelection(ctx)
	fields := names(oc, node)
	l := loadersOf(ctx)
	var users, atts []int
	seenUser, seenAtt := map[int]bool{}, map[int]bool{}
	add := func(m *ent.Message, sender, attachment bool) {
		if id := m.SenderID; sender && id != nil && !seenUser[*id] {
			seenUser[*id] = true
			users = append(users, *id)
		}
		if id := m.AttachmentID; attachment && id != nil && !seenAtt[*id] {
			seenAtt[*id] = true
			atts = append(atts, *id)
		}
	}
	for _, e := range conn.Edges {
		add(e.Node, fields["sender"], fields["attachment"])
	}
	if fields["replyTo"] {
		var targets []int
		seen := map[int]bool{}
		for _, e := range conn.Edges {
			if id := e.Node.ReplyToID; id != nil && !seen[*id] {
				seen[*id] = true
				targets = append(targets, *id)
			}
		}
		replied, err := l.repliedTo.primed(ctx, targets)
		if err != nil {
			return err
		}
		var sub ast.SelectionSet
		for _, f := range graphql.CollectFields(oc, node, nil) {
			if f.Name == "replyTo" {
				sub = append(sub, f.Selections...)
			}
		}
		quoted := names(oc, sub)
		for _, id := range targets {
			if m := replied[id]; m != nil {
				add(m, quoted["sender"], quoted["attachment"])
			}
		}
	}
	if err := l.users.prime(ctx, users); err != nil {
		return err
	}
	if online(oc, node) {
		if err := l.online.prime(ctx, users); err != nil {
			return err
		}
	}
	if err := l.attachments.prime(ctx, atts); err != nil {
		return err
	}
	if fields["reactions"] {
		ids := make([]int, len(conn.Edges))
		for i, e := range conn.Edges {
			ids[i] = e.Node.ID
		}
		if err := l.reactions.prime(ctx, ids); err != nil {
			return err
		}
	}
	if l.pages != nil {
		l.pages.Store(conn, struct{}{})
	}
	return nil
}

// online tells whether node, the selection on the messages of a page,
// asks whether their senders (or the senders of the messages they answer)
// are online.
func online(oc *graphql.OperationContext, node ast.SelectionSet) bool {
	msgs := []ast.SelectionSet{node}
	for _, r := range collect(oc, node, "replyTo") {
		msgs = append(msgs, r.Selections)
	}
	for _, m := range msgs {
		for _, sender := range collect(oc, m, "sender") {
			if names(oc, sender.Selections)["online"] {
				return true
			}
		}
	}
	return false
}

// nodeSelection is what the operation selects on the nodes of the
// connection being resolved (under edges { node { … } }).
func nodeSelection(ctx context.Context) ast.SelectionSet {
	oc, fc := graphql.GetOperationContext(ctx), graphql.GetFieldContext(ctx)
	if oc == nil || fc == nil {
		return nil
	}
	var out ast.SelectionSet
	for _, edges := range collect(oc, fc.Field.Selections, "edges") {
		for _, node := range collect(oc, edges.Selections, "node") {
			out = append(out, node.Selections...)
		}
	}
	return out
}

// names names the fields of set, fragments included.
func names(oc *graphql.OperationContext, set ast.SelectionSet) map[string]bool {
	out := map[string]bool{}
	if oc == nil {
		return out
	}
	for _, f := range graphql.CollectFields(oc, set, nil) {
		out[f.Name] = true
	}
	return out
}
