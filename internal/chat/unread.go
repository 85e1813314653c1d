package chat

import (
	"context"
	stdsql "database/sql"
	"errors"
	"fmt"
	"strings"
	"time"

	"entgo.io/ent/dialect"

	"github.com/chatty/chatty/ent"
	"github.com/chatty/chatty/ent/message"
	"github.com/chatty/chatty/ent/room"
	"github.com/chatty/chatty/internal/viewer"
)

// Unread counts are kept, not counted. A member's unread count in a room is
//
//	rooms.message_count - memberships.sent_count - memberships.read_count
//
// where
//   - message_count is the number of the room's messages that count: every
//     kind but SYSTEM (joins and leaves are nobody's unread). The send that
//     takes a message's seq bumps it, in the same statement.
//   - sent_count is the number of those the member sent (one's own messages
//     are never unread), bumped by that same statement on MariaDB (one more
//     on SQLite).
//   - read_count is the number of the others' counting messages that are not
//     unread for the member: those up to their read marker or from before
//     they joined. MarkRoomRead adds the ones it passes; a (re)join sets it to
//     all of them (message_count - sent_count).
//
// So a send writes the two rows it locks anyway (its room's and its
// sender's membership), whatever the number of members; a room's unread
// count is one row of each table; a user's total is one indexed sum over
// their memberships. The semantics are those of the count they replace: the
// others' non-SYSTEM messages after the read marker and after joining, in
// rooms one is a member of. database.Migrate fills the counters of a
// database from before them (null until then).
//
// Whatever makes a message stop counting (deleting it) must call uncount
// in the same transaction, once, under the room's lock; if the row stays,
// countingMessage must leave it out too.

// unreadExpr is a membership's unread count, for memberships m of rooms r.
const unreadExpr = "(r.message_count - m.sent_count - m.read_count)"

// countingMessage is the condition, on messages msg, of a message that
// counts as unread for whoever did not send it. A message that stops
// counting while its row stays (a soft delete) must fail it too (e.g.
// "AND msg.deleted_at IS NULL"), here and in database.fillUnreadCounters.
const countingMessage = "msg.kind <> 'SYSTEM' AND msg.deleted_at IS NULL"

// sqlDialect is the database's dialect (dialect.MySQL or dialect.SQLite):
// given by WithDialect, else asked once.
func (s *Service) sqlDialect(ctx context.Context) (string, error) {
	s.dialectOnce.Do(func() {
		if s.dialect != "" {
			return
		}
		var v string
		if err := queryOne(ctx, s.db, "SELECT sqlite_version()", []any{&v}); err == nil {
			s.dialect = dialect.SQLite
		} else {
			s.dialect = dialect.MySQL
		}
	})
	return s.dialect, nil
}

// claimSeqMySQL is claimSeq's statement on MySQL (arguments: the sender,
// now, the room). The room's row is read (and locked) first: rooms is the
// first const table of the join, as every other writer locks it first.
const claimSeqMySQL = `UPDATE rooms r JOIN memberships m
  ON m.room_id = r.id AND m.user_id = ? AND m.left_at IS NULL
SET r.last_seq = r.last_seq + 1, r.revision = r.revision + 1, r.updated_at = ?,
  r.message_count = r.message_count + 1, m.sent_count = m.sent_count + 1
WHERE r.id = ? AND NOT EXISTS (SELECT 1 FROM blocks b WHERE b.pair_key = r.direct_key)`

