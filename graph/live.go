package graph

import (
	"bytes"
	"context"
	"encoding/json"
	"runtime"
	"sync"
	"sync/atomic"
	"unique"
	"weak"

	"github.com/99designs/gqlgen/graphql"
	"github.com/vektah/gqlparser/v2/ast"

	"github.com/chatty/chatty/ent"
	"github.com/chatty/chatty/ent/room"
	"github.com/chatty/chatty/internal/chat"
	"github.com/chatty/chatty/internal/viewer"
)

// Shared subscription responses.
//
// The streams of internal/chat hand every subscriber of a room (or of a
// user's notifications) on this instance the same decoded event: one
// *ent.Message, one *chat.Notification. LiveResponses makes the GraphQL
// side of a delivery as cheap: the first subscription to execute an event
// for a given operation (query text, operation name and variables) stores
// the response's bytes on the event, and every other subscription of that
// operation sends them as they are, without executing anything. While it
// executes, an event's viewer-independent reads (users, rooms, members,
// attachments, presence) go through loaders that belong to the event, so
// each of them is read once per event and instance however many
// subscriptions execute it.
//
// A response is shared between viewers only when every field its selection
// reaches reads the same for everyone (sharedFields) and nothing executed
// for it depended on the viewer (a room's name for a direct room or an
// unnamed group, see viewerDependent); otherwise it is shared only between
// subscriptions of the same viewer.

// sharedFields are the fields whose value is the same for every viewer of
// an event. A field not listed (a new one included) makes the selection's
// responses per viewer: correct, only less shared.
//
// Left out on purpose: Reaction.viewerReacted, User.friendship, email and
// blocked, Room.unreadCount, lastMessage, viewerRole and readReceipts
// (each the viewer's own); TypingEvent and ReadEvent (each stream makes
// its own, see roomEventState: listing them would share nothing).
var sharedFields = map[string]map[string]bool{
	"Subscription": set("messageAdded", "notifications", "roomEvents"),
	"Message": set("id", "createdAt", "kind", "body", "seq", "clientId", "room", "sender", "attachment",
		"editedAt", "deletedAt", "replyTo", // a reply quotes what it answers: whoever reads it reads that
		"reactions"), // but Reaction.viewerReacted
	"Reaction":   set("emoji", "count", "users"),
	"User":       set("id", "createdAt", "nickname", "bio", "lastSeenAt", "avatarURL", "online"),
	"Room":       set("id", "createdAt", "updatedAt", "kind", "name", "members", "eventsCursor"), // name: see viewerDependent
	"Attachment": set("id", "createdAt", "filename", "contentType", "size", "width", "height", "url", "thumbnailURL"),
	// A notification goes to one user only (its topic is the user's), so
	// its id, cursor and readAt are the same for all who get it.
	"Notification": set("id", "cursor", "readAt", "kind", "room", "message", "actor", "totalUnread", "createdAt"),
	// roomEvents: a stored change and a room change read the same for
	// every member who gets them.
	"MessageEvent":     set("kind", "message", "cursor"),
	"RoomChangedEvent": set("room"),
}

func set(names ...string) map[string]bool {
	m := make(map[string]bool, len(names))
	for _, n := range names {
		m[n] = true
	}
	return m
}

// LiveResponses is the gqlgen extension that shares subscription
// responses (see above). Register it with the server's Use.
type LiveResponses struct {
	Chat   *chat.Service
	events eventTable
}

var (
	_ graphql.HandlerExtension     = (*LiveResponses)(nil)
	_ graphql.OperationInterceptor = (*LiveResponses)(nil)
	_ graphql.ResponseInterceptor  = (*LiveResponses)(nil)
)

// ExtensionName implements graphql.HandlerExtension.
func (*LiveResponses) ExtensionName() string { return "LiveResponses" }

// Validate implements graphql.HandlerExtension.
func (*LiveResponses) Validate(graphql.ExecutableSchema) error { return nil }

// liveOp is one subscription operation: what its responses are shared
// under, and the events its resolver feeds it (set by liveEvents).
type liveOp struct {
	key     unique.Handle[string] // query, operation name and variables
	user    int                   // the viewer
	perUser bool                  // the selection reaches a field not in sharedFields
	feed    feed
	events  *eventTable
}

// shareKey is what a response is shared under: the operation (its query,
// operation name and variables) and, for a response of one viewer's own,
// the viewer. The operation's text is held once (unique.Make) however
// many subscriptions run it: an idle subscription keeps a handle.
type shareKey struct {
	op   unique.Handle[string]
	user int
	own  bool // for user alone
}

