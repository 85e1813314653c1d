package graph

import (
	"context"
	"math"
	"strings"

	gqlcomplexity "github.com/99designs/gqlgen/complexity"
	"github.com/99designs/gqlgen/graphql"
	"github.com/99designs/gqlgen/graphql/errcode"
	"github.com/vektah/gqlparser/v2/ast"
	"github.com/vektah/gqlparser/v2/gqlerror"
	"github.com/vektah/gqlparser/v2/lexer"

	"github.com/chatty/chatty/internal/apperr"
)

// ComplexityLimit refuses an operation whose complexity (gqlgen's
// complexity.Calculate) is over Max, with the error gqlgen's
// extension.ComplexityLimit gives, but without keeping the figures in the
// operation's stats: nothing reads them, and a subscription keeps its
// operation context (that map included) for as long as it lives.
type ComplexityLimit struct {
	Max int
	es  graphql.ExecutableSchema
}

var _ interface {
	graphql.HandlerExtension
	graphql.OperationContextMutator
} = &ComplexityLimit{}

// ExtensionName implements graphql.HandlerExtension.
func (*ComplexityLimit) ExtensionName() string { return "ComplexityLimit" }

// Validate implements graphql.HandlerExtension.
func (c *ComplexityLimit) Validate(es graphql.ExecutableSchema) error {
	c.es = es
	return nil
}

// MutateOperationContext implements graphql.OperationContextMutator.
func (c *ComplexityLimit) MutateOperationContext(ctx context.Context, oc *graphql.OperationContext) *gqlerror.Error {
	op := oc.Doc.Operations.ForName(oc.OperationName)
	if n := gqlcomplexity.Calculate(ctx, c.es, op, oc.Variables); n > c.Max {
		err := gqlerror.Errorf("operation has complexity %d, which exceeds the limit of %d", n, c.Max)
		errcode.Set(err, "COMPLEXITY_LIMIT_EXCEEDED")
		return err
	}
	return nil
}

// ShapeLimit refuses operations that expand to more than MaxFields fields
// and fragments, nest deeper than MaxDepth or use more than MaxAliases aliases,
// before anything executes and before gqlgen's complexity walk (which
// re-walks every fragment spread) sees them.
//
// It must be the first operation-context mutator: it measures the operation
// in time linear in the document, visiting each fragment once and
// memoising its shape, with saturating arithmetic. A few hundred bytes of
// fragments that each spread the next one twice expand to 2^n fields; such
// an operation is refused after one pass over the document instead of n
// doublings of work.
//
// Introspection fields (__schema, __type) don't count towards depth:
// GraphiQL's own introspection query nests ofType deeply.
type ShapeLimit struct {
	MaxFields  int
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
	m := shapeMeter{doc: oc.Doc, memo: map[string]*shape{}}
	s := m.measure(oc.Operation.SelectionSet)
	switch {
	case l.MaxFields > 0 && s.fields > l.MaxFields:
		return limitError("the operation expands to more than %d fields and fragments (a fragment counts each time it is spread)", l.MaxFields)
	case s.rootDepth > l.MaxDepth:
		return limitError("the operation is nested %d levels deep; the limit is %d", s.rootDepth, l.MaxDepth)
	case s.aliases > l.MaxAliases:
		return limitError("the operation uses %d aliases; the limit is %d", s.aliases, l.MaxAliases)
	}
	return nil
}

func limitError(format string, args ...any) *gqlerror.Error {
	err := gqlerror.Errorf(format, args...)
	err.Extensions = map[string]any{"code": string(apperr.ComplexityLimited)}
	return err
}

// shape is what a selection set expands to. Depths are relative to the
// set: a set of leaf fields is 1 deep.
type shape struct {
	fields  int // fields and fragments after expanding every spread
	aliases int // aliases after expanding every spread
	depth   int // deepest nesting
	// rootDepth is depth when the set sits at the operation's root, where
	// __schema and __type are not counted.
	rootDepth int
}

// shapeMeter measures selection sets, each fragment once.
type shapeMeter struct {
	doc  *ast.QueryDocument
	memo map[string]*shape // by fragment name; nil while being measured
}

func (m *shapeMeter) measure(set ast.SelectionSet) shape {
	var s shape
	for _, sel := range set {
		var child shape
		switch x := sel.(type) {
		case *ast.Field:
			sub := m.measure(x.SelectionSet)
			child = shape{fields: addSat(sub.fields, 1), aliases: sub.aliases, depth: addSat(sub.depth, 1)}
			if x.Alias != "" && x.Alias != x.Name {
				child.aliases = addSat(child.aliases, 1)
			}
			child.rootDepth = child.depth
			if x.Name == "__schema" || x.Name == "__type" {
				child.rootDepth = 0
			}
		case *ast.InlineFragment:
			child = m.measure(x.SelectionSet)
			child.fields = addSat(child.fields, 1)
		case *ast.FragmentSpread:
			child = m.fragment(x)
			child.fields = addSat(child.fields, 1)
		}
		s.fields = addSat(s.fields, child.fields)
		s.aliases = addSat(s.aliases, child.aliases)
		s.depth = max(s.depth, child.depth)
		s.rootDepth = max(s.rootDepth, child.rootDepth)
	}
	return s
}

// fragment returns the memoised shape of a spread fragment. Validation
// has already refused unknown fragments and cycles; should either reach
// here, the spread counts as empty.
func (m *shapeMeter) fragment(spread *ast.FragmentSpread) shape {
	if got, ok := m.memo[spread.Name]; ok {
		if got == nil {
			return shape{} // a cycle
		}
		return *got
	}
	def := spread.Definition
	if def == nil && m.doc != nil {
		def = m.doc.Fragments.ForName(spread.Name)
	}
	if def == nil {
		return shape{}
	}
	m.memo[spread.Name] = nil
	s := m.measure(def.SelectionSet)
	m.memo[spread.Name] = &s
	return s
}

// addSat adds two non-negative counts, stopping at math.MaxInt.
func addSat(a, b int) int {
	if a > math.MaxInt-b {
		return math.MaxInt
	}
	return a + b
}

// FragmentLimit refuses a document that defines more than Max fragments,
// before it is parsed or validated: validation's check that fields can be
// merged grows with the square of the fragments (450 of them, within the
// parser's token limit, took about 130 ms of CPU to validate). Real
// documents define a few dozen at most.
type FragmentLimit struct {
	Max int
}

var _ interface {
	graphql.HandlerExtension
	graphql.OperationParameterMutator
} = FragmentLimit{}

// ExtensionName implements graphql.HandlerExtension.
func (FragmentLimit) ExtensionName() string { return "FragmentLimit" }

// Validate implements graphql.HandlerExtension.
func (FragmentLimit) Validate(graphql.ExecutableSchema) error { return nil }

// MutateOperationParameters implements graphql.OperationParameterMutator.
func (l FragmentLimit) MutateOperationParameters(_ context.Context, p *graphql.RawParams) *gqlerror.Error {
	if strings.Count(p.Query, "fragment") <= l.Max {
		return nil // the common case: no need to read the document
	}
	lex := lexer.New(&ast.Source{Input: p.Query})
	defined, depth := 0, 0
	for {
		tok, err := lex.ReadToken()
		if err != nil || tok.Kind == lexer.EOF {
			return nil // the parser reports what is wrong
		}
		switch tok.Kind {
		case lexer.BraceL:
			depth++
		case lexer.BraceR:
			depth--
		case lexer.Name:
			if depth == 0 && tok.Value == "fragment" {
				if defined++; defined > l.Max {
					return limitError("the document defines more than %d fragments", l.Max)
				}
			}
		}
	}
}
