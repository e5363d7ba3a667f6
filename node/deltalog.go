package node

import "github.com/geocache/geocache/crdt"

// deltaLog is a bytes-bounded ring of the deltas this node applied (its own and its peers'),
// in apply order. Anti-entropy serves a peer's gap from it when it still holds the gap, so the
// cost of a repair scales with the difference, not the data set. Not safe for concurrent use:
// the replicator guards it.
type deltaLog struct {
	maxBytes int
	ring     []crdt.Delta // circular: n elements from head, oldest first
	head     int
	n        int
	bytes    int
	// dropped is, per replica, the highest seq that fell out of the log: the log covers a
	// replica's seqs above it (those this node applied).
	dropped map[crdt.ReplicaID]uint64
}

// logEntryOverhead is what a logged delta costs beyond its key and value bytes: its ring slot
// (a crdt.Delta, 80 bytes) plus slack for the ring's doubling. Key and value bytes are charged
// in full even while the store shares them, because the log keeps them alive after an eviction.
const logEntryOverhead = 96

func newDeltaLog(maxBytes int) *deltaLog {
	return &deltaLog{maxBytes: maxBytes, dropped: map[crdt.ReplicaID]uint64{}}
}

func deltaSize(d *crdt.Delta) int { return len(d.Key) + len(d.Entry.Value) + logEntryOverhead }

// append adds d, dropping the oldest deltas to stay under the byte bound.
func (l *deltaLog) append(d crdt.Delta) {
	sz := deltaSize(&d)
	if sz > l.maxBytes {
		l.markDropped(&d)
		return
	}
	for l.n > 0 && l.bytes+sz > l.maxBytes {
		l.dropOldest()
	}
	if l.n == len(l.ring) {
		l.grow()
	}
	l.ring[(l.head+l.n)%len(l.ring)] = d
	l.n++
	l.bytes += sz
}

// grow doubles the ring, keeping apply order.
func (l *deltaLog) grow() {
	ring := make([]crdt.Delta, max(1024, 2*len(l.ring)))
	for i := range l.n {
		ring[i] = l.ring[(l.head+i)%len(l.ring)]
	}
	l.ring, l.head = ring, 0
}

func (l *deltaLog) dropOldest() {
	d := &l.ring[l.head]
	l.bytes -= deltaSize(d)
	l.markDropped(d)
	*d = crdt.Delta{}
	l.head = (l.head + 1) % len(l.ring)
	l.n--
}

func (l *deltaLog) markDropped(d *crdt.Delta) {
	r := d.Entry.Version.Replica
	if d.Entry.Seq > l.dropped[r] {
		l.dropped[r] = d.Entry.Seq
	}
}

// covers reports whether every seq of replica r from 'from' on that this node applied is in the
// log.
func (l *deltaLog) covers(r crdt.ReplicaID, from uint64) bool { return from > l.dropped[r] }

// collect returns the logged deltas whose dots fall in ranges, in apply order.
func (l *deltaLog) collect(ranges []crdt.Range) []crdt.Delta {
	want := map[crdt.ReplicaID][]crdt.Range{}
	for _, r := range ranges {
		want[r.Replica] = append(want[r.Replica], r)
	}
	var out []crdt.Delta
	for i := range l.n {
		d := &l.ring[(l.head+i)%len(l.ring)]
		for _, r := range want[d.Entry.Version.Replica] {
			if d.Entry.Seq >= r.From && d.Entry.Seq <= r.To {
				out = append(out, *d)
				break
			}
		}
	}
	return out
}
