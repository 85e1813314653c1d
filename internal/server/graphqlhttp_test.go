package server_test

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/chatty/chatty/internal/server"
)

// exchange is one request to /graphql and its answer, kept raw so a test
// can look at the status, the headers and whether the body has a data entry.
type exchange struct {
	Status int
	Header http.Header
	Body   map[string]json.RawMessage
	Raw    string
}

// call sends method /graphql with the given query string (GET) or body
// (other methods) and headers, given as name, value pairs.
func call(t *testing.T, e *env, method, queryOrBody string, headers ...string) exchange {
	t.Helper()
	u := e.URL + "/graphql"
	var body io.Reader
	if method == http.MethodGet {
		u += "?" + queryOrBody
	} else if queryOrBody != "" {
		body = strings.NewReader(queryOrBody)
	}
	req, err := http.NewRequest(method, u, body)
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, u, err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	x := exchange{Status: resp.StatusCode, Header: resp.Header, Raw: string(raw)}
	if err := json.Unmarshal(raw, &x.Body); err != nil {
		t.Fatalf("%s %s: status %d, body %q is not a JSON object: %v", method, u, resp.StatusCode, raw, err)
	}
	return x
}

// errors decodes the errors entry.
func (x exchange) errors(t *testing.T) []gqlError {
	t.Helper()
	var errs []gqlError
	if raw, ok := x.Body["errors"]; ok {
		if err := json.Unmarshal(raw, &errs); err != nil {
			t.Fatalf("errors of %s: %v", x.Raw, err)
		}
	}
	return errs
}

// expect fails unless the answer has status, Content-Type media and, when
// code is not "", an error with that code and no data entry.
func (x exchange) expect(t *testing.T, status int, media, code string) {
	t.Helper()
	if x.Status != status {
		t.Errorf("status = %d, want %d; body %s", x.Status, status, x.Raw)
	}
	if ct := x.Header.Get("Content-Type"); ct != media {
		t.Errorf("Content-Type = %q, want %q", ct, media)
	}
	if code == "" {
		return
	}
	errs := x.errors(t)
	if len(errs) == 0 || errs[0].Code() != code {
		t.Errorf("errors = %s, want extensions.code %s", x.Body["errors"], code)
	}
	if _, ok := x.Body["data"]; ok {
		t.Errorf("a request that was not executed has a data entry: %s", x.Raw)
	}
}

const (
	jsonMedia     = "application/json"
	responseMedia = "application/graphql-response+json"
)

func queryBody(query string) string {
	b, _ := json.Marshal(map[string]any{"query": query})
	return string(b)
}

func TestGraphQLOverHTTPNegotiatesTheResponseMediaType(t *testing.T) {
	e := newEnv(t, "sqlite")
	for _, tc := range []struct{ accept, want string }{
		{"", jsonMedia},
		{"*/*", jsonMedia},
		{"application/*", jsonMedia},
		{"application/json", jsonMedia},
		{"application/graphql-response+json", responseMedia},
		{"application/graphql-response+json, application/json", responseMedia},
		{"application/json, application/graphql-response+json", jsonMedia},
		{"application/json;q=0.9, application/graphql-response+json", responseMedia},
		{"application/graphql-response+json;q=0.5, */*", jsonMedia},
		{"text/html", jsonMedia}, // nothing supported: Accept is disregarded
	} {
		t.Run(fmt.Sprintf("Accept %q", tc.accept), func(t *testing.T) {
			x := call(t, e, http.MethodPost, queryBody("{ __typename }"), "Content-Type", "application/json", "Accept", tc.accept)
			x.expect(t, http.StatusOK, tc.want, "")
			if string(x.Body["data"]) != `{"__typename":"Query"}` {
				t.Errorf("body = %s", x.Raw)
			}
		})
	}
}

func TestGraphQLOverHTTPGetRunsQueriesOnly(t *testing.T) {
	e := newEnv(t, "sqlite")

	x := call(t, e, http.MethodGet, "query="+url.QueryEscape("{ viewer { id } }"))
	x.expect(t, http.StatusOK, jsonMedia, "")
	if string(x.Body["data"]) != `{"viewer":null}` {
		t.Errorf("GET query: body = %s", x.Raw)
	}

	signUp := `mutation { signUp(input: {email: "get@example.com", password: "correct horse battery", nickname: "get"}) { accessToken } }`
	for _, accept := range []string{jsonMedia, responseMedia} {
		x = call(t, e, http.MethodGet, "query="+url.QueryEscape(signUp), "Accept", accept)
		x.expect(t, http.StatusMethodNotAllowed, accept, "BAD_USER_INPUT")
		if allow := x.Header.Get("Allow"); allow != "POST" {
			t.Errorf("Allow = %q, want POST", allow)
		}
	}
	// Refused means not run: the account can still be created over POST.
	var out struct{ SignUp struct{ AccessToken string } }
	e.anon().do(t, signUp, nil).Decode(t, &out)

	x = call(t, e, http.MethodGet, "query="+url.QueryEscape("{ __typename }")+"&variables=not-json")
	x.expect(t, http.StatusBadRequest, jsonMedia, "BAD_USER_INPUT")
}

