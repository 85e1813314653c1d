package chat

import (
	"cmp"
	"context"
	stdsql "database/sql"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/chatty/chatty/ent"
	"github.com/chatty/chatty/ent/message"
	"github.com/chatty/chatty/ent/room"
	"github.com/chatty/chatty/internal/database"
	"github.com/chatty/chatty/internal/search"
)

// On MariaDB a batch of sends to one room (sendbatch.go), one send or 32,
// is stored and told in two round trips (database.Scripts), with the same
// statements and guarantees as storeSend and storeNotifications:
//
//  1. START TRANSACTION; per send claimSeq's UPDATE (the room's lock, the
//     membership and blocks checked under it, the unread counters) and
//     the INSERT … RETURNING of the message (which inserts nothing unless
//     that UPDATE did its work); then the room, its members (the senders
//     among them) and which of the batch's senders each one blocks, in
//     one plain read: the room's lock keeps the room and its membership
//     still until commit, and this first plain read of the transaction
//     sees what committed before the lock was taken.
//  2. The messages' grams for the search index; the NEW_MESSAGE
//     notifications of every recipient (the outbox), one multi-row INSERT
//     … RETURNING id per 1 000; COMMIT; and, after the commit, the unread
//     total over all their rooms of each recipient who is online, which
//     publishing tells them (as recipientNotes reads it after the commit
//     on the other path; see onlineTotals).
//
// An INSERT that hits the unique key of (room, sender, clientId) ends the
// first script; a single send then rolls back and looks the first message
// up in one more round trip, a batch rolls back and its sends go again
// alone. A send that may not post (its INSERT returned no row) rolls back
// and goes the ent path, which says why.

// errScriptRefused: a send of the script inserted no message (its sender
// may not post in the room, or the room is gone).
var errScriptRefused = errors.New("send refused under the room's lock")

// errOutcomeUnknown: the second round trip failed and whether it had
// committed could not be read either. The sends are not tried again (they
// may be stored); each caller gets the error, and a client that sends
// again with its clientId gets its message if it was stored.
var errOutcomeUnknown = errors.New("the send's commit may or may not have happened")

// scriptTimeout bounds the second round trip, which runs whatever the
// request's context does: once the first has taken the room's lock, the
// commit is near, and an outcome left unknown costs more than finishing.
const scriptTimeout = 10 * time.Second

// storeBatchScript stores the sends of batch (of one room) as storeBatch
// does, with scripts, in one transaction with the batches of other rooms
// that wait at the same time when it can (sendrooms.go); every one of
// them is finished.
func (s *Service) storeBatchScript(ctx context.Context, batch []*pendingSend) {
	if s.storeWithOtherRooms(ctx, batch) {
		return
	}
	s.storeRoomScript(ctx, batch)
}

// storeRoomScript stores the sends of batch (of one room) with scripts,
// in one transaction of their own when it can, else each alone; every one
// of them is finished.
func (s *Service) storeRoomScript(ctx context.Context, batch []*pendingSend) {
	if len(batch) > 1 {
		ctx, cancel := sharedContext(ctx, batch)
		msgs, err := s.sendScript(ctx, batch)
		cancel()
		if err == nil {
			for i, p := range batch {
				p.finish(msgs[i], nil)
			}
			return
		}
		if errors.Is(err, errOutcomeUnknown) { // not again: they may be stored
			for _, p := range batch {
				p.finish(nil, err)
			}
			return
		}
	}
	for _, p := range batch {
		msgs, err := s.sendScript(p.ctx, []*pendingSend{p})
		if errors.Is(err, errScriptRefused) {
			// The ent path finds out why, under the room's lock.
			var m *ent.Message
			err = s.inTx(p.ctx, func(tx *ent.Tx, em *emitter) (err error) {
				m, err = s.storeSend(p.ctx, tx, em, p)
				return err
			})
			p.finish(m, err)
			continue
		}
		if err != nil {
			p.finish(nil, err)
			continue
		}
		p.finish(msgs[0], nil)
	}
}

