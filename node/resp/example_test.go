package resp_test

import (
	"bufio"
	"fmt"
	"net"

	"github.com/geocache/geocache/node"
	"github.com/geocache/geocache/node/resp"
)

// A node served over the Redis protocol on a loopback port.
func ExampleServer() {
	n, _ := node.New(node.Config{})
	defer n.Close()
	srv, _ := resp.New(n, resp.Config{})
	defer srv.Close()
	ln, _ := net.Listen("tcp", "127.0.0.1:0")
	go srv.Serve(ln)

	// Any Redis client works; here, the raw protocol.
	c, _ := net.Dial("tcp", ln.Addr().String())
	defer c.Close()
	fmt.Fprint(c, "*3\r\n$3\r\nSET\r\n$5\r\nhello\r\n$5\r\nworld\r\n*2\r\n$3\r\nGET\r\n$5\r\nhello\r\n")
	r := bufio.NewReader(c)
	for range 3 {
		line, _ := r.ReadString('\n')
		fmt.Printf("%q\n", line)
	}
	// Output:
	// "+OK\r\n"
	// "$5\r\n"
	// "world\r\n"
}