func TestGraphQLOverHTTPRefusesOtherMediaTypesAndMethods(t *testing.T) {
	e := newEnv(t, "sqlite")
	body := queryBody("{ __typename }")
	for _, ct := range []string{"", "text/plain", "application/x-www-form-urlencoded", "application/json; charset=latin1"} {
		t.Run(fmt.Sprintf("POST Content-Type %q", ct), func(t *testing.T) {
			req, _ := http.NewRequest(http.MethodPost, e.URL+"/graphql", strings.NewReader(body))
			if ct != "" {
				req.Header.Set("Content-Type", ct)
			}
			r := send(t, req)
			if r.Status != http.StatusUnsupportedMediaType || r.Code() != "UNSUPPORTED_MEDIA_TYPE" {
				t.Errorf("status %d, body %s; want 415 UNSUPPORTED_MEDIA_TYPE", r.Status, r.Raw)
			}
		})
	}
	x := call(t, e, http.MethodPost, body, "Content-Type", "application/json; charset=UTF-8")
	x.expect(t, http.StatusOK, jsonMedia, "")

	for _, method := range []string{http.MethodPut, http.MethodDelete, http.MethodPatch} {
		x := call(t, e, method, body, "Content-Type", "application/json")
		x.expect(t, http.StatusMethodNotAllowed, jsonMedia, "BAD_USER_INPUT")
		if allow := x.Header.Get("Allow"); !strings.Contains(allow, "GET") || !strings.Contains(allow, "POST") {
			t.Errorf("%s: Allow = %q, want GET and POST", method, allow)
		}
	}
}

// An operation that is never executed is answered 400 when the client
// accepts application/graphql-response+json and 200 when it accepts
// application/json, both without a data entry.
func TestGraphQLOverHTTPStatusOfOperationsNotExecuted(t *testing.T) {
	e := newEnv(t, "sqlite")
	aliases := make([]string, 31) // one over the default MaxAliases
	for i := range aliases {
		aliases[i] = fmt.Sprintf("a%d: __typename", i)
	}
	for _, tc := range []struct {
		name, query, code string
	}{
		{"parse error", "{", "GRAPHQL_PARSE_FAILED"},
		{"validation error", "{ noSuchField }", "GRAPHQL_VALIDATION_FAILED"},
		{"too many aliases", "{ " + strings.Join(aliases, " ") + " }", "COMPLEXITY_LIMIT_EXCEEDED"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			x := call(t, e, http.MethodPost, queryBody(tc.query), "Content-Type", "application/json", "Accept", responseMedia)
			x.expect(t, http.StatusBadRequest, responseMedia, tc.code)
			x = call(t, e, http.MethodPost, queryBody(tc.query), "Content-Type", "application/json", "Accept", jsonMedia)
			x.expect(t, http.StatusOK, jsonMedia, tc.code)
		})
	}
	t.Run("variable coercion error", func(t *testing.T) {
		b := `{"query":"query($q: String!) { searchUsers(query: $q) { totalCount } }","variables":{"q":null}}`
		x := call(t, e, http.MethodPost, b, "Content-Type", "application/json", "Accept", responseMedia)
		x.expect(t, http.StatusBadRequest, responseMedia, "GRAPHQL_VALIDATION_FAILED")
		x = call(t, e, http.MethodPost, b, "Content-Type", "application/json")
		x.expect(t, http.StatusOK, jsonMedia, "GRAPHQL_VALIDATION_FAILED")
	})
}

// An error during execution leaves a data entry (here null): 200 for both
// media types.
func TestGraphQLOverHTTPStatusOfExecutionErrors(t *testing.T) {
	e := newEnv(t, "sqlite")
	for _, accept := range []string{jsonMedia, responseMedia} {
		x := call(t, e, http.MethodPost, queryBody(`{ searchUsers(query: "kim") { totalCount } }`),
			"Content-Type", "application/json", "Accept", accept)
		x.expect(t, http.StatusOK, accept, "")
		if errs := x.errors(t); len(errs) == 0 || errs[0].Code() != "UNAUTHENTICATED" {
			t.Errorf("Accept %s: errors = %s, want UNAUTHENTICATED", accept, x.Body["errors"])
		}
		if data, ok := x.Body["data"]; !ok || string(data) != "null" {
			t.Errorf("Accept %s: want a null data entry, got %s", accept, x.Raw)
		}
	}
}