// sendScript stores the sends of batch (of one room) in one transaction
// and publishes their events after the commit.
func (s *Service) sendScript(ctx context.Context, batch []*pendingSend) ([]*ent.Message, error) {
	g := &roomSends{roomID: batch[0].roomID, batch: batch}
	if err := s.sendRoomsScript(ctx, []*roomSends{g}); err != nil {
		return nil, err
	}
	msgs := make([]*ent.Message, len(batch))
	for i := range batch {
		msgs[i] = g.sent[i].m
	}
	return msgs, nil
}

// roomSends is the sends of one room in a send transaction, and what the
// first script read of them.
type roomSends struct {
	roomID  int
	batch   []*pendingSend
	sent    []sentMessage // by send, once stored
	members []member
}

// sendRoomsScript stores the sends of groups (each of its own room, in
// ascending room order: the order every transaction of several rooms
// takes their locks in) in one transaction and publishes their events
// after the commit, room by room. On success every group's sent holds
// its messages.
func (s *Service) sendRoomsScript(ctx context.Context, groups []*roomSends) error {
	now := s.now()
	c, err := s.scripts.Conn(ctx)
	if err != nil {
		return err
	}
	if err := s.claimAndInsert(ctx, c, groups, now); err != nil {
		var taken *clientIDTaken
		if len(groups) == 1 && len(groups[0].batch) == 1 && errors.As(err, &taken) {
			// Most likely the clientId was used before: the first
			// message, in the round trip of the rollback.
			p := groups[0].batch[0]
			taken.first, taken.looked, taken.err = rollbackAndFind(ctx, c, p.roomID, p.userID, *p.d.clientID, taken.err)
			return taken
		}
		c.Rollback()
		return err
	}
	// The second round trip runs to its end: see scriptTimeout.
	ctx2, cancel := context.WithTimeout(context.WithoutCancel(ctx), scriptTimeout)
	defer cancel()
	events, err := s.commitSent(ctx2, c, groups)
	if err != nil {
		c.Discard() // what the transaction did rolls back, unless it committed
		roomID := groups[0].roomID
		stored, cerr := committed(ctx, s.db, groups[0].sent[0].m.ID)
		if cerr != nil {
			return fmt.Errorf("send to room %d: %w (%w; %w)", roomID, errOutcomeUnknown, err, cerr)
		}
		if !stored {
			return fmt.Errorf("send to room %d: %w", roomID, err)
		}
		// Committed, the totals unread: publishing reads the recipients
		// as on the ent path.
		s.log.WarnContext(ctx, "send committed, its recipients not read", "room_id", roomID, "err", err)
		events = events[:0]
		for _, g := range groups {
			for i, p := range g.batch {
				m, u, r := g.sent[i].m, g.sent[i].u, g.sent[i].r
				events = append(events, Event{Kind: EventMessageCreated, RoomID: g.roomID, ActorID: p.userID, Message: m, Sender: u, Room: r, Left: p.d.left})
			}
		}
	} else {
		c.Release()
	}
	for _, e := range events {
		s.pub.Publish(ctx, e)
	}
	return nil
}

// sentMessage is a message the first script stored.
type sentMessage struct {
	m *ent.Message
	u *ent.User
	r *ent.Room
}

// member is a current member of the room and the senders of the batch
// they block.
type member struct {
	userID   int
	user     *ent.User
	blocking []int
}

// groupMembers sorts rows (one per member and sender it blocks, one if
// none, in any order: the server sorts nothing, an ORDER BY cost a third
// of the members read's CPU) by member and merges each member's rows.
func groupMembers(rows []member) []member {
	slices.SortStableFunc(rows, func(a, b member) int { return cmp.Compare(a.userID, b.userID) })
	out := rows[:0]
	for _, r := range rows {
		if n := len(out); n > 0 && out[n-1].userID == r.userID {
			out[n-1].blocking = append(out[n-1].blocking, r.blocking...)
			continue
		}
		out = append(out, r)
	}
	return out
}

