package upload_test

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/chatty/chatty/internal/upload/s3test"
)

// A thumbnail or an avatar is bytes in memory: it goes up in one PUT, not
// as a multipart upload (start, part, complete); a stream of unknown
// length still goes up in parts. Both read back whole.
func TestS3PutRequests(t *testing.T) {
	store, reqs := s3test.New(t).CountedStorage(t)
	writes := func(key string, r io.Reader, want []byte) []string {
		t.Helper()
		reqs.Take()
		if err := store.Put(context.Background(), key, r); err != nil {
			t.Fatalf("put %s: %v", key, err)
		}
		f, err := store.Open(context.Background(), key)
		if err != nil {
			t.Fatalf("open %s: %v", key, err)
		}
		defer f.Close()
		got, err := io.ReadAll(f)
		if err != nil || !bytes.Equal(got, want) {
			t.Fatalf("%s read back %d bytes (%v), want %d", key, len(got), err, len(want))
		}
		var writes []string
		for _, r := range reqs.Take() {
			if !strings.HasPrefix(r, http.MethodGet+" ") && !strings.HasPrefix(r, http.MethodHead+" ") {
				writes = append(writes, r)
			}
		}
		return writes
	}
	thumb := bytes.Repeat([]byte("썸네일"), 700)
	if w := writes("thumbs/1", bytes.NewReader(thumb), thumb); len(w) != 1 || w[0] != "PUT " {
		t.Errorf("a thumbnail in memory was written with %q, want one plain PUT", w)
	}
	if w := writes("files/2", io.MultiReader(bytes.NewReader(thumb)), thumb); len(w) < 3 {
		t.Errorf("a stream was written with %q, want a multipart upload", w)
	}
}