// claimSeq takes room roomID's next seq for a message of sender, as
// takeSeq does (the room's lock, the membership and blocks checked under
// it, the unread counters bumped), without reading anything back: the
// INSERT that follows (insertSent) takes the seq and revision from the
// room's row. MariaDB: one statement; SQLite: two.
func (s *Service) claimSeq(ctx context.Context, tx *ent.Tx, roomID, sender int, now time.Time) error {
	d, err := s.sqlDialect(ctx)
	if err != nil {
		return err
	}
	if d == dialect.MySQL {
		res, err := tx.ExecContext(ctx, claimSeqMySQL, sender, now, roomID)
		if err != nil {
			return fmt.Errorf("next seq of room %d: %w", roomID, err)
		}
		if n, err := res.RowsAffected(); err != nil || n == 0 {
			return orErr(err, refusedPoster(ctx, tx, roomID, sender))
		}
		return nil
	}
	res, err := tx.ExecContext(ctx, `UPDATE rooms
SET last_seq = last_seq + 1, revision = revision + 1, updated_at = ?, message_count = message_count + 1
WHERE id = ? AND EXISTS (SELECT 1 FROM memberships m WHERE m.room_id = ? AND m.user_id = ? AND m.left_at IS NULL)
  AND NOT EXISTS (SELECT 1 FROM blocks b WHERE b.pair_key = rooms.direct_key)`, now, roomID, roomID, sender)
	if err != nil {
		return fmt.Errorf("next seq of room %d: %w", roomID, err)
	}
	if n, err := res.RowsAffected(); err != nil || n == 0 {
		return orErr(err, refusedPoster(ctx, tx, roomID, sender))
	}
	_, err = tx.ExecContext(ctx, `UPDATE memberships SET sent_count = sent_count + 1
WHERE room_id = ? AND user_id = ? AND left_at IS NULL`, roomID, sender)
	if err != nil {
		return fmt.Errorf("count message of user %d in room %d: %w", sender, roomID, err)
	}
	return nil
}

// insertSentSQL stores a user's message at the seq and revision claimSeq
// left in the room's row, and returns, besides the message's id, seq and
// revision, the room (as of this seq: a rename that committed before is
// seen) and the sender, which the published event carries: all in one
// statement (MariaDB 10.5+ and SQLite 3.35+ return rows from INSERT, and
// allow scalar subqueries in RETURNING).
const insertSentSQL = insertSentHead + insertSentTail

// insertSentGuardedSQL is insertSentSQL for a script (sendscript.go),
// where it follows claimSeq's UPDATE in the same round trip: it inserts
// nothing (and returns no row) unless that UPDATE changed the room's row
// (ROW_COUNT() is the previous statement's count), i.e. when the sender
// may not post. It returns the message's id, seq and revision: the
// script reads the room and the senders once for the batch, with the
// members.
const insertSentGuardedSQL = insertSentHead + ` AND ROW_COUNT() > 0
RETURNING id, seq, revision`

const (
	insertSentHead = `INSERT INTO messages
  (room_id, sender_id, kind, body, seq, revision, last_change, client_id, attachment_id, reply_to_id, created_at)
SELECT r.id, ?, ?, ?, r.last_seq, r.revision, 'ADDED', ?, ?, ?, ? FROM rooms r WHERE r.id = ?`
	insertSentTail = `
RETURNING id, seq, revision,
  (SELECT kind FROM rooms WHERE id = ?), (SELECT name FROM rooms WHERE id = ?),
  (SELECT direct_key FROM rooms WHERE id = ?), (SELECT owner_id FROM rooms WHERE id = ?),
  (SELECT created_at FROM rooms WHERE id = ?),
  (SELECT nickname FROM users WHERE id = ?), (SELECT bio FROM users WHERE id = ?),
  (SELECT avatar_id FROM users WHERE id = ?), (SELECT last_seen_at FROM users WHERE id = ?),
  (SELECT created_at FROM users WHERE id = ?), (SELECT deleted_at FROM users WHERE id = ?)`
)

// insertSent stores d, a user's message, in room roomID after claimSeq;
// see insertSentSQL.
func (s *Service) insertSent(ctx context.Context, tx *ent.Tx, roomID int, d draft, now time.Time) (*ent.Message, *ent.User, *ent.Room, error) {
	row := newSentRow(roomID, d, now)
	err := queryOne(ctx, tx, insertSentSQL, row.dest(), insertSentArgs(roomID, d, now)...)
	if errors.Is(err, stdsql.ErrNoRows) {
		err = ErrRoomNotFound // claimSeq found the room: not reached
	}
	if err != nil {
		return nil, nil, nil, fmt.Errorf("store message in room %d: %w", roomID, err)
	}
	m, u, r := row.result()
	return m, u, r, nil
}

// insertSentArgs are insertSentSQL's arguments.
func insertSentArgs(roomID int, d draft, now time.Time) []any {
	args := insertSentGuardedArgs(roomID, d, now)
	for range 5 {
		args = append(args, roomID)
	}
	for range 6 {
		args = append(args, deref(d.sender))
	}
	return args
}

// insertSentGuardedArgs are insertSentGuardedSQL's arguments.
func insertSentGuardedArgs(roomID int, d draft, now time.Time) []any {
	return []any{d.sender, string(d.kind), d.body, d.clientID, d.attachmentID, d.replyTo, now, roomID}
}