// claimAndInsert is the first round trip: BEGIN, then room by room each
// send's seq and message and the room's members. It fills each group's
// sent and members. The transaction stays open on c; on an error too
// (the caller rolls back).
func (s *Service) claimAndInsert(ctx context.Context, c *database.ScriptConn, groups []*roomSends, now time.Time) error {
	var (
		b    strings.Builder
		args []any
	)
	b.WriteString("START TRANSACTION;\n")
	for _, g := range groups {
		var senders []any
		for _, p := range g.batch {
			b.WriteString(claimSeqMySQL + ";\n" + insertSentGuardedSQL + ";\n")
			args = append(args, p.userID, now, g.roomID)
			args = append(args, insertSentGuardedArgs(g.roomID, p.d, now)...)
			senders = append(senders, p.userID)
		}
		b.WriteString(`SELECT mb.user_id, b.blocked_id,
  u.nickname, u.bio, u.avatar_id, u.last_seen_at, u.created_at, u.deleted_at,
  r.kind, r.name, r.direct_key, r.owner_id, r.created_at
FROM rooms r JOIN memberships mb ON mb.room_id = r.id AND mb.left_at IS NULL
JOIN users u ON u.id = mb.user_id
LEFT JOIN blocks b ON b.blocker_id = mb.user_id AND b.blocked_id IN (` + placeholders(len(senders)) + `)
WHERE r.id = ?;
`)
		args = append(append(args, senders...), g.roomID)
	}
	script := strings.TrimSuffix(b.String(), ";\n")

	fail := func(err error) error {
		for _, g := range groups {
			for _, p := range g.batch {
				if p.d.clientID != nil && database.IsDuplicate(err) {
					return &clientIDTaken{err: fmt.Errorf("store message in room %d: %w", g.roomID, err)}
				}
			}
		}
		return fmt.Errorf("store messages in room %d: %w", groups[0].roomID, err)
	}
	rows, err := c.Query(ctx, script, args...)
	if err != nil {
		return fail(err)
	}
	defer rows.Close()
	first := true
	next := func(what string) error { // the next result set
		if first {
			first = false
			return nil
		}
		if !rows.NextResultSet() {
			return orErr(rows.Err(), errors.New(what+" is missing"))
		}
		return nil
	}
	for _, g := range groups {
		g.sent = make([]sentMessage, len(g.batch))
		for i, p := range g.batch {
			if err := next("a result"); err != nil {
				return fail(err)
			}
			if !rows.Next() {
				if err := rows.Err(); err != nil {
					return fail(err)
				}
				return errScriptRefused
			}
			m := newSentRow(g.roomID, p.d, now).m
			var rev int64
			if err := rows.Scan(&m.ID, &m.Seq, &rev); err != nil {
				return fail(err)
			}
			m.Revision = &rev
			g.sent[i].m = m
			for rows.Next() { // one row; read to the end of the result
			}
		}
		if err := next("the members"); err != nil {
			return fail(err)
		}
		var (
			members         []member
			kind            string
			name, directKey stdsql.NullString
			owner           stdsql.NullInt64
			roomCreated     anyTime
		)
		for rows.Next() {
			var (
				u                       = &ent.User{}
				blocked, avatar         stdsql.NullInt64
				bio                     stdsql.NullString
				lastSeen, created, gone anyTime
			)
			if err := rows.Scan(&u.ID, &blocked, &u.Nickname, &bio, &avatar, &lastSeen, &created, &gone,
				&kind, &name, &directKey, &owner, &roomCreated); err != nil {
				return fail(err)
			}
			u.Bio, u.AvatarID, u.CreatedAt, u.LastSeenAt, u.DeletedAt = nullString(bio), nullInt(avatar), created.t, lastSeen.ptr(), gone.ptr()
			mb := member{userID: u.ID, user: u}
			if blocked.Valid {
				mb.blocking = []int{int(blocked.Int64)}
			}
			members = append(members, mb)
		}
		if err := rows.Err(); err != nil {
			return fail(err)
		}
		g.members = groupMembers(members)
		// Each message's room as it left it, and its sender (a member:
		// its seq was taken under the room's lock).
		for i, p := range g.batch {
			m := g.sent[i].m
			g.sent[i].r = &ent.Room{ID: g.roomID, UpdatedAt: now, Kind: room.Kind(kind), LastSeq: m.Seq, Revision: *m.Revision,
				CreatedAt: roomCreated.t, Name: nullString(name), DirectKey: nullString(directKey), OwnerID: nullInt(owner)}
			for _, mb := range members {
				if mb.userID == p.userID {
					g.sent[i].u = mb.user
				}
			}
			if g.sent[i].u == nil {
				return fail(fmt.Errorf("sender %d is not among the members of room %d", p.userID, g.roomID))
			}
		}
	}
	if err := rows.Close(); err != nil {
		return fail(err)
	}
	if err := rows.Err(); err != nil {
		return fail(err)
	}
	return nil
}

