package upload

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"time"
)

// Storage keeps file bytes under keys: relative slash-separated paths chosen
// by Service, never by clients.
type Storage interface {
	// Put stores everything r yields under key. When r fails, Put returns
	// the error and leaves nothing under key.
	Put(ctx context.Context, key string, r io.Reader) error
	// Open returns the file stored under key. A missing key is an error
	// wrapping fs.ErrNotExist.
	Open(ctx context.Context, key string) (File, error)
	// Delete removes the file under key; a missing key is not an error.
	Delete(ctx context.Context, key string) error
}

// File is an open stored file, usable with http.ServeContent.
type File interface {
	io.ReadSeekCloser
	// Size is the length of the file in bytes.
	Size() int64
	// ModTime is when the file was stored.
	ModTime() time.Time
}

// errBadKey marks a key that is not a clean relative path inside the storage.
var errBadKey = errors.New("invalid storage key")

// checkKey accepts clean relative slash paths of [A-Za-z0-9._-] elements:
// no "..", no absolute paths, no backslashes, no empty elements.
func checkKey(key string) error {
	if len(key) > 255 || !fs.ValidPath(key) || key == "." {
		return fmt.Errorf("%w: %q", errBadKey, key)
	}
	for i := 0; i < len(key); i++ {
		c := key[i]
		switch {
		case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9',
			c == '.', c == '_', c == '-', c == '/':
		default:
			return fmt.Errorf("%w: %q", errBadKey, key)
		}
	}
	return nil
}

// Disk is a Storage on the local file system. Files are written to a
// temporary file next to their final name, synced, then renamed, so a reader
// never sees half a file. All access goes through an os.Root, so neither a
// key nor a symbolic link under the root can reach outside it.
type Disk struct {
	root *os.Root
}

// NewDisk returns a Disk storing files under root, creating root if needed.
func NewDisk(root string) (*Disk, error) {
	if err := os.MkdirAll(root, 0o750); err != nil {
		return nil, fmt.Errorf("create upload dir: %w", err)
	}
	r, err := os.OpenRoot(root)
	if err != nil {
		return nil, fmt.Errorf("open upload dir: %w", err)
	}
	return &Disk{root: r}, nil
}

// Close releases the directory handle; the Disk must not be used afterwards.
func (d *Disk) Close() error { return d.root.Close() }

// Put implements Storage.
func (d *Disk) Put(ctx context.Context, key string, r io.Reader) (err error) {
	if err := checkKey(key); err != nil {
		return err
	}
	dir := path.Dir(key)
	if err := d.root.MkdirAll(dir, 0o750); err != nil {
		return fmt.Errorf("create dir for %s: %w", key, err)
	}
	var suffix [8]byte
	_, _ = rand.Read(suffix[:])
	tmp := path.Join(dir, ".tmp-"+hex.EncodeToString(suffix[:]))
	f, err := d.root.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o640)
	if err != nil {
		return fmt.Errorf("create %s: %w", key, err)
	}
	defer func() {
		if err != nil {
			_ = f.Close()
			_ = d.root.Remove(tmp)
		}
	}()
	if _, err := io.Copy(f, ctxReader{ctx, r}); err != nil {
		return fmt.Errorf("write %s: %w", key, err)
	}
	if err := f.Sync(); err != nil {
		return fmt.Errorf("sync %s: %w", key, err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("close %s: %w", key, err)
	}
	if err := d.root.Rename(tmp, key); err != nil {
		return fmt.Errorf("rename %s: %w", key, err)
	}
	return nil
}

// Open implements Storage.
func (d *Disk) Open(ctx context.Context, key string) (File, error) {
	if err := checkKey(key); err != nil {
		return nil, err
	}
	f, err := d.root.Open(key)
	if err != nil {
		return nil, fmt.Errorf("open %s: %w", key, err)
	}
	fi, err := f.Stat()
	if err != nil {
		_ = f.Close()
		return nil, fmt.Errorf("stat %s: %w", key, err)
	}
	if !fi.Mode().IsRegular() {
		_ = f.Close()
		return nil, fmt.Errorf("open %s: not a regular file: %w", key, fs.ErrNotExist)
	}
	return diskFile{f, fi}, nil
}

// Delete implements Storage.
func (d *Disk) Delete(ctx context.Context, key string) error {
	if err := checkKey(key); err != nil {
		return err
	}
	if err := d.root.Remove(key); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("delete %s: %w", key, err)
	}
	return nil
}

type diskFile struct {
	*os.File
	fi fs.FileInfo
}

func (f diskFile) Size() int64        { return f.fi.Size() }
func (f diskFile) ModTime() time.Time { return f.fi.ModTime() }

// ctxReader stops reading once ctx is done.
type ctxReader struct {
	ctx context.Context
	r   io.Reader
}

func (r ctxReader) Read(p []byte) (int, error) {
	if err := r.ctx.Err(); err != nil {
		return 0, err
	}
	return r.r.Read(p)
}