// sentRow scans the row insertSentSQL returns.
type sentRow struct {
	m                        *ent.Message
	r                        *ent.Room
	u                        *ent.User
	rev                      int64
	kind                     string
	name, directKey, bio     stdsql.NullString
	owner, avatar            stdsql.NullInt64
	roomCreated, userCreated anyTime
	lastSeen, deleted        anyTime
	nickname                 stdsql.NullString
}

func newSentRow(roomID int, d draft, now time.Time) *sentRow {
	return &sentRow{
		m: &ent.Message{RoomID: roomID, SenderID: d.sender, AttachmentID: d.attachmentID, Kind: d.kind, Body: d.body, ClientID: d.clientID, ReplyToID: d.replyTo, CreatedAt: now, LastChange: message.LastChangeADDED},
		r: &ent.Room{ID: roomID, UpdatedAt: now},
		u: &ent.User{ID: deref(d.sender)},
	}
}

func (x *sentRow) dest() []any {
	return []any{&x.m.ID, &x.m.Seq, &x.rev, &x.kind, &x.name, &x.directKey, &x.owner, &x.roomCreated, &x.nickname, &x.bio, &x.avatar, &x.lastSeen, &x.userCreated, &x.deleted}
}

// result is the message, its sender and its room, once scanned.
func (x *sentRow) result() (*ent.Message, *ent.User, *ent.Room) {
	m, r, u := x.m, x.r, x.u
	rev := x.rev
	m.Revision = &rev
	r.Kind, r.LastSeq, r.Revision, r.CreatedAt = room.Kind(x.kind), m.Seq, rev, x.roomCreated.t
	r.Name, r.DirectKey, r.OwnerID = nullString(x.name), nullString(x.directKey), nullInt(x.owner)
	u.Nickname, u.Bio, u.AvatarID, u.CreatedAt = x.nickname.String, nullString(x.bio), nullInt(x.avatar), x.userCreated.t
	u.LastSeenAt, u.DeletedAt = x.lastSeen.ptr(), x.deleted.ptr()
	return m, u, r
}

func nullString(s stdsql.NullString) *string {
	if !s.Valid {
		return nil
	}
	return &s.String
}

func nullInt(n stdsql.NullInt64) *int {
	if !n.Valid {
		return nil
	}
	i := int(n.Int64)
	return &i
}

// anyTime scans a time that the driver may hand over as text: SQLite's
// driver parses a column's time only when it knows the column's declared
// type, which an expression such as a subquery has none of.
type anyTime struct {
	t     time.Time
	valid bool
}

func (a *anyTime) Scan(v any) error {
	switch v := v.(type) {
	case nil:
		*a = anyTime{}
		return nil
	case time.Time:
		*a = anyTime{v.UTC(), true}
		return nil
	case []byte:
		return a.parse(string(v))
	case string:
		return a.parse(v)
	}
	return fmt.Errorf("scan time: unexpected %T", v)
}

// timeLayouts are the text forms of times that SQLite's driver writes.
var timeLayouts = []string{
	"2006-01-02 15:04:05.999999999-07:00",
	"2006-01-02T15:04:05.999999999-07:00",
	"2006-01-02 15:04:05.999999999",
	"2006-01-02T15:04:05.999999999",
	time.RFC3339Nano,
}

func (a *anyTime) parse(s string) error {
	s = strings.TrimSuffix(s, "Z")
	for _, l := range timeLayouts {
		if t, err := time.Parse(l, s); err == nil {
			*a = anyTime{t.UTC(), true}
			return nil
		}
	}
	return fmt.Errorf("scan time: unexpected %q", s)
}

func (a anyTime) ptr() *time.Time {
	if !a.valid {
		return nil
	}
	t := a.t
	return &t
}

