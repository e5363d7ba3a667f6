package resp_test

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"net"
	"os/exec"
	"strconv"
	"testing"
	"time"

	"github.com/geocache/geocache/node"
	"github.com/geocache/geocache/node/resp"
)

// startGeocache starts a node and a RESP server for it on a loopback port.
func startGeocache(t testing.TB, cfg resp.Config, mod func(*node.Config)) (addr string, n *node.Node, s *resp.Server) {
	t.Helper()
	nc := node.Config{}
	if mod != nil {
		mod(&nc)
	}
	n, err := node.New(nc)
	if err != nil {
		t.Fatal(err)
	}
	s, err = resp.New(n, cfg)
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- s.Serve(ln) }()
	t.Cleanup(func() {
		s.Close()
		if err := <-done; !errors.Is(err, resp.ErrServerClosed) {
			t.Errorf("Serve returned %v, want ErrServerClosed", err)
		}
		n.Close()
	})
	return ln.Addr().String(), n, s
}

// startRedis starts redis-server on a free loopback port with the given extra arguments, or
// skips the test if redis-server is not installed.
func startRedis(t testing.TB, args ...string) string {
	t.Helper()
	bin, err := exec.LookPath("redis-server")
	if err != nil {
		t.Skip("redis-server is not installed (Debian package redis-server); the differential test needs it")
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := ln.Addr().(*net.TCPAddr).Port
	ln.Close()
	all := append([]string{"--port", strconv.Itoa(port), "--bind", "127.0.0.1", "--save", "",
		"--appendonly", "no", "--daemonize", "no", "--logfile", ""}, args...)
	cmd := exec.Command(bin, all...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan struct{})
	go func() { cmd.Wait(); close(exited) }()
	t.Cleanup(func() {
		cmd.Process.Kill()
		<-exited
	})
	addr := "127.0.0.1:" + strconv.Itoa(port)
	waitUntil(t, 10*time.Second, func() bool {
		select {
		case <-exited:
			t.Fatalf("redis-server exited: %s", stderr.String())
		default:
		}
		c, err := net.DialTimeout("tcp", addr, time.Second)
		if err != nil {
			return false
		}
		c.Close()
		return true
	})
	return addr
}

// waitUntil polls cond until it holds or the deadline passes.
func waitUntil(t testing.TB, d time.Duration, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	tick := time.NewTicker(5 * time.Millisecond)
	defer tick.Stop()
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("condition not met within %s", d)
		}
		<-tick.C
	}
}

// rawConn is a client that sends raw bytes and reads whole replies as raw bytes.
type rawConn struct {
	net.Conn
	r *bufio.Reader
}

func dialRaw(t testing.TB, addr string) *rawConn {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return &rawConn{c, bufio.NewReaderSize(c, 1<<16)}
}

// encode builds a RESP multibulk request.
func encode(args ...string) []byte {
	b := fmt.Appendf(nil, "*%d\r\n", len(args))
	for _, a := range args {
		b = fmt.Appendf(b, "$%d\r\n%s\r\n", len(a), a)
	}
	return b
}

// do sends args and returns the raw reply.
func (c *rawConn) do(t testing.TB, args ...string) string {
	t.Helper()
	if _, err := c.Write(encode(args...)); err != nil {
		t.Fatal(err)
	}
	reply, err := c.readReply(5 * time.Second)
	if err != nil {
		t.Fatalf("%q: %v", args, err)
	}
	return reply
}

// readReply reads one complete reply.
func (c *rawConn) readReply(timeout time.Duration) (string, error) {
	c.SetReadDeadline(time.Now().Add(timeout))
	var buf bytes.Buffer
	err := readValue(c.r, &buf)
	return buf.String(), err
}

// readValue copies one RESP2/RESP3 value from r to w.
func readValue(r *bufio.Reader, w *bytes.Buffer) error {
	line, err := r.ReadString('\n')
	w.WriteString(line)
	if err != nil {
		return err
	}
	if len(line) < 3 || line[len(line)-2] != '\r' {
		return fmt.Errorf("bad reply line %q", line)
	}
	body := line[1 : len(line)-2]
	switch line[0] {
	case '+', '-', ':', ',', '(', '#', '_':
		return nil
	case '$', '=', '!':
		n, err := strconv.Atoi(body)
		if err != nil {
			return err
		}
		if n < 0 {
			return nil
		}
		data := make([]byte, n+2)
		if _, err := io.ReadFull(r, data); err != nil {
			return err
		}
		w.Write(data)
		return nil
	case '*', '~', '>', '%', '|':
		n, err := strconv.Atoi(body)
		if err != nil {
			return err
		}
		if line[0] == '%' || line[0] == '|' {
			n *= 2
		}
		for range n {
			if err := readValue(r, w); err != nil {
				return err
			}
		}
		return nil
	}
	return fmt.Errorf("unknown reply type in %q", line)
}
