package chat

import (
	"context"
	"fmt"
	"runtime"
	"slices"
	"sort"
	"sync"
	"unicode"
	"unicode/utf8"
	"weak"

	"entgo.io/ent/dialect/sql"
	"github.com/rivo/uniseg"

	"github.com/chatty/chatty/ent"
	"github.com/chatty/chatty/ent/message"
	"github.com/chatty/chatty/ent/reaction"
	"github.com/chatty/chatty/internal/apperr"
	"github.com/chatty/chatty/internal/viewer"
)

// Reaction limits.
const (
	MaxEmojiBytes        = 16 // bytes of UTF-8 in one reaction
	MaxReactionsPerMsg   = 20 // distinct emoji on one message
	MaxReactionUsersShow = 20 // users listed per emoji (the earliest)
)

// Errors of reactions.
var (
	ErrNoSuchMessage      = apperr.New(apperr.NotFound, "no such message, or not one you can see")
	ErrReactToSystem      = apperr.Input("messageId", "SYSTEM messages take no reactions")
	ErrTooManyReactions   = apperr.Input("emoji", "a message has at most %d different reactions: use one of those already there", MaxReactionsPerMsg).With("limit", MaxReactionsPerMsg)
	errEmojiNotOneCluster = apperr.Input("emoji", "a reaction is exactly one emoji (one grapheme cluster)")
	errEmojiTooLong       = apperr.Input("emoji", "a reaction is at most %d bytes of UTF-8", MaxEmojiBytes)
)

// checkEmoji accepts exactly one grapheme cluster (as Unicode's text
// segmentation, UAX #29, counts them: 👍, ❤️, 👍🏽, 👨‍👩‍👧, 🇰🇷, 1️⃣), valid UTF-8 of at
// most MaxEmojiBytes bytes, with no space or control character in it.
// Nothing is trimmed or normalised: the bytes given are the reaction.
func checkEmoji(e string) error {
	if !utf8.ValidString(e) || e == "" {
		return errEmojiNotOneCluster
	}
	if len(e) > MaxEmojiBytes {
		return errEmojiTooLong
	}
	if uniseg.GraphemeClusterCount(e) != 1 {
		return errEmojiNotOneCluster
	}
	for _, r := range e {
		if unicode.IsSpace(r) || unicode.IsControl(r) {
			return errEmojiNotOneCluster
		}
	}
	return nil
}

// reactable loads message id for a reaction by the viewer: a message they
// may read (NOT_FOUND otherwise, as for one that does not exist), in a
// room they may post in (FORBIDDEN, as a send, while a block stands in
// their direct room).
func reactable(ctx context.Context, c *ent.Client, v viewer.Viewer, id int) (*ent.Message, error) {
	return reachable(ctx, c, v, id, ErrNoSuchMessage)
}

// mayReact refuses reactions to SYSTEM messages (BAD_USER_INPUT: never
// possible) and to deleted ones (CONFLICT, as editing one: the message
// was there when the client showed it).
func mayReact(m *ent.Message) error {
	switch {
	case m.Kind == message.KindSYSTEM:
		return ErrReactToSystem
	case m.DeletedAt != nil:
		return ErrMessageDeleted
	}
	return nil
}

