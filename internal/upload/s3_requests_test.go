package upload_test

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"strings"
	"sync"
	"testing"

	"github.com/chatty/chatty/internal/upload"
	"github.com/chatty/chatty/internal/upload/s3test"
)

// A thumbnail or an avatar is bytes in memory: it goes up in one PUT, not
// as a multipart upload (start, part, complete); a stream of unknown
// length still goes up in parts. Both read back whole.
func TestS3PutRequests(t *testing.T) {
	bucket := s3test.New(t)
	target, _ := url.Parse("http://" + bucket.Config.Endpoint)
	var mu sync.Mutex
	var seen []string
	rp := httputil.NewSingleHostReverseProxy(target)
	proxy := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			mu.Lock()
			seen = append(seen, r.Method+" "+r.URL.RawQuery)
			mu.Unlock()
		}
		rp.ServeHTTP(w, r)
	}))
	t.Cleanup(proxy.Close)
	cfg := bucket.Config
	cfg.Endpoint, cfg.Secure = strings.TrimPrefix(proxy.URL, "http://"), false
	store, err := upload.NewS3(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	writes := func(key string, r io.Reader, want []byte) []string {
		t.Helper()
		mu.Lock()
		seen = nil
		mu.Unlock()
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
		mu.Lock()
		defer mu.Unlock()
		return append([]string(nil), seen...)
	}
	thumb := bytes.Repeat([]byte("썸네일"), 700)
	if w := writes("thumbs/1", bytes.NewReader(thumb), thumb); len(w) != 1 || w[0] != "PUT " {
		t.Errorf("a thumbnail in memory was written with %q, want one plain PUT", w)
	}
	if w := writes("files/2", io.MultiReader(bytes.NewReader(thumb)), thumb); len(w) < 3 {
		t.Errorf("a stream was written with %q, want a multipart upload", w)
	}
}