// takeSeq takes room roomID's next seq for a message of sender (a current
// member), bumping the counters of a message that counts. It locks the
// room's row (MariaDB) or the database (SQLite) until commit, so
// concurrent senders get strictly increasing, unique seqs, and checks the
// membership under that lock, so a leave that committed before is seen:
// ErrRoomNotFound when sender is not a member (any more). It also returns
// the room's name and owner as of the seq, read under that lock: the room
// the message is published with is the room as it is at this point of its
// history (a rename that committed before is seen). MariaDB: one
// statement, the seq coming back as LAST_INSERT_ID, and the read-back of
// the revision; SQLite: two.
func (s *Service) takeSeq(ctx context.Context, tx *ent.Tx, roomID, sender int, now time.Time) (position, roomHead, error) {
	var head roomHead
	d, err := s.sqlDialect(ctx)
	if err != nil {
		return position{}, head, err
	}
	if d == dialect.MySQL {
		// The room's row is read (and locked) first: rooms is the first
		// const table of the join, as every other writer locks it first.
		res, err := tx.ExecContext(ctx, `UPDATE rooms r JOIN memberships m
  ON m.room_id = r.id AND m.user_id = ? AND m.left_at IS NULL
SET r.last_seq = LAST_INSERT_ID(r.last_seq + 1), r.revision = r.revision + 1, r.updated_at = ?,
  r.message_count = r.message_count + 1, m.sent_count = m.sent_count + 1
WHERE r.id = ? AND NOT EXISTS (SELECT 1 FROM blocks b WHERE b.pair_key = r.direct_key)`, sender, now, roomID)
		if err != nil {
			return position{}, head, fmt.Errorf("next seq of room %d: %w", roomID, err)
		}
		if n, err := res.RowsAffected(); err != nil || n == 0 {
			return position{}, head, orErr(err, refusedPoster(ctx, tx, roomID, sender))
		}
		seq, err := res.LastInsertId()
		if err != nil {
			return position{}, head, fmt.Errorf("next seq of room %d: %w", roomID, err)
		}
		// LAST_INSERT_ID carries one number: the revision is read back
		// (the row is ours until commit).
		var (
			rev   int64
			name  stdsql.NullString
			owner stdsql.NullInt64
		)
		err = queryOne(ctx, tx, `SELECT revision, name, owner_id FROM rooms WHERE id = ?`, []any{&rev, &name, &owner}, roomID)
		if err != nil {
			return position{}, head, fmt.Errorf("revision of room %d: %w", roomID, err)
		}
		return position{seq: seq, rev: rev}, headOf(name, owner), nil
	}
	var (
		pos   position
		name  stdsql.NullString
		owner stdsql.NullInt64
	)
	err = queryOne(ctx, tx, `UPDATE rooms
SET last_seq = last_seq + 1, revision = revision + 1, updated_at = ?, message_count = message_count + 1
WHERE id = ? AND EXISTS (SELECT 1 FROM memberships m WHERE m.room_id = ? AND m.user_id = ? AND m.left_at IS NULL)
  AND NOT EXISTS (SELECT 1 FROM blocks b WHERE b.pair_key = rooms.direct_key)
RETURNING last_seq, revision, name, owner_id`, []any{&pos.seq, &pos.rev, &name, &owner}, now, roomID, roomID, sender)
	if err == stdsql.ErrNoRows {
		return position{}, head, refusedPoster(ctx, tx, roomID, sender)
	}
	if err != nil {
		return position{}, head, fmt.Errorf("next seq of room %d: %w", roomID, err)
	}
	_, err = tx.ExecContext(ctx, `UPDATE memberships SET sent_count = sent_count + 1
WHERE room_id = ? AND user_id = ? AND left_at IS NULL`, roomID, sender)
	if err != nil {
		return position{}, head, fmt.Errorf("count message of user %d in room %d: %w", sender, roomID, err)
	}
	return pos, headOf(name, owner), nil
}

// roomHead is what of a room a rename or an owner's change moves: takeSeq
// reads it with the seq, so that a message is published with the room as
// of that seq.
type roomHead struct {
	name    *string
	ownerID *int
}

func headOf(name stdsql.NullString, owner stdsql.NullInt64) roomHead {
	var h roomHead
	if name.Valid {
		h.name = &name.String
	}
	if owner.Valid {
		id := int(owner.Int64)
		h.ownerID = &id
	}
	return h
}

type queryer interface {
	QueryContext(ctx context.Context, query string, args ...any) (*stdsql.Rows, error)
}

// queryOne scans the first row of query into dest (sql.ErrNoRows when there is none).
// refusedPoster says why sender may not post in room roomID, for when
// takeSeq's update matched nothing under the room's lock: not a member (any
// more), or a block in a direct room. A block's writer takes the room's
// lock first, so what postingMember reads here stands until commit.
func refusedPoster(ctx context.Context, tx *ent.Tx, roomID, sender int) error {
	if _, err := postingMember(ctx, tx.Client(), roomID, sender); err != nil {
		return err
	}
	return ErrRoomNotFound
}

