package chat

import (
	"context"
	stdsql "database/sql"
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"
	"time"

	"entgo.io/ent/dialect"

	"github.com/chatty/chatty/ent"
	"github.com/chatty/chatty/ent/message"
	"github.com/chatty/chatty/ent/notification"
	"github.com/chatty/chatty/ent/room"
	"github.com/chatty/chatty/ent/user"
	"github.com/chatty/chatty/internal/apperr"
	"github.com/chatty/chatty/internal/viewer"
)

// NotificationKind says what a notification is about.
type NotificationKind string

// The kinds of notification.
const (
	NotifyNewMessage     NotificationKind = "NEW_MESSAGE"
	NotifyFriendRequest  NotificationKind = "FRIEND_REQUEST"
	NotifyFriendAccepted NotificationKind = "FRIEND_ACCEPTED"
	NotifyRoomAdded      NotificationKind = "ROOM_ADDED"
	// NotifyRoomRemoved: an OWNER removed the viewer from Room.
	NotifyRoomRemoved NotificationKind = "ROOM_REMOVED"
	// NotifyRoomRead: the viewer's read marker moved forward in Room (on
	// any of their devices), so a badge elsewhere shows the new total.
	NotifyRoomRead NotificationKind = "ROOM_READ"
)

// MarshalGQL writes the kind as a GraphQL enum value.
func (k NotificationKind) MarshalGQL(w io.Writer) { _, _ = io.WriteString(w, strconv.Quote(string(k))) }

// UnmarshalGQL reads the kind from a GraphQL enum value.
func (k *NotificationKind) UnmarshalGQL(v any) error {
	s, _ := v.(string)
	switch NotificationKind(s) {
	case NotifyNewMessage, NotifyFriendRequest, NotifyFriendAccepted, NotifyRoomAdded, NotifyRoomRemoved, NotifyRoomRead:
		*k = NotificationKind(s)
		return nil
	}
	return apperr.New(apperr.BadInput, "%q is not a notification kind", s)
}

// Notification is what a user's notification widget is told. Every one
// is stored (see storeNotifications): ID is its row, the resume point of
// notifications(after:) and the bound of markNotificationsRead.
type Notification struct {
	ID          int
	Kind        NotificationKind
	Room        *ent.Room
	Message     *ent.Message
	Actor       *ent.User
	TotalUnread int
	// totalUnknown: TotalUnread was not read when the notification was
	// published (its user was offline then); a stream reads it before
	// delivering it (notifStream.withTotal).
	totalUnknown bool
	CreatedAt    time.Time
	// ReadAt: when markNotificationsRead covered it (ROOM_READ is stored
	// read: it is the viewer's own doing).
	ReadAt *time.Time
}

// NotificationCursorTag marks a cursor of a notification: its id with
// this value. A cursor of another list is refused.
const NotificationCursorTag = "notification"

// Cursor is the notification's resume point.
func (n *Notification) Cursor() ent.Cursor {
	return ent.Cursor{ID: n.ID, Value: NotificationCursorTag}
}

// Notification retention and pruning.
const (
	// DefaultNotificationRetention is how long a notification is kept.
	DefaultNotificationRetention = 30 * 24 * time.Hour
	// pruneBatch bounds the rows one pruning statement deletes.
	pruneBatch = 1000
)

