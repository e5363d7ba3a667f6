package node

import (
	"encoding/binary"
	"math"
	"unsafe"

	"github.com/geocache/geocache/crdt"
	"github.com/geocache/geocache/lru"
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
// decoding the few that a repair needs. A full log drops its oldest segment whole (segSum), so
// it holds between its bound less a segment and its bound.
//
// A plain register write (one LWW delta, not part of a transaction's unit) is logged as a
// reference: its dot, its timestamp and its key, not its value. A repair re-reads the key from
// the store: if the store still holds that very write (same version and seq), it is sent as it
// stands; if it left the store (expired, evicted, deleted and collected), it is sent as a
// delete tombstone of its version that expired in 1970 — the peer records the dot, drops its
// own older value if it has one (a miss, never a stale value) and stores nothing, exactly what
// the snapshot sends for writes that expired here (expired.go); if a newer register write
// superseded it, as the same tombstone stamped at time zero, which only records the dot: the
// newer version is a dot of its own (resolveRef says why). Units, counters, collections and
// flush markers, whose deltas are not the key's whole state, are logged as copies.
//
// Records are delta-encoded against their neighbours (see put): the writer as a small index
// into the log's table of replicas, the seq as the difference from the previous record of the
// same writer, a reference's timestamp as the difference from the previous reference's. A
// reference to a 16-byte key takes ~22 bytes (45 with fixed-width fields). The price is that a
// record decodes only in order from the log's head; collect re-encodes what it returns with
// fixed-width fields, so a repair's records decode on their own.
type deltaLog struct {
	maxBytes int
	ceiling  int      // the bound given to newDeltaLog: setLimit never goes above it
	segSize  int      // size of a normal segment; a larger record gets a segment of its own
	segs     [][]byte // oldest first; a segment's length is the bytes written to it
	sums     []segSum // what each of segs holds, for dropping it whole (dropSegment)
	head     int      // offset of the oldest record in segs[0]
	headRecs int      // records dropped one by one from segs[0] (dropOldest)
	n        int      // records held
	bytes    int      // bytes of records held, headers included: the bound's measure
	spare    []byte   // one drained segment kept for reuse
	spareSum []segRep // the writers table of a dropped segment's summary, kept for reuse
	scratch  []byte   // encoding buffer
	// reps is the table of writers a record's index refers to, repIdx its inverse. A writer
	// stays in the table once logged or marked dropped (its chains and its dropped seq live
	// on): one entry per replica id this process applied writes of.
	reps    []logRep
	repIdx  map[crdt.ReplicaID]uint32
	lastRep uint32 // index rep returned last
	// tsTail is the timestamp of the newest reference appended, tsHead of the newest
	// reference dropped: the bases of the references' timestamp chain at either end.
	tsTail, tsHead crdt.Timestamp
}

// logRep is one writer of the log's table: the seq chain's bases at either end of the log, the
// newest seq appended (tail) and the newest dropped (head), and the highest seq that fell out
// of the log (dropped): the log covers the writer's seqs above it (those this node applied).
type logRep struct {
	id                  crdt.ReplicaID
	tail, head, dropped uint64
}

// segSum sums up one segment as its records are appended, so that the log drops its oldest
// segment whole, without decoding a record (dropSegment): a full log used to drop one record
// per append, decoding its header and following the chains, which was most of a write's cost
// of logging (the oldest segment is also cold in the cache). The log then holds between its
// bound less a segment and its bound.
type segSum struct {
	n      int            // records appended to the segment
	refs   bool           // it holds a reference
	tsTail crdt.Timestamp // the timestamp of its newest reference: the references' chain at its end
	reps   []segRep       // the writers of its records
}

// segRep is one writer's records in a segment: the seq of its last one (the seq chain at the
// segment's end) and its highest seq.
type segRep struct {
	ri        uint32
	tail, max uint64
}

// note records a record of writer ri with seq in the summary.
func (s *segSum) note(ri uint32, seq uint64, ref bool, ts crdt.Timestamp) {
	s.n++
	if ref {
		s.refs, s.tsTail = true, ts
	}
	for i := range s.reps {
		if r := &s.reps[i]; r.ri == ri {
			r.tail, r.max = seq, max(r.max, seq)
			return
		}
	}
	s.reps = append(s.reps, segRep{ri: ri, tail: seq, max: seq})
}

// A record is a header of three uvarints — the body's length shifted left by one with the
// reference bit, the writer's index in reps, the zigzag difference of its seq from the previous
// record of the same writer — so that dropping and filtering never decode a body, followed by
// the body: the delta as crdt.AppendDelta writes it, or for a reference the zigzag difference
// of its timestamp from the previous reference's, then the key.
//
// What collect returns is a sequence of collected records, fixed-width and self-contained: a
// header (length of the body with collRef set for a reference, writer replica, seq) and the
// body, a reference's timestamp being 8 bytes.
const (
	collHeader = 4 + 8 + 8
	collRef    = 1 << 31
	maxSegment = 1 << 20
	minSegment = 4 << 10
)

// logLimits decode what the log itself encoded: the node's limits were checked before.
var logLimits = crdt.Limits{MaxKey: math.MaxInt32, MaxValue: math.MaxInt32, MaxCollection: math.MaxInt32}

func newDeltaLog(maxBytes int) *deltaLog {
	return &deltaLog{
		maxBytes: maxBytes,
		ceiling:  maxBytes,
		segSize:  segSizeFor(min(maxBytes, minLogBytes)),
		repIdx:   map[crdt.ReplicaID]uint32{},
	}
}

// segSizeFor is a sixteenth of maxBytes within [minSegment, maxSegment]. A log's normal segment
// is that of the smallest bound it can be given (64 KiB from a 1 MiB ceiling up; a 16 MiB log
// is 256 of them), and stays that size whatever bound setLimit moves it to: release keeps only
// a segment of the normal size for reuse, and the janitor moves the bound with every change in
// the data held (sizeLog). When the size followed the bound, every move changed it, so while
// the store grew the log reallocated its segments over and over — 16–19 MB of garbage in a
// 1M-key load whose log ends at ~3 MB, resident until the next collection.
func segSizeFor(maxBytes int) int { return min(max(maxBytes/16, minSegment), maxSegment) }

// setLimit moves the bound to n bytes, within [min(minLogBytes, ceiling), ceiling], dropping
// the oldest records if the log holds more.
func (l *deltaLog) setLimit(n int) {
	n = min(max(n, min(minLogBytes, l.ceiling)), l.ceiling)
	if n == l.maxBytes {
		return
	}
	l.maxBytes = n
	for l.n > 0 && l.bytes > l.maxBytes {
		l.dropFront()
	}
}

// sizeLog bounds the log by the data the store holds (logBytesForData), within the bound it
// was made with. The janitor calls it; data is read before taking the lock.
func (r *replicator) sizeLog(data int64) {
	r.mu.Lock()
	r.log.setLimit(logBytesForData(data))
	r.mu.Unlock()
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
	ts := d.Entry.Version.TS
	tsz := zigzagOf(int64(ts - l.tsTail))
	if !l.appendRefFast(d, tsz) {
		var tsb [binary.MaxVarintLen64]byte
		if !l.put(d, true, binary.AppendUvarint(tsb[:0], tsz), d.Key) {
			return
		}
	}
	l.tsTail = ts
}

// appendRefFast is appendRef's common case written in place (its last lines repeat put's
// bookkeeping on purpose: a shared method is not inlined, cost 175, and measured ~4 ns more
// per record in BenchmarkDeltaLogAppendRef): the log has room without
// dropping, its last segment has room, and the record's header fields fit a byte each (a key
// under ~60 bytes with its timestamp, one of the first 128 writers, a seq within 63 of its
// writer's previous record) — nearly every write of a SET flood, on the writer and on a
// receiver. Through put (a header encoded aside, then appended with the body in three
// appends) a reference cost ~250 instructions; it reports false, changing nothing, otherwise.
func (l *deltaLog) appendRefFast(d *crdt.Delta, tsz uint64) bool {
	last := len(l.segs) - 1
	if last < 0 {
		return false
	}
	seg := l.segs[last]
	n := len(seg)
	if cap(seg)-n < 3+binary.MaxVarintLen64+len(d.Key) {
		return false
	}
	ri := l.rep(d.Entry.Version.Replica)
	seq := d.Entry.Seq
	sdz := zigzagOf(int64(seq - l.reps[ri].tail))
	body := binary.PutUvarint(seg[n+3:n+3+binary.MaxVarintLen64], tsz) + len(d.Key)
	sz := 3 + body
	if body >= 64 || ri >= 128 || sdz >= 128 || l.bytes+sz > l.maxBytes {
		return false // what PutUvarint wrote is beyond the segment's length: nothing changed
	}
	seg = seg[:n+sz]
	seg[n], seg[n+1], seg[n+2] = byte(body<<1|1), byte(ri), byte(sdz) // put's header, one byte each
	copy(seg[n+3+body-len(d.Key):], d.Key)
	l.segs[last] = seg
	if ahead := len(seg) + logAhead; ahead < cap(seg) {
		lru.Prefetch(uintptr(unsafe.Pointer(unsafe.SliceData(seg))) + uintptr(ahead))
	}
	l.sums[last].note(ri, seq, true, d.Entry.Version.TS)
	l.reps[ri].tail = seq
	l.n++
	l.bytes += sz
	return true
}

// append logs a copy of d.
func (l *deltaLog) append(d *crdt.Delta) {
	l.scratch = crdt.AppendDelta(l.scratch[:0], d)
	l.put(d, false, l.scratch, "")
	if cap(l.scratch) > segSizeFor(l.maxBytes) {
		l.scratch = nil // do not keep a huge value's buffer
	}
}

// rep returns the index of replica r in the log's table, adding it. Runs of one writer's
// records (a node's own writes, a peer's batch) skip the map.
func (l *deltaLog) rep(r crdt.ReplicaID) uint32 {
	if l.lastRep < uint32(len(l.reps)) && l.reps[l.lastRep].id == r {
		return l.lastRep
	}
	i, ok := l.repIdx[r]
	if !ok {
		i = uint32(len(l.reps))
		l.reps = append(l.reps, logRep{id: r})
		l.repIdx[r] = i
	}
	l.lastRep = i
	return i
}

// put appends the record whose body is body followed by tail, dropping the oldest records to
// stay under the byte bound. It reports whether the record was logged (false: larger than the
// bound).
func (l *deltaLog) put(d *crdt.Delta, ref bool, body []byte, tail string) bool {
	ri := l.rep(d.Entry.Version.Replica)
	seq := d.Entry.Seq
	var hdr [3 * binary.MaxVarintLen64]byte
	h := binary.AppendUvarint(hdr[:0], uint64(len(body)+len(tail))<<1|b2u(ref))
	h = binary.AppendUvarint(h, uint64(ri))
	h = appendZigzag(h, int64(seq-l.reps[ri].tail))
	sz := len(h) + len(body) + len(tail)
	if sz > l.maxBytes {
		l.reps[ri].dropped = max(l.reps[ri].dropped, seq)
		return false
	}
	for l.n > 0 && l.bytes+sz > l.maxBytes {
		l.dropFront()
	}
	last := len(l.segs) - 1
	if last >= 0 && len(l.segs[last]) == 0 && cap(l.segs[last]) < sz {
		// The log drained into an empty segment too small for this record: a record must
		// never sit behind an empty segment (dropOldest reads at the front).
		l.release(l.segs[last])
		l.segs = l.segs[:last]
		l.sums = l.sums[:last]
		last--
	}
	if last < 0 || cap(l.segs[last])-len(l.segs[last]) < sz {
		l.segs = append(l.segs, l.newSegment(sz))
		l.sums = append(l.sums, segSum{reps: l.spareSum})
		l.spareSum = nil
		last++
	}
	seg := append(append(append(l.segs[last], h...), body...), tail...)
	l.segs[last] = seg
	if ahead := len(seg) + logAhead; ahead < cap(seg) {
		lru.Prefetch(uintptr(unsafe.Pointer(unsafe.SliceData(seg))) + uintptr(ahead))
	}
	l.sums[last].note(ri, seq, ref, d.Entry.Version.TS)
	l.reps[ri].tail = seq
	l.n++
	l.bytes += sz
	return true
}

// logAhead is how far past its end put prefetches a segment: the lines the next few records
// will be written to, loaded while this write goes on.
const logAhead = 192

func b2u(b bool) uint64 {
	if b {
		return 1
	}
	return 0
}

func appendZigzag(dst []byte, v int64) []byte { return binary.AppendUvarint(dst, zigzagOf(v)) }

func zigzagOf(v int64) uint64 { return uint64(v<<1 ^ v>>63) }

func zigzag(u uint64) int64 { return int64(u>>1) ^ -int64(u&1) }

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

// rec is one record's header as read from the log, its chain differences resolved.
type rec struct {
	ri   uint32 // writer's index in reps
	seq  uint64
	ref  bool
	body []byte
	size int // header and body
}

// read decodes the header of the record at off in seg; its seq is the difference from the
// previous record of its writer (the caller resolves it against its chain).
func read(seg []byte, off int) (r rec, seqDiff int64) {
	p := seg[off:]
	n, a := binary.Uvarint(p)
	ri, b := binary.Uvarint(p[a:])
	ds, c := binary.Uvarint(p[a+b:])
	h := a + b + c
	body := p[h : h+int(n>>1)]
	return rec{ri: uint32(ri), ref: n&1 != 0, body: body, size: h + len(body)}, zigzag(ds)
}

// dropFront makes room: it drops the oldest segment whole while it is not also the tail, and
// the oldest record otherwise.
func (l *deltaLog) dropFront() {
	if len(l.segs) > 1 {
		l.dropSegment()
	} else {
		l.dropOldest()
	}
}

// dropSegment drops the oldest segment, which is not the tail, whole: its summary moves the
// chains' heads and the writers' dropped seqs past it.
func (l *deltaLog) dropSegment() {
	s := &l.sums[0]
	for _, sr := range s.reps {
		w := &l.reps[sr.ri]
		w.head, w.dropped = sr.tail, max(w.dropped, sr.max)
	}
	if s.refs {
		l.tsHead = s.tsTail
	}
	l.n -= s.n - l.headRecs
	l.bytes -= len(l.segs[0]) - l.head
	l.head, l.headRecs = 0, 0
	l.popSegment()
}

// popSegment removes the oldest segment and its summary, keeping both for reuse.
func (l *deltaLog) popSegment() {
	l.release(l.segs[0])
	l.spareSum = l.sums[0].reps[:0]
	l.segs[0], l.sums[0] = nil, segSum{}
	l.segs, l.sums = l.segs[1:], l.sums[1:]
}

// dropOldest drops the oldest record.
func (l *deltaLog) dropOldest() {
	seg := l.segs[0]
	r, diff := read(seg, l.head)
	w := &l.reps[r.ri]
	w.head += uint64(diff)
	w.dropped = max(w.dropped, w.head)
	if r.ref {
		ts, _ := binary.Uvarint(r.body)
		l.tsHead += crdt.Timestamp(zigzag(ts))
	}
	l.head += r.size
	l.headRecs++
	l.bytes -= r.size
	l.n--
	if l.head < len(seg) {
		return
	}
	l.head, l.headRecs = 0, 0
	if len(l.segs) == 1 {
		l.segs[0] = seg[:0] // the only segment is also the tail: reuse it in place
		l.sums[0] = segSum{reps: l.sums[0].reps[:0]}
		return
	}
	l.popSegment()
}

// markDropped records that replica r's seq is not in the log (applied without being logged).
func (l *deltaLog) markDropped(r crdt.ReplicaID, seq uint64) {
	w := &l.reps[l.rep(r)]
	w.dropped = max(w.dropped, seq)
}

// dropped returns the highest seq of replica r that fell out of the log (0: none).
func (l *deltaLog) dropped(r crdt.ReplicaID) uint64 {
	if i, ok := l.repIdx[r]; ok {
		return l.reps[i].dropped
	}
	return 0
}

// covers reports whether every seq of replica r from 'from' on that this node applied is in the
// log.
func (l *deltaLog) covers(r crdt.ReplicaID, from uint64) bool { return from > l.dropped(r) }

// collect returns the records whose dots fall in ranges, in apply order, as collected records
// (fixed-width, see collHeader; a reference stays ~48 bytes), so that a repair of a large gap
// does not hold a decoded delta per record while it streams (eachLogged decodes them one write
// at a time, outside the replicator's lock). nil when nothing matches.
func (l *deltaLog) collect(ranges []crdt.Range) []byte {
	if len(ranges) == 0 {
		return nil
	}
	want := map[crdt.ReplicaID][]crdt.Range{}
	for _, r := range ranges {
		want[r.Replica] = append(want[r.Replica], r)
	}
	seqs := make([]uint64, len(l.reps)) // the seq chains, walked from the head
	for i := range l.reps {
		seqs[i] = l.reps[i].head
	}
	ts := l.tsHead
	var out []byte
	for i, seg := range l.segs {
		off := 0
		if i == 0 {
			off = l.head
		}
		for off < len(seg) {
			r, diff := read(seg, off)
			off += r.size
			seqs[r.ri] += uint64(diff)
			r.seq = seqs[r.ri]
			body := r.body
			if r.ref {
				d, k := binary.Uvarint(body)
				ts += crdt.Timestamp(zigzag(d))
				body = body[k:]
			}
			id := l.reps[r.ri].id
			for _, rg := range want[id] {
				if r.seq >= rg.From && r.seq <= rg.To {
					out = appendCollected(out, id, r.seq, r.ref, ts, body)
					break
				}
			}
		}
	}
	return out
}

// appendCollected appends one collected record: for a reference, body is its key.
func appendCollected(dst []byte, rep crdt.ReplicaID, seq uint64, ref bool, ts crdt.Timestamp, body []byte) []byte {
	n, flag := uint32(len(body)), uint32(0)
	if ref {
		n, flag = n+8, collRef
	}
	dst = binary.LittleEndian.AppendUint32(dst, n|flag)
	dst = binary.LittleEndian.AppendUint64(dst, uint64(rep))
	dst = binary.LittleEndian.AppendUint64(dst, seq)
	if ref {
		dst = binary.LittleEndian.AppendUint64(dst, uint64(ts))
	}
	return append(dst, body...)
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
		n := binary.LittleEndian.Uint32(recs[off:])
		rep := crdt.ReplicaID(binary.LittleEndian.Uint64(recs[off+4:]))
		seq := binary.LittleEndian.Uint64(recs[off+12:])
		size, ref := collHeader+int(n&^collRef), n&collRef != 0
		body := recs[off+collHeader : off+size]
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
	if ok && v.ver(n.reps) == e.Version && v.seq() == e.Seq && v.typ() == crdt.TypeLWW {
		*e = v.entry(n.reps, exp)
		return
	}
	// Expiry 1: expired on every node whatever its clock.
	e.Flags, e.Expiry = crdt.FlagTombstone, 1
	if ok && v.typ() == crdt.TypeLWW && e.Version.Less(v.ver(n.reps)) {
		// Superseded by a register write we hold, which the peer holds or gets as a dot of its
		// own: only the dot is news. Stamped at time zero it loses to anything. At its own
		// version it could drop the peer's older value first and leave a local tombstone at its
		// timestamp, and a floor (a timestamp, no replica id) then refused the newer write when
		// it has the same timestamp and a higher replica id, for good: its dot is then held.
		e.Version.TS = 0
	}
}
