package upload

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net/http"
	"net/url"
	"path"
	"strings"
	"time"

	"github.com/minio/minio-go/v7"
	"github.com/minio/minio-go/v7/pkg/credentials"
)

// S3Config says where an S3 storage keeps its objects. ParseStorageURL
// fills it from CHATTY_STORAGE_URL.
type S3Config struct {
	Bucket string
	// Prefix is put before every key ("chatty/" keeps keys under chatty/);
	// empty for the bucket's root.
	Prefix string
	// Endpoint is the server's host[:port]; empty for AWS S3.
	Endpoint string
	// Secure is true for HTTPS.
	Secure bool
	// Region is the bucket's region; empty lets the client ask the server.
	Region string
}

// ParseStorageURL reads CHATTY_STORAGE_URL: "" (nil: the local upload
// directory) or s3://bucket[/prefix]?endpoint=http://host:port&region=…
// where endpoint is a URL (http or https; a bare host:port is https) and
// may be left out for AWS S3.
func ParseStorageURL(raw string) (*S3Config, error) {
	if strings.TrimSpace(raw) == "" {
		return nil, nil
	}
	u, err := url.Parse(raw)
	if err != nil {
		return nil, fmt.Errorf("want s3://bucket?endpoint=…&region=…: %w", err)
	}
	if u.Scheme != "s3" {
		return nil, fmt.Errorf("want s3://bucket?endpoint=…&region=…, got scheme %q", u.Scheme)
	}
	if u.User != nil {
		return nil, errors.New("put no credentials in the URL: set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY")
	}
	c := &S3Config{Bucket: u.Host, Secure: true}
	if c.Bucket == "" {
		return nil, errors.New("the bucket is missing: want s3://bucket?endpoint=…")
	}
	if p := strings.Trim(u.Path, "/"); p != "" {
		if err := checkKey(p); err != nil {
			return nil, fmt.Errorf("prefix %q: use letters, digits, '.', '_', '-' and '/'", p)
		}
		c.Prefix = p + "/"
	}
	q := u.Query()
	for k := range q {
		if k != "endpoint" && k != "region" {
			return nil, fmt.Errorf("unknown parameter %q: want endpoint and region", k)
		}
	}
	c.Region = q.Get("region")
	if ep := q.Get("endpoint"); ep != "" {
		if !strings.Contains(ep, "://") {
			ep = "https://" + ep
		}
		e, err := url.Parse(ep)
		if err == nil && e.User != nil {
			// Not repeated: the error may be logged.
			return nil, errors.New("put no credentials in the endpoint: set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY")
		}
		if err != nil || (e.Scheme != "http" && e.Scheme != "https") || e.Host == "" || strings.Trim(e.Path, "/") != "" {
			return nil, fmt.Errorf("endpoint: want http(s)://host[:port], got %q", q.Get("endpoint"))
		}
		c.Endpoint, c.Secure = e.Host, e.Scheme == "https"
	}
	return c, nil
}

// S3 is a Storage in a bucket of an S3-compatible object store (AWS S3,
// SeaweedFS, MinIO, …), so that every instance of chatty sees every file.
type S3 struct {
	client *minio.Client
	bucket string
	prefix string
}

// s3PartSize is the size of the parts an upload is sent in, and so the
// memory one upload holds whatever the file's size: the smallest part S3
// allows.
const s3PartSize = 5 << 20

// NewS3 connects to the bucket c names, with credentials from the usual
// AWS variables (AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, AWS_SESSION_TOKEN)
// or the AWS shared credentials file. It fails when the bucket cannot be
// reached or does not exist.
func NewS3(ctx context.Context, c S3Config) (*S3, error) {
	endpoint := c.Endpoint
	if endpoint == "" {
		endpoint = "s3.amazonaws.com"
	}
	tr, err := minio.DefaultTransport(c.Secure)
	if err != nil {
		return nil, fmt.Errorf("s3 transport: %w", err)
	}
	tr.ResponseHeaderTimeout = 30 * time.Second
	client, err := minio.New(endpoint, &minio.Options{
		Creds: credentials.NewChainCredentials([]credentials.Provider{
			&credentials.EnvAWS{},
			&credentials.FileAWSCredentials{},
		}),
		Secure:    c.Secure,
		Region:    c.Region,
		Transport: tr,
	})
	if err != nil {
		return nil, fmt.Errorf("s3 client for %s: %w", endpoint, err)
	}
	ok, err := client.BucketExists(ctx, c.Bucket)
	if err != nil {
		return nil, fmt.Errorf("s3 bucket %q at %s: %w", c.Bucket, endpoint, err)
	}
	if !ok {
		return nil, fmt.Errorf("s3 bucket %q does not exist at %s: create it first", c.Bucket, endpoint)
	}
	return &S3{client: client, bucket: c.Bucket, prefix: c.Prefix}, nil
}

