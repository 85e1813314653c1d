package graph

import (
	"context"
	"fmt"

	"github.com/99designs/gqlgen/graphql"
	"github.com/vektah/gqlparser/v2/ast"

	"github.com/chatty/chatty/ent"
)

// PageEdges marshals the edges of a page of messages one after another,
// in the goroutine that resolves the page, where gqlgen starts a goroutine
// for each element of a list of objects (MarshalSliceConcurrently, not
// configurable). For a page of 50 that was 50 goroutine starts, each
// growing its stack through gqlgen's deep call chain: about a fifth of the
// server's CPU for a history page. It is a gqlgen field interceptor:
// register it with Use.
//
// Running the edges in order is only right when no field under them waits
// for a loader's batch to fill (each such wait would come once per edge
// instead of once per page). So it takes the edges only of a page whose
// reads prefetchMessages primed (its loaders keep a cache: not a
// subscription's) and whose selection asks nothing but what that priming
// answers from memory (primedFields), and no @defer; any other page is
// left to gqlgen.
type PageEdges struct{ schema *executableSchema }

// ExtensionName implements graphql.HandlerExtension.
func (*PageEdges) ExtensionName() string { return "PageEdges" }

// Validate implements graphql.HandlerExtension: it keeps the executable
// schema, whose generated marshallers write the edges.
func (p *PageEdges) Validate(schema graphql.ExecutableSchema) error {
	es, ok := schema.(*executableSchema)
	if !ok {
		return fmt.Errorf("PageEdges needs graph's executable schema, not %T", schema)
	}
	p.schema = es
	return nil
}

// InterceptField implements graphql.FieldInterceptor. gqlgen writes a
// field's value as it is when the resolver chain returns a
// graphql.Marshaler instead of the field's Go type (resolveField).
func (p *PageEdges) InterceptField(ctx context.Context, next graphql.Resolver) (any, error) {
	fc := graphql.GetFieldContext(ctx)
	if fc == nil || fc.Object != "MessageConnection" || fc.Field.Name != "edges" {
		return next(ctx)
	}
	res, err := next(ctx)
	edges, ok := res.([]*ent.MessageEdge)
	if err != nil || !ok || len(edges) < 2 || fc.Parent == nil {
		return res, err
	}
	conn, _ := fc.Parent.Result.(*ent.MessageConnection)
	set, _ := ctx.Value(loadersKey{}).(*loaderSet)
	if conn == nil || set == nil || set.get().pages == nil {
		return res, err
	}
	if _, primed := set.get().pages.Load(conn); !primed {
		return res, err
	}
	oc := graphql.GetOperationContext(ctx)
	if !answeredFromMemory(oc, fc.Field.Selections, "MessageEdge") {
		return res, err
	}
	ec := newExecutionContext(oc, p.schema, nil) // no @defer below: never used for one
	out := make(graphql.Array, len(edges))
	for i := range edges {
		// As MarshalSliceConcurrently: the element's index in its field
		// context (error paths), a panic answers null for that edge.
		ectx := graphql.WithFieldContext(ctx, &graphql.FieldContext{Index: &i, Result: &edges[i]})
		out[i] = marshalEdge(ectx, ec, fc.Field.Selections, edges[i])
	}
	return out, nil
}

func marshalEdge(ctx context.Context, ec *executionContext, sel ast.SelectionSet, e *ent.MessageEdge) (m graphql.Marshaler) {
	defer func() {
		if r := recover(); r != nil {
			graphql.AddError(ctx, graphql.Recover(ctx, r))
			m = graphql.Null
		}
	}()
	return ec.marshalOMessageEdge2ᚖgithubᚗcomᚋchattyᚋchattyᚋentᚐMessageEdge(ctx, sel, e)
}

// primedFields are, for each object under the edges of a primed page, the
// fields answered from memory, with the object each one selects on ("" for
// a leaf). "QuotedMessage" is a Message under replyTo: prefetchMessages
// primes the senders and attachments of the messages answered, not their
// reactions or what they answer in turn. A field not named here (a
// loader's that nothing primed, one with arguments, one added to the
// schema later) leaves the page to gqlgen.
var primedFields = map[string]map[string]string{
	"MessageEdge": {"__typename": "", "cursor": "", "node": "Message"},
	"Message": {
		"__typename": "", "id": "", "createdAt": "", "kind": "", "body": "", "seq": "", "editedAt": "", "deletedAt": "", "clientId": "",
		"sender": "User", "attachment": "Attachment", "replyTo": "QuotedMessage", "reactions": "Reaction",
	},
	"QuotedMessage": {
		"__typename": "", "id": "", "createdAt": "", "kind": "", "body": "", "seq": "", "editedAt": "", "deletedAt": "", "clientId": "",
		"sender": "User", "attachment": "Attachment",
	},
	"User": {
		"__typename": "", "id": "", "createdAt": "", "nickname": "", "bio": "", "lastSeenAt": "", "avatarURL": "", "email": "", "online": "",
	},
	"Attachment": {
		"__typename": "", "id": "", "createdAt": "", "filename": "", "contentType": "", "size": "", "width": "", "height": "", "url": "", "thumbnailURL": "",
	},
	"Reaction": {"__typename": "", "emoji": "", "count": "", "viewerReacted": ""},
}

// implementors are the type conditions each object of primedFields
// satisfies, as the generated code collects its fields.
var implementors = map[string][]string{
	"MessageEdge":   messageEdgeImplementors,
	"Message":       messageImplementors,
	"QuotedMessage": messageImplementors,
	"User":          userImplementors,
	"Attachment":    attachmentImplementors,
	"Reaction":      reactionImplementors,
}

// answeredFromMemory tells whether every field that set selects on an
// object of type typ (fragments included, @skip and @include applied) is
// one of primedFields, without arguments, and not deferred.
func answeredFromMemory(oc *graphql.OperationContext, set ast.SelectionSet, typ string) bool {
	known := primedFields[typ]
	for _, f := range graphql.CollectFields(oc, set, implementors[typ]) {
		sub, ok := known[f.Name]
		if !ok || len(f.Deferrables) > 0 || len(f.Arguments) > 0 {
			return false
		}
		if sub != "" && !answeredFromMemory(oc, f.Selections, sub) {
			return false
		}
	}
	return true
}