// AddReaction adds the viewer's emoji to a message of a room they are in.
// Reacting again with the same emoji changes nothing. A message has at
// most MaxReactionsPerMsg distinct emoji; SYSTEM and deleted messages have
// none. Reactions never notify anyone.
func (s *Service) AddReaction(ctx context.Context, v viewer.Viewer, messageID int, emoji string) (*ent.Message, error) {
	if err := checkEmoji(emoji); err != nil {
		return nil, err
	}
	m, err := reactable(ctx, s.db, v, messageID) // a plain read: an outsider never takes the room's lock
	if err != nil {
		return nil, err
	}
	if err := mayReact(m); err != nil {
		return nil, err
	}
	err = s.inRoomTx(ctx, m.RoomID, func(tx *ent.Tx, em *emitter) error {
		if err := touchRoom(ctx, tx, m.RoomID); err != nil { // the room's lock; its row is not needed
			return err
		}
		// Under the room's lock: the viewer is still a member, and the
		// emoji already on the message are what they are.
		m, err := reactable(ctx, tx.Client(), v, messageID)
		if err != nil {
			return err
		}
		if err := mayReact(m); err != nil { // deleted meanwhile
			return err
		}
		used, err := tx.Reaction.Query().Where(reaction.MessageID(messageID)).
			Unique(true).Select(reaction.FieldEmoji).Strings(ctx)
		if err != nil {
			return fmt.Errorf("reactions of message %d: %w", messageID, err)
		}
		if !slices.Contains(used, emoji) && len(used) >= MaxReactionsPerMsg {
			return ErrTooManyReactions
		}
		mine, err := tx.Reaction.Query().
			Where(reaction.MessageID(messageID), reaction.UserID(v.UserID), reaction.Emoji(emoji)).
			Exist(ctx)
		if err != nil || mine {
			return err // idempotent: nothing changes, nothing is announced
		}
		err = tx.Reaction.Create().SetMessageID(messageID).SetUserID(v.UserID).SetEmoji(emoji).SetCreatedAt(s.now()).Exec(ctx)
		if err != nil {
			return fmt.Errorf("add reaction to message %d: %w", messageID, err)
		}
		return s.reactionsChanged(ctx, tx, em, m, v.UserID)
	})
	if err != nil {
		return nil, err
	}
	return m, nil
}

// RemoveReaction takes the viewer's emoji off a message of a room they are
// in; removing one that is not there changes nothing.
func (s *Service) RemoveReaction(ctx context.Context, v viewer.Viewer, messageID int, emoji string) (*ent.Message, error) {
	if err := checkEmoji(emoji); err != nil {
		return nil, err
	}
	m, err := reactable(ctx, s.db, v, messageID)
	if err != nil {
		return nil, err
	}
	err = s.inRoomTx(ctx, m.RoomID, func(tx *ent.Tx, em *emitter) error {
		if err := touchRoom(ctx, tx, m.RoomID); err != nil { // the room's lock; its row is not needed
			return err
		}
		m, err := reactable(ctx, tx.Client(), v, messageID)
		if err != nil {
			return err
		}
		n, err := tx.Reaction.Delete().
			Where(reaction.MessageID(messageID), reaction.UserID(v.UserID), reaction.Emoji(emoji)).
			Exec(ctx)
		if err != nil {
			return fmt.Errorf("remove reaction from message %d: %w", messageID, err)
		}
		if n == 0 {
			return nil
		}
		return s.reactionsChanged(ctx, tx, em, m, v.UserID)
	})
	if err != nil {
		return nil, err
	}
	return m, nil
}

// reactionsChanged records a change to msg's reactions, made by actorID
// in transaction tx under the room's lock, in the room's change feed: the
// message takes the room's next revision with last_change
// REACTIONS_CHANGED (stampChange), and the change is published after
// commit (with the message's reactions: publishChange). It is called only
// when something changed, and never notifies anyone.
func (s *Service) reactionsChanged(ctx context.Context, tx *ent.Tx, em *emitter, msg *ent.Message, actorID int) error {
	_, err := s.stampChange(ctx, tx, em, msg.RoomID, tx.Message.UpdateOneID(msg.ID), ChangeReactionsChanged, actorID)
	return err
}

// ReactionGroup is one emoji on a message, as Message.reactions shows it.
type ReactionGroup struct {
	Emoji string
	Count int
	// ViewerReacted: the viewer is among those who reacted with Emoji.
	ViewerReacted bool
	// Users: the earliest MaxReactionUsersShow who reacted.
	Users []*ent.User
	first int // id of the oldest reaction: groups go in first-use order
}

