//go:build linux

package resp_test

import (
	"bufio"
	"errors"
	"fmt"
	"net"
	"sync"
	"testing"
	"time"

	"github.com/geocache/geocache/node"
	"github.com/geocache/geocache/node/resp"
)

// TestClosingServersSendNoStrayBytes: servers closing in the same process never write into
// another server's connections. Close woke the event loops once more after the last connection
// had gone, racing the loops' exit: a wake-up that lost the race wrote its NUL byte to the
// released pipe's descriptor number, by then often a socket another server had just accepted,
// whose client read "\x00+PONG" (and TestScriptBusyAndKill "\x00-ERR Script killed ...").
func TestClosingServersSendNoStrayBytes(t *testing.T) {
	t.Parallel()
	addr, n, _ := startGeocache(t, resp.Config{}, nil)
	const rounds = 500
	churned := make(chan error, 1)
	go func() { // servers that start, serve a connection per loop and close, over and over
		for range rounds {
			if err := serveAndClose(n); err != nil {
				churned <- err
				return
			}
		}
		churned <- nil
	}()
	// Clients of the first server connect and PING, many at a time: each accept takes the
	// lowest free descriptor numbers, the ones a closing server's loops have just released.
	const pingers = 4
	var wg sync.WaitGroup
	stop := make(chan struct{})
	bad := make(chan string, pingers)
	for range pingers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; ; i++ {
				select {
				case <-stop:
					return
				default:
				}
				if got, err := pingOnce(addr); err != nil || got != "+PONG\r\n" {
					bad <- fmt.Sprintf("PING #%d on a new connection answered %q, %v", i, got, err)
					return
				}
			}
		}()
	}
	var err error
	select {
	case err = <-churned:
	case msg := <-bad:
		err = errors.New(msg)
	}
	close(stop)
	wg.Wait()
	if err != nil {
		t.Fatal(err)
	}
	select {
	case msg := <-bad:
		t.Fatal(msg)
	default:
	}
}

// serveAndClose starts a server with two event loops on n, has a client on each loop, and
// closes the server.
func serveAndClose(n *node.Node) error {
	s, err := resp.New(n, resp.Config{EventLoops: 2})
	if err != nil {
		return err
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	served := make(chan error, 1)
	go func() { served <- s.Serve(ln) }()
	for range 2 { // accepted in turn by the two loops: one loop's last close wakes the other
		c, err := net.Dial("tcp", ln.Addr().String())
		if err != nil {
			s.Close()
			return err
		}
		defer c.Close()
		if got, err := ping(c); err != nil || got != "+PONG\r\n" {
			s.Close()
			return errors.New("PING to the closing server answered " + got)
		}
	}
	s.Close()
	if err := <-served; !errors.Is(err, resp.ErrServerClosed) {
		return err
	}
	return nil
}

// pingOnce dials addr, sends PING and returns the reply.
func pingOnce(addr string) (string, error) {
	c, err := net.Dial("tcp", addr)
	if err != nil {
		return "", err
	}
	defer c.Close()
	return ping(c)
}

func ping(c net.Conn) (string, error) {
	c.SetDeadline(time.Now().Add(10 * time.Second))
	if _, err := c.Write(encode("PING")); err != nil {
		return "", err
	}
	return bufio.NewReader(c).ReadString('\n')
}
