package server

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"github.com/99designs/gqlgen/graphql"
	"github.com/vektah/gqlparser/v2/ast"
	"github.com/vektah/gqlparser/v2/gqlerror"

	"github.com/chatty/chatty/internal/apperr"
)

// The media types of GraphQL-over-HTTP responses.
const (
	mediaJSON            = "application/json"
	mediaGraphQLResponse = "application/graphql-response+json"
)

// contentType holds the Content-Type header values of the media types.
var contentType = map[string][]string{mediaJSON: {mediaJSON}, mediaGraphQLResponse: {mediaGraphQLResponse}}

// allowedMethods are the methods /graphql serves (as transport.Options answers).
const allowedMethods = "OPTIONS, GET, POST"

// graphQLOverHTTP is the transport of GET and POST requests, following
// GraphQL over HTTP (https://graphql.github.io/graphql-over-http/draft/).
// It takes the place of gqlgen's transport.GET and transport.POST, which
// answer parse and validation errors with 422 whatever the client accepts,
// refuse mutations over GET with 406, and send a malformed body back in an
// uncoded error (which the presenter then logs, body and all, as internal).
//
//   - The response is application/graphql-response+json or application/json,
//     whichever Accept prefers; application/json when Accept is missing, only
//     has wildcards, or names neither (the spec lets a server ignore Accept).
//   - A request that is not well-formed (a body that is not a JSON object, a
//     parameter of the wrong type, no query) is answered 400 BAD_USER_INPUT.
//   - An operation that fails to parse, validate or stay within the limits is
//     not executed: 400 with application/graphql-response+json, 200 with
//     application/json, and the response has no data entry.
//   - GET carries queries only: a mutation gets 405 with Allow: POST.
//   - A subscription gets 400 BAD_USER_INPUT: it needs the WebSocket.
type graphQLOverHTTP struct{}

var _ graphql.Transport = graphQLOverHTTP{}

// Supports implements graphql.Transport: GET, and POST with a JSON body.
func (graphQLOverHTTP) Supports(r *http.Request) bool {
	if r.Header.Get("Upgrade") != "" {
		return false
	}
	switch r.Method {
	case http.MethodGet:
		return true
	case http.MethodPost:
		ct := r.Header.Get("Content-Type")
		return isPlainJSON(ct) || isJSONBody(ct)
	}
	return false
}

// Do implements graphql.Transport.
func (graphQLOverHTTP) Do(w http.ResponseWriter, r *http.Request, exec graphql.GraphExecutor) {
	ctx := r.Context()
	media := responseMediaType(r.Header.Get("Accept"))
	w.Header()["Content-Type"] = contentType[media] // shared, never changed in place: Header.Set would allocate

	start := graphql.Now()
	params, err := readParams(r)
	if err != nil {
		writeRequestError(w, http.StatusBadRequest, exec.DispatchError(ctx, gqlerror.List{gqlerror.WrapIfUnwrapped(err)}))
		return
	}
	params.Headers = r.Header
	params.ReadTime = graphql.TraceTiming{Start: start, End: graphql.Now()}
	execute(w, r, exec, params, media)
}

// errSubscriptionOverHTTP refuses a subscription sent as a plain HTTP
// request, which would otherwise run with nowhere to send its events.
var errSubscriptionOverHTTP = apperr.New(apperr.BadInput,
	"a subscription needs a WebSocket: connect to /graphql with the graphql-transport-ws subprotocol (graphql-ws's createClient, Apollo's GraphQLWsLink)")

// execute runs an operation read from an HTTP request (GET, POST or
// multipart) and writes its answer. An operation that fails to parse,
// validate or stay within the limits is not executed: 400 with
// application/graphql-response+json, 200 with application/json. A
// subscription is refused with 400, a GET of anything but a query with 405.
func execute(w http.ResponseWriter, r *http.Request, exec graphql.GraphExecutor, params *graphql.RawParams, media string) {
	ctx := r.Context()
	opCtx, errs := exec.CreateOperationContext(ctx, params)
	if errs != nil {
		status := http.StatusOK
		if media == mediaGraphQLResponse {
			status = http.StatusBadRequest
		}
		writeRequestError(w, status, exec.DispatchError(graphql.WithOperationContext(ctx, opCtx), errs))
		return
	}
	refuse := func(status int, err error) {
		writeRequestError(w, status, exec.DispatchError(graphql.WithOperationContext(ctx, opCtx), gqlerror.List{gqlerror.WrapIfUnwrapped(err)}))
	}
	switch op := opCtx.Operation.Operation; {
	case op == ast.Subscription:
		refuse(http.StatusBadRequest, errSubscriptionOverHTTP)
		return
	case r.Method == http.MethodGet && op != ast.Query:
		w.Header().Set("Allow", http.MethodPost)
		refuse(http.StatusMethodNotAllowed, apperr.New(apperr.BadInput, "a %s can't be sent with GET: only queries can; use POST", op))
		return
	}
	responses, ctx := exec.DispatchOperation(ctx, opCtx)
	writeResponse(w, responses(ctx))
}

