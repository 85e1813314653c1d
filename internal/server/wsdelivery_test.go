package server

import (
	"encoding/json"
	"errors"
	"net"
	"os"
	"slices"
	"strings"
	"sync"
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

// writeLog is a net.Conn that records each write it is handed; a write
// waits while hold is set (closed to let them through).
type writeLog struct {
	net.Conn
	mu     sync.Mutex
	writes []string
	hold   chan struct{}
	closed bool
}

func (w *writeLog) Write(b []byte) (int, error) {
	if w.hold != nil {
		<-w.hold
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.closed {
		return 0, net.ErrClosed
	}
	w.writes = append(w.writes, string(b))
	return len(b), nil
}

func (w *writeLog) Close() error {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.closed = true
	return nil
}

func (w *writeLog) SetWriteDeadline(time.Time) error { return nil }

func (w *writeLog) log() []string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return slices.Clone(w.writes)
}

// Frames written between gather and flush go out in one write, in order;
// outside of it each write goes out by itself.
func TestGatheredFramesGoOutInOneWrite(t *testing.T) {
	w := &writeLog{}
	c := &coarseDeadlineConn{Conn: w}
	c.Write([]byte("a"))
	c.gather()
	c.Write([]byte("b"))
	c.Write([]byte("c"))
	c.Write([]byte("d"))
	if got := w.log(); !slices.Equal(got, []string{"a"}) {
		t.Fatalf("written before the flush: %q", got)
	}
	if err := c.flush(); err != nil {
		t.Fatal(err)
	}
	c.Write([]byte("e"))
	if got, want := w.log(), []string{"a", "bcd", "e"}; !slices.Equal(got, want) {
		t.Fatalf("writes %q, want %q", got, want)
	}
}

// What another goroutine writes while gathered frames are being written
// (a ping, a close frame) follows them, and Close waits for them and
// writes what is still gathered before it closes: a close frame written
// while frames are gathered still goes out, after them.
func TestCloseWritesWhatIsGathered(t *testing.T) {
	w := &writeLog{hold: make(chan struct{})}
	c := &coarseDeadlineConn{Conn: w}
	c.gather()
	c.Write([]byte("frames"))
	flushed := make(chan error)
	go func() { flushed <- c.flush() }()
	// The flush is writing (held); a close frame comes meanwhile.
	for {
		c.mu.Lock()
		f := c.flushing
		c.mu.Unlock()
		if f {
			break
		}
		time.Sleep(time.Millisecond)
	}
	c.Write([]byte("close"))
	closed := make(chan error)
	go func() { closed <- c.Close() }()
	close(w.hold)
	if err := <-flushed; err != nil && !errors.Is(err, net.ErrClosed) {
		t.Fatal(err)
	}
	<-closed
	if got, want := strings.Join(w.log(), ""), "framesclose"; got != want {
		t.Fatalf("written %q, want %q", got, want)
	}
	if _, err := c.Write([]byte("late")); err == nil {
		t.Fatal("a write after Close went through")
	}

	// Gathering, not yet flushed: Close writes what is gathered.
	w = &writeLog{}
	c = &coarseDeadlineConn{Conn: w}
	c.gather()
	c.Write([]byte("frames"))
	c.Write([]byte("close"))
	c.Close()
	if got, want := strings.Join(w.log(), ""), "framesclose"; got != want {
		t.Fatalf("written %q, want %q", got, want)
	}
	if err := c.flush(); err == nil {
		t.Fatal("flush after Close reported no error")
	}
}
