// Package s3test gives tests fresh buckets on the S3-compatible server
// that CHATTY_TEST_S3_URL names (.ci/run starts one on 127.0.0.1), with
// credentials from AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY.
package s3test

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os"
	"sort"
	"strings"
	"sync"
	"testing"

	"github.com/minio/minio-go/v7"
	"github.com/minio/minio-go/v7/pkg/credentials"

	"github.com/chatty/chatty/internal/upload"
)

// Env is the variable naming the test server:
// s3://?endpoint=http://127.0.0.1:14568&region=us-east-1 (the bucket, if
// any, is ignored: every test gets its own).
const Env = "CHATTY_TEST_S3_URL"

// Bucket is a fresh, empty bucket for one test, removed with everything in
// it when the test ends.
type Bucket struct {
	Config upload.S3Config
	admin  *minio.Client
}

// New makes a fresh bucket. Without CHATTY_TEST_S3_URL it skips the test,
// or fails it under CHATTY_CI=1, where the S3 server is required.
func New(t testing.TB) *Bucket {
	t.Helper()
	raw := os.Getenv(Env)
	if raw == "" {
		if os.Getenv("CHATTY_CI") == "1" {
			t.Fatal("CHATTY_CI=1 but " + Env + " is unset")
		}
		t.Skip(Env + " unset (e.g. s3://?endpoint=http://127.0.0.1:14568&region=us-east-1, with AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY); CI runs this with CHATTY_CI=1")
	}
	if strings.HasPrefix(raw, "s3://?") {
		raw = "s3://placeholder?" + strings.TrimPrefix(raw, "s3://?")
	}
	cfg, err := upload.ParseStorageURL(raw)
	if err != nil || cfg == nil || cfg.Endpoint == "" {
		t.Fatalf("%s=%q: %v (want an endpoint)", Env, os.Getenv(Env), err)
	}
	b := make([]byte, 6)
	_, _ = rand.Read(b)
	cfg.Bucket = "chatty-test-" + hex.EncodeToString(b)
	admin, err := minio.New(cfg.Endpoint, &minio.Options{
		Creds:  credentials.NewEnvAWS(),
		Secure: cfg.Secure,
		Region: cfg.Region,
	})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	if err := admin.MakeBucket(ctx, cfg.Bucket, minio.MakeBucketOptions{Region: cfg.Region}); err != nil {
		t.Fatalf("make bucket %s at %s: %v", cfg.Bucket, cfg.Endpoint, err)
	}
	bk := &Bucket{Config: *cfg, admin: admin}
	t.Cleanup(func() {
		for _, k := range bk.keys(t) {
			_ = admin.RemoveObject(ctx, cfg.Bucket, k, minio.RemoveObjectOptions{})
		}
		_ = admin.RemoveBucket(ctx, cfg.Bucket)
	})
	return bk
}

// Storage connects a new S3 storage to the bucket, as one more chatty
// instance would.
func (b *Bucket) Storage(t testing.TB) *upload.S3 {
	t.Helper()
	s, err := upload.NewS3(context.Background(), b.Config)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// Requests records the requests a storage made to the S3 server (see
// CountedStorage), each as its method, a space and its raw query
// ("PUT ", "POST uploads=").
type Requests struct {
	mu   sync.Mutex
	seen []string
}

// Take returns the requests recorded since the last Take, and forgets them.
func (r *Requests) Take() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	seen := r.seen
	r.seen = nil
	return seen
}

// CountedStorage connects a new S3 storage to the bucket through a proxy
// in front of the S3 server that records every request the storage makes.
func (b *Bucket) CountedStorage(t testing.TB) (*upload.S3, *Requests) {
	t.Helper()
	target, err := url.Parse("http://" + b.Config.Endpoint)
	if err != nil {
		t.Fatal(err)
	}
	reqs := &Requests{}
	rp := httputil.NewSingleHostReverseProxy(target)
	proxy := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		reqs.mu.Lock()
		reqs.seen = append(reqs.seen, r.Method+" "+r.URL.RawQuery)
		reqs.mu.Unlock()
		rp.ServeHTTP(w, r)
	}))
	t.Cleanup(proxy.Close)
	cfg := b.Config
	cfg.Endpoint, cfg.Secure = strings.TrimPrefix(proxy.URL, "http://"), false
	s, err := upload.NewS3(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	return s, reqs
}

// Keys lists every object in the bucket, sorted, asking the server.
func (b *Bucket) Keys(t testing.TB) []string {
	t.Helper()
	return b.keys(t)
}

func (b *Bucket) keys(t testing.TB) []string {
	var out []string
	for o := range b.admin.ListObjects(context.Background(), b.Config.Bucket, minio.ListObjectsOptions{Recursive: true}) {
		if o.Err != nil {
			t.Fatalf("list %s: %v", b.Config.Bucket, o.Err)
		}
		out = append(out, o.Key)
	}
	sort.Strings(out)
	return out
}

// URL is the CHATTY_STORAGE_URL of the bucket.
func (b *Bucket) URL() string {
	scheme := "http"
	if b.Config.Secure {
		scheme = "https"
	}
	return "s3://" + b.Config.Bucket + "?" + url.Values{"endpoint": {scheme + "://" + b.Config.Endpoint}, "region": {b.Config.Region}}.Encode()
}