// writeResponse writes an operation's response with 200. The common one,
// data and nothing else, is written around gqlgen's bytes, which are
// compact JSON already: json.Marshal would copy them, scanning them
// twice, only to escape <, >, & and U+2028/U+2029, which appendEscaped
// does in one pass when there are any, so the bytes sent are the same.
func writeResponse(w http.ResponseWriter, resp *graphql.Response) {
	if resp == nil || len(resp.Errors) > 0 || resp.Label != "" || resp.Path != nil || resp.HasNext != nil ||
		len(resp.Extensions) > 0 || len(resp.Data) == 0 {
		writeJSON(w, http.StatusOK, resp)
		return
	}
	data := resp.Data
	if htmlEscaped(data) {
		data = appendEscaped(make([]byte, 0, len(data)+64), data)
	}
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write(dataOpen)
	_, _ = w.Write(data)
	_, _ = w.Write(dataClose)
}

// htmlEscaped reports whether b may hold what json.Marshal escapes: <, >
// or &, or U+2028 or U+2029 (which start with the byte 0xE2).
func htmlEscaped(b []byte) bool {
	return bytes.IndexByte(b, '<') >= 0 || bytes.IndexByte(b, '>') >= 0 ||
		bytes.IndexByte(b, '&') >= 0 || bytes.IndexByte(b, 0xE2) >= 0
}

// appendEscaped appends src, compact JSON, to dst escaped as
// encoding/json escapes it: <, > and & as \u003c, \u003e and \u0026,
// U+2028 and U+2029 as \u2028 and \u2029 (they can only be inside strings).
func appendEscaped(dst, src []byte) []byte {
	const hex = "0123456789abcdef"
	start := 0
	for i := 0; i < len(src); i++ {
		c := src[i]
		switch {
		case c == '<' || c == '>' || c == '&':
			dst = append(dst, src[start:i]...)
			dst = append(dst, '\\', 'u', '0', '0', hex[c>>4], hex[c&0xF])
			start = i + 1
		case c == 0xE2 && i+2 < len(src) && src[i+1] == 0x80 && src[i+2]&^1 == 0xA8:
			dst = append(dst, src[start:i]...)
			dst = append(dst, '\\', 'u', '2', '0', '2', hex[src[i+2]&0xF])
			i += 2
			start = i + 1
		}
	}
	return append(dst, src[start:]...)
}

var dataOpen, dataClose = []byte(`{"data":`), []byte("}")

// readParams reads the GraphQL parameters of a GET's query string or a
// POST's JSON body. Its errors are *apperr.Error, meant for the client.
func readParams(r *http.Request) (*graphql.RawParams, error) {
	p := &graphql.RawParams{}
	if r.Method == http.MethodGet {
		q, err := url.ParseQuery(r.URL.RawQuery)
		if err != nil {
			return nil, apperr.New(apperr.BadInput, "the URL's query string is malformed")
		}
		p.Query, p.OperationName = q.Get("query"), q.Get("operationName")
		for _, f := range []struct {
			name string
			into *map[string]any
		}{{"variables", &p.Variables}, {"extensions", &p.Extensions}} {
			if v := q.Get(f.name); v != "" {
				if err := decodeJSON([]byte(v), f.into); err != nil {
					return nil, apperr.Input(f.name, "%s must be a JSON object", f.name)
				}
			}
		}
	} else {
		body, ok := bodyBytes(r.Body)
		if !ok {
			var err error
			if body, err = io.ReadAll(r.Body); err != nil {
				return nil, apperr.New(apperr.BadInput, "the request body could not be read")
			}
		}
		if len(bytes.TrimSpace(body)) == 0 {
			return nil, apperr.New(apperr.BadInput, "the request body is empty; send a JSON object with a query")
		}
		if err := decodeJSON(body, p); err != nil {
			return nil, bodyError(err)
		}
	}
	if p.Query == "" && p.Extensions["persistedQuery"] == nil {
		return nil, apperr.Input("query", "the request has no query")
	}
	return p, nil
}

// decodeJSON decodes like gqlgen's transports: numbers stay json.Number, as
// gqlgen's scalar unmarshalers expect.
func decodeJSON(data []byte, v any) error {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	return dec.Decode(v)
}