// ReactionsOf groups the reactions of each message by emoji, in the
// order each emoji was first used (among the reactions still there), for
// the viewer: three queries whatever the number of messages or reactions
// (counts, the earliest users of each emoji, those users). The caller has
// already checked the viewer may read the messages.
func (s *Service) ReactionsOf(ctx context.Context, v viewer.Viewer, messageIDs []int) (map[int][]*ReactionGroup, error) {
	out := make(map[int][]*ReactionGroup, len(messageIDs))
	for _, id := range messageIDs {
		out[id] = []*ReactionGroup{}
	}
	var counts []struct {
		MessageID int    `json:"message_id"`
		Emoji     string `json:"emoji"`
		Count     int    `json:"count"`
		First     int    `json:"first"`
		Mine      int    `json:"mine"`
	}
	err := s.db.Reaction.Query().Where(reaction.MessageIDIn(messageIDs...)).
		GroupBy(reaction.FieldMessageID, reaction.FieldEmoji).
		Aggregate(
			ent.Count(),
			func(s *sql.Selector) string { return sql.As(sql.Min(s.C(reaction.FieldID)), "first") },
			func(s *sql.Selector) string {
				return sql.As(fmt.Sprintf("MAX(CASE WHEN %s = %d THEN 1 ELSE 0 END)", s.C(reaction.FieldUserID), v.UserID), "mine")
			},
		).
		Scan(ctx, &counts)
	if err != nil {
		return nil, fmt.Errorf("count reactions: %w", err)
	}
	if len(counts) == 0 {
		return out, nil
	}
	type key struct {
		msg   int
		emoji string
	}
	groups := make(map[key]*ReactionGroup, len(counts))
	for _, c := range counts {
		g := &ReactionGroup{Emoji: c.Emoji, Count: c.Count, ViewerReacted: c.Mine > 0, Users: []*ent.User{}, first: c.First}
		groups[key{c.MessageID, c.Emoji}] = g
		out[c.MessageID] = append(out[c.MessageID], g)
	}
	for _, gs := range out {
		sort.Slice(gs, func(i, j int) bool { return gs[i].first < gs[j].first })
	}
	var rows []struct {
		ID        int    `json:"id"`
		MessageID int    `json:"message_id"`
		Emoji     string `json:"emoji"`
		UserID    int    `json:"user_id"`
	}
	err = s.db.Reaction.Query().Where(reaction.MessageIDIn(messageIDs...)).
		Modify(
			func(s *sql.Selector) {
				s.Select(s.C(reaction.FieldID), s.C(reaction.FieldMessageID), s.C(reaction.FieldEmoji), s.C(reaction.FieldUserID))
			},
			firstPerGroup(MaxReactionUsersShow, reaction.FieldID, reaction.FieldMessageID, reaction.FieldEmoji),
		).
		Scan(ctx, &rows)
	if err != nil {
		return nil, fmt.Errorf("load reacting users: %w", err)
	}
	sort.Slice(rows, func(i, j int) bool { return rows[i].ID < rows[j].ID })
	ids := make([]int, 0, len(rows))
	for _, r := range rows {
		ids = append(ids, r.UserID)
	}
	users, err := s.UsersByID(ctx, ids)
	if err != nil {
		return nil, err
	}
	for _, r := range rows {
		if g, u := groups[key{r.MessageID, r.Emoji}], users[r.UserID]; g != nil && u != nil {
			g.Users = append(g.Users, u)
		}
	}
	return out, nil
}

// firstPerGroup keeps, of the rows a query selects, the first n of each
// group of rows equal in the partition columns, in order of column
// orderBy (ROW_NUMBER() over the query as a common table expression, on
// SQLite ≥ 3.25 and MariaDB ≥ 10.2 / MySQL 8 alike).
func firstPerGroup(n int, orderBy string, partition ...string) func(*sql.Selector) {
	return func(s *sql.Selector) {
		d := sql.Dialect(s.Dialect())
		with := d.With("src_rows").As(s.Clone()).
			With("ranked_rows").As(
			d.Select("*").
				AppendSelectExprAs(sql.RowNumber().PartitionBy(partition...).OrderBy(orderBy), "row_rank").
				From(d.Table("src_rows")),
		)
		t := d.Table("ranked_rows")
		*s = *d.Select(s.UnqualifiedColumns()...).
			From(t).
			Where(sql.LTE(t.C("row_rank"), n)).
			Prefix(with)
	}
}

