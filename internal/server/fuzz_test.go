package server

import (
	"net/http/httptest"
	"strings"
	"testing"
)

// The hand-written parsers of untrusted headers. Seeds run with go test;
// `go test -fuzz=FuzzX ./internal/server/` explores further (found inputs
// land in testdata/fuzz/FuzzX and are committed).

// responseMediaType reads any Accept header into one of the two media types
// chatty answers with, never anything else, and honours an Accept that
// names one of them alone.
func FuzzResponseMediaType(f *testing.F) {
	for _, s := range []string{
		"", "*/*", "application/json", "application/graphql-response+json",
		"application/graphql-response+json, application/json;q=0.9",
		"application/json;q=0.5, application/graphql-response+json;q=0.6",
		"text/html, application/*;q=0.2", "application/json;q=abc", "application/json;q=NaN",
		"application/graphql-response+json;q=-1", ";;,,", "application/json;charset=\"utf-8\"",
		"application/graphql-response+json;q=1e309",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, accept string) {
		got := responseMediaType(accept)
		if got != mediaJSON && got != mediaGraphQLResponse {
			t.Fatalf("responseMediaType(%q) = %q", accept, got)
		}
		if (accept == mediaGraphQLResponse || accept == mediaJSON) && got != accept {
			t.Fatalf("responseMediaType(%q) = %q", accept, got)
		}
	})
}

// An Origin header is allowed only when it is exactly one of the allowed
// origins (after parsing: no user info, path or case tricks make evil.example
// pass) or the request's own host.
func FuzzOriginPolicy(f *testing.F) {
	for _, s := range []string{
		"https://app.example", "HTTPS://APP.EXAMPLE", "https://app.example/", "https://app.example:443",
		"https://app.example@evil.example", "https://evil.example#@app.example", "https://evil.example?https://app.example",
		"https://app.example.evil.example", "http://chatty.test", "http://chatty.test:80", "null", "//app.example",
		"https://app.example\x00.evil", " https://app.example ", "http://[::1]:8080", "https://evil.example/https://app.example",
	} {
		f.Add(s)
	}
	p := newOriginPolicy("http://chatty.test", []string{"https://app.example"})
	allowed := map[string]bool{"http://chatty.test": true, "https://app.example": true}
	f.Fuzz(func(t *testing.T, origin string) {
		r := httptest.NewRequest("GET", "http://localhost:8080/graphql", nil)
		if !p.allows(origin, r) || origin == "" {
			return
		}
		o := originOf(origin)
		if !allowed[o] && o != "http://localhost:8080" && o != "https://localhost:8080" {
			t.Fatalf("origin %q (read as %q) was allowed", origin, o)
		}
		if host := o[strings.Index(o, "://")+3:]; strings.ContainsAny(host, "@/?#") {
			t.Fatalf("origin %q allowed with host %q", origin, host)
		}
	})
}
