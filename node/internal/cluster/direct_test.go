package cluster

import (
	"bufio"
	"bytes"
	"context"
	"encoding/binary"
	"io"
	"sync"
	"testing"
	"time"
)

// frames decodes a data link's queued chunks (uvarint length, message; readDirect's format),
// checking that each chunk fits one yamux message or holds a single larger message.
func frames(t *testing.T, chunks [][]byte) []string {
	t.Helper()
	var out []string
	for _, c := range chunks {
		r := bufio.NewReader(bytes.NewReader(c))
		k := 0
		for {
			n, err := binary.ReadUvarint(r)
			if err == io.EOF {
				break
			}
			if err != nil {
				t.Fatalf("bad frame length: %v", err)
			}
			m := make([]byte, n)
			if _, err := io.ReadFull(r, m); err != nil {
				t.Fatalf("short frame: %v", err)
			}
			out = append(out, string(m))
			k++
		}
		if len(c) > directChunk && k != 1 {
			t.Fatalf("a chunk of %d bytes holds %d messages", len(c), k)
		}
	}
	return out
}

func woken(dp *directPeer) bool {
	select {
	case <-dp.wake:
		return true
	default:
		return false
	}
}

// A data link's queue holds each message as one frame, in publish order, up to its bound; the
// writer takes all of it at once, and is woken only when the queue goes from empty to not.
func TestDirectPeerQueue(t *testing.T) {
	t.Parallel()
	dp := newDirectPeer("", 3, &sync.Pool{})
	if !dp.enqueue([]byte("a")) || !woken(dp) {
		t.Fatal("first message: not queued or no wake-up")
	}
	if !dp.enqueue(make([]byte, 300)) || !dp.enqueue([]byte("c")) {
		t.Fatal("second and third messages refused under the bound")
	}
	if woken(dp) {
		t.Fatal("woken again while the queue was not empty")
	}
	if dp.enqueue([]byte("d")) {
		t.Fatal("fourth message accepted over a bound of 3")
	}
	q, n := dp.take(nil)
	if n != 3 || len(q) != 1 {
		t.Fatalf("took %d messages in %d chunks, want 3 in 1", n, len(q))
	}
	if got := frames(t, q); len(got) != 3 || got[0] != "a" || len(got[1]) != 300 || got[2] != "c" {
		t.Fatalf("frames %q", got)
	}
	// The written chunk is reused for the next message, which wakes the writer again.
	first := &q[0][:1][0]
	dp.recycle(q)
	if !dp.enqueue([]byte("e")) || !woken(dp) {
		t.Fatal("message after a take: not queued or no wake-up")
	}
	q2, n2 := dp.take(q)
	if n2 != 1 {
		t.Fatalf("took %d messages, want 1", n2)
	}
	if !raceEnabled && &q2[0][:1][0] != first {
		t.Fatal("the written chunk was not reused")
	}
	if got := frames(t, q2); len(got) != 1 || got[0] != "e" {
		t.Fatalf("frames %q", got)
	}
	if q3, n3 := dp.take(q2); n3 != 0 || len(q3) != 0 {
		t.Fatalf("empty queue gave %d messages in %d chunks", n3, len(q3))
	}
}