// shareKey is the key the operation's responses are shared under first.
func (op *liveOp) shareKey() shareKey {
	if op.perUser {
		return op.userKey()
	}
	return shareKey{op: op.key}
}

// userKey is the share key of a response for the viewer alone.
func (op *liveOp) userKey() shareKey { return shareKey{op: op.key, user: op.user, own: true} }

type liveOpKey struct{}

// InterceptOperation implements graphql.OperationInterceptor: it gives a
// subscription its liveOp before its resolver runs.
func (l *LiveResponses) InterceptOperation(ctx context.Context, next graphql.OperationHandler) graphql.ResponseHandler {
	oc := graphql.GetOperationContext(ctx)
	if oc == nil || oc.Operation == nil || oc.Operation.Operation != ast.Subscription || oc.RawQuery == "" {
		return next(ctx) // (without its text an operation shares nothing)
	}
	vars, err := json.Marshal(oc.Variables) // map keys sorted
	if err != nil {
		return next(ctx)
	}
	v, _ := viewer.FromContext(ctx)
	op := &liveOp{
		key:     unique.Make(oc.RawQuery + "\x00" + oc.OperationName + "\x00" + string(vars)),
		user:    v.UserID,
		perUser: !allShared(oc, oc.Operation.SelectionSet),
		events:  &l.events,
	}
	if p, ok := ctx.Value(pullKey{}).(*Pull); ok {
		p.op = op // (the operation's Pull carries it: one context value less per idle subscription)
		return next(ctx)
	}
	return next(context.WithValue(ctx, liveOpKey{}, op))
}

// liveOpOf returns the liveOp InterceptOperation gave the operation of
// ctx, if any.
func liveOpOf(ctx context.Context) *liveOp {
	if p, ok := ctx.Value(pullKey{}).(*Pull); ok && p.op != nil {
		return p.op
	}
	op, _ := ctx.Value(liveOpKey{}).(*liveOp)
	return op
}

// allShared reports whether every field of set (fragments included) is in
// sharedFields.
func allShared(oc *graphql.OperationContext, set ast.SelectionSet) bool {
	for _, s := range set {
		switch s := s.(type) {
		case *ast.Field:
			if s.Name == "__typename" {
				continue
			}
			if s.ObjectDefinition == nil || !sharedFields[s.ObjectDefinition.Name][s.Name] || !allShared(oc, s.SelectionSet) {
				return false
			}
		case *ast.InlineFragment:
			if !allShared(oc, s.SelectionSet) {
				return false
			}
		case *ast.FragmentSpread:
			if s.Definition == nil || !allShared(oc, s.Definition.SelectionSet) {
				return false
			}
		}
	}
	return true
}

// liveStream is what a subscription resolver returns for the stream in:
// when the operation runs under LiveResponses, a channel that
// InterceptResponse fills, one event at a time, only when this
// subscription has to execute the event itself; otherwise in as a channel
// (with a goroutine that feeds it). Under LiveResponses no goroutine but
// gqlgen's one per operation: it pulls the events from in itself.
func liveStream[T any](ctx context.Context, in *chat.Stream[*T]) <-chan *T {
	op := liveOpOf(ctx)
	if op == nil || op.feed != nil {
		return in.C()
	}
	dropArgs(ctx)
	exec := make(chan *T, 1)
	f := &pullFeed[T]{in: in, exec: exec}
	op.feed = f
	if p, ok := ctx.Value(pullKey{}).(*Pull); ok && p.Wake != nil {
		in.SetWake(p.Wake)
		p.ready = in.Ready
		p.shared = func() []byte { return f.shared(op) }
	}
	return exec
}

// dropArgs lets the subscription's field context forget its arguments
// once its resolver has them: gqlgen reads them once, to call the
// resolver, and the subscription would keep them (a map, ~360 bytes with
// a cursor) for as long as it lives.
func dropArgs(ctx context.Context) {
	if fc := graphql.GetFieldContext(ctx); fc != nil && fc.Object == "Subscription" {
		fc.Args = nil
	}
}

// Pull lets a transport run a subscription without a goroutine that waits
// for its events. The transport puts one in the operation's context
// (WithPull) with Wake set; a subscription whose stream can say when it
// has something (messageAdded, notifications) takes it: Pullable then
// reports true, the stream calls Wake (from any goroutine, quickly: it
// may run under the broker's lock) whenever Ready may have become true,
// and the operation's ResponseHandler, called only when Ready is true,
// does not wait. The transport calls Ready and the ResponseHandler from
// one goroutine at a time.
type Pull struct {
	Wake   func()
	ready  func() bool
	shared func() []byte
	op     *liveOp // the subscription's, under LiveResponses
}

