package cluster

import (
	"bytes"
	"context"
	"slices"
	"sync"
	"testing"
	"time"

	pb "github.com/libp2p/go-libp2p-pubsub/pb"
	"github.com/libp2p/go-libp2p/core/peer"
)

func TestEnvelopeRoundTrip(t *testing.T) {
	t.Parallel()
	_, id := newKey(t)
	for _, payload := range [][]byte{nil, {}, []byte("x"), bytes.Repeat([]byte{0xff}, 70000)} {
		b := appendEnvelope(nil, id, 1<<62, payload)
		if len(b) > envelopeHeaderLen(id)+len(payload) {
			t.Fatalf("header longer than bound")
		}
		origin, seq, hdr, got, err := parseEnvelope(b)
		if err != nil || origin != id || seq != 1<<62 || !bytes.Equal(got, payload) || hdr != len(b)-len(payload) {
			t.Fatalf("round trip: %v %v %v %v", origin, seq, len(got), err)
		}
		if messageID(&pb.Message{Data: b}) != string(b[:hdr]) {
			t.Fatal("message id is not the header")
		}
	}
	// Same payload, different seq: different IDs.
	m1 := messageID(&pb.Message{Data: appendEnvelope(nil, id, 1, []byte("p"))})
	m2 := messageID(&pb.Message{Data: appendEnvelope(nil, id, 2, []byte("p"))})
	if m1 == m2 {
		t.Fatal("equal IDs for distinct messages")
	}
}

func TestEnvelopeRejectsMalformed(t *testing.T) {
	t.Parallel()
	_, id := newKey(t)
	good := appendEnvelope(nil, id, 7, []byte("data"))
	bad := [][]byte{
		nil,
		{},
		{2},                // unknown version
		{1},                // no origin length
		{1, 0},             // empty origin
		{1, 100},           // origin longer than the limit
		{1, 5, 'a', 'b'},   // truncated origin
		{1, 1, 'a'},        // missing seq
		{1, 1, 'a', 0x80},  // truncated seq varint
		good[:len(id)/2+2], // cut inside the origin
	}
	for i, b := range bad {
		if _, _, _, _, err := parseEnvelope(b); err == nil {
			t.Errorf("case %d (%x) accepted", i, b)
		}
		if len(messageID(&pb.Message{Data: b})) != 32 {
			t.Errorf("case %d: malformed message not hashed", i)
		}
	}
}

func FuzzParseEnvelope(f *testing.F) {
	f.Add(appendEnvelope(nil, peer.ID("origin"), 42, []byte("payload")))
	f.Add([]byte{1, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01})
	f.Fuzz(func(t *testing.T, b []byte) {
		origin, seq, hdr, payload, err := parseEnvelope(b)
		if err != nil {
			return
		}
		again := appendEnvelope(nil, origin, seq, payload)
		if hdr > len(b) || !bytes.Equal(again[len(again)-len(payload):], payload) {
			t.Fatalf("inconsistent parse of %x", b)
		}
	})
}

func TestNotifierCoalescesAndAlternates(t *testing.T) {
	t.Parallel()
	n := newNotifier()
	var mu sync.Mutex
	got := map[peer.ID][]bool{}
	release := make(chan struct{})
	first := true
	n.add(func(p peer.ID, up bool) {
		if first {
			first = false
			<-release // hold the notifier while changes pile up
		}
		mu.Lock()
		got[p] = append(got[p], up)
		mu.Unlock()
	})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { n.run(ctx); close(done) }()
	defer func() { cancel(); <-done }()

	a, b, c := peer.ID("a"), peer.ID("b"), peer.ID("c")
	n.post(a, true) // delivered, then blocks in the callback
	waitFor(t, 5*time.Second, "first delivery started", func() bool {
		n.mu.Lock()
		defer n.mu.Unlock()
		return len(n.order) == 0
	})
	n.post(a, false) // a: flap down-up while blocked -> false, true
	n.post(a, true)
	n.post(b, true) // b: up-down-up -> true
	n.post(b, false)
	n.post(b, true)
	n.post(c, true) // c: up-down from down -> a flap: true, false
	n.post(c, false)
	close(release)

	want := map[peer.ID][]bool{a: {true, false, true}, b: {true}, c: {true, false}}
	waitFor(t, 5*time.Second, "all deliveries", func() bool {
		mu.Lock()
		defer mu.Unlock()
		return len(got[a]) == 3 && len(got[b]) == 1 && len(got[c]) == 2
	})
	never(t, 50*time.Millisecond, "extra deliveries", func() bool {
		mu.Lock()
		defer mu.Unlock()
		return len(got[a]) > 3 || len(got[b]) > 1 || len(got[c]) > 2
	})
	mu.Lock()
	defer mu.Unlock()
	for p, w := range want {
		if !slices.Equal(got[p], w) {
			t.Errorf("%s: got %v, want %v", p, got[p], w)
		}
	}
}