// Messages fill chunks of at most directChunk bytes in order; one larger than a chunk travels
// alone in its own.
func TestDirectPeerChunks(t *testing.T) {
	t.Parallel()
	dp := newDirectPeer("", 1000, &sync.Pool{})
	msg := make([]byte, 10000)
	var want []string
	for i := range 20 {
		msg[0] = byte(i)
		if !dp.enqueue(msg) {
			t.Fatalf("message %d refused", i)
		}
		want = append(want, string(msg))
		if i == 9 {
			big := bytes.Repeat([]byte{'b'}, directChunk+1)
			if !dp.enqueue(big) {
				t.Fatal("large message refused")
			}
			want = append(want, string(big))
		}
	}
	q, n := dp.take(nil)
	if n != 21 {
		t.Fatalf("took %d messages, want 21", n)
	}
	got := frames(t, q)
	if len(got) != len(want) {
		t.Fatalf("%d frames, want %d", len(got), len(want))
	}
	for i := range got {
		if got[i] != want[i] {
			t.Fatalf("frame %d differs (%d bytes, want %d)", i, len(got[i]), len(want[i]))
		}
	}
	// 6 messages of 10 002 bytes fit a chunk: 10 before the large one make 2 chunks, then it,
	// then 10 more in 2.
	if len(q) != 5 {
		t.Fatalf("%d chunks, want 5", len(q))
	}
	dp.recycle(q)
	for i, c := range q {
		if c != nil {
			t.Fatalf("chunk %d still referenced after recycle", i)
		}
	}
}

// A queue holding messages refuses one that would take it over directQueueBytes; an empty
// queue takes a message of any size.
func TestDirectPeerQueueBytes(t *testing.T) {
	t.Parallel()
	dp := newDirectPeer("", 1000, &sync.Pool{})
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

// A publisher that finds a member's queue full waits for the member's writer to take it
// (back-pressure) and then queues its message, in order behind what was queued.
func TestDirectPeerWaitsForRoom(t *testing.T) {
	t.Parallel()
	dp := newDirectPeer("", 1, &sync.Pool{})
	if !dp.enqueue([]byte("a")) {
		t.Fatal("first message refused")
	}
	// Publish's first attempt, then its wait on the room it got, which the take below closes:
	// the publisher surely waits across the take.
	ok, room := dp.enqueueOr([]byte("b"), true)
	if ok || room == nil {
		t.Fatalf("a full queue: queued %v, room to wait for %v; want no and yes", ok, room != nil)
	}
	done := make(chan bool, 1)
	go func() { done <- dp.awaitRoom(context.Background(), []byte("b"), room, time.Hour) }()
	if q, n := dp.take(nil); n != 1 || frames(t, q)[0] != "a" {
		t.Fatalf("took %d messages, want a", n)
	}
	if !<-done {
		t.Fatal("the waiting message was dropped after the writer took the queue")
	}
	if q, n := dp.take(nil); n != 1 || frames(t, q)[0] != "b" {
		t.Fatalf("took %d messages, want b", n)
	}
}

// A member whose writer takes nothing for the whole wait is stalled: the message is dropped,
// and so are the next ones at once, without waiting, until the writer takes the queue.
func TestDirectPeerStalled(t *testing.T) {
	t.Parallel()
	dp := newDirectPeer("", 1, &sync.Pool{})
	dp.enqueue([]byte("a"))
	if enqueueWait(dp, []byte("b"), time.Millisecond) {
		t.Fatal("a message queued over the bound of a member that read nothing")
	}
	if ok, room := dp.enqueueOr([]byte("c"), true); ok || room != nil {
		t.Fatalf("a stalled member: queued %v, asked to wait %v; want neither", ok, room != nil)
	}
	dp.take(nil)
	if dp.stalled {
		t.Fatal("still stalled after the writer took its queue")
	}
	if !enqueueWait(dp, []byte("d"), time.Millisecond) {
		t.Fatal("a message refused by an empty queue")
	}
	// A member that leaves releases its waiting publishers.
	wait := make(chan bool, 1)
	go func() { wait <- enqueueWait(dp, []byte("e"), time.Hour) }()
	close(dp.done)
	if <-wait {
		t.Fatal("a message queued for a member that left")
	}
}

// enqueueWait is what Publish does for one member: enqueue, and wait for room in a full queue
// unless the member is stalled.
func enqueueWait(dp *directPeer, msg []byte, wait time.Duration) bool {
	ok, room := dp.enqueueOr(msg, wait > 0)
	if ok || room == nil {
		return ok
	}
	return dp.awaitRoom(context.Background(), msg, room, wait)
}