type pullKey struct{}

// WithPull returns ctx carrying p for the subscription about to be
// dispatched.
func WithPull(ctx context.Context, p *Pull) context.Context {
	return context.WithValue(ctx, pullKey{}, p)
}

// Pullable reports whether the subscription took p (after its dispatch).
func (p *Pull) Pullable() bool { return p.ready != nil }

// Ready does the stream's work that needs no waiting and reports whether
// the next response is there (or the end).
func (p *Pull) Ready() bool { return p.ready() }

// Shared takes the next response, once Ready is true, when another
// subscription of the same operation has made it already: its data (a
// response of data alone, which the caller must not modify). Nil when
// there is none (the stream's end included): the ResponseHandler then
// makes the next response. What it takes skips the ResponseHandler and
// the extensions around it, which have nothing to add to a shared
// response (no errors, no extensions).
func (p *Pull) Shared() []byte { return p.shared() }

// liveRoomEvents is liveStream for roomEvents, whose stream still comes as
// a channel (see roomEventState for what its events share).
func liveRoomEvents(ctx context.Context, in <-chan chat.RoomEvent) <-chan chat.RoomEvent {
	op := liveOpOf(ctx)
	if op == nil || op.feed != nil {
		return in
	}
	dropArgs(ctx)
	exec := make(chan chat.RoomEvent, 1)
	op.feed = &chanFeed[chat.RoomEvent]{in: in, exec: exec, state: roomEventState}
	return exec
}

// roomEventState finds the shared state of a roomEvents event. A stored
// change is the change of its message, and a room change that of its
// room: every stream of the room on this instance got that message (room)
// from the same decoded event, and what the event shows follows from it.
// A typing or read event is made by each stream (a read event's lastRead
// depends on when the viewer joined): it is shared with nobody.
func roomEventState(t *eventTable, e chat.RoomEvent) *liveEvent {
	switch e := e.(type) {
	case *chat.MessageEvent:
		return eventOf(t, e.Message)
	case *chat.RoomChangedEvent:
		return eventOf(t, e.Room)
	}
	return &liveEvent{}
}

// feed takes a subscription's next event from its stream.
type feed interface {
	// next waits for the next event: its shared state, and a function
	// that hands it to the executor. ok is false once the stream has
	// ended (the executor's channel is then closed) or ctx is done.
	next(ctx context.Context, t *eventTable) (e *liveEvent, pass func(), ok bool)
}

type pullFeed[T any] struct {
	in     *chat.Stream[*T]
	exec   chan *T
	closed bool
}

// shared takes the stream's next value when its response for op was made
// already (Pull.Shared).
func (f *pullFeed[T]) shared(op *liveOp) []byte {
	v, ok := f.in.Peek()
	if !ok {
		return nil
	}
	ev := eventOf(op.events, v)
	data := ev.made(op.shareKey())
	if data == nil && !op.perUser {
		data = ev.made(op.userKey()) // the response was the viewer's own
	}
	if data != nil {
		f.in.Next()
	}
	return data
}

func (f *pullFeed[T]) next(ctx context.Context, t *eventTable) (*liveEvent, func(), bool) {
	v, ok := f.in.Next()
	if !ok {
		if !f.closed {
			f.closed = true
			close(f.exec)
		}
		return nil, nil, false
	}
	return eventOf(t, v), func() { f.exec <- v }, true
}

type chanFeed[E any] struct {
	in     <-chan E
	exec   chan E
	closed bool
	state  func(*eventTable, E) *liveEvent
}

func (f *chanFeed[E]) next(ctx context.Context, t *eventTable) (*liveEvent, func(), bool) {
	select {
	case v, ok := <-f.in:
		if !ok {
			if !f.closed {
				f.closed = true
				close(f.exec)
			}
			return nil, nil, false
		}
		return f.state(t, v), func() { f.exec <- v }, true
	case <-ctx.Done():
		return nil, nil, false
	}
}

