//go:build linux

package server

import (
	"errors"
	"io"
	"log/slog"
	"net"
	"sync"
	"syscall"

	"golang.org/x/sys/unix"
)

// wsPoller watches parked sockets (see wspark.go) in one epoll set of the
// process, beside Go's own: a socket is in it with EPOLLONESHOT, so one
// event (readable, the peer's FIN, a reset or an error) starts one reader
// and disarms it until the reader parks it again.
type wsPoller struct {
	once  sync.Once
	epfd  int // -1: no poller, sockets are not parked
	mu    sync.Mutex
	conns map[int32]*wsConn // by fd, while in the set
	gen   uint32
}

var wsPoll wsPoller

// start creates the epoll set and its goroutine, once.
func (p *wsPoller) start() bool {
	p.once.Do(func() {
		fd, err := unix.EpollCreate1(unix.EPOLL_CLOEXEC)
		if err != nil {
			slog.Warn("websocket: no epoll set, idle sockets keep a goroutine each", "err", err)
			p.epfd = -1
			return
		}
		p.epfd = fd
		p.conns = map[int32]*wsConn{}
		go p.loop()
	})
	return p.epfd >= 0
}

// loop starts a reader for every socket an event comes for. It waits in
// epoll_wait (one thread of the process, blocked in the system call).
func (p *wsPoller) loop() {
	events := make([]unix.EpollEvent, 256)
	var woken []*wsConn
	for {
		n, err := unix.EpollWait(p.epfd, events, -1)
		if err != nil {
			if errors.Is(err, unix.EINTR) {
				continue
			}
			// Not expected (the set is ours and open): say so loudly;
			// the sockets parked now would hear nothing more.
			slog.Error("websocket: epoll_wait failed; parked sockets are no longer read", "err", err)
			return
		}
		p.mu.Lock()
		for _, ev := range events[:n] {
			if c := p.conns[ev.Fd]; c != nil && c.nc.pollGen == uint32(ev.Pad) {
				woken = append(woken, c)
			}
		}
		p.mu.Unlock()
		for i, c := range woken {
			if c.reading.CompareAndSwap(readerParked, readerRunning) {
				go c.read()
			}
			woken[i] = nil
		}
		woken = woken[:0]
	}
}

// wsParkable returns what parks conn (the hijacked connection): a plain
// TCP or Unix socket can be watched by the poller; anything else (TLS,
// which buffers what it decrypts) keeps its reader goroutine.
func wsParkable(conn net.Conn) (syscall.RawConn, int32) {
	sc, ok := conn.(interface {
		SyscallConn() (syscall.RawConn, error)
	})
	switch conn.(type) {
	case *net.TCPConn, *net.UnixConn:
	default:
		ok = false
	}
	if !ok || !wsPoll.start() {
		return nil, 0
	}
	raw, err := sc.SyscallConn()
	if err != nil {
		return nil, 0
	}
	fd := int32(-1)
	if raw.Control(func(s uintptr) { fd = int32(s) }) != nil || fd < 0 {
		return nil, 0
	}
	return raw, fd
}

// readNow reads what the socket holds without waiting: wouldBlock when
// it holds nothing.
func readNow(raw syscall.RawConn, p []byte) (n int, err error, wouldBlock bool) {
	cerr := raw.Read(func(fd uintptr) bool {
		for {
			n, err = unix.Read(int(fd), p)
			if err != unix.EINTR {
				return true // done either way: never wait here
			}
		}
	})
	switch {
	case cerr != nil:
		return 0, cerr, false
	case err == unix.EAGAIN:
		return 0, nil, true
	case err != nil:
		return 0, &net.OpError{Op: "read", Net: "tcp", Err: err}, false
	case n == 0 && len(p) > 0:
		return 0, io.EOF, false
	}
	return n, nil, false
}

// park hands c to the poller: its reader goroutine has ended, and the
// next event on the socket starts another. Called by the ending reader.
func (p *wsPoller) park(c *wsConn) error {
	p.mu.Lock()
	c.mu.Lock()
	closed := c.closed
	c.mu.Unlock()
	if closed { // Close has forgotten it (or will find it not here)
		p.mu.Unlock()
		return nil
	}
	op := unix.EPOLL_CTL_MOD
	if !c.nc.polled {
		op = unix.EPOLL_CTL_ADD
		p.gen++
		c.nc.polled, c.nc.pollGen = true, p.gen
		p.conns[c.nc.fd] = c
	}
	ev := unix.EpollEvent{Events: unix.EPOLLIN | unix.EPOLLRDHUP | unix.EPOLLONESHOT, Fd: c.nc.fd, Pad: int32(c.nc.pollGen)}
	p.mu.Unlock()
	// From here an event may start the next reader (and this one must
	// touch nothing of the connection's reading any more).
	c.reading.Store(readerParked)
	var err error
	if cerr := c.nc.raw.Control(func(fd uintptr) { err = unix.EpollCtl(p.epfd, op, int(fd), &ev) }); cerr != nil {
		return nil // closed meanwhile: Close cleans up
	}
	return err
}

// forget takes c out of the poller's books (Close). Its fd leaves the
// epoll set when it is closed.
func (p *wsPoller) forget(c *wsConn) {
	if c.nc == nil || c.nc.raw == nil {
		return
	}
	p.mu.Lock()
	if p.conns[c.nc.fd] == c {
		delete(p.conns, c.nc.fd)
	}
	p.mu.Unlock()
}

func wsPark(c *wsConn) error { return wsPoll.park(c) }

func wsForget(c *wsConn) { wsPoll.forget(c) }