// commitSent is the second round trip: the grams, the notifications,
// COMMIT, the recipients' totals (each recipient once, whatever the rooms
// and sends that told them). It returns the events to publish, room by
// room in the order of groups, each room's in the order of its batch.
func (s *Service) commitSent(ctx context.Context, c *database.ScriptConn, groups []*roomSends) ([]Event, error) {
	var (
		b     strings.Builder
		notes []any // user, kind, room, message, actor, created_at; 6 a row
		users []int // the recipients, once each
		seen  = map[int]bool{}
	)
	for _, g := range groups {
		for i, p := range g.batch {
			m := g.sent[i].m
			if m.Kind == message.KindSYSTEM {
				continue
			}
			if q := search.InsertSQL("", g.roomID, m.ID, search.Grams(m.Body, p.d.filename), false); q != "" {
				b.WriteString(q)
				b.WriteString(";\n")
			}
			// Who is told, as storeNotifications: the current members but
			// the sender, less those who blocked the sender.
			for _, mb := range g.members {
				if mb.userID == p.userID || slices.Contains(mb.blocking, p.userID) {
					continue
				}
				notes = append(notes, mb.userID, string(NotifyNewMessage), g.roomID, m.ID, p.userID, m.CreatedAt)
				if !seen[mb.userID] {
					seen[mb.userID] = true
					users = append(users, mb.userID)
				}
			}
		}
	}
	var args []any
	inserts := 0
	const perRow, rowsPerInsert = 6, 1000
	for rest := notes; len(rest) > 0; inserts++ {
		n := min(len(rest)/perRow, rowsPerInsert)
		b.WriteString(`INSERT INTO notifications (user_id, kind, room_id, message_id, actor_id, created_at) VALUES ` +
			strings.TrimSuffix(strings.Repeat("(?,?,?,?,?,?),", n), ",") + "\nRETURNING id, user_id, message_id;\n")
		args = append(args, rest[:n*perRow]...)
		rest = rest[n*perRow:]
	}
	b.WriteString("COMMIT")
	// The totals of those who are online: see onlineTotals.
	users = s.onlineOf(ctx, users)
	if len(users) > 0 {
		// From the recipients' memberships (their index) to the rooms.
		b.WriteString(";\nSELECT m.user_id, SUM" + unreadExpr + ` FROM memberships m STRAIGHT_JOIN rooms r ON r.id = m.room_id
WHERE m.left_at IS NULL AND m.user_id IN (` + placeholders(len(users)) + `)
GROUP BY m.user_id`)
		args = append(args, ints(users)...)
	}
	rows, err := c.Query(ctx, b.String(), args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	stored := map[int][]recipientNote{} // by message
	for i := range inserts {
		if i > 0 && !rows.NextResultSet() {
			return nil, orErr(rows.Err(), errors.New("a result is missing"))
		}
		for rows.Next() {
			var n storedNote
			if err := rows.Scan(&n.id, &n.user, &n.message); err != nil {
				return nil, err
			}
			stored[n.message] = append(stored[n.message], recipientNote{userID: n.user, id: n.id})
		}
	}
	totals := map[int]*int{}
	if len(users) > 0 {
		if inserts > 0 && !rows.NextResultSet() {
			return nil, orErr(rows.Err(), errors.New("the totals are missing"))
		}
		for rows.Next() {
			var (
				user int
				n    stdsql.NullInt64
			)
			if err := rows.Scan(&user, &n); err != nil {
				return nil, err
			}
			totals[user] = new(max(0, int(n.Int64)))
		}
	}
	if err := rows.Close(); err != nil {
		return nil, err
	}
	if err := rows.Err(); err != nil {
		return nil, err
	}
	var events []Event
	for _, g := range groups {
		for i, p := range g.batch {
			rs := stored[g.sent[i].m.ID]
			for j := range rs {
				rs[j].total = totals[rs[j].userID]
			}
			slices.SortFunc(rs, func(a, b recipientNote) int { return a.userID - b.userID })
			events = append(events, Event{
				Kind: EventMessageCreated, RoomID: g.roomID, ActorID: p.userID,
				Message: g.sent[i].m, Sender: g.sent[i].u, Room: g.sent[i].r, Left: p.d.left,
				recipients: rs, recipientsKnown: true,
			})
		}
	}
	return events, nil
}

// rollbackAndFind rolls back the transaction open on c and reads the
// message sender sent to room roomID with clientID, in one round trip,
// and releases c. looked is false when that failed (err says why).
func rollbackAndFind(ctx context.Context, c *database.ScriptConn, roomID, sender int, clientID string, taken error) (*ent.Message, bool, error) {
	rows, err := c.Query(ctx, `ROLLBACK;
SELECT id, created_at, room_id, sender_id, attachment_id, kind, body, seq, client_id, reply_to_id,
  edited_at, deleted_at, revision, last_change
FROM messages WHERE room_id = ? AND sender_id = ? AND client_id = ?`, roomID, sender, clientID)
	if err != nil {
		c.Discard()
		return nil, false, taken
	}
	defer c.Release()
	defer rows.Close()
	if !rows.Next() {
		if err := rows.Err(); err != nil {
			return nil, false, taken
		}
		return nil, true, taken // not found: the conflict stays the answer
	}
	var (
		m                    ent.Message
		senderID, att, reply stdsql.NullInt64
		cid                  stdsql.NullString
		edited, deleted      stdsql.NullTime
		rev                  stdsql.NullInt64
		kind, lastChange     string
	)
	if err := rows.Scan(&m.ID, &m.CreatedAt, &m.RoomID, &senderID, &att, &kind, &m.Body, &m.Seq, &cid, &reply,
		&edited, &deleted, &rev, &lastChange); err != nil {
		return nil, false, taken
	}
	m.SenderID, m.AttachmentID, m.ReplyToID = nullInt(senderID), nullInt(att), nullInt(reply)
	m.ClientID = nullString(cid)
	m.Kind, m.LastChange = message.Kind(kind), message.LastChange(lastChange)
	if edited.Valid {
		m.EditedAt = &edited.Time
	}
	if deleted.Valid {
		m.DeletedAt = &deleted.Time
	}
	if rev.Valid {
		m.Revision = &rev.Int64
	}
	for rows.Next() { // one row (a unique key)
	}
	if err := rows.Err(); err != nil {
		return nil, false, taken
	}
	return &m, true, nil
}

// committed reports whether message id is stored: after the second round
// trip failed, whether its COMMIT had run (the request's deadline does
// not cut this short).
func committed(ctx context.Context, db *ent.Client, id int) (bool, error) {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), scriptTimeout)
	defer cancel()
	return db.Message.Query().Where(message.ID(id)).Exist(ctx)
}
