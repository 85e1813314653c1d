package server

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"os"
	"time"

	"github.com/99designs/gqlgen/graphql"
	"github.com/vektah/gqlparser/v2/gqlerror"

	"github.com/chatty/chatty/internal/apperr"
	"github.com/chatty/chatty/internal/auth"
)

// defaultMaxUploadBytes caps a multipart request (the file and the operation).
const defaultMaxUploadBytes = 25 << 20

// uploads is the transport of GraphQL multipart requests
// (https://github.com/jaydenseric/graphql-multipart-request-spec), in
// place of gqlgen's MultipartForm, which answers a malformed body with an
// uncoded 422 and runs any operation, subscriptions included. Here:
//
//   - A request must carry Apollo-Require-Preflight or
//     X-Apollo-Operation-Name (CSRF: a browser sends a multipart form
//     cross-site without a preflight; only scripts can set these), else 403
//     FORBIDDEN, as Apollo Server asks.
//   - A body over MaxUploadSize is 413 PAYLOAD_TOO_LARGE.
//   - A malformed body (a broken or truncated part, a NUL in a part's
//     header, operations or map that are not JSON, a map naming a file
//     the body lacks or a variable the operation lacks) is 400
//     BAD_USER_INPUT saying what is wrong, with extensions.field
//     "operations" or "map" where one of those is at fault.
//   - Then it is executed like a POST (see execute): a subscription is
//     refused with 400.
type uploads struct {
	// MaxUploadSize caps the whole body; MaxFieldSize the operations and
	// map fields; files up to MaxMemory bytes in all are held in memory,
	// larger ones go to temporary files (removed after the request).
	MaxUploadSize, MaxFieldSize, MaxMemory int64
	// WriteTimeout is the time the answer has once the body is in: the
	// server's write deadline runs from the request's headers, a large
	// body may take longer than that to arrive, and the operation may run
	// for several database deadlines (it waits to decode images).
	WriteTimeout time.Duration
}

var _ graphql.Transport = uploads{}

// Supports implements graphql.Transport: POST with a multipart/form-data body.
func (uploads) Supports(r *http.Request) bool {
	if r.Header.Get("Upgrade") != "" || r.Method != http.MethodPost {
		return false
	}
	mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type"))
	return err == nil && mt == "multipart/form-data"
}

// Do implements graphql.Transport.
func (u uploads) Do(w http.ResponseWriter, r *http.Request, exec graphql.GraphExecutor) {
	media := responseMediaType(r.Header.Get("Accept"))
	w.Header().Set("Content-Type", media)
	fail := func(status int, err *apperr.Error) {
		writeRequestError(w, status, exec.DispatchError(r.Context(), gqlerror.List{gqlerror.WrapIfUnwrapped(err)}))
	}
	if r.Header.Get("Apollo-Require-Preflight") == "" && r.Header.Get("X-Apollo-Operation-Name") == "" {
		fail(http.StatusForbidden, apperr.New(apperr.Forbidden,
			"a multipart request must carry an Apollo-Require-Preflight or X-Apollo-Operation-Name header (CSRF protection)"))
		return
	}
	// Every operation that takes a file needs a signed-in user: nobody
	// else gets to make the server hold up to MaxUploadSize of body.
	if _, err := auth.Require(r.Context()); err != nil {
		e, ok := apperr.As(err)
		if !ok { // the token could not be checked: not the client's fault
			fail(http.StatusServiceUnavailable, apperr.New(apperr.Unavailable, "the server could not check the access token in time; try again shortly"))
			return
		}
		fail(http.StatusUnauthorized, e)
		return
	}
	tooLarge := apperr.New(apperr.TooLarge, "the upload is larger than %d bytes", u.MaxUploadSize)
	if r.ContentLength > u.MaxUploadSize {
		fail(http.StatusRequestEntityTooLarge, tooLarge)
		return
	}
	r.Body = http.MaxBytesReader(w, r.Body, u.MaxUploadSize)
	defer r.Body.Close()

	start := graphql.Now()
	var files fileSet
	defer files.remove()
	params, err := u.read(r, &files)
	if err != nil {
		var maxErr *http.MaxBytesError
		if errors.As(err, &maxErr) {
			fail(http.StatusRequestEntityTooLarge, tooLarge)
			return
		}
		e, ok := apperr.As(err)
		if !ok { // the server's own trouble, such as a full temporary directory
			writeRequestError(w, http.StatusInternalServerError, exec.DispatchError(r.Context(), gqlerror.List{gqlerror.WrapIfUnwrapped(err)}))
			return
		}
		status := http.StatusBadRequest
		if e.Kind == apperr.TooLarge {
			status = http.StatusRequestEntityTooLarge
		}
		fail(status, e)
		return
	}
	if u.WriteTimeout > 0 {
		_ = http.NewResponseController(w).SetWriteDeadline(time.Now().Add(u.WriteTimeout))
	}
	params.Headers = r.Header
	params.ReadTime = graphql.TraceTiming{Start: start, End: graphql.Now()}
	execute(w, r, exec, params, media)
}

