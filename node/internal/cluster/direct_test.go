package cluster

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"io"
	"testing"
)

// frames decodes a data link's queue (uvarint length, message; readDirect's format).
func frames(t *testing.T, b []byte) []string {
	t.Helper()
	r := bufio.NewReader(bytes.NewReader(b))
	var out []string
	for {
		n, err := binary.ReadUvarint(r)
		if err == io.EOF {
			return out
		}
		if err != nil {
			t.Fatalf("bad frame length: %v", err)
		}
		m := make([]byte, n)
		if _, err := io.ReadFull(r, m); err != nil {
			t.Fatalf("short frame: %v", err)
		}
		out = append(out, string(m))
	}
}

// A data link's queue holds each message as one frame, in publish order, up to its bound; the
// writer takes all of it at once, and is woken only when the queue goes from empty to not.
func TestDirectPeerQueue(t *testing.T) {
	t.Parallel()
	dp := newDirectPeer("", 3)
	woken := func() bool {
		select {
		case <-dp.wake:
			return true
		default:
			return false
		}
	}
	if !dp.enqueue([]byte("a")) || !woken() {
		t.Fatal("first message: not queued or no wake-up")
	}
	if !dp.enqueue(make([]byte, 300)) || !dp.enqueue([]byte("c")) {
		t.Fatal("second and third messages refused under the bound")
	}
	if woken() {
		t.Fatal("woken again while the queue was not empty")
	}
	if dp.enqueue([]byte("d")) {
		t.Fatal("fourth message accepted over a bound of 3")
	}
	spare := make([]byte, 0, 64)
	b, n := dp.take(spare)
	if n != 3 {
		t.Fatalf("took %d messages, want 3", n)
	}
	if got := frames(t, b); len(got) != 3 || got[0] != "a" || len(got[1]) != 300 || got[2] != "c" {
		t.Fatalf("frames %q", got)
	}
	// The spare is the new queue: the next message lands in it and wakes the writer again.
	if !dp.enqueue([]byte("e")) || !woken() {
		t.Fatal("message after a take: not queued or no wake-up")
	}
	b2, n2 := dp.take(b)
	if n2 != 1 || &b2[:cap(b2)][0] != &spare[:1][0] {
		t.Fatalf("took %d messages; queue reused the spare: %v", n2, &b2[:cap(b2)][0] == &spare[:1][0])
	}
	if got := frames(t, b2); len(got) != 1 || got[0] != "e" {
		t.Fatalf("frames %q", got)
	}
	if b3, n3 := dp.take(b2); n3 != 0 || len(b3) != 0 {
		t.Fatalf("empty queue gave %d messages, %d bytes", n3, len(b3))
	}
}

// A queue holding messages refuses one that would take it over directQueueBytes; an empty
// queue takes a message of any size.
func TestDirectPeerQueueBytes(t *testing.T) {
	t.Parallel()
	dp := newDirectPeer("", 1000)
	big := make([]byte, directQueueBytes+1)
	if !dp.enqueue(big) {
		t.Fatal("a message over the byte bound refused by an empty queue")
	}
	if dp.enqueue([]byte("x")) {
		t.Fatal("a message accepted over the byte bound")
	}
	if _, n := dp.take(nil); n != 1 {
		t.Fatalf("took %d messages, want 1", n)
	}
	half := make([]byte, directQueueBytes/2)
	if !dp.enqueue(half) || dp.enqueue(half) {
		t.Fatal("two halves of the byte bound (plus framing): want the first only")
	}
}