func TestDialBackoff(t *testing.T) {
	t.Parallel()
	tb := newTable()
	p := peer.ID("p")
	tb.setRecord(p, Record{PeerID: "p"})
	lo, hi := 100*time.Millisecond, 800*time.Millisecond
	all := func(peer.ID) bool { return true }
	now := time.Unix(1000, 0)

	dial, direct := tb.dueDials(now, lo, hi, all)
	if !slices.Equal(dial, []peer.ID{p}) || !slices.Equal(direct, []peer.ID{p}) {
		t.Fatalf("first round: dial %v direct %v", dial, direct)
	}
	if dial, _ := tb.dueDials(now, lo, hi, all); len(dial) != 0 {
		t.Fatal("dialled twice concurrently")
	}
	var gaps []time.Duration
	for range 6 {
		tb.dialDone(p, now)
		next := tb.peers[p].nextDial
		gaps = append(gaps, next.Sub(now))
		if dial, _ := tb.dueDials(next.Add(-time.Millisecond), lo, hi, all); len(dial) != 0 {
			t.Fatal("dialled before the backoff expired")
		}
		now = next
		if dial, _ := tb.dueDials(now, lo, hi, all); len(dial) != 1 {
			t.Fatal("not dialled when due")
		}
	}
	// lo, 2lo, 4lo, hi, hi, hi with ±20% jitter.
	for i, w := range []time.Duration{lo, 2 * lo, 4 * lo, hi, hi, hi} {
		if g := gaps[i]; g < w*8/10 || g > w*12/10 {
			t.Errorf("gap %d = %v, want %v±20%%", i, g, w)
		}
	}
	// A successful ping resets the backoff; a disconnect then redials at once.
	tb.dialDone(p, now)
	tb.setConnected(p, true, now)
	tb.recordPing(p, time.Millisecond, true, now)
	tb.setConnected(p, false, now)
	if dial, _ := tb.dueDials(now, lo, hi, all); len(dial) != 1 {
		t.Fatal("healthy peer not redialled at once after a disconnect")
	}
	// Members that left are not redialled.
	q := peer.ID("q")
	tb.setRecord(q, Record{PeerID: "q", State: StateLeaving})
	if dial, _ := tb.dueDials(now.Add(time.Hour), lo, hi, func(x peer.ID) bool { return x == q }); len(dial) != 0 {
		t.Fatal("dialled a member that left")
	}
	// Filtered peers (self, blocked, not allowed) are never dialled.
	tb.dialDone(p, now)
	if dial, _ := tb.dueDials(now.Add(time.Hour), lo, hi, func(peer.ID) bool { return false }); len(dial) != 0 {
		t.Fatal("dialled a filtered peer")
	}
}

func TestRTTSmoothing(t *testing.T) {
	t.Parallel()
	tb := newTable()
	p := peer.ID("p")
	tb.setConnected(p, true, time.Now())
	tb.recordPing(p, 100*time.Millisecond, true, time.Now())
	if got := tb.peers[p].rtt; got != 100*time.Millisecond {
		t.Fatalf("first sample: %v", got)
	}
	tb.recordPing(p, 200*time.Millisecond, true, time.Now())
	if got := tb.peers[p].rtt; got != 125*time.Millisecond {
		t.Fatalf("EWMA: %v, want 125ms", got)
	}
	tb.recordPing(p, 0, false, time.Now()) // failures do not move it
	if got := tb.peers[p].rtt; got != 125*time.Millisecond {
		t.Fatalf("after failure: %v", got)
	}
}

func TestOutboundQueueBoundedAndCounted(t *testing.T) {
	t.Parallel()
	cfg := testConfig()
	cfg.OutboundQueue = 8
	a := newNode(t, cfg)
	cfg.Join = []string{joinAddr(a)}
	b := newNode(t, cfg)
	waitFor(t, 10*time.Second, "data streams open", func() bool { return gossipReady(a, b) })

	// B's handler is stuck, so A's stream to B fills its flow-control window and A's writer
	// blocks. Publish must not block: A's queue holds 8 messages and the rest are dropped and
	// counted.
	stuck := make(chan struct{})
	t.Cleanup(func() { close(stuck) })
	b.OnMessage(func(peer.ID, []byte) { <-stuck })
	const n = 100
	msg := make([]byte, 32<<10)
	for range n {
		if err := a.Publish(context.Background(), msg); err != nil {
			t.Fatal(err)
		}
	}
	waitFor(t, 10*time.Second, "A's overflow counted", func() bool {
		return a.Stats().DroppedOutbound >= n/2
	})
	if got := a.Stats().Published; got != n {
		t.Fatalf("published %d, want %d", got, n)
	}
}