// read reads the operations, the map and the files of a multipart body.
// Its errors are *apperr.Error (or *http.MaxBytesError).
func (u uploads) read(r *http.Request, files *fileSet) (*graphql.RawParams, error) {
	mr, err := r.MultipartReader()
	if err != nil {
		return nil, apperr.New(apperr.BadInput, "the body is not multipart/form-data with a boundary")
	}
	field := func(name, want string) ([]byte, error) {
		part, err := mr.NextPart()
		if err != nil {
			return nil, partError(err, name, "the %s field must come %s (GraphQL multipart request spec)", name, want)
		}
		defer part.Close()
		if part.FormName() != name {
			return nil, apperr.Input(name, "the %s field must come %s (GraphQL multipart request spec)", name, want)
		}
		b, err := io.ReadAll(io.LimitReader(part, u.MaxFieldSize+1))
		if err != nil {
			return nil, partError(err, name, "the %s field could not be read", name)
		}
		if int64(len(b)) > u.MaxFieldSize {
			return nil, &apperr.Error{Kind: apperr.TooLarge, Field: name, Message: fmt.Sprintf("the %s field is larger than %d bytes", name, u.MaxFieldSize)}
		}
		return b, nil
	}

	ops, err := field("operations", "first")
	if err != nil {
		return nil, err
	}
	params := &graphql.RawParams{}
	if trimmed := bytes.TrimSpace(ops); len(trimmed) > 0 && trimmed[0] == '[' {
		return nil, apperr.Input("operations", "operations must be one JSON object: batched operations are not supported")
	}
	if err := decodeJSON(ops, params); err != nil {
		return nil, apperr.Input("operations", "the operations field must be a JSON object with a query")
	}
	if params.Query == "" && params.Extensions["persistedQuery"] == nil {
		return nil, apperr.Input("operations", "the operations field has no query")
	}

	rawMap, err := field("map", "second")
	if err != nil {
		return nil, err
	}
	paths := map[string][]string{}
	if err := decodeJSON(rawMap, &paths); err != nil {
		return nil, apperr.Input("map", "the map field must be a JSON object from file field names to lists of variable paths")
	}
	// Each file costs a temporary file: a request carries a few.
	if len(paths) > maxUploadFiles {
		return nil, apperr.Input("map", "a request carries at most %d files", maxUploadFiles)
	}
	targets := 0
	for _, list := range paths {
		targets += len(list)
	}
	if targets > maxUploadTargets {
		return nil, apperr.Input("map", "the map names at most %d variable paths", maxUploadTargets)
	}

	inMemory := r.ContentLength >= 0 && r.ContentLength < u.MaxMemory
	for {
		part, err := mr.NextPart()
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, partError(err, "", "a part of the multipart body is malformed")
		}
		key := part.FormName()
		targets := paths[key]
		if len(targets) == 0 {
			return nil, apperr.Input("map", "the body has a file field %s that the map does not name", quoteShort(key))
		}
		delete(paths, key)
		open, size, err := files.keep(part, inMemory)
		part.Close()
		if err != nil {
			return nil, partError(err, "", "the file field %s could not be read", quoteShort(key))
		}
		for _, path := range targets {
			f, err := open()
			if err != nil {
				return nil, err
			}
			up := graphql.Upload{File: f, Size: size, Filename: part.FileName(), ContentType: part.Header.Get("Content-Type")}
			if gerr := params.AddUpload(up, key, path); gerr != nil {
				return nil, apperr.Input("map", "the map's path %s (of file field %s) does not name a variable of the operation", quoteShort(path), quoteShort(key))
			}
		}
	}
	for key := range paths {
		return nil, apperr.Input("map", "the map names a file field %s that the body does not carry", quoteShort(key))
	}
	return params, nil
}

// partError keeps a body over the limit (413) and the server's own file
// errors (500) as they are, and makes anything else, a body that is not
// what it should be, a BAD_USER_INPUT with the message.
func partError(err error, field, format string, args ...any) error {
	var (
		maxErr  *http.MaxBytesError
		pathErr *os.PathError
	)
	if errors.As(err, &maxErr) || errors.As(err, &pathErr) {
		return err
	}
	return apperr.Input(field, format, args...)
}

// quoteShort quotes a client-sent name for an error message, escaping
// control bytes and cutting it short.
func quoteShort(s string) string {
	if len(s) > 64 {
		s = s[:64] + "…"
	}
	return fmt.Sprintf("%q", s)
}

// A multipart request carries at most maxUploadFiles files, going to at
// most maxUploadTargets variables in all.
const (
	maxUploadFiles   = 10
	maxUploadTargets = 50
)

// fileSet holds the files of one request and removes the temporary ones.
type fileSet struct {
	temps []*os.File
}

// keep stores a file part (in memory or in a temporary file) and returns
// how to open a fresh reader of it, and its size.
func (fs *fileSet) keep(part io.Reader, inMemory bool) (open func() (io.ReadSeeker, error), size int64, err error) {
	if inMemory {
		b, err := io.ReadAll(part)
		if err != nil {
			return nil, 0, err
		}
		return func() (io.ReadSeeker, error) { return bytes.NewReader(b), nil }, int64(len(b)), nil
	}
	tmp, err := os.CreateTemp("", "chatty-upload-")
	if err != nil {
		return nil, 0, err // an *os.PathError: the server's trouble
	}
	fs.temps = append(fs.temps, tmp)
	if size, err = io.Copy(tmp, part); err != nil {
		return nil, 0, err
	}
	// Every variable the file goes to reads the one open temporary file
	// through its own section: no descriptor per path.
	return func() (io.ReadSeeker, error) { return io.NewSectionReader(tmp, 0, size), nil }, size, nil
}

// remove closes and deletes the temporary files.
func (fs *fileSet) remove() {
	for _, f := range fs.temps {
		f.Close()
		_ = os.Remove(f.Name())
	}
}
