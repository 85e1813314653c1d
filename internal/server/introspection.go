package server

import (
	"context"

	"github.com/99designs/gqlgen/graphql"
	"github.com/99designs/gqlgen/graphql/errcode"
	"github.com/vektah/gqlparser/v2/ast"
	"github.com/vektah/gqlparser/v2/gqlerror"
)

// noIntrospection refuses, before execution, an operation that selects
// __schema or __type anywhere (through fragments too), with a coded
// GRAPHQL_VALIDATION_FAILED error. Without gqlgen's extension.Introspection
// those fields would only fail while executing, with an uncoded "introspection
// disabled" that the presenter hides as INTERNAL_SERVER_ERROR. __typename
// stays allowed: clients (Apollo) add it to every selection.
type noIntrospection struct{}

var _ interface {
	graphql.HandlerExtension
	graphql.OperationContextMutator
} = noIntrospection{}

// ExtensionName implements graphql.HandlerExtension.
func (noIntrospection) ExtensionName() string { return "NoIntrospection" }

// Validate implements graphql.HandlerExtension.
func (noIntrospection) Validate(graphql.ExecutableSchema) error { return nil }

// MutateOperationContext implements graphql.OperationContextMutator. It
// visits each fragment once, so its cost is linear in the document.
func (noIntrospection) MutateOperationContext(_ context.Context, oc *graphql.OperationContext) *gqlerror.Error {
	if oc.Operation == nil {
		return nil
	}
	seen := map[string]bool{}
	var find func(ast.SelectionSet) *ast.Field
	find = func(set ast.SelectionSet) *ast.Field {
		for _, sel := range set {
			switch sel := sel.(type) {
			case *ast.Field:
				if sel.Name == "__schema" || sel.Name == "__type" {
					return sel
				}
				if f := find(sel.SelectionSet); f != nil {
					return f
				}
			case *ast.InlineFragment:
				if f := find(sel.SelectionSet); f != nil {
					return f
				}
			case *ast.FragmentSpread:
				if seen[sel.Name] || sel.Definition == nil {
					continue
				}
				seen[sel.Name] = true
				if f := find(sel.Definition.SelectionSet); f != nil {
					return f
				}
			}
		}
		return nil
	}
	f := find(oc.Operation.SelectionSet)
	if f == nil {
		return nil
	}
	err := gqlerror.ErrorPosf(f.Position, "introspection is disabled on this server: %s can't be queried", f.Name)
	errcode.Set(err, errcode.ValidationFailed)
	return err
}