func queryOne(ctx context.Context, q queryer, query string, dest []any, args ...any) error {
	rows, err := q.QueryContext(ctx, query, args...)
	if err != nil {
		return err
	}
	defer rows.Close()
	if !rows.Next() {
		if err := rows.Err(); err != nil {
			return err
		}
		return stdsql.ErrNoRows
	}
	if err := rows.Scan(dest...); err != nil {
		return err
	}
	return rows.Close()
}

func orErr(err, otherwise error) error {
	if err != nil {
		return err
	}
	return otherwise
}

// uncount takes message m out of the unread counters: for when it stops
// counting (it is deleted). Call it in the transaction that does that,
// after taking the room's lock (lockRoom), once per message. A message
// that does not count (SYSTEM) changes nothing. Afterwards every member's
// unread count is one less if m was unread for them, and the same
// otherwise (its sender's included).
func uncount(ctx context.Context, tx *ent.Tx, m *ent.Message) error {
	if m.Kind == message.KindSYSTEM || m.SenderID == nil {
		return nil
	}
	if _, err := tx.ExecContext(ctx, `UPDATE rooms SET message_count = message_count - 1 WHERE id = ?`, m.RoomID); err != nil {
		return fmt.Errorf("uncount message %d: %w", m.ID, err)
	}
	// Its sender stops having sent it; whoever had read it (or joined
	// after it) stops having read it; for the others it stops being unread.
	_, err := tx.ExecContext(ctx, `UPDATE memberships SET
  sent_count = CASE WHEN user_id = ? THEN sent_count - 1 ELSE sent_count END,
  read_count = CASE WHEN user_id <> ? AND (last_read_seq >= ? OR joined_seq >= ?) THEN read_count - 1 ELSE read_count END
WHERE room_id = ? AND (user_id = ? OR last_read_seq >= ? OR joined_seq >= ?)`,
		*m.SenderID, *m.SenderID, m.Seq, m.Seq, m.RoomID, *m.SenderID, m.Seq, m.Seq)
	if err != nil {
		return fmt.Errorf("uncount message %d: %w", m.ID, err)
	}
	return nil
}

