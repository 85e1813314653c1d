package graph

import (
	"context"

	"github.com/99designs/gqlgen/graphql"
	"github.com/vektah/gqlparser/v2/ast"
	"github.com/vektah/gqlparser/v2/gqlerror"

	"github.com/chatty/chatty/internal/apperr"
)

// ShapeLimit refuses operations nested deeper than MaxDepth or using more
// than MaxAliases aliases, before anything executes. Introspection fields
// (__schema, __type) don't count towards depth: GraphiQL's own
// introspection query nests ofType deeply.
type ShapeLimit struct {
	MaxDepth   int
	MaxAliases int
}

var _ interface {
	graphql.HandlerExtension
	graphql.OperationContextMutator
} = ShapeLimit{}

// ExtensionName implements graphql.HandlerExtension.
func (ShapeLimit) ExtensionName() string { return "ShapeLimit" }

// Validate implements graphql.HandlerExtension.
func (ShapeLimit) Validate(graphql.ExecutableSchema) error { return nil }

// MutateOperationContext implements graphql.OperationContextMutator.
func (l ShapeLimit) MutateOperationContext(_ context.Context, oc *graphql.OperationContext) *gqlerror.Error {
	if oc.Operation == nil {
		return nil
	}
	w := shapeWalker{visiting: map[string]bool{}}
	depth := w.depth(oc.Operation.SelectionSet, 0)
	if depth > l.MaxDepth {
		return limitError("the operation is nested %d levels deep; the limit is %d", depth, l.MaxDepth)
	}
	if w.aliases > l.MaxAliases {
		return limitError("the operation uses %d aliases; the limit is %d", w.aliases, l.MaxAliases)
	}
	return nil
}

func limitError(format string, args ...any) *gqlerror.Error {
	err := gqlerror.Errorf(format, args...)
	err.Extensions = map[string]any{"code": string(apperr.ComplexityLimited)}
	return err
}

type shapeWalker struct {
	aliases  int
	visiting map[string]bool // fragments on the current path (validation already forbids cycles)
}

// depth returns how deep set nests below level, counting aliases on the way.
func (w *shapeWalker) depth(set ast.SelectionSet, level int) int {
	deepest := level
	for _, sel := range set {
		var d int
		switch s := sel.(type) {
		case *ast.Field:
			if s.Alias != "" && s.Alias != s.Name {
				w.aliases++
			}
			if level == 0 && (s.Name == "__schema" || s.Name == "__type") {
				continue
			}
			d = w.depth(s.SelectionSet, level+1)
		case *ast.InlineFragment:
			d = w.depth(s.SelectionSet, level)
		case *ast.FragmentSpread:
			if s.Definition == nil || w.visiting[s.Name] {
				continue
			}
			w.visiting[s.Name] = true
			d = w.depth(s.Definition.SelectionSet, level)
			delete(w.visiting, s.Name)
		}
		if d > deepest {
			deepest = d
		}
	}
	return deepest
}
