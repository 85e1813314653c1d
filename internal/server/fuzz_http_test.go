package server_test

import (
	"encoding/json"
	"io"
	"mime"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

// Whatever arrives at /graphql over GET or POST (any body, Content-Type,
// Accept, query string) is answered without a server error, as JSON whose
// every error carries extensions.code: the request parser (readParams,
// bodyError, isJSONBody, the body limit) never lets an input through as a
// panic or an uncoded error.
func FuzzGraphQLRequest(f *testing.F) {
	for _, s := range []struct {
		post                bool
		contentType, accept string
		body                string
	}{
		{true, "application/json", "", `{"query":"{ __typename }"}`},
		{true, "application/json; charset=utf-8", "application/graphql-response+json", `{"query":"{ viewer { id } }","variables":{}}`},
		{true, "application/json", "*/*", `{"query":1}`},
		{true, "application/json", "", `{"query":"{ __typename }","variables":[]}`},
		{true, "application/json", "", `[{"query":"{ __typename }"}]`},
		{true, "application/json", "", `{"query":"query($x: Int!) { __typename }","variables":{"x":"NaN"}}`},
		{true, "application/json", "", `{"query":"{ __typename }", "extensions":{"persistedQuery":{"version":1,"sha256Hash":"x"}}}`},
		{true, "application/json", "", "\x00"},
		{true, "application/json; charset=latin1", "", `{"query":"{ __typename }"}`},
		{true, "text/plain", "", `{ __typename }`},
		{true, "multipart/form-data; boundary=x", "", "--x\r\nContent-Disposition: form-data; name=\"operations\"\r\n\r\n{}\r\n--x--\r\n"},
		{true, "", "", ""},
		{false, "", "", "query=%7B__typename%7D"},
		{false, "", "application/graphql-response+json", "query=mutation%7BsignOut%7D"},
		{false, "", "", "query=%7B__typename%7D&variables=%5B%5D"},
		{false, "", "", "query=%zz"},
		{false, "", "", "operationName=x"},
	} {
		f.Add(s.post, s.contentType, s.accept, s.body)
	}
	e := newEnv(f, "sqlite")
	f.Fuzz(func(t *testing.T, post bool, contentType, accept, body string) {
		var req *http.Request
		if post {
			req = httptest.NewRequest(http.MethodPost, "/graphql", strings.NewReader(body))
			req.Header.Set("Content-Type", contentType)
		} else {
			req = httptest.NewRequest(http.MethodGet, "/graphql", nil)
			req.URL.RawQuery = body
		}
		if accept != "" {
			req.Header.Set("Accept", accept)
		}
		if strings.ContainsAny(contentType+accept, "\r\n\x00") {
			return // not a header a client can send
		}
		rec := httptest.NewRecorder()
		e.Server.Handler().ServeHTTP(rec, req)
		resp := rec.Result()
		raw, _ := io.ReadAll(resp.Body)
		if resp.StatusCode >= 500 {
			t.Fatalf("status %d for %q %q: %s", resp.StatusCode, contentType, body, raw)
		}
		if mt, _, _ := mime.ParseMediaType(resp.Header.Get("Content-Type")); mt != "application/json" && mt != "application/graphql-response+json" {
			t.Fatalf("Content-Type %q for %q %q", resp.Header.Get("Content-Type"), contentType, body)
		}
		var out struct {
			Errors []gqlError `json:"errors"`
		}
		if err := json.Unmarshal(raw, &out); err != nil {
			t.Fatalf("status %d, body is not JSON: %q", resp.StatusCode, raw)
		}
		for _, e := range out.Errors {
			if e.Code() == "" || e.Code() == "INTERNAL_SERVER_ERROR" {
				t.Fatalf("status %d, error without a useful code for %q %q: %s", resp.StatusCode, contentType, body, raw)
			}
		}
	})
}