// markRead moves membership memID's read marker to seq (never back) and
// counts the others' messages it passes as read, in one statement: the
// count and the marker move together, also when two devices mark at once.
// tx holds the room's lock (lockRoom) already: the room, then the
// membership, then the messages counted, in every writer's order.
func (s *Service) markRead(ctx context.Context, tx *ent.Tx, memID, roomID, userID int, seq int64) (moved bool, err error) {
	// MariaDB assigns from left to right, each assignment seeing the
	// ones before: read_count first, from the old marker.
	res, err := tx.ExecContext(ctx, `UPDATE memberships SET
  read_count = read_count + (SELECT COUNT(*) FROM messages msg
    WHERE msg.room_id = ? AND `+countingMessage+` AND msg.sender_id <> ?
      AND msg.seq > memberships.last_read_seq AND msg.seq > memberships.joined_seq AND msg.seq <= ?),
  last_read_seq = ?, last_read_at = ?
WHERE id = ? AND last_read_seq < ?`, roomID, userID, seq, seq, s.now(), memID, seq)
	if err != nil {
		return false, fmt.Errorf("mark room %d read: %w", roomID, err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return false, fmt.Errorf("mark room %d read: %w", roomID, err)
	}
	return n > 0, nil
}

// UnreadCounts returns, for each room, how many messages the viewer has
// not read: after their read marker, not their own, not SYSTEM.
func (s *Service) UnreadCounts(ctx context.Context, v viewer.Viewer, roomIDs []int) (map[int]int, error) {
	out := make(map[int]int, len(roomIDs))
	if len(roomIDs) == 0 {
		return out, nil
	}
	args := []any{v.UserID}
	for _, id := range roomIDs {
		args = append(args, id)
	}
	err := scanPairs(ctx, s.db, out, `SELECT m.room_id, `+unreadExpr+` FROM memberships m JOIN rooms r ON r.id = m.room_id
WHERE m.user_id = ? AND m.left_at IS NULL AND m.room_id IN (`+placeholders(len(roomIDs))+`)`, args...)
	if err != nil {
		return nil, fmt.Errorf("count unread messages: %w", err)
	}
	return out, nil
}

// TotalUnread counts the viewer's unread messages over all their rooms.
func (s *Service) TotalUnread(ctx context.Context, v viewer.Viewer) (int, error) {
	totals, err := s.unreadTotals(ctx, []int{v.UserID})
	return totals[v.UserID], err
}

// unreadTotals counts each user's unread messages over all their rooms, in
// one query.
func (s *Service) unreadTotals(ctx context.Context, users []int) (map[int]int, error) {
	return unreadTotalsWith(ctx, s.db, users)
}

// unreadTotalsWith is unreadTotals read with q (a transaction's, to see
// its writes).
func unreadTotalsWith(ctx context.Context, q queryer, users []int) (map[int]int, error) {
	out := make(map[int]int, len(users))
	if len(users) == 0 {
		return out, nil
	}
	err := scanPairs(ctx, q, out, `SELECT m.user_id, SUM`+unreadExpr+` FROM memberships m JOIN rooms r ON r.id = m.room_id
WHERE m.user_id IN (`+placeholders(len(users))+`) AND m.left_at IS NULL GROUP BY m.user_id`, ints(users)...)
	if err != nil {
		return nil, fmt.Errorf("count unread totals: %w", err)
	}
	return out, nil
}

// onlineTotals reads the unread total of each of users who is online
// (Presence) with q (a transaction's, to see its writes). The others get
// none: nobody is there to see it, and a stream that gets their
// notification reads it then (notifStream.withTotal).
func (s *Service) onlineTotals(ctx context.Context, q queryer, users []int) (map[int]*int, error) {
	totals, err := unreadTotalsWith(ctx, q, s.onlineOf(ctx, users))
	if err != nil {
		return nil, err
	}
	out := make(map[int]*int, len(totals))
	for u, n := range totals {
		out[u] = new(n)
	}
	return out, nil
}

// presenceWait bounds onlineOf's question to presence (Redis across
// instances): a send asks it holding its room's lock.
const presenceWait = 100 * time.Millisecond

// onlineOf returns those of users who have a live connection: those a
// notification's unread total is read for when it is published. When
// presence cannot say (in time), all of them.
func (s *Service) onlineOf(ctx context.Context, users []int) []int {
	if len(users) == 0 {
		return nil
	}
	if m, ok := s.presence.(*MemoryPresence); ok { // answers at once
		online, _ := m.Online(ctx, users)
		return onlineAmong(users, online)
	}
	// Waited for here, not only passed to Online: go-redis reads its
	// socket until its own ReadTimeout (seconds), whatever the context
	// says, unless ContextTimeoutEnabled. A stalled Redis would hold the
	// room's lock that long.
	ctx, cancel := context.WithTimeout(ctx, presenceWait)
	defer cancel()
	type answer struct {
		online map[int]bool
		err    error
	}
	ch := make(chan answer, 1) // the goroutine leaves when presence answers
	go func() {
		online, err := s.presence.Online(ctx, users)
		ch <- answer{online, err}
	}()
	var online map[int]bool
	var err error
	select {
	case a := <-ch:
		online, err = a.online, a.err
	case <-ctx.Done():
		err = ctx.Err()
	}
	if err != nil {
		s.log.WarnContext(ctx, "presence of recipients: reading every unread total", "err", err)
		return users
	}
	return onlineAmong(users, online)
}

// onlineAmong returns those of users online says are online.
func onlineAmong(users []int, online map[int]bool) []int {
	var out []int
	for _, u := range users {
		if online[u] {
			out = append(out, u)
		}
	}
	return out
}

// scanPairs reads (id, count) rows of query, asked of q, into out; a count
// is never below 0.
func scanPairs(ctx context.Context, q queryer, out map[int]int, query string, args ...any) error {
	rows, err := q.QueryContext(ctx, query, args...)
	if err != nil {
		return err
	}
	defer rows.Close()
	for rows.Next() {
		var (
			id int
			n  stdsql.NullInt64
		)
		if err := rows.Scan(&id, &n); err != nil {
			return err
		}
		out[id] = max(0, int(n.Int64))
	}
	return rows.Err()
}

func placeholders(n int) string {
	return strings.TrimSuffix(strings.Repeat("?,", n), ",")
}
