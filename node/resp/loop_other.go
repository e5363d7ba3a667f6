//go:build !linux

package resp

import (
	"errors"
	"net"
	"sync/atomic"
)

var errNoLoops = errors.New("resp: no event loops on this platform")

// Event loops need epoll; elsewhere every connection has its own goroutine.

const loopsSupported = false

type loop struct {
	now atomic.Int64
}

func newLoop(*Server) (*loop, error)       { return nil, errNoLoops }
func (*loop) run()                         {}
func (*loop) wake()                        {}
func (*loop) release()                     {}
func (*loop) enqueue(*client)              {}
func takeConn(net.Conn) int                { return -1 }
func shutdownSocket(int)                   {}
func closeSocket(int)                      {}
func writeSocket(int, []byte) (int, error) { return 0, errNoLoops }
