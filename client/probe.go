package client

import (
	"bufio"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"strconv"
	"strings"
	"time"
)

// prober measures the RTT to one node over its own RESP connection: a
// PING on an established connection, so the sample is one network round
// trip plus the server's turnaround, without dial, handshake, pool or
// retry time (go-redis would add its dial retries and circuit breaker).
// The connection is kept between probes and redialled after any error.
//
// A prober is used by one goroutine at a time: the probe loop.
type prober struct {
	addr     string
	username string
	password string
	tls      *tls.Config
	dialer   func(ctx context.Context, network, addr string) (net.Conn, error) // nil: net.Dialer
	conn     net.Conn
	r        *bufio.Reader
}

// maxReplyLine bounds a reply line read from a node.
const maxReplyLine = 4096

var pingCmd = []byte("*1\r\n$4\r\nPING\r\n")

// ping returns the round trip of one PING, dialling (and authenticating)
// first if there is no connection. timeout bounds the whole probe.
func (p *prober) ping(ctx context.Context, timeout time.Duration) (time.Duration, error) {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	if p.conn == nil {
		if err := p.dial(ctx); err != nil {
			return 0, err
		}
	}
	deadline, _ := ctx.Deadline()
	if err := p.conn.SetDeadline(deadline); err != nil {
		p.close()
		return 0, err
	}
	// A past deadline interrupts the I/O if ctx is cancelled before its
	// deadline (Close of the client).
	conn := p.conn
	stop := context.AfterFunc(ctx, func() { conn.SetDeadline(time.Unix(1, 0)) })
	defer stop()
	start := time.Now()
	if _, err := p.conn.Write(pingCmd); err != nil {
		p.close()
		return 0, err
	}
	line, err := p.readLine()
	rtt := time.Since(start)
	if err != nil {
		p.close()
		return 0, err
	}
	if line != "+PONG" {
		p.close()
		return 0, replyError("PING", line)
	}
	return rtt, nil
}

func (p *prober) dial(ctx context.Context) error {
	var conn net.Conn
	var err error
	if p.dialer != nil {
		conn, err = dialVia(ctx, p.dialer, p.tls, "tcp", p.addr)
	} else if p.tls != nil {
		d := tls.Dialer{Config: p.tls}
		conn, err = d.DialContext(ctx, "tcp", p.addr)
	} else {
		var d net.Dialer
		conn, err = d.DialContext(ctx, "tcp", p.addr)
	}
	if err != nil {
		return err
	}
	p.conn, p.r = conn, bufio.NewReaderSize(conn, maxReplyLine)
	if p.password == "" {
		return nil
	}
	deadline, _ := ctx.Deadline()
	conn.SetDeadline(deadline)
	args := []string{"AUTH", p.password}
	if p.username != "" {
		args = []string{"AUTH", p.username, p.password}
	}
	if _, err := conn.Write(encodeCommand(args...)); err != nil {
		p.close()
		return err
	}
	line, err := p.readLine()
	if err != nil {
		p.close()
		return err
	}
	if line != "+OK" {
		p.close()
		return replyError("AUTH", line)
	}
	return nil
}

func (p *prober) readLine() (string, error) {
	b, err := p.r.ReadSlice('\n')
	if errors.Is(err, bufio.ErrBufferFull) {
		return "", fmt.Errorf("reply line over %d bytes", maxReplyLine)
	}
	if err != nil {
		return "", err
	}
	return strings.TrimSuffix(strings.TrimSuffix(string(b), "\n"), "\r"), nil
}

func (p *prober) close() {
	if p.conn != nil {
		p.conn.Close()
		p.conn, p.r = nil, nil
	}
}

// ReplyError is a node's unexpected answer to a probe, such as a NOAUTH or
// WRONGPASS error.
type ReplyError struct {
	Command string
	Reply   string
}

func (e *ReplyError) Error() string {
	return fmt.Sprintf("client: %s: unexpected reply %q", e.Command, e.Reply)
}

func replyError(cmd, line string) error {
	if len(line) > 200 {
		line = line[:200] + "..."
	}
	return &ReplyError{Command: cmd, Reply: line}
}

func encodeCommand(args ...string) []byte {
	b := []byte("*" + strconv.Itoa(len(args)) + "\r\n")
	for _, a := range args {
		b = append(b, '$')
		b = strconv.AppendInt(b, int64(len(a)), 10)
		b = append(b, "\r\n"...)
		b = append(b, a...)
		b = append(b, "\r\n"...)
	}
	return b
}