// reactionRow is one reaction as a change carries it.
type reactionRow struct {
	Emoji  string `json:"emoji"`
	UserID int    `json:"user_id"`
}

// reactionRows reads the reactions of message id, oldest first: one query.
func reactionRows(ctx context.Context, c *ent.Client, id int) ([]reactionRow, error) {
	rows := []reactionRow{}
	err := c.Reaction.Query().Where(reaction.MessageID(id)).Order(reaction.ByID()).
		Select(reaction.FieldEmoji, reaction.FieldUserID).Scan(ctx, &rows)
	if err != nil {
		return nil, fmt.Errorf("reactions of message %d: %w", id, err)
	}
	return rows, nil
}

// wireReactions groups the reactions of one message (reactionRows) as
// they travel with a change (wireReaction), reading the users shown in one
// query: once per change whatever the number of subscribers.
func (s *Service) wireReactions(ctx context.Context, rows []reactionRow) ([]wireReaction, error) {
	out := []wireReaction{}
	at := map[string]int{}
	var shown []int
	for _, r := range rows {
		i, ok := at[r.Emoji]
		if !ok {
			i = len(out)
			at[r.Emoji] = i
			out = append(out, wireReaction{Emoji: r.Emoji, Users: []*wireUser{}})
		}
		out[i].UserIDs = append(out[i].UserIDs, r.UserID)
		if len(out[i].UserIDs) <= MaxReactionUsersShow {
			shown = append(shown, r.UserID)
		}
	}
	if len(shown) == 0 {
		return out, nil
	}
	users, err := s.UsersByID(ctx, shown)
	if err != nil {
		return nil, err
	}
	for i := range out {
		for _, uid := range out[i].UserIDs[:min(len(out[i].UserIDs), MaxReactionUsersShow)] {
			if u := users[uid]; u != nil {
				out[i].Users = append(out[i].Users, toWireUser(u))
			}
		}
	}
	return out, nil
}

// carriedReactions are the reactions a live event carried for its message,
// decoded once per instance and shared, read-only, by every subscriber.
type carriedReactions []carriedReaction

type carriedReaction struct {
	emoji string
	count int
	users []*ent.User // the earliest MaxReactionUsersShow
	ids   []int       // everyone who reacted, sorted (for viewerReacted)
}

// carried maps a message decoded from a live event
// (weak.Pointer[ent.Message]) to the reactions the event carried for it;
// an entry goes when its message is collected.
var carried sync.Map

// carry records rs as the reactions of m, a message just decoded.
func carry(m *ent.Message, rs []wireReaction) {
	c := make(carriedReactions, len(rs))
	for i, r := range rs {
		users := make([]*ent.User, 0, len(r.Users))
		for _, u := range r.Users {
			users = append(users, u.ent())
		}
		ids := slices.Clone(r.UserIDs)
		slices.Sort(ids)
		c[i] = carriedReaction{emoji: r.Emoji, count: len(r.UserIDs), users: users, ids: ids}
	}
	k := weak.Make(m)
	carried.Store(k, c)
	runtime.AddCleanup(m, func(k weak.Pointer[ent.Message]) { carried.Delete(k) }, k)
}

// CarriedReactions is what ReactionsOf would answer userID for m when m
// came with a live event that carried its reactions (a new message, an
// edit, a deletion, a reactions change): read from memory, no query. ok is
// false for any other message (read them with ReactionsOf).
func CarriedReactions(m *ent.Message, userID int) (groups []*ReactionGroup, ok bool) {
	c, ok := carried.Load(weak.Make(m))
	if !ok {
		return nil, false
	}
	rs := c.(carriedReactions)
	groups = make([]*ReactionGroup, len(rs))
	for i, r := range rs {
		_, mine := slices.BinarySearch(r.ids, userID)
		groups[i] = &ReactionGroup{Emoji: r.emoji, Count: r.count, ViewerReacted: mine, Users: r.users, first: i}
	}
	return groups, true
}
