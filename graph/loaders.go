package graph

import (
	"context"
	"sync"
	"time"

	"github.com/99designs/gqlgen/graphql"
	"github.com/vektah/gqlparser/v2/ast"
	"github.com/vikstrous/dataloadgen"

	"github.com/chatty/chatty/ent"
	"github.com/chatty/chatty/internal/auth"
	"github.com/chatty/chatty/internal/chat"
	"github.com/chatty/chatty/internal/viewer"
)

// loaders batch the reads of one operation: the fields of all items of a
// list ask together, in one query per loader.
type loaders struct {
	users       batch[*ent.User]
	rooms       batch[*ent.Room]
	members     batch[[]*ent.User]
	lastMessage batch[*ent.Message]
	unread      batch[int]
	friendship  batch[chat.FriendshipState]
	blocked     batch[bool]
	online      batch[bool]
	attachments batch[*ent.Attachment]
	repliedTo   batch[*ent.Message]
	reactions   batch[[]*chat.ReactionGroup]
	receipts    batch[[]*chat.ReadReceipt]
	// pages holds the message connections whose nodes' reads
	// prefetchMessages primed (*ent.MessageConnection → struct{}): their
	// edges are marshalled in order (PageEdges). Nil when the loaders keep
	// no cache (a subscription's): priming them does nothing.
	pages *sync.Map
}

// batch is a loader and the batch read behind it.
type batch[V any] struct {
	*dataloadgen.Loader[int, V]
	fetch func(ctx context.Context, ids []int) (map[int]V, error)
}

func newBatch[V any](fetch func(ctx context.Context, ids []int) (map[int]V, error), opts []dataloadgen.Option) batch[V] {
	return batch[V]{Loader: dataloadgen.NewLoader(mapped(fetch), opts...), fetch: fetch}
}

// prime reads ids in exactly one query and fills the loader's cache with
// the answers (the zero value for a missing id), so the field resolvers
// that follow load from memory. Unlike LoadAll it does not depend on the
// loader's wait window: a slow goroutine can't split the batch in two.
func (b batch[V]) prime(ctx context.Context, ids []int) error {
	_, err := b.primed(ctx, ids)
	return err
}

// primed is prime that also returns what it read.
func (b batch[V]) primed(ctx context.Context, ids []int) (map[int]V, error) {
	if len(ids) == 0 {
		return nil, nil
	}
	m, err := b.fetch(ctx, ids)
	if err != nil {
		return nil, err
	}
	for _, id := range ids {
		b.Prime(id, m[id])
	}
	return m, nil
}

type loadersKey struct{}

// loaderWait is how long a loader gathers keys before it queries.
const loaderWait = 2 * time.Millisecond

// mapped adapts a batch read keyed by id to a loader's fetch: missing
// keys give the zero value, not an error.
func mapped[V any](fetch func(ctx context.Context, ids []int) (map[int]V, error)) func(context.Context, []int) ([]V, []error) {
	return func(ctx context.Context, ids []int) ([]V, []error) {
		m, err := fetch(ctx, ids)
		out := make([]V, len(ids))
		errs := make([]error, len(ids))
		for i, id := range ids {
			out[i], errs[i] = m[id], err
		}
		return out, errs
	}
}

// viewerScoped runs a viewer-dependent batch read for the viewer of ctx.
func viewerScoped[V any](fetch func(context.Context, viewer.Viewer, []int) (map[int]V, error)) func(context.Context, []int) (map[int]V, error) {
	return func(ctx context.Context, ids []int) (map[int]V, error) {
		v, err := auth.Require(ctx)
		if err != nil {
			return nil, err
		}
		return fetch(ctx, v, ids)
	}
}