func (s *S3) name(key string) (string, error) {
	if err := checkKey(key); err != nil {
		return "", err
	}
	return path.Join(s.prefix, key), nil
}

// Put implements Storage. The file goes up in parts of s3PartSize, one at a
// time (a multipart upload, aborted when r fails), so an upload holds one
// part in memory whatever its size.
func (s *S3) Put(ctx context.Context, key string, r io.Reader) error {
	name, err := s.name(key)
	if err != nil {
		return err
	}
	_, err = s.client.PutObject(ctx, s.bucket, name, ctxReader{ctx, r}, -1, minio.PutObjectOptions{
		PartSize: s3PartSize,
		// Each part carries a Content-MD5 the store verifies (every
		// S3-compatible server does); the payload is not also hashed into
		// the signature, as minio-go does by default over HTTPS.
		SendContentMd5:       true,
		DisableContentSha256: true,
		ContentType:          "application/octet-stream", // the type served is the sniffed one, from the database
	})
	if err != nil {
		return fmt.Errorf("put %s: %w", key, err)
	}
	return nil
}

// Open implements Storage. It asks the store for the object's size (a
// missing object is fs.ErrNotExist); the bytes are fetched as they are
// read, from where the last Seek put the offset (a ranged GET), so
// http.ServeContent answers ranges without reading what it skips.
func (s *S3) Open(ctx context.Context, key string) (File, error) {
	name, err := s.name(key)
	if err != nil {
		return nil, err
	}
	info, err := s.client.StatObject(ctx, s.bucket, name, minio.StatObjectOptions{})
	if err != nil {
		if r := minio.ToErrorResponse(err); r.Code == "NoSuchKey" || r.StatusCode == http.StatusNotFound {
			return nil, fmt.Errorf("open %s: %w", key, fs.ErrNotExist)
		}
		return nil, fmt.Errorf("open %s: %w", key, err)
	}
	// The reads outlive the caller's deadline for finding the file (a large
	// download takes longer than a database deadline), not its
	// cancellation (a client gone); Close ends them.
	rctx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	stop := context.AfterFunc(ctx, func() {
		if errors.Is(ctx.Err(), context.Canceled) {
			cancel()
		}
	})
	return &s3File{core: &minio.Core{Client: s.client}, bucket: s.bucket, name: name, etag: info.ETag,
		size: info.Size, mod: info.LastModified, ctx: rctx, cancel: func() { stop(); cancel() }}, nil
}

// Delete implements Storage; S3 answers a missing key with success.
func (s *S3) Delete(ctx context.Context, key string) error {
	name, err := s.name(key)
	if err != nil {
		return err
	}
	if err := s.client.RemoveObject(ctx, s.bucket, name, minio.RemoveObjectOptions{}); err != nil {
		return fmt.Errorf("delete %s: %w", key, err)
	}
	return nil
}

// s3File reads an object lazily: one GET from the current offset to the
// end, opened on the first Read after a Seek that moved.
type s3File struct {
	core         *minio.Core
	bucket, name string
	etag         string
	size         int64
	mod          time.Time
	ctx          context.Context
	cancel       context.CancelFunc

	off  int64
	body io.ReadCloser
}

func (f *s3File) Size() int64        { return f.size }
func (f *s3File) ModTime() time.Time { return f.mod }

func (f *s3File) Read(p []byte) (int, error) {
	if f.off >= f.size {
		return 0, io.EOF
	}
	if f.body == nil {
		var opts minio.GetObjectOptions
		if f.etag != "" {
			_ = opts.SetMatchETag(f.etag)
		}
		if f.off > 0 {
			if err := opts.SetRange(f.off, 0); err != nil {
				return 0, err
			}
		}
		body, _, _, err := f.core.GetObject(f.ctx, f.bucket, f.name, opts)
		if err != nil {
			return 0, fmt.Errorf("read %s: %w", f.name, err)
		}
		f.body = body
	}
	n, err := f.body.Read(p)
	f.off += int64(n)
	if errors.Is(err, io.EOF) && f.off < f.size {
		err = io.ErrUnexpectedEOF
	}
	return n, err
}

func (f *s3File) Seek(offset int64, whence int) (int64, error) {
	abs := offset
	switch whence {
	case io.SeekStart:
	case io.SeekCurrent:
		abs += f.off
	case io.SeekEnd:
		abs += f.size
	default:
		return f.off, errors.New("seek: invalid whence")
	}
	if abs < 0 {
		return f.off, errors.New("seek: negative offset")
	}
	if abs != f.off && f.body != nil {
		_ = f.body.Close()
		f.body = nil
	}
	f.off = abs
	return abs, nil
}

func (f *s3File) Close() error {
	if f.body != nil {
		_ = f.body.Close()
		f.body = nil
	}
	f.cancel()
	return nil
}
