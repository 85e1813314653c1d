//go:build !linux

package server

import (
	"net"
	"syscall"
)

// Without epoll, a socket's reader goroutine blocks in its read as long as
// the socket is open (wspark.go): nothing parks.

func wsParkable(net.Conn) (syscall.RawConn, int32) { return nil, 0 }

func readNow(syscall.RawConn, []byte) (int, error, bool) { panic("unreachable: nothing parks") }

func wsPark(*wsConn) error { panic("unreachable: nothing parks") }

func wsForget(*wsConn) {}