// newLoaders makes the loaders of one operation. A subscription's run for
// as long as it lives, so they keep no cache: each event reads afresh.
func newLoaders(c *chat.Service, cache bool) *loaders {
	opts := []dataloadgen.Option{dataloadgen.WithWait(loaderWait)}
	if !cache {
		opts = append(opts, dataloadgen.WithoutCache())
	}
	var pages *sync.Map
	if cache {
		pages = &sync.Map{}
	}
	return &loaders{
		pages:       pages,
		users:       newBatch(c.UsersByID, opts),
		rooms:       newBatch(c.RoomsByID, opts),
		members:     newBatch(c.MembersOf, opts),
		lastMessage: newBatch(viewerScoped(c.LastMessages), opts),
		unread:      newBatch(viewerScoped(c.UnreadCounts), opts),
		friendship:  newBatch(viewerScoped(c.FriendshipStates), opts),
		blocked:     newBatch(viewerScoped(c.BlockedAmong), opts),
		online:      newBatch(c.Online, opts),
		attachments: newBatch(c.AttachmentsByID, opts),
		repliedTo:   newBatch(c.RepliedTo, opts),
		reactions:   newBatch(viewerScoped(c.ReactionsOf), opts),
		receipts:    newBatch(viewerScoped(c.ReadReceipts), opts),
	}
}

// eventLoaders are the viewer-independent loaders of one live event,
// shared by every subscription of this instance that executes the event:
// each user, room, member list, attachment and presence the event's
// responses reach is read once. They cache for as long as the event lives.
type eventLoaders struct {
	users       batch[*ent.User]
	rooms       batch[*ent.Room]
	members     batch[[]*ent.User]
	online      batch[bool]
	attachments batch[*ent.Attachment]
}

// eventReadTimeout bounds a shared read: it serves several subscriptions,
// so it does not end with the one whose context started it.
const eventReadTimeout = 10 * time.Second

func newEventLoaders(c *chat.Service) *eventLoaders {
	opts := []dataloadgen.Option{dataloadgen.WithWait(loaderWait)}
	return &eventLoaders{
		users:       newBatch(detached(c.UsersByID), opts),
		rooms:       newBatch(detached(c.RoomsByID), opts),
		members:     newBatch(detached(c.MembersOf), opts),
		online:      newBatch(detached(c.Online), opts),
		attachments: newBatch(detached(c.AttachmentsByID), opts),
	}
}

// detached runs a shared batch read under a context of its own.
func detached[V any](fetch func(context.Context, []int) (map[int]V, error)) func(context.Context, []int) (map[int]V, error) {
	return func(ctx context.Context, ids []int) (map[int]V, error) {
		ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), eventReadTimeout)
		defer cancel()
		return fetch(ctx, ids)
	}
}

// over returns the loaders of one execution of an event: the event's
// shared ones, and the subscription's own for what depends on the viewer.
func (e *eventLoaders) over(own *loaderSet) *loaders {
	l := *own.get()
	l.users, l.rooms, l.members, l.online, l.attachments = e.users, e.rooms, e.members, e.online, e.attachments
	return &l
}

// loaderSet holds an operation's loaders, made when first used: an idle
// subscription holds none.
type loaderSet struct {
	once  sync.Once
	chat  *chat.Service
	cache bool
	l     *loaders
}

func (s *loaderSet) get() *loaders {
	s.once.Do(func() {
		if s.l == nil {
			s.l = newLoaders(s.chat, s.cache)
		}
	})
	return s.l
}

// Loaders gives each GraphQL operation its own loaders (and so its own
// cache: nothing is shared between requests or viewers; a live event's
// viewer-independent reads are shared through its eventLoaders).
func (r *Resolver) Loaders() graphql.OperationMiddleware {
	return func(ctx context.Context, next graphql.OperationHandler) graphql.ResponseHandler {
		op := graphql.GetOperationContext(ctx).Operation
		cache := op == nil || op.Operation != ast.Subscription
		return next(context.WithValue(ctx, loadersKey{}, &loaderSet{chat: r.Chat, cache: cache}))
	}
}

func withLoaders(ctx context.Context, l *loaders) context.Context {
	s := &loaderSet{l: l}
	return context.WithValue(ctx, loadersKey{}, s)
}

func loaderSetOf(ctx context.Context) *loaderSet {
	return ctx.Value(loadersKey{}).(*loaderSet)
}

func loadersOf(ctx context.Context) *loaders {
	return loaderSetOf(ctx).get()
}
