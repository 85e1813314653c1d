package graph

import (
	"context"
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
	users       *dataloadgen.Loader[int, *ent.User]
	rooms       *dataloadgen.Loader[int, *ent.Room]
	members     *dataloadgen.Loader[int, []*ent.User]
	lastMessage *dataloadgen.Loader[int, *ent.Message]
	unread      *dataloadgen.Loader[int, int]
	friendship  *dataloadgen.Loader[int, chat.FriendshipState]
	online      *dataloadgen.Loader[int, bool]
	attachments *dataloadgen.Loader[int, *ent.Attachment]
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
	return &loaders{
		users:       dataloadgen.NewLoader(mapped(c.UsersByID), opts...),
		rooms:       dataloadgen.NewLoader(mapped(c.RoomsByID), opts...),
		members:     dataloadgen.NewLoader(mapped(c.MembersOf), opts...),
		lastMessage: dataloadgen.NewLoader(mapped(viewerScoped(c.LastMessages)), opts...),
		unread:      dataloadgen.NewLoader(mapped(viewerScoped(c.UnreadCounts)), opts...),
		friendship:  dataloadgen.NewLoader(mapped(viewerScoped(c.FriendshipStates)), opts...),
		online:      dataloadgen.NewLoader(mapped(c.Online), opts...),
		attachments: dataloadgen.NewLoader(mapped(c.AttachmentsByID), opts...),
	}
}

// Loaders gives each GraphQL operation its own loaders (and so its own
// cache: nothing is shared between requests or viewers).
func (r *Resolver) Loaders() graphql.OperationMiddleware {
	return func(ctx context.Context, next graphql.OperationHandler) graphql.ResponseHandler {
		op := graphql.GetOperationContext(ctx).Operation
		cache := op == nil || op.Operation != ast.Subscription
		return next(context.WithValue(ctx, loadersKey{}, newLoaders(r.Chat, cache)))
	}
}

func loadersOf(ctx context.Context) *loaders {
	return ctx.Value(loadersKey{}).(*loaders)
}
