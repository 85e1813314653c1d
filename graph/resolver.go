// Package graph is chatty's GraphQL layer: schema, gqlgen output and thin
// resolvers that call the domain packages.
package graph

import (
	"github.com/99designs/gqlgen/graphql"

	"github.com/chatty/chatty/ent"
	"github.com/chatty/chatty/internal/auth"
	"github.com/chatty/chatty/internal/chat"
)

// Resolver holds what the resolvers call into.
type Resolver struct {
	DB   *ent.Client
	Auth *auth.Service
	Chat *chat.Service
	// PublicURL is the base of the absolute URLs handed out.
	PublicURL string
	// Files builds the URLs of stored files.
	Files Files
}

// NewSchema returns the executable schema over r.
func NewSchema(r *Resolver) graphql.ExecutableSchema {
	return NewExecutableSchema(Config{Resolvers: r, Complexity: complexity()})
}
