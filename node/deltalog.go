package node

import (
	"encoding/binary"
	"math"
	"unsafe"

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
// drains, so an idle node's log costs nothing. The price is encoding a delta on append and
// decoding the few that a repair needs.
//
// A plain register write (one LWW delta, not part of a transaction's unit) is logged as a
// reference: its dot, its timestamp and its key, not its value (45 bytes for a 16-byte key,
// against 150 for a copy of a 100-byte value). A repair re-reads the key from the store: if the
// store still holds that very write (same version and seq), it is sent as it stands; if it left
// the store (expired, evicted, deleted and collected), it is sent as a delete tombstone of its
// version that expired in 1970 — the peer records the dot, drops its own older value if it has
// one (a miss, never a stale value) and stores nothing, exactly what the snapshot sends for
// writes that expired here (expired.go); if a newer register write superseded it, as the same
// tombstone stamped at time zero, which only records the dot: the newer version is a dot of its
// own (resolveRef says why). Units, counters, collections and flush markers, whose deltas are not
// the key's whole state, are logged as copies.
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

// A record is a fixed header (length of the body, with refBit set for a reference; writer
// replica; seq), so that dropping and filtering never decode, followed by the body: the delta as
// crdt.AppendDelta writes it, or for a reference the version's timestamp and the key.
const (
	recHeader  = 4 + 8 + 8
	refBit     = 1 << 31
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

// add logs the deltas of one write: a reference for a plain register write, copies otherwise
// (a transaction's unit, which must be sent whole, a counter, a collection, a flush marker).
func (l *deltaLog) add(ds []crdt.Delta) {
	if len(ds) == 1 {
		l.addOne(&ds[0])
		return
	}
	for i := range ds {
		l.append(&ds[i])
	}
}

// addOne logs a write that is a single delta.
func (l *deltaLog) addOne(d *crdt.Delta) {
	if d.Entry.Type == crdt.TypeLWW {
		l.appendRef(d)
	} else {
		l.append(d)
	}
}

// appendRef logs d as a reference to the store's entry: its timestamp and key.
func (l *deltaLog) appendRef(d *crdt.Delta) {
	l.scratch = binary.LittleEndian.AppendUint64(l.scratch[:0], uint64(d.Entry.Version.TS))
	l.scratch = append(l.scratch, d.Key...)
	l.put(d, refBit)
}

// append logs a copy of d.
func (l *deltaLog) append(d *crdt.Delta) {
	l.scratch = crdt.AppendDelta(l.scratch[:0], d)
	l.put(d, 0)
}

// put appends the record whose body is in l.scratch, dropping the oldest records to stay under
// the byte bound.
func (l *deltaLog) put(d *crdt.Delta, flag uint32) {
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
	s = binary.LittleEndian.AppendUint32(s, uint32(len(l.scratch))|flag)
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

// record returns the header fields of the record at off in seg, its total length and whether
// it is a reference.
func record(seg []byte, off int) (rep crdt.ReplicaID, seq uint64, size int, ref bool) {
	n := binary.LittleEndian.Uint32(seg[off:])
	rep = crdt.ReplicaID(binary.LittleEndian.Uint64(seg[off+4:]))
	seq = binary.LittleEndian.Uint64(seg[off+12:])
	return rep, seq, recHeader + int(n&^refBit), n&refBit != 0
}

func (l *deltaLog) dropOldest() {
	seg := l.segs[0]
	rep, seq, size, _ := record(seg, l.head)
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

// collect returns a copy of the records whose dots fall in ranges, in apply order: the bytes
// as the log holds them (a reference stays ~45 bytes), so that a repair of a large gap does not
// hold a decoded delta per record while it streams (eachLogged decodes them one write at a
// time, outside the replicator's lock). nil when nothing matches.
func (l *deltaLog) collect(ranges []crdt.Range) []byte {
	if len(ranges) == 0 {
		return nil
	}
	want := map[crdt.ReplicaID][]crdt.Range{}
	for _, r := range ranges {
		want[r.Replica] = append(want[r.Replica], r)
	}
	var out []byte
	for i, seg := range l.segs {
		off := 0
		if i == 0 {
			off = l.head
		}
		for off < len(seg) {
			rep, seq, size, _ := record(seg, off)
			for _, r := range want[rep] {
				if seq >= r.From && seq <= r.To {
					out = append(out, seg[off:off+size]...)
					break
				}
			}
			off += size
		}
	}
	return out
}

// logged is one record as decoded from what collect returned. A reference (ref) carries the
// key, the version and the seq only; its key aliases the collected bytes.
type logged struct {
	crdt.Delta
	ref bool
}

// eachRecord decodes the records in recs (as collect returned them) in order and calls fn with
// each, stopping at fn's first error. A copy the log encoded always decodes; one that did not
// would be a bug in the codec, and is skipped (the peer fetches the dot in its next session).
func eachRecord(recs []byte, fn func(*logged) error) error {
	var lg logged
	for off := 0; off < len(recs); {
		rep, seq, size, ref := record(recs, off)
		body := recs[off+recHeader : off+size]
		off += size
		if ref {
			lg = logged{ref: true, Delta: crdt.Delta{Key: unsafe.String(unsafe.SliceData(body[8:]), len(body)-8),
				Entry: crdt.Entry{Type: crdt.TypeLWW, Seq: seq,
					Version: crdt.Version{TS: crdt.Timestamp(binary.LittleEndian.Uint64(body)), Replica: rep}}}}
		} else if d, _, err := crdt.DecodeDelta(body, logLimits); err == nil {
			lg = logged{Delta: d}
		} else {
			continue
		}
		if err := fn(&lg); err != nil {
			return err
		}
	}
	return nil
}

// eachLogged calls fn with the deltas to send for each write in recs (as collect returned them),
// in order, a transaction's unit whole; ds is reused across calls. A reference becomes the
// store's entry if the store still holds that very write; otherwise (superseded by a newer
// version, expired, evicted, or deleted and collected) a delete tombstone of its dot that expired
// in 1970 (see resolveRef for its version): the peer records the dot and stores nothing.
// It reads the store, so the caller must not hold the replicator's lock.
func (n *Node) eachLogged(recs []byte, fn func(ds []crdt.Delta) error) error {
	var unit []crdt.Delta
	nowMs := n.nowMs()
	err := eachRecord(recs, func(lg *logged) error {
		if lg.ref {
			n.resolveRef(&lg.Delta, nowMs)
		}
		if len(unit) > 0 && unit[0].Entry.Dot() != lg.Entry.Dot() {
			if err := fn(unit); err != nil {
				return err
			}
			unit = unit[:0]
		}
		unit = append(unit, lg.Delta)
		return nil
	})
	if err != nil || len(unit) == 0 {
		return err
	}
	return fn(unit)
}

// resolveRef makes the reference d the delta to send (see eachLogged).
func (n *Node) resolveRef(d *crdt.Delta, nowMs int64) {
	e := &d.Entry
	v, exp, ok := n.store.Peek(d.Key, nowMs)
	if ok && v.ver == e.Version && v.seq == e.Seq && v.typ == crdt.TypeLWW {
		*e = v.entry(exp)
		return
	}
	// Expiry 1: expired on every node whatever its clock.
	e.Flags, e.Expiry = crdt.FlagTombstone, 1
	if ok && v.typ == crdt.TypeLWW && e.Version.Less(v.ver) {
		// Superseded by a register write we hold, which the peer holds or gets as a dot of its
		// own: only the dot is news. Stamped at time zero it loses to anything. At its own
		// version it could drop the peer's older value first and leave a local tombstone at its
		// timestamp, and a floor (a timestamp, no replica id) then refused the newer write when
		// it has the same timestamp and a higher replica id, for good: its dot is then held.
		e.Version.TS = 0
	}
}
