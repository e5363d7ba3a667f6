package resp_test

import (
	"context"
	"net"
	"runtime"
	"testing"
	"time"
)

// TestNoGoroutineLeak checks that Close and Shutdown stop every goroutine the server started:
// loops, the sweeper, connection goroutines and WAITs handed off by a loop. It is not parallel,
// so the count is not disturbed by other tests.
func TestNoGoroutineLeak(t *testing.T) {
	before := runtime.NumGoroutine()
	for _, mode := range transports {
		for _, graceful := range []bool{false, true} {
			r := &replicating{acks: 0, block: true, blocked: make(chan struct{})}
			addr, s := startReplicating(t, r, mode.loops)
			var conns []net.Conn
			for range 5 {
				c := dialRaw(t, addr)
				c.do(t, "SET", "k", "v")
				conns = append(conns, c)
			}
			conns[0].Write(encode("WAIT", "1", "0")) // blocks until the server stops
			<-r.blocked
			if graceful {
				ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
				if err := s.Shutdown(ctx); err != nil {
					t.Fatalf("%s: Shutdown: %v", mode.name, err)
				}
				cancel()
			} else {
				s.Close()
			}
			for _, c := range conns {
				c.Close()
			}
			r.Close()
		}
	}
	waitUntil(t, 5*time.Second, func() bool { return runtime.NumGoroutine() <= before })
}
