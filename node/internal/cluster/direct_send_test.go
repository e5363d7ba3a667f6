package cluster

import (
	"bufio"
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// fakeStream records what is written to it. hook, when set, decides what one Write does with
// its bytes: how many it takes and the error it returns; it may block.
type fakeStream struct {
	mu     sync.Mutex
	buf    bytes.Buffer
	writes int
	reset  bool
	hook   func(call int, b []byte) (int, error)
	// inline says the deadline set last is a publisher's short one, not the writer's.
	inline bool
}

func (s *fakeStream) Write(b []byte) (int, error) {
	s.mu.Lock()
	s.writes++
	call, hook := s.writes, s.hook
	s.mu.Unlock()
	n, err := len(b), error(nil)
	if hook != nil {
		n, err = hook(call, b)
	}
	s.mu.Lock()
	s.buf.Write(b[:n])
	s.mu.Unlock()
	return n, err
}

func (s *fakeStream) SetWriteDeadline(d time.Time) error {
	s.mu.Lock()
	s.inline = time.Until(d) <= directInlineTimeout
	s.mu.Unlock()
	return nil
}

func (s *fakeStream) inlineWrite() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.inline
}

func (s *fakeStream) Reset() error {
	s.mu.Lock()
	s.reset = true
	s.mu.Unlock()
	return nil
}

// frames decodes the messages written so far; a trailing partial frame is left out.
func (s *fakeStream) frames(t testing.TB) []string {
	t.Helper()
	s.mu.Lock()
	b := bytes.Clone(s.buf.Bytes())
	s.mu.Unlock()
	r := bufio.NewReader(bytes.NewReader(b))
	var out []string
	for {
		n, err := binary.ReadUvarint(r)
		if err != nil {
			return out
		}
		msg := make([]byte, n)
		if _, err := io.ReadFull(r, msg); err != nil {
			return out
		}
		out = append(out, string(msg))
	}
}

// testLink starts a member link whose streams are the given fakes, opened in turn.
func testLink(t *testing.T, queue int, streams ...*fakeStream) (*memberLink, *atomic.Int64) {
	t.Helper()
	var dropped atomic.Int64
	l := newMemberLink("peer", queue, slog.New(slog.NewTextHandler(io.Discard, nil)))
	var opened atomic.Int32
	l.open = func(context.Context) (dataStream, error) {
		i := int(opened.Add(1)) - 1
		if i >= len(streams) {
			return nil, errors.New("no more streams")
		}
		return streams[i], nil
	}
	l.release = func(m *directMsg) { m.refs.Add(-1) }
	l.dropped = func(n int) { dropped.Add(int64(n)) }
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		l.run(ctx)
	}()
	t.Cleanup(func() {
		cancel()
		<-done
	})
	waitWithin(t, 10*time.Second, "stream open", l.isOpen.Load)
	return l, &dropped
}

// send publishes b on l as Cluster.Publish does, and reports whether it was written or queued.
func send(l *memberLink, b string) bool {
	if l.tryWrite([]byte(b)) {
		return true
	}
	m := &directMsg{b: []byte(b)}
	m.refs.Store(1)
	defer m.refs.Add(-1)
	return l.enqueue(m)
}

func msgs(prefix string, n int) []string {
	out := make([]string, n)
	for i := range out {
		out[i] = fmt.Sprintf("%s%d", prefix, i)
	}
	return out
}

// An idle link's message is written by the publisher itself, before Publish returns.
func TestLinkWritesInline(t *testing.T) {
	t.Parallel()
	fs := &fakeStream{}
	l, dropped := testLink(t, 16, fs)
	for i, m := range msgs("m", 5) {
		if !l.tryWrite([]byte(m)) {
			t.Fatalf("message %d not written inline on an idle link", i)
		}
		if got := fs.frames(t); len(got) != i+1 || got[i] != m {
			t.Fatalf("after message %d the stream holds %q", i, got)
		}
	}
	if dropped.Load() != 0 {
		t.Fatalf("%d dropped", dropped.Load())
	}
}

// While a write is under way (here the writer goroutine's, stuck in a slow stream), publishers
// queue behind it; everything arrives once, in publish order.
func TestLinkQueuesBehindBusyWriter(t *testing.T) {
	t.Parallel()
	release := make(chan struct{})
	entered := make(chan struct{})
	fs := &fakeStream{}
	fs.hook = func(call int, b []byte) (int, error) {
		if call == 1 {
			// The first, inline, write takes only 3 bytes before its deadline passes: the
			// writer goroutine must finish it.
			return 3, os.ErrDeadlineExceeded
		}
		if call == 2 {
			close(entered)
			<-release
		}
		return len(b), nil
	}
	l, dropped := testLink(t, 64, fs)
	all := msgs("message-", 20) // longer than the 3 bytes the first write takes
	if !send(l, all[0]) {
		t.Fatal("first message refused")
	}
	<-entered // the writer goroutine is finishing message 0, and stuck
	for _, m := range all[1:] {
		if l.tryWrite([]byte(m)) {
			t.Fatalf("%s written inline while the writer was busy", m)
		}
		if !send(l, m) {
			t.Fatalf("%s refused", m)
		}
	}
	close(release)
	waitWithin(t, 10*time.Second, "all messages written", func() bool { return len(fs.frames(t)) == len(all) })
	if got := fs.frames(t); fmt.Sprint(got) != fmt.Sprint(all) {
		t.Fatalf("stream holds %q, want %q", got, all)
	}
	if dropped.Load() != 0 {
		t.Fatalf("%d dropped", dropped.Load())
	}
	// Idle again: the next message goes inline.
	if !l.tryWrite([]byte("after")) {
		t.Fatal("not inline once the writer was done")
	}
}

