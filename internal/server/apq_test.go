package server_test

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"testing"

	"github.com/chatty/chatty/internal/database/dbtest"
)

// apqRequest sends an operation the way Apollo's PersistedQueryLink does:
// the query's SHA-256 in extensions.persistedQuery, with the query or
// without it (hash only), by POST or GET.
func apqRequest(t *testing.T, e *env, method, token, query, hash string) gqlResponse {
	t.Helper()
	ext := map[string]any{"persistedQuery": map[string]any{"version": 1, "sha256Hash": hash}}
	var req *http.Request
	if method == http.MethodGet {
		extJSON, _ := json.Marshal(ext)
		v := url.Values{"extensions": {string(extJSON)}}
		if query != "" {
			v.Set("query", query)
		}
		req, _ = http.NewRequest(http.MethodGet, e.URL+"/graphql?"+v.Encode(), nil)
	} else {
		body := map[string]any{"extensions": ext}
		if query != "" {
			body["query"] = query
		}
		b, _ := json.Marshal(body)
		req, _ = http.NewRequest(http.MethodPost, e.URL+"/graphql", bytes.NewReader(b))
		req.Header.Set("Content-Type", "application/json")
	}
	// What Apollo Client 4 accepts.
	req.Header.Set("Accept", "application/graphql-response+json,application/json;q=0.9")
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	return send(t, req)
}

func sha256Hex(s string) string {
	sum := sha256.Sum256([]byte(s))
	return hex.EncodeToString(sum[:])
}

// wantNotFound checks the answer Apollo's PersistedQueryLink reacts to by
// sending the full query.
func wantNotFound(t *testing.T, what string, r gqlResponse) {
	t.Helper()
	if len(r.Errors) != 1 || r.Errors[0].Message != "PersistedQueryNotFound" || r.Code() != "PERSISTED_QUERY_NOT_FOUND" || r.Data != nil {
		t.Fatalf("%s: want PersistedQueryNotFound (PERSISTED_QUERY_NOT_FOUND), got %d %s", what, r.Status, r.Raw)
	}
}

func TestPersistedQueries(t *testing.T) {
	forEachDB(t, func(t *testing.T, e *env) {
		a := e.signUp(t, "민수")
		query := `query Me { viewer { nickname } }`
		hash := sha256Hex(query)
		var me struct{ Viewer struct{ Nickname string } }

		// Unknown hash, by POST and by GET: the client must send the query.
		wantNotFound(t, "hash only, first time (POST)", apqRequest(t, e, http.MethodPost, a.AccessToken, "", hash))
		wantNotFound(t, "hash only, first time (GET)", apqRequest(t, e, http.MethodGet, a.AccessToken, "", hash))

		// A query whose hash does not match is refused and not kept.
		other := `query Other { viewer { id } }`
		if r := apqRequest(t, e, http.MethodPost, a.AccessToken, other, hash); r.Code() != "BAD_USER_INPUT" || r.Data != nil {
			t.Fatalf("query with a hash not its own: %s", r.Raw)
		}
		wantNotFound(t, "after a mismatched registration", apqRequest(t, e, http.MethodPost, a.AccessToken, "", hash))

		// The query with its hash runs and registers it.
		apqRequest(t, e, http.MethodPost, a.AccessToken, query, hash).Decode(t, &me)
		if me.Viewer.Nickname != "민수" {
			t.Fatalf("registering run answered %+v", me)
		}
		// From then on the hash alone runs it, by POST and by GET (what
		// useGETForHashedQueries sends), for anyone: it is the same query,
		// answered for whoever asks.
		for _, method := range []string{http.MethodPost, http.MethodGet} {
			me.Viewer.Nickname = ""
			apqRequest(t, e, method, a.AccessToken, "", hash).Decode(t, &me)
			if me.Viewer.Nickname != "민수" {
				t.Fatalf("hash only by %s answered %+v", method, me)
			}
		}
		b := e.signUp(t, "지영")
		apqRequest(t, e, http.MethodGet, b.AccessToken, "", hash).Decode(t, &me)
		if me.Viewer.Nickname != "지영" {
			t.Fatalf("another user's hash-only query answered %+v", me)
		}

		// A persisted mutation is still a mutation: not over GET.
		mutation := `mutation Out { signOut(refreshToken: "not-a-token") }`
		mh := sha256Hex(mutation)
		// Registered (the token is no one's: it signs nobody out).
		apqRequest(t, e, http.MethodPost, a.AccessToken, mutation, mh)
		if r := apqRequest(t, e, http.MethodGet, a.AccessToken, "", mh); r.Status != http.StatusMethodNotAllowed {
			t.Fatalf("persisted mutation by GET: %d %s", r.Status, r.Raw)
		}

		// A malformed hash is never a hit.
		wantNotFound(t, "malformed hash", apqRequest(t, e, http.MethodPost, a.AccessToken, "", "../"+hash[3:]))
	})
}

