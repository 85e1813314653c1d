package graph

import (
	"context"

	"github.com/99designs/gqlgen/graphql"
	"github.com/vektah/gqlparser/v2/ast"
)

// nodeFields names the fields the operation selects on the nodes of the
// connection being resolved (under edges { node { … } }), fragments
// included.
func nodeFields(ctx context.Context) map[string]bool {
	oc := graphql.GetOperationContext(ctx)
	fc := graphql.GetFieldContext(ctx)
	out := map[string]bool{}
	if oc == nil || fc == nil {
		return out
	}
	for _, edges := range collect(oc, fc.Field.Selections, "edges") {
		for _, node := range collect(oc, edges.Selections, "node") {
			for _, f := range graphql.CollectFields(oc, node.Selections, nil) {
				out[f.Name] = true
			}
		}
	}
	return out
}

func collect(oc *graphql.OperationContext, set ast.SelectionSet, name string) []graphql.CollectedField {
	var out []graphql.CollectedField
	for _, f := range graphql.CollectFields(oc, set, nil) {
		if f.Name == name {
			out = append(out, f)
		}
	}
	return out
}