// A full queue drops and says so; what was taken still arrives.
func TestLinkQueueBound(t *testing.T) {
	t.Parallel()
	release := make(chan struct{})
	entered := make(chan struct{})
	fs := &fakeStream{}
	fs.hook = func(call int, b []byte) (int, error) {
		if call == 1 {
			return 0, os.ErrDeadlineExceeded
		}
		if call == 2 {
			close(entered)
			<-release
		}
		return len(b), nil
	}
	l, _ := testLink(t, 4, fs)
	send(l, "first")
	<-entered
	var taken []string
	for _, m := range msgs("q", 6) {
		if send(l, m) {
			taken = append(taken, m)
		}
	}
	if len(taken) != 4 {
		t.Fatalf("queue of 4 took %d", len(taken))
	}
	close(release)
	want := append([]string{"first"}, taken...)
	waitWithin(t, 10*time.Second, "queued messages written", func() bool { return len(fs.frames(t)) == len(want) })
	if got := fs.frames(t); fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("stream holds %q, want %q", got, want)
	}
}

// A stream that fails under a publisher's write is reset and a new one opened; the partly
// written message is counted as dropped, and what is published afterwards arrives, in order,
// on the new stream.
func TestLinkReopensAfterFailedWrite(t *testing.T) {
	t.Parallel()
	broken := &fakeStream{}
	broken.hook = func(call int, b []byte) (int, error) {
		if call == 2 {
			return 2, errors.New("connection reset")
		}
		return len(b), nil
	}
	next := &fakeStream{}
	l, dropped := testLink(t, 64, broken, next)
	send(l, "ok")
	send(l, "lost") // fails part-way: the writer resets the stream
	waitWithin(t, 10*time.Second, "stream reset", func() bool {
		broken.mu.Lock()
		defer broken.mu.Unlock()
		return broken.reset
	})
	later := msgs("later", 10)
	for _, m := range later {
		if !send(l, m) {
			t.Fatalf("%s refused", m)
		}
	}
	// The new stream opens at most directRetry after the old one did.
	waitWithin(t, 10*time.Second, "later messages on the new stream", func() bool { return len(next.frames(t)) == len(later) })
	if got := next.frames(t); fmt.Sprint(got) != fmt.Sprint(later) {
		t.Fatalf("new stream holds %q, want %q", got, later)
	}
	if got := broken.frames(t); fmt.Sprint(got) != "[ok]" {
		t.Fatalf("old stream holds %q", got)
	}
	if dropped.Load() != 1 {
		t.Fatalf("dropped %d, want 1 (the message cut by the failure)", dropped.Load())
	}
}

// Publishers on several goroutines, whose writes often time out part-way, lose nothing
// and keep each publisher's order (one writer at a time on the stream).
func TestLinkConcurrentPublishers(t *testing.T) {
	t.Parallel()
	fs := &fakeStream{}
	fs.hook = func(call int, b []byte) (int, error) {
		if call%3 == 0 && fs.inlineWrite() { // the writer's long deadline does not pass
			return len(b) / 2, os.ErrDeadlineExceeded
		}
		return len(b), nil
	}
	l, dropped := testLink(t, 1<<16, fs)
	const pubs, each = 4, 300
	var wg sync.WaitGroup
	for p := range pubs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range each {
				if !send(l, fmt.Sprintf("p%d-%d", p, i)) {
					t.Errorf("p%d-%d refused", p, i)
				}
			}
		}()
	}
	wg.Wait()
	waitWithin(t, 10*time.Second, "every message written", func() bool { return len(fs.frames(t)) == pubs*each })
	next := make([]int, pubs)
	for _, m := range fs.frames(t) {
		var p, i int
		if _, err := fmt.Sscanf(m, "p%d-%d", &p, &i); err != nil {
			t.Fatalf("garbled frame %q", m)
		}
		if i != next[p] {
			t.Fatalf("publisher %d: message %d where %d was expected", p, i, next[p])
		}
		next[p]++
	}
	if dropped.Load() != 0 {
		t.Fatalf("%d dropped", dropped.Load())
	}
}
