package testnet

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"net"
	"strconv"
	"time"
)

// respConn is a minimal Redis protocol client connection: one request at a time, every call
// bounded by a deadline. It is not safe for concurrent use. The workload needs exact control of
// when a request is sent and its reply read, which pooled clients with retries hide.
type respConn struct {
	c net.Conn
	r *bufio.Reader
	w *bufio.Writer
}

// reply is one RESP reply. Errors from the server are replies (kind '-'), not Go errors.
type reply struct {
	kind byte // '+', '-', ':', '$', '*'
	str  string
	n    int64
	null bool
	arr  []reply
}

func (r reply) err() error {
	if r.kind == '-' {
		return errors.New(r.str)
	}
	return nil
}

func dialRESP(addr string, timeout time.Duration) (*respConn, error) {
	c, err := net.DialTimeout("tcp", addr, timeout)
	if err != nil {
		return nil, err
	}
	return &respConn{c: c, r: bufio.NewReader(c), w: bufio.NewWriter(c)}, nil
}

func (c *respConn) Close() error { return c.c.Close() }

// errNotSent marks a request that never left this process (so it cannot have been applied).
var errNotSent = errors.New("testnet: request not sent")

// do sends one command and reads its reply. An error wrapping errNotSent means the request was
// not written; any other error means it may or may not have been executed.
func (c *respConn) do(deadline time.Time, args ...string) (reply, error) {
	c.c.SetDeadline(deadline)
	fmt.Fprintf(c.w, "*%d\r\n", len(args))
	for _, a := range args {
		fmt.Fprintf(c.w, "$%d\r\n%s\r\n", len(a), a)
	}
	if err := c.w.Flush(); err != nil {
		return reply{}, fmt.Errorf("%w: %v", errNotSent, err)
	}
	return readReply(c.r)
}

func readReply(r *bufio.Reader) (reply, error) {
	line, err := r.ReadString('\n')
	if err != nil {
		return reply{}, err
	}
	if len(line) < 3 || line[len(line)-2] != '\r' {
		return reply{}, fmt.Errorf("testnet: malformed reply %q", line)
	}
	kind, body := line[0], line[1:len(line)-2]
	switch kind {
	case '+', '-':
		return reply{kind: kind, str: body}, nil
	case ':':
		n, err := strconv.ParseInt(body, 10, 64)
		return reply{kind: kind, n: n}, err
	case '$':
		n, err := strconv.Atoi(body)
		if err != nil {
			return reply{}, err
		}
		if n < 0 {
			return reply{kind: kind, null: true}, nil
		}
		buf := make([]byte, n+2)
		if _, err := io.ReadFull(r, buf); err != nil {
			return reply{}, err
		}
		return reply{kind: kind, str: string(buf[:n])}, nil
	case '*':
		n, err := strconv.Atoi(body)
		if err != nil {
			return reply{}, err
		}
		if n < 0 {
			return reply{kind: kind, null: true}, nil
		}
		out := reply{kind: kind, arr: make([]reply, n)}
		for i := range out.arr {
			if out.arr[i], err = readReply(r); err != nil {
				return reply{}, err
			}
		}
		return out, nil
	case '_': // RESP3 null
		return reply{kind: '$', null: true}, nil
	}
	return reply{}, fmt.Errorf("testnet: unknown reply type %q", kind)
}
