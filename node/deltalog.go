package node

import (
	"encoding/binary"
	"math"

	"github.com/geocache/geocache/crdt"
)

// deltaLog is a bytes-bounded FIFO of the deltas this node applied (its own and its peers'),
// in apply order. Anti-entropy serves a peer's gap from it when it still holds the gap, so the
// cost of a repair scales with the difference, not the data set. Not safe for concurrent use:
// the replicator guards it.
//
// The log holds encoded records in byte segments rather than crdt.Delta values: a log of
// hundreds of thousands of deltas then holds no pointers, so the garbage collector never scans
// it and appending never copies it to grow, which is what made a replicating node's writes cost
// about twice a standalone node's. Segments are allocated as the log fills and released as it
// drains, so an idle node's log costs nothing. The price is encoding a delta on append (a copy
// of its key and value) and decoding the few that a repair needs.
type deltaLog struct {
	maxBytes int
	segSize  int      // size of a normal segment; a larger record gets a segment of its own
	segs     [][]byte // oldest first; a segment's length is the bytes written to it
	head     int      // offset of the oldest record in segs[0]
	n        int      // records held
	bytes    int      // bytes of records held, headers included: the bound's measure
	spare    []byte   // one drained segment kept for reuse
	scratch  []byte   // encoding buffer
	// dropped is, per replica, the highest seq that fell out of the log: the log covers a
	// replica's seqs above it (those this node applied).
	dropped map[crdt.ReplicaID]uint64
}

// A record is a fixed header (length of the encoded delta, writer replica, seq), so that
// dropping and filtering never decode, followed by the delta as crdt.AppendDelta writes it.
const (
	recHeader  = 4 + 8 + 8
	maxSegment = 1 << 20
	minSegment = 4 << 10
)

// logLimits decode what the log itself encoded: the node's limits were checked before.
var logLimits = crdt.Limits{MaxKey: math.MaxInt32, MaxValue: math.MaxInt32, MaxCollection: math.MaxInt32}

func newDeltaLog(maxBytes int) *deltaLog {
	return &deltaLog{
		maxBytes: maxBytes,
		segSize:  min(max(maxBytes/16, minSegment), maxSegment),
		dropped:  map[crdt.ReplicaID]uint64{},
	}
}

// append adds d, dropping the oldest deltas to stay under the byte bound.
func (l *deltaLog) append(d *crdt.Delta) {
	l.scratch = crdt.AppendDelta(l.scratch[:0], d)
	sz := recHeader + len(l.scratch)
	if sz > l.maxBytes {
		l.markDropped(d.Entry.Version.Replica, d.Entry.Seq)
		return
	}
	for l.n > 0 && l.bytes+sz > l.maxBytes {
		l.dropOldest()
	}
	last := len(l.segs) - 1
	if last >= 0 && len(l.segs[last]) == 0 && cap(l.segs[last]) < sz {
		// The log drained into an empty segment too small for this record: a record must
		// never sit behind an empty segment (dropOldest reads at the front).
		l.release(l.segs[last])
		l.segs = l.segs[:last]
		last--
	}
	if last < 0 || cap(l.segs[last])-len(l.segs[last]) < sz {
		l.segs = append(l.segs, l.newSegment(sz))
		last++
	}
	s := l.segs[last]
	s = binary.LittleEndian.AppendUint32(s, uint32(len(l.scratch)))
	s = binary.LittleEndian.AppendUint64(s, uint64(d.Entry.Version.Replica))
	s = binary.LittleEndian.AppendUint64(s, d.Entry.Seq)
	l.segs[last] = append(s, l.scratch...)
	l.n++
	l.bytes += sz
	if cap(l.scratch) > l.segSize {
		l.scratch = nil // do not keep a huge value's buffer
	}
}

func (l *deltaLog) newSegment(need int) []byte {
	if need <= l.segSize {
		if s := l.spare; s != nil {
			l.spare = nil
			return s[:0]
		}
		return make([]byte, 0, l.segSize)
	}
	return make([]byte, 0, need)
}

// release keeps a drained normal-sized segment for reuse.
func (l *deltaLog) release(seg []byte) {
	if cap(seg) == l.segSize {
		l.spare = seg
	}
}

// record returns the header fields of the record at off in seg and its total length.
func record(seg []byte, off int) (rep crdt.ReplicaID, seq uint64, size int) {
	n := int(binary.LittleEndian.Uint32(seg[off:]))
	rep = crdt.ReplicaID(binary.LittleEndian.Uint64(seg[off+4:]))
	seq = binary.LittleEndian.Uint64(seg[off+12:])
	return rep, seq, recHeader + n
}

func (l *deltaLog) dropOldest() {
	seg := l.segs[0]
	rep, seq, size := record(seg, l.head)
	l.markDropped(rep, seq)
	l.head += size
	l.bytes -= size
	l.n--
	if l.head < len(seg) {
		return
	}
	l.head = 0
	if len(l.segs) == 1 {
		l.segs[0] = seg[:0] // the only segment is also the tail: reuse it in place
		return
	}
	l.release(seg)
	l.segs[0] = nil
	l.segs = l.segs[1:]
}

func (l *deltaLog) markDropped(r crdt.ReplicaID, seq uint64) {
	if seq > l.dropped[r] {
		l.dropped[r] = seq
	}
}

// covers reports whether every seq of replica r from 'from' on that this node applied is in the
// log.
func (l *deltaLog) covers(r crdt.ReplicaID, from uint64) bool { return from > l.dropped[r] }

// collect returns the logged deltas whose dots fall in ranges, in apply order.
func (l *deltaLog) collect(ranges []crdt.Range) []crdt.Delta {
	if len(ranges) == 0 {
		return nil
	}
	want := map[crdt.ReplicaID][]crdt.Range{}
	for _, r := range ranges {
		want[r.Replica] = append(want[r.Replica], r)
	}
	var out []crdt.Delta
	for i, seg := range l.segs {
		off := 0
		if i == 0 {
			off = l.head
		}
		for off < len(seg) {
			rep, seq, size := record(seg, off)
			for _, r := range want[rep] {
				if seq >= r.From && seq <= r.To {
					// The log encoded it, so it decodes; a failure would be a bug in the codec,
					// and the peer then fetches the dot again in its next session.
					if d, _, err := crdt.DecodeDelta(seg[off+recHeader:off+size], logLimits); err == nil {
						out = append(out, d)
					}
					break
				}
			}
			off += size
		}
	}
	return out
}
