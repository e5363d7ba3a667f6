package main

import (
	"errors"
	"net"
	"testing"
	"time"
)

func TestLimitListener(t *testing.T) {
	t.Parallel()
	inner, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ln := newLimitListener(inner, 2)
	defer ln.Close()
	for range 3 {
		c, err := net.Dial("tcp", inner.Addr().String())
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
	}
	a, err := ln.Accept()
	if err != nil {
		t.Fatal(err)
	}
	b, err := ln.Accept()
	if err != nil {
		t.Fatal(err)
	}
	type result struct {
		c   net.Conn
		err error
	}
	third := make(chan result, 1)
	go func() {
		c, err := ln.Accept()
		third <- result{c, err}
	}()
	// Both slots are taken, so the third connection cannot have been accepted.
	select {
	case r := <-third:
		t.Fatalf("accepted a third connection with a limit of 2: %v", r.err)
	default:
	}
	if n := len(ln.sem); n != 2 {
		t.Fatalf("%d slots taken, want 2", n)
	}
	a.Close()
	a.Close() // a second Close must not free a second slot
	select {
	case r := <-third:
		if r.err != nil {
			t.Fatal(r.err)
		}
		defer r.c.Close()
	case <-time.After(10 * time.Second):
		t.Fatal("closing a connection did not let the waiting Accept proceed")
	}
	if n := len(ln.sem); n != 2 {
		t.Fatalf("%d slots taken after close and accept, want 2", n)
	}
	b.Close()

	// Close releases an Accept waiting for a slot.
	full := newLimitListener(inner, 1)
	c, err := net.Dial("tcp", inner.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	held, err := full.Accept()
	if err != nil {
		t.Fatal(err)
	}
	defer held.Close()
	waiting := make(chan error, 1)
	go func() {
		_, err := full.Accept()
		waiting <- err
	}()
	full.Close()
	full.Close() // idempotent
	select {
	case err := <-waiting:
		if !errors.Is(err, net.ErrClosed) {
			t.Fatalf("Accept after Close: %v, want net.ErrClosed", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Close did not release a waiting Accept")
	}
}