func TestGraphQLOverHTTPMalformedRequests(t *testing.T) {
	e := newEnv(t, "sqlite")
	for _, tc := range []struct{ name, body, field string }{
		{"no body", "", ""},
		{"not JSON", `{ "query": `, ""},
		{"not an object", `["{ __typename }"]`, ""},
		{"no query", `{"qeury": "{ __typename }"}`, "query"},
		{"query not a string", `{"query": 1}`, "query"},
		{"operationName not a string", `{"query": "{ __typename }", "operationName": false}`, "operationName"},
		{"variables not an object", `{"query": "{ __typename }", "variables": "{}"}`, "variables"},
		{"extensions not an object", `{"query": "{ __typename }", "extensions": []}`, "extensions"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			for _, accept := range []string{jsonMedia, responseMedia} {
				x := call(t, e, http.MethodPost, tc.body, "Content-Type", "application/json", "Accept", accept)
				x.expect(t, http.StatusBadRequest, accept, "BAD_USER_INPUT")
				if errs := x.errors(t); tc.field != "" && len(errs) > 0 && errs[0].Extensions["field"] != tc.field {
					t.Errorf("field = %v, want %s", errs[0].Extensions["field"], tc.field)
				}
				if strings.Contains(x.Raw, "__typename") {
					t.Errorf("the error echoes the request body: %s", x.Raw)
				}
			}
		})
	}
}

func TestGraphQLOverHTTPBodyTooLarge(t *testing.T) {
	e := newEnv(t, "sqlite", withLimits(server.Limits{MaxBodyBytes: 1024}))
	big := queryBody("{ __typename " + strings.Repeat(" ", 2048) + "}")

	// With a Content-Length, refused before reading.
	x := call(t, e, http.MethodPost, big, "Content-Type", "application/json")
	if x.Status != http.StatusRequestEntityTooLarge || len(x.errors(t)) == 0 || x.errors(t)[0].Code() != "PAYLOAD_TOO_LARGE" {
		t.Errorf("status %d, body %s; want 413 PAYLOAD_TOO_LARGE", x.Status, x.Raw)
	}

	// Chunked, without a Content-Length: refused once the limit is read.
	req, _ := http.NewRequest(http.MethodPost, e.URL+"/graphql", io.MultiReader(strings.NewReader(big)))
	req.Header.Set("Content-Type", "application/json")
	if r := send(t, req); r.Status != http.StatusRequestEntityTooLarge || r.Code() != "PAYLOAD_TOO_LARGE" {
		t.Errorf("chunked: status %d, body %s; want 413 PAYLOAD_TOO_LARGE", r.Status, r.Raw)
	}

	x = call(t, e, http.MethodPost, queryBody("{ __typename }"), "Content-Type", "application/json")
	x.expect(t, http.StatusOK, jsonMedia, "")
}

// A response is written as encoding/json writes it: compact, with <, >, &
// and U+2028 escaped (a page of messages says what its senders typed).
func TestGraphQLOverHTTPResponseBytes(t *testing.T) {
	e := newEnv(t, "sqlite")
	x := call(t, e, http.MethodPost, queryBody(`{ __typename }`), "Content-Type", jsonMedia)
	if want := `{"data":{"__typename":"Query"}}`; x.Raw != want {
		t.Errorf("body %s, want %s", x.Raw, want)
	}
	a, b := e.signUp(t, "writer"), e.signUp(t, "reader")
	room := e.client(a).createRoom(t, nil, b.ID)
	typed := "<b>bold</b> & \u2028\u2029 \"quoted\" … 한국어 😀 \\ end"
	e.client(a).send(t, room.ID, typed)
	body, _ := json.Marshal(map[string]any{
		"query":     `query($id: ID!) { room(id: $id) { messages(last: 1) { edges { node { body } } } } }`,
		"variables": map[string]any{"id": room.ID},
	})
	x = call(t, e, http.MethodPost, string(body), "Content-Type", jsonMedia, "Authorization", "Bearer "+b.AccessToken)
	quoted, _ := json.Marshal(typed)
	if want := `{"data":{"room":{"messages":{"edges":[{"node":{"body":` + string(quoted) + `}}]}}}}`; x.Raw != want {
		t.Errorf("body %s, want %s", x.Raw, want)
	}
}