// Two instances sharing a Redis share persisted queries: registered
// through one, found through the other.
func TestPersistedQueriesAcrossInstances(t *testing.T) {
	url := redisURL(t)
	for _, backend := range dbtest.Backends() {
		t.Run(backend, func(t *testing.T) {
			t.Parallel()
			db := dbtest.Open(t, backend)
			prefix := testRedisPrefix(t)
			one, two := redisInstance(t, db, url, prefix), redisInstance(t, db, url, prefix)
			a := one.signUp(t, "에이")
			// A query unique to this run, so no earlier run registered it.
			query := `query Across_` + runID + ` { viewer { nickname } }`
			hash := sha256Hex(query)
			wantNotFound(t, "on B before anyone registered it", apqRequest(t, two, http.MethodGet, a.AccessToken, "", hash))

			var me struct{ Viewer struct{ Nickname string } }
			apqRequest(t, one, http.MethodPost, a.AccessToken, query, hash).Decode(t, &me)
			me.Viewer.Nickname = ""
			apqRequest(t, two, http.MethodGet, a.AccessToken, "", hash).Decode(t, &me)
			if me.Viewer.Nickname != "에이" {
				t.Fatalf("hash registered on A, asked on B: %+v", me)
			}

			// A query that does not validate is not shared: strangers
			// cannot park arbitrary text in the deployment's Redis.
			bad := `query Bad_` + runID + ` { noSuchField }`
			if r := apqRequest(t, one, http.MethodPost, a.AccessToken, bad, sha256Hex(bad)); r.Code() != "GRAPHQL_VALIDATION_FAILED" {
				t.Fatalf("invalid query registered: %s", r.Raw)
			}
			wantNotFound(t, "an invalid query registered on A, asked on B", apqRequest(t, two, http.MethodPost, a.AccessToken, "", sha256Hex(bad)))

			// An instance without the Redis knows only its own.
			alone := newEnvOn(t, db)
			wantNotFound(t, "on an instance outside the cluster", apqRequest(t, alone, http.MethodPost, a.AccessToken, "", hash))
		})
	}
}

// Registrations that never validate do not use up anything: a stranger
// (no token) registering a thousand invalid queries on A leaves A unable
// to run any of them by hash, and a valid query registered next on A is
// still found on B.
func TestPersistedQueriesInvalidRegistrationsKeepNothing(t *testing.T) {
	url := redisURL(t)
	db := dbtest.Open(t, dbtest.Backends()[0])
	prefix := testRedisPrefix(t)
	one, two := redisInstance(t, db, url, prefix), redisInstance(t, db, url, prefix)
	var bad string
	for i := range 1000 {
		bad = fmt.Sprintf("query Junk_%s_%d { noSuchField }", runID, i)
		if r := apqRequest(t, one, http.MethodPost, "", bad, sha256Hex(bad)); r.Code() != "GRAPHQL_VALIDATION_FAILED" {
			t.Fatalf("invalid query %d: %s", i, r.Raw)
		}
	}
	wantNotFound(t, "an invalid query registered on A, asked on A", apqRequest(t, one, http.MethodPost, "", "", sha256Hex(bad)))

	a := one.signUp(t, "에이")
	query := `query After_` + runID + ` { viewer { nickname } }`
	var me struct{ Viewer struct{ Nickname string } }
	apqRequest(t, one, http.MethodPost, a.AccessToken, query, sha256Hex(query)).Decode(t, &me)
	me.Viewer.Nickname = ""
	apqRequest(t, two, http.MethodGet, a.AccessToken, "", sha256Hex(query)).Decode(t, &me)
	if me.Viewer.Nickname != "에이" {
		t.Fatalf("a valid query registered on A after the junk, asked on B: %+v", me)
	}
}
