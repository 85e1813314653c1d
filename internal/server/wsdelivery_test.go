package server

import (
	"encoding/json"
	"errors"
	"net"
	"os"
	"testing"
	"time"

	"github.com/99designs/gqlgen/graphql"
)

// A data response's frame, put together at once, reads as the frame of
// its encoded response.
func TestDataFrameReadsAsFrame(t *testing.T) {
	data, _ := json.Marshal(map[string]any{"messageAdded": map[string]any{"body": "<b>&\u2028 \"quoted\" é 😀", "seq": 7}})
	resp := &graphql.Response{Data: data}
	if !plainResponse(resp) {
		t.Fatal("a response of data alone is plain")
	}
	payload, err := encodeResponse(resp)
	if err != nil {
		t.Fatal(err)
	}
	for _, typ := range []string{"next", "data"} {
		for _, id := range []string{"op-1", "with \"quotes\" <and> \u2028", ""} {
			sameJSON(t, appendDataFrame(nil, typ, id, data), appendFrame(nil, typ, id, payload))
		}
	}
	for _, r := range []*graphql.Response{{}, {Data: data, Extensions: map[string]any{"x": 1}}, {Data: data, Label: "l"}} {
		if plainResponse(r) {
			t.Errorf("%+v is not plain", r)
		}
	}
}

// A deadline earlier than the one in force applies (a close frame's short
// one after a data frame's long one): a write nobody reads times out.
func TestEarlierWriteDeadlineApplies(t *testing.T) {
	a, b := net.Pipe() // nobody reads b
	defer a.Close()
	defer b.Close()
	c := &coarseDeadlineConn{Conn: a}
	c.SetWriteDeadline(time.Now().Add(time.Hour))
	c.SetWriteDeadline(time.Now().Add(time.Hour + time.Second)) // skipped: barely later
	c.SetWriteDeadline(time.Now().Add(20 * time.Millisecond))
	if _, err := c.Write([]byte("x")); !errors.Is(err, os.ErrDeadlineExceeded) {
		t.Fatalf("write: %v, want the deadline exceeded", err)
	}
}
