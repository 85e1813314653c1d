package server

import (
	"bytes"
	"strings"
	"testing"
)

// A body that declares a large Content-Length is not allocated ahead of
// its bytes (a client could declare 1 MiB on many connections and send
// nothing), and one within the presize bound is read whole either way.
func TestReadAllDoesNotTrustALargeContentLength(t *testing.T) {
	b, err := readAll(strings.NewReader(""), 1<<20, 1<<20)
	if err != nil || len(b) != 0 {
		t.Fatalf("readAll: %q, %v", b, err)
	}
	if cap(b) > presizeLimit+1 {
		t.Fatalf("an empty body that declared 1 MiB took %d bytes", cap(b))
	}
	body := bytes.Repeat([]byte("x"), 200<<10)
	for _, declared := range []int64{-1, 10, int64(len(body)), 1 << 20} {
		got, err := readAll(bytes.NewReader(body), declared, 1<<20)
		if err != nil || !bytes.Equal(got, body) {
			t.Fatalf("declared %d: read %d bytes, %v", declared, len(got), err)
		}
	}
}