// storeNotifications writes, in the transaction of what caused them, the
// notifications of the events fn emitted (the outbox the notifications
// subscription replays from), and notes each stored id on its event for
// publishing after commit. A batch of new messages of a room is one read
// of the room's members and one multi-row INSERT per 1 000 of them; a
// ROOM_ADDED, ROOM_REMOVED, FRIEND_* or ROOM_READ is one multi-row insert,
// plus one read of who blocked the actor.
func (s *Service) storeNotifications(ctx context.Context, tx *ent.Tx, em *emitter) error {
	var msgIDs []int // non-SYSTEM messages, in order, any room
	for i := range em.events {
		e := &em.events[i]
		switch e.Kind {
		case EventMessageCreated:
			if e.Message != nil && e.Message.Kind != message.KindSYSTEM && e.Message.SenderID != nil {
				msgIDs = append(msgIDs, e.Message.ID)
			}
		case EventRoomAdded:
			if err := s.storeNotes(ctx, tx, e, NotifyRoomAdded, e.UserIDs, nil); err != nil {
				return err
			}
		case EventMemberRemoved:
			if err := s.storeNotes(ctx, tx, e, NotifyRoomRemoved, e.UserIDs, nil); err != nil {
				return err
			}
		case EventFriendRequest:
			if err := s.storeNotes(ctx, tx, e, NotifyFriendRequest, e.UserIDs, nil); err != nil {
				return err
			}
		case EventFriendAccepted:
			if err := s.storeNotes(ctx, tx, e, NotifyFriendAccepted, e.UserIDs, nil); err != nil {
				return err
			}
		case EventReadMoved:
			at := e.At
			if err := s.storeNotes(ctx, tx, e, NotifyRoomRead, []int{e.ActorID}, &at); err != nil {
				return err
			}
		}
	}
	if len(msgIDs) == 0 {
		return nil
	}
	// Who publishing tells (recipientNotes) is who is stored here: the
	// current members but the sender, less those who blocked the sender.
	//
	// A plain read, then INSERT … VALUES, not one INSERT … SELECT: on
	// MariaDB an INSERT … SELECT takes shared locks on the memberships and
	// blocks it reads and holds the table's AUTO-INC lock until it ends,
	// so concurrent sends to different rooms deadlocked on it (error 1467,
	// "Failed to read auto-increment value", under make bench's send
	// scenario). The read needs no lock: the room's lock, held since the
	// seq was taken, keeps its membership still until commit.
	//
	// On SQLite the recipients who are online also get their unread
	// total read here, for publishing: writers take turns there, so the
	// total read in the transaction is the one after commit. On MySQL
	// publishing reads them after the commit (this path stores sends
	// only when the send script could not, see sendscript.go).
	d, err := s.sqlDialect(ctx)
	if err != nil {
		return err
	}
	inTxTotals := d == dialect.SQLite
	rows, err := tx.QueryContext(ctx, `SELECT mb.user_id, m.room_id, m.id, m.sender_id, m.created_at
FROM messages m JOIN memberships mb ON mb.room_id = m.room_id AND mb.left_at IS NULL AND mb.user_id <> m.sender_id
WHERE m.id IN (`+placeholders(len(msgIDs))+`)
  AND NOT EXISTS (SELECT 1 FROM blocks b WHERE b.blocker_id = mb.user_id AND b.blocked_id = m.sender_id)
ORDER BY m.id, mb.user_id`, ints(msgIDs)...)
	if err != nil {
		return fmt.Errorf("read the recipients of %d messages: %w", len(msgIDs), err)
	}
	var (
		notes []any // user, kind, room, message, actor, created_at; 6 a row
		users []int // the recipients, once each
		seen  = map[int]bool{}
	)
	for rows.Next() {
		var user, room, msg, actor int
		var at time.Time
		if err := rows.Scan(&user, &room, &msg, &actor, &at); err != nil {
			rows.Close()
			return fmt.Errorf("read the recipients of %d messages: %w", len(msgIDs), err)
		}
		notes = append(notes, user, string(NotifyNewMessage), room, msg, actor, at)
		if !seen[user] {
			seen[user] = true
			users = append(users, user)
		}
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return fmt.Errorf("read the recipients of %d messages: %w", len(msgIDs), err)
	}
	var totals map[int]*int
	if inTxTotals {
		if totals, err = s.onlineTotals(ctx, tx, users); err != nil {
			return err
		}
	}
	stored := map[int][]recipientNote{}   // by message, in the order of the rows: by user
	const perRow, rowsPerInsert = 6, 1000 // within SQLite's and MySQL's placeholder limits
	for len(notes) > 0 {
		n := min(len(notes)/perRow, rowsPerInsert)
		values := strings.TrimSuffix(strings.Repeat("(?,?,?,?,?,?),", n), ",")
		ids, err := insertReturning(ctx, tx, `INSERT INTO notifications (user_id, kind, room_id, message_id, actor_id, created_at) VALUES `+values+`
RETURNING id, user_id, message_id`, notes[:n*perRow])
		if err != nil {
			return fmt.Errorf("store notifications of %d messages: %w", len(msgIDs), err)
		}
		for _, id := range ids {
			stored[id.message] = append(stored[id.message], recipientNote{userID: id.user, id: id.id, total: totals[id.user]})
		}
		notes = notes[n*perRow:]
	}
	if inTxTotals {
		for i := range em.events {
			e := &em.events[i]
			if e.Kind == EventMessageCreated && e.Message != nil && slices.Contains(msgIDs, e.Message.ID) {
				rs := stored[e.Message.ID]
				slices.SortFunc(rs, func(a, b recipientNote) int { return a.userID - b.userID })
				e.recipients, e.recipientsKnown = rs, true
			}
		}
	}
	return nil
}