// bodyError says what is wrong with a POST body that did not decode.
func bodyError(err error) *apperr.Error {
	var typeErr *json.UnmarshalTypeError
	if !errors.As(err, &typeErr) {
		return apperr.New(apperr.BadInput, "the request body is not valid JSON")
	}
	switch typeErr.Field {
	case "query", "operationName":
		return apperr.Input(typeErr.Field, "%s must be a string", typeErr.Field)
	case "variables", "extensions":
		return apperr.Input(typeErr.Field, "%s must be an object", typeErr.Field)
	}
	return apperr.New(apperr.BadInput, "the request body must be a JSON object with a query")
}

// isJSONBody reports whether a request's Content-Type is JSON in UTF-8.
func isJSONBody(contentType string) bool {
	mt, params, err := mime.ParseMediaType(contentType)
	if err != nil || mt != mediaJSON {
		return false
	}
	charset, ok := params["charset"]
	return !ok || strings.EqualFold(charset, "utf-8")
}

// responseMediaType picks the media type of the response from an Accept
// header: of the supported ones, the one with the highest q-value (the first
// listed on a tie), wildcards standing for application/json; application/json
// when there is none.
func responseMediaType(accept string) string {
	best, bestQ := mediaJSON, 0.0
	for part := range strings.SplitSeq(accept, ",") {
		mt, params, err := mime.ParseMediaType(strings.TrimSpace(part))
		if err != nil {
			continue
		}
		q := 1.0
		if v, ok := params["q"]; ok {
			if q, err = strconv.ParseFloat(v, 64); err != nil {
				continue
			}
		}
		var media string
		switch mt {
		case mediaGraphQLResponse:
			media = mediaGraphQLResponse
		case mediaJSON, "application/*", "*/*":
			media = mediaJSON
		default:
			continue
		}
		if q > bestQ {
			best, bestQ = media, q
		}
	}
	return best
}

// unsupportedRequest is the last transport: it answers, with a coded
// error, what no transport before it serves (where gqlgen would send a
// bare 400 "transport not supported"). A POST body of another media type
// gets 415 UNSUPPORTED_MEDIA_TYPE; another method 405 with Allow.
type unsupportedRequest struct{}

var _ graphql.Transport = unsupportedRequest{}

// Supports implements graphql.Transport: anything.
func (unsupportedRequest) Supports(*http.Request) bool { return true }

// Do implements graphql.Transport.
func (unsupportedRequest) Do(w http.ResponseWriter, r *http.Request, exec graphql.GraphExecutor) {
	w.Header().Set("Content-Type", responseMediaType(r.Header.Get("Accept")))
	var (
		status int
		err    *apperr.Error
	)
	switch r.Method {
	case http.MethodPost:
		status = http.StatusUnsupportedMediaType
		if mt, _, perr := mime.ParseMediaType(r.Header.Get("Content-Type")); perr == nil {
			err = apperr.New(apperr.UnsupportedMedia, "a %s body is not supported; send application/json (UTF-8)", mt)
		} else {
			err = apperr.New(apperr.UnsupportedMedia, "the request has no valid Content-Type; send application/json (UTF-8)")
		}
	case http.MethodGet: // an Upgrade no transport takes
		status = http.StatusBadRequest
		err = apperr.New(apperr.BadInput, "this endpoint does not upgrade to %q", r.Header.Get("Upgrade"))
	default:
		w.Header().Set("Allow", allowedMethods)
		status = http.StatusMethodNotAllowed
		err = apperr.New(apperr.BadInput, "method %s is not supported; use GET or POST", r.Method)
	}
	writeRequestError(w, status, exec.DispatchError(r.Context(), gqlerror.List{gqlerror.WrapIfUnwrapped(err)}))
}

// writeRequestError writes the answer to a request that was not executed:
// its result has no data entry, as GraphQL asks of errors raised before
// execution.
func writeRequestError(w http.ResponseWriter, status int, resp *graphql.Response) {
	writeJSON(w, status, struct {
		Errors     gqlerror.List  `json:"errors"`
		Extensions map[string]any `json:"extensions,omitempty"`
	}{resp.Errors, resp.Extensions})
}

// writeJSON writes v with status. A response that can't be encoded panics,
// as in gqlgen's transports: gqlgen's handler recovers it into a logged 500.
func writeJSON(w http.ResponseWriter, status int, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		panic(fmt.Errorf("encode GraphQL response: %w", err))
	}
	w.WriteHeader(status)
	_, _ = w.Write(b)
}
