package server

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"log/slog"
	"time"

	"github.com/99designs/gqlgen/graphql"
	"github.com/99designs/gqlgen/graphql/handler/extension"
	"github.com/99designs/gqlgen/graphql/handler/lru"
	"github.com/redis/go-redis/v9"
	"github.com/vektah/gqlparser/v2/gqlerror"

	"github.com/chatty/chatty/internal/apperr"
	"github.com/chatty/chatty/internal/pubsub"
)

// Automatic persisted queries (Apollo's PersistedQueryLink): a client
// sends the SHA-256 of a query; the first time the server answers
// PersistedQueryNotFound and the client sends the query with its hash,
// which the server keeps. gqlgen's extension.AutomaticPersistedQuery
// checks the hash; persistedQueries keeps the queries.
const (
	// apqLocalEntries bounds each instance's cache (least recently used
	// go first): at most apqLocalEntries × apqMaxQueryBytes of memory.
	apqLocalEntries = 1000
	// apqMaxQueryBytes is the longest query kept. A longer one still runs
	// when sent in full; it is just not persisted (the client sends it
	// again after each PersistedQueryNotFound).
	apqMaxQueryBytes = 32 << 10
	// apqTTL is how long Redis keeps a query nobody asks for; each hit
	// renews it. With the size bound, it bounds what strangers can park
	// in Redis.
	apqTTL = 24 * time.Hour
	// apqRedisTimeout bounds a lookup in Redis: past it (Redis slow or
	// down) the query counts as not found and the client sends it in full.
	apqRedisTimeout = 300 * time.Millisecond
)

// persistedQueryExtension is gqlgen's APQ extension whose refusals carry
// a code: a hash that does not match its query, a malformed or unknown
// version of the extension are BAD_USER_INPUT (gqlgen gives them none);
// PersistedQueryNotFound keeps PERSISTED_QUERY_NOT_FOUND, which Apollo's
// link looks for.
type persistedQueryExtension struct {
	extension.AutomaticPersistedQuery
	queries *persistedQueries
}

var _ graphql.OperationContextMutator = persistedQueryExtension{}

func newPersistedQueryExtension(q *persistedQueries) persistedQueryExtension {
	return persistedQueryExtension{extension.AutomaticPersistedQuery{Cache: q}, q}
}

// MutateOperationContext implements graphql.OperationContextMutator. gqlgen
// calls it only for an operation that parsed and validated against the
// schema: a query this request registered (sent in full with its hash,
// which gqlgen checked) is kept only then, on this instance and in Redis,
// so nobody can park arbitrary text in the instance's cache or the
// deployment's Redis. What was registered is read from this request's own
// APQ stats: nothing is remembered between requests.
func (p persistedQueryExtension) MutateOperationContext(ctx context.Context, oc *graphql.OperationContext) *gqlerror.Error {
	if st := extension.GetApqStats(ctx); st != nil && st.SentQuery {
		p.queries.keep(ctx, st.Hash, oc.RawQuery)
	}
	return nil
}

// MutateOperationParameters implements graphql.OperationParameterMutator.
func (p persistedQueryExtension) MutateOperationParameters(ctx context.Context, raw *graphql.RawParams) *gqlerror.Error {
	err := p.AutomaticPersistedQuery.MutateOperationParameters(ctx, raw)
	if err != nil && err.Extensions["code"] == nil {
		if err.Extensions == nil {
			err.Extensions = map[string]any{}
		}
		err.Extensions["code"] = string(apperr.BadInput)
		err.Extensions["field"] = "extensions"
	}
	return err
}

// persistedQueries is the query store of APQ: an LRU per instance, in
// front of Redis when the deployment has one, so a query registered
// through one instance is found by the others.
type persistedQueries struct {
	local *lru.LRU[string]
	redis *pubsub.Redis // nil: this instance only
	log   *slog.Logger
}

var _ graphql.Cache[string] = (*persistedQueries)(nil)

func newPersistedQueries(shared *pubsub.Redis, log *slog.Logger) *persistedQueries {
	return &persistedQueries{local: lru.New[string](apqLocalEntries), redis: shared, log: log}
}

// Get returns the query whose SHA-256 (hex) is hash.
func (c *persistedQueries) Get(ctx context.Context, hash string) (string, bool) {
	if !validQueryHash(hash) {
		return "", false
	}
	if q, ok := c.local.Get(ctx, hash); ok {
		return q, true
	}
	if c.redis == nil {
		return "", false
	}
	ctx, cancel := context.WithTimeout(ctx, apqRedisTimeout)
	defer cancel()
	q, err := c.redis.Client().GetEx(ctx, c.key(hash), apqTTL).Result()
	if err != nil {
		if !errors.Is(err, redis.Nil) {
			c.log.WarnContext(ctx, "persisted query lookup failed: the client will send the query", "err", err)
		}
		return "", false
	}
	if sum := sha256.Sum256([]byte(q)); hex.EncodeToString(sum[:]) != hash {
		return "", false // not ours (another writer in the namespace): never run it
	}
	c.local.Add(ctx, hash, q)
	return q, true
}

// Add implements graphql.Cache. gqlgen calls it before the query is
// parsed: nothing is kept then (see keep).
func (c *persistedQueries) Add(ctx context.Context, hash, query string) {}

// keep keeps query under hash, its SHA-256, on this instance and in
// Redis. Its caller has seen query parse and validate.
func (c *persistedQueries) keep(ctx context.Context, hash, query string) {
	if len(query) > apqMaxQueryBytes || !validQueryHash(hash) {
		return
	}
	c.local.Add(ctx, hash, query)
	if c.redis == nil {
		return
	}
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), apqRedisTimeout)
	defer cancel()
	if err := c.redis.Client().Set(ctx, c.key(hash), query, apqTTL).Err(); err != nil {
		c.log.WarnContext(ctx, "persisted query not shared: other instances will ask for it", "err", err)
	}
}

func (c *persistedQueries) key(hash string) string { return c.redis.Key("apq:" + hash) }

// validQueryHash reports whether h is a SHA-256 in lower-case hex, as
// Apollo sends it (anything else is never looked up).
func validQueryHash(h string) bool {
	if len(h) != sha256.Size*2 {
		return false
	}
	for _, c := range []byte(h) {
		if !('0' <= c && c <= '9' || 'a' <= c && c <= 'f') {
			return false
		}
	}
	return true
}
