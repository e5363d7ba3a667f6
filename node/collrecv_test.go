package node

import (
	"context"
	"slices"
	"strings"
	"testing"

	"github.com/geocache/geocache/crdt"
)

// TestReceiveCollKeepsNoBorrowedKey: collection deltas are received with their keys and
// values borrowed from the frame, like registers (TestReceiveKeepsNoBorrowedKey), and merged
// in runs (mergeRun). A new collection, a run merged whole and the janitor's queue of
// collections holding removed writes must keep copies: after each frame's bytes are
// overwritten, the keys, members and fields still read back, and the queue names the set.
func TestReceiveCollKeepsNoBorrowedKey(t *testing.T) {
	t.Parallel()
	src, sent := recordingNode(t)
	ctx := context.Background()
	sadd := func(m string) {
		src.UpdateSet(ctx, "set", true, func(s *crdt.Set, stamp func() crdt.Version) *crdt.Set {
			_, d := s.Add(stamp(), m)
			return d
		})
	}
	for _, m := range []string{"a", "b", "c", "d"} {
		sadd(m) // the first creates the set (a whole state), the rest a run of element deltas
	}
	src.UpdateHash(ctx, "hash", true, func(h *crdt.Hash, stamp func() crdt.Version) *crdt.Hash {
		return h.Set(stamp(), [2][]byte{[]byte("f"), []byte("v")})
	})
	sadd("a") // rewrites a: the replica keeps the replaced write, and queues the set
	src.UpdateSet(ctx, "set", false, func(s *crdt.Set, stamp func() crdt.Version) *crdt.Set {
		stamp()
		_, d := s.Rem("b")
		return d
	})

	deltas := *sent
	n := newMemNet().add(t, "recv", nil)
	var frame []byte
	for _, ds := range [][]crdt.Delta{deltas[:4], deltas[4:]} {
		deliverScribbled(t, n, src.replica, msgDeltas, &frame, ds)
	}
	keys, _, err := n.Scan(ctx, 0, "*", 100)
	if err != nil {
		t.Fatal(err)
	}
	slices.Sort(keys)
	if got := strings.Join(keys, " "); got != "hash set" {
		t.Fatalf("keys %q, want hash set", got)
	}
	if got, want := elemsOf(n.mustColl(t, "set")), "a\nc\nd\n"; got != want {
		t.Fatalf("set holds %q, want %q", got, want)
	}
	if got, want := elemsOf(n.mustColl(t, "hash")), "f=v\n"; got != want {
		t.Fatalf("hash holds %q, want %q", got, want)
	}
	if q := n.tombColls.take(10); !slices.Equal(q, []string{"set"}) {
		t.Fatalf("queue of collections with removed writes %q, want [set]", q)
	}
}

// TestUpdateAtWritesAtTheCallersTime: UpdateSetAt (and its twins) write at the time the caller
// read, as SetBytesAt does (a pipeline reads the clock once): the write's version is not below
// it, though the node's own clock is an hour behind.
func TestUpdateAtWritesAtTheCallersTime(t *testing.T) {
	t.Parallel()
	n, _ := newTestNode(t, nil)
	var got []crdt.Delta
	n.sink = func(d crdt.Delta) { got = append(got, d) }
	ctx := context.Background()
	at := n.nowMs() + 3_600_000
	n.UpdateSetAt(ctx, "s", true, func(s *crdt.Set, stamp func() crdt.Version) *crdt.Set {
		_, d := s.Add(stamp(), "a")
		return d
	}, at)
	n.UpdateHashAt(ctx, "h", true, func(h *crdt.Hash, stamp func() crdt.Version) *crdt.Hash {
		return h.Set(stamp(), [2][]byte{[]byte("f"), []byte("v")})
	}, at)
	n.UpdateZSetAt(ctx, "z", true, func(z *crdt.ZSet, stamp func() crdt.Version) *crdt.ZSet {
		return z.Add(stamp(), "m", 1)
	}, at)
	if len(got) != 3 {
		t.Fatalf("%d writes, want 3", len(got))
	}
	for _, d := range got {
		if ms := d.Entry.Version.TS.Millis(); ms < at {
			t.Errorf("%s written at %d, before the caller's time %d", d.Key, ms, at)
		}
	}
}
