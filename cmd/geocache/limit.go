package main

import (
	"net"
	"sync"
)

// limitListener bounds the connections accepted from a listener: at most n are open at once,
// and Accept waits for one to close before accepting another, so that further clients queue in
// the kernel's backlog instead of costing the process a goroutine and buffers each. The HTTP
// server has no such bound of its own (the RESP server refuses clients over its MaxClients).
type limitListener struct {
	net.Listener
	sem       chan struct{}
	done      chan struct{} // closed by Close, to release an Accept waiting for a slot
	closeOnce sync.Once
}

func newLimitListener(ln net.Listener, n int) *limitListener {
	return &limitListener{Listener: ln, sem: make(chan struct{}, n), done: make(chan struct{})}
}

// Accept waits for a free slot, then accepts a connection that releases the slot when closed.
func (l *limitListener) Accept() (net.Conn, error) {
	select {
	case l.sem <- struct{}{}:
	case <-l.done:
		return nil, net.ErrClosed
	}
	c, err := l.Listener.Accept()
	if err != nil {
		<-l.sem
		return nil, err
	}
	return &limitConn{Conn: c, release: func() { <-l.sem }}, nil
}

// Close closes the listener and releases a waiting Accept. It is idempotent.
func (l *limitListener) Close() error {
	err := l.Listener.Close()
	l.closeOnce.Do(func() { close(l.done) })
	return err
}

type limitConn struct {
	net.Conn
	once    sync.Once
	release func()
}

// Close closes the connection and frees its slot, once however often it is called.
func (c *limitConn) Close() error {
	err := c.Conn.Close()
	c.once.Do(c.release)
	return err
}