// InterceptResponse implements graphql.ResponseInterceptor: it takes the
// subscription's next event and answers with the bytes another
// subscription of the same operation made for it, or executes it (sharing
// the result).
func (l *LiveResponses) InterceptResponse(ctx context.Context, next graphql.ResponseHandler) *graphql.Response {
	op := liveOpOf(ctx)
	if op == nil || op.feed == nil {
		return next(ctx)
	}
	ev, pass, ok := op.feed.next(ctx, &l.events)
	if !ok {
		if ctx.Err() != nil {
			return nil
		}
		return next(ctx) // the executor sees its channel closed: the end
	}
	resp, leader := ev.response(op.shareKey())
	if !leader {
		select {
		case <-resp.ready:
		case <-ctx.Done():
			return nil
		}
		if resp.data != nil {
			return &graphql.Response{Data: resp.data}
		}
		// The leader's response was not for everyone: execute it too,
		// sharing it with this viewer's other subscriptions.
		if resp, leader = ev.response(op.userKey()); !leader {
			select {
			case <-resp.ready:
			case <-ctx.Done():
				return nil
			}
			if resp.data != nil {
				return &graphql.Response{Data: resp.data}
			}
			return l.execute(ctx, ev, pass, next, nil)
		}
	}
	return l.execute(ctx, ev, pass, next, resp)
}

// execute runs the operation for ev and, when out is not nil, stores its
// response there for the others (unless it failed or depended on the
// viewer).
func (l *LiveResponses) execute(ctx context.Context, ev *liveEvent, pass func(), next graphql.ResponseHandler, out *sharedResponse) *graphql.Response {
	var data []byte
	if out != nil {
		defer func() {
			out.data = data
			close(out.ready)
		}()
	}
	mark := &viewerMark{}
	ctx = context.WithValue(ctx, viewerMarkKey{}, mark)
	ctx = withLoaders(ctx, ev.loaders(l.Chat).over(loaderSetOf(ctx)))
	pass()
	resp := next(ctx)
	if resp != nil && len(resp.Errors) == 0 && resp.Data != nil && !mark.used.Load() {
		data = bytes.Clone(resp.Data) // the executor reuses its buffer
	}
	return resp
}

// viewerMark records that an execution read something that depends on the
// viewer, so its response is not shared with other viewers.
type viewerMark struct{ used atomic.Bool }

type viewerMarkKey struct{}

// viewerDependent marks the response being executed as the viewer's own.
func viewerDependent(ctx context.Context) {
	if m, ok := ctx.Value(viewerMarkKey{}).(*viewerMark); ok {
		m.used.Store(true)
	}
}

// nameDependsOnViewer reports whether what the viewer sees a room called
// depends on who the viewer is (chat.RoomName): only a group's own name
// does not.
func nameDependsOnViewer(r *ent.Room) bool {
	return r.Kind != room.KindGROUP || r.Name == nil
}

// liveEvent is the state this instance keeps for one event while the
// event lives: the responses made for it, by share key, and its loaders.
type liveEvent struct {
	mu        sync.Mutex
	responses map[shareKey]*sharedResponse
	once      sync.Once
	shared    *eventLoaders
}

// sharedResponse is a response made once for an event; ready closes when
// data is set (nil when it is not to be shared).
type sharedResponse struct {
	ready chan struct{}
	data  []byte
}

// response returns the response stored under key, and whether the caller
// is the one to make it.
func (e *liveEvent) response(key shareKey) (*sharedResponse, bool) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if r, ok := e.responses[key]; ok {
		return r, false
	}
	if e.responses == nil {
		e.responses = map[shareKey]*sharedResponse{}
	}
	r := &sharedResponse{ready: make(chan struct{})}
	e.responses[key] = r
	return r, true
}

// made returns the data of the response made for key, when it is made and
// for sharing; nil otherwise.
func (e *liveEvent) made(key shareKey) []byte {
	e.mu.Lock()
	r := e.responses[key]
	e.mu.Unlock()
	if r == nil {
		return nil
	}
	select {
	case <-r.ready:
		return r.data
	default:
		return nil
	}
}

func (e *liveEvent) loaders(c *chat.Service) *eventLoaders {
	e.once.Do(func() { e.shared = newEventLoaders(c) })
	return e.shared
}

// eventTable finds the liveEvent of an event value. It holds events
// weakly: an entry goes when the event is collected, that is once every
// stream has delivered it.
type eventTable struct {
	mu sync.Mutex
	m  map[any]*liveEvent // weak.Pointer[T] → state
}

func eventOf[T any](t *eventTable, v *T) *liveEvent {
	k := weak.Make(v)
	t.mu.Lock()
	defer t.mu.Unlock()
	if e, ok := t.m[k]; ok {
		return e
	}
	if t.m == nil {
		t.m = map[any]*liveEvent{}
	}
	e := &liveEvent{}
	t.m[k] = e
	runtime.AddCleanup(v, func(k weak.Pointer[T]) {
		t.mu.Lock()
		delete(t.m, k)
		t.mu.Unlock()
	}, k)
	return e
}