// storedNote is a row of notifications an INSERT returned.
type storedNote struct{ id, user, message int }

// insertReturning runs an INSERT of notifications that returns id,
// user_id and message_id of each row.
func insertReturning(ctx context.Context, q queryer, query string, args []any) ([]storedNote, error) {
	rows, err := q.QueryContext(ctx, query, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []storedNote
	for rows.Next() {
		var n storedNote
		if err := rows.Scan(&n.id, &n.user, &n.message); err != nil {
			return nil, err
		}
		out = append(out, n)
	}
	return out, rows.Err()
}

func ints(ids []int) []any {
	args := make([]any, len(ids))
	for i, id := range ids {
		args[i] = id
	}
	return args
}

// storeNotes stores one notification of kind for each of users who has
// not blocked e's actor (stored read at readAt, when set) and notes the
// ids on e.
func (s *Service) storeNotes(ctx context.Context, tx *ent.Tx, e *Event, kind NotificationKind, users []int, readAt *time.Time) error {
	if kind != NotifyRoomRead { // one's own read: nobody to be blocked by
		var err error
		if users, err = withoutBlockers(ctx, tx.Client(), users, e.ActorID); err != nil {
			return err
		}
	}
	if len(users) == 0 {
		return nil
	}
	at := s.now()
	if readAt != nil {
		at = *readAt
	}
	creates := make([]*ent.NotificationCreate, len(users))
	for i, uid := range users {
		c := tx.Notification.Create().SetUserID(uid).SetKind(string(kind)).SetCreatedAt(at).SetNillableReadAt(readAt)
		if e.ActorID != 0 {
			c.SetActorID(e.ActorID)
		}
		if e.RoomID != 0 {
			c.SetRoomID(e.RoomID)
		}
		creates[i] = c
	}
	ns, err := tx.Notification.CreateBulk(creates...).Save(ctx)
	if err != nil {
		return fmt.Errorf("store %s notifications: %w", kind, err)
	}
	e.notes = make(map[int]int, len(ns))
	for _, n := range ns {
		e.notes[n.UserID] = n.ID
	}
	e.notedAt = at
	return nil
}

// recipientNotes returns whom message messageID notified (see
// storeNotifications), each with the id of their notification and their
// unread total over all their rooms, in one query.
func (s *Service) recipientNotes(ctx context.Context, messageID int) ([]recipientNote, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT n.user_id, n.id, SUM`+unreadExpr+`
FROM notifications n
JOIN memberships m ON m.user_id = n.user_id AND m.left_at IS NULL
JOIN rooms r ON r.id = m.room_id
WHERE n.message_id = ? AND n.kind = ?
GROUP BY n.user_id, n.id
ORDER BY n.user_id`, messageID, string(NotifyNewMessage))
	if err != nil {
		return nil, fmt.Errorf("recipients of message %d: %w", messageID, err)
	}
	defer rows.Close()
	var out []recipientNote
	for rows.Next() {
		var (
			r recipientNote
			n stdsql.NullInt64
		)
		if err := rows.Scan(&r.userID, &r.id, &n); err != nil {
			return nil, err
		}
		r.total = new(max(0, int(n.Int64)))
		out = append(out, r)
	}
	return out, rows.Err()
}

// recipientNote is a recipient of a new message: the user, their
// notification's id and, when they were online as it was stored, their
// unread total as of the commit (nil: nobody read it, see
// Notification.totalUnknown).
type recipientNote struct {
	userID, id int
	total      *int
}

// NotificationPage is one page of the viewer's notification history.
type NotificationPage struct {
	Notifications []*Notification
	HasNextPage   bool
	TotalCount    int
	UnreadCount   int
}

// NotificationHistory pages the viewer's notifications newest first: at
// most first of them, older than notification id before (0: the newest).
// ROOM_READ, the viewer's own reading, is not shown. Each carries the
// viewer's current unread total (only a live notification knows the total
// as of then).
func (s *Service) NotificationHistory(ctx context.Context, v viewer.Viewer, before, first int) (*NotificationPage, error) {
	q := s.db.Notification.Query().Where(notification.UserID(v.UserID), notification.KindNEQ(string(NotifyRoomRead)))
	if before > 0 {
		q.Where(notification.IDLT(before))
	}
	page := &NotificationPage{Notifications: []*Notification{}}
	var err error
	if first > 0 {
		ns, err := q.Clone().Order(ent.Desc(notification.FieldID)).Limit(first + 1).All(ctx)
		if err != nil {
			return nil, fmt.Errorf("notification history of user %d: %w", v.UserID, err)
		}
		if len(ns) > first {
			ns, page.HasNextPage = ns[:first], true
		}
		if page.Notifications, err = s.toNotifications(ctx, v.UserID, ns); err != nil {
			return nil, err
		}
	}
	all := s.db.Notification.Query().Where(notification.UserID(v.UserID), notification.KindNEQ(string(NotifyRoomRead)))
	if page.TotalCount, err = all.Clone().Count(ctx); err != nil {
		return nil, fmt.Errorf("count notifications of user %d: %w", v.UserID, err)
	}
	if page.UnreadCount, err = s.unreadNotifications(ctx, s.db, v.UserID); err != nil {
		return nil, err
	}
	return page, nil
}

func (s *Service) unreadNotifications(ctx context.Context, db *ent.Client, userID int) (int, error) {
	n, err := db.Notification.Query().Where(notification.UserID(userID), notification.ReadAtIsNil()).Count(ctx)
	if err != nil {
		return 0, fmt.Errorf("count unread notifications of user %d: %w", userID, err)
	}
	return n, nil
}

// MarkNotificationsRead marks the viewer's notifications read up to and
// including notification id upTo (0: all of them) and returns how many
// are left unread.
func (s *Service) MarkNotificationsRead(ctx context.Context, v viewer.Viewer, upTo int) (int, error) {
	var left int
	err := s.inTx(ctx, func(tx *ent.Tx, _ *emitter) error {
		u := tx.Notification.Update().Where(notification.UserID(v.UserID), notification.ReadAtIsNil())
		if upTo > 0 {
			u.Where(notification.IDLTE(upTo))
		}
		if _, err := u.SetReadAt(s.now()).Save(ctx); err != nil {
			return fmt.Errorf("mark notifications of user %d read: %w", v.UserID, err)
		}
		var err error
		left, err = s.unreadNotifications(ctx, tx.Client(), v.UserID)
		return err
	})
	return left, err
}

// PruneNotifications deletes the notifications older than retention, a
// bounded batch (pruneBatch rows, oldest first) per statement so that no
// statement holds locks for long, and says how many it deleted.
func (s *Service) PruneNotifications(ctx context.Context, retention time.Duration) (int, error) {
	cutoff := s.now().Add(-retention)
	total := 0
	for {
		ids, err := s.db.Notification.Query().Where(notification.CreatedAtLT(cutoff)).
			Order(ent.Asc(notification.FieldID)).Limit(pruneBatch).IDs(ctx)
		if err != nil {
			return total, fmt.Errorf("find notifications to prune: %w", err)
		}
		if len(ids) == 0 {
			return total, nil
		}
		n, err := s.db.Notification.Delete().Where(notification.IDIn(ids...)).Exec(ctx)
		if err != nil {
			return total, fmt.Errorf("prune notifications: %w", err)
		}
		total += n
		if len(ids) < pruneBatch {
			return total, nil
		}
	}
}

// PruneNotificationsEvery runs PruneNotifications at the start and then
// every interval until ctx ends. Run it in a goroutine of its own; every
// instance may run it (a row two instances both delete is deleted once).
func (s *Service) PruneNotificationsEvery(ctx context.Context, retention, interval time.Duration) {
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		n, err := s.PruneNotifications(ctx, retention)
		switch {
		case err != nil && ctx.Err() == nil:
			s.log.ErrorContext(ctx, "prune notifications", "err", err)
		case n > 0:
			s.log.InfoContext(ctx, "notifications pruned", "count", n, "retention", retention.String())
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// toNotifications makes stored notifications what the viewer is shown:
// their rooms, messages (as a subscriber shows them) and actors read in
// one query each, and the viewer's current unread total.
func (s *Service) toNotifications(ctx context.Context, userID int, ns []*ent.Notification) ([]*Notification, error) {
	out := make([]*Notification, len(ns))
	if len(ns) == 0 {
		return out, nil
	}
	var roomIDs, msgIDs, userIDs []int
	for _, n := range ns {
		if n.RoomID != nil {
			roomIDs = append(roomIDs, *n.RoomID)
		}
		if n.MessageID != nil {
			msgIDs = append(msgIDs, *n.MessageID)
		}
		if n.ActorID != nil {
			userIDs = append(userIDs, *n.ActorID)
		}
	}
	rooms, err := byID(ctx, s.db.Room.Query().Where(room.IDIn(roomIDs...)), roomIDs, func(r *ent.Room) int { return r.ID })
	if err != nil {
		return nil, fmt.Errorf("load rooms of notifications: %w", err)
	}
	msgs, err := byID(ctx, s.db.Message.Query().Where(message.IDIn(msgIDs...)).
		WithSender().WithAttachment().WithRoom().WithReplyTo(withQuoted), msgIDs, func(m *ent.Message) int { return m.ID })
	if err != nil {
		return nil, fmt.Errorf("load messages of notifications: %w", err)
	}
	users, err := byID(ctx, s.db.User.Query().Where(user.IDIn(userIDs...)), userIDs, func(u *ent.User) int { return u.ID })
	if err != nil {
		return nil, fmt.Errorf("load actors of notifications: %w", err)
	}
	totals, err := s.unreadTotals(ctx, []int{userID})
	if err != nil {
		return nil, err
	}
	for i, n := range ns {
		out[i] = &Notification{
			ID: n.ID, Kind: NotificationKind(n.Kind), Room: rooms[deref(n.RoomID)], Message: msgs[deref(n.MessageID)],
			Actor: users[deref(n.ActorID)], TotalUnread: totals[userID], CreatedAt: n.CreatedAt, ReadAt: n.ReadAt,
		}
	}
	return out, nil
}

// byID runs q (a query of ids) unless ids is empty and maps its results
// by id.
func byID[T any, Q interface {
	All(context.Context) ([]T, error)
}](ctx context.Context, q Q, ids []int, id func(T) int) (map[int]T, error) {
	out := map[int]T{}
	if len(ids) == 0 {
		return out, nil
	}
	all, err := q.All(ctx)
	if err != nil {
		return nil, err
	}
	for _, x := range all {
		out[id(x)] = x
	}
	return out, nil
}

// latestNotification is the id of the user's newest stored notification
// (0: none).
func (s *Service) latestNotification(ctx context.Context, userID int) (int, error) {
	ids, err := s.db.Notification.Query().Where(notification.UserID(userID)).
		Order(ent.Desc(notification.FieldID)).Limit(1).IDs(ctx)
	if err != nil {
		return 0, fmt.Errorf("newest notification of user %d: %w", userID, err)
	}
	if len(ids) == 0 {
		return 0, nil
	}
	return ids[0], nil
}

// notificationsAfter reads a page of the user's stored notifications
// after id after, oldest first, and returns those not skipped, where the
// next page starts, and whether there may be more. What skip drops costs
// no reads of rooms, messages or actors.
func (s *Service) notificationsAfter(ctx context.Context, userID, after int, skip func(id int) bool) (page []*Notification, next int, more bool, err error) {
	ns, err := s.db.Notification.Query().
		Where(notification.UserID(userID), notification.IDGT(after)).
		Order(ent.Asc(notification.FieldID)).Limit(replayPage).All(ctx)
	if err != nil {
		return nil, after, false, fmt.Errorf("replay notifications of user %d: %w", userID, err)
	}
	next, more = after, len(ns) == replayPage
	if len(ns) > 0 {
		next = ns[len(ns)-1].ID
	}
	ns = slices.DeleteFunc(ns, func(n *ent.Notification) bool { return skip(n.ID) })
	page, err = s.toNotifications(ctx, userID, ns)
	return page, next, more, err
}

func itoa(i int) string { return strconv.Itoa(i) }
