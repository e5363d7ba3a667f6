package node

import (
	"bytes"
	"context"
	"encoding/binary"
	"fmt"
	"math/rand/v2"
	"reflect"
	"strconv"
	"testing"
	"time"
	"unsafe"

	"github.com/geocache/geocache/crdt"
)

func logDelta(rep crdt.ReplicaID, seq uint64, key string, valLen int) crdt.Delta {
	val := make([]byte, valLen)
	for i := range val {
		val[i] = byte(seq) + byte(i)
	}
	return crdt.Delta{Key: key, Entry: crdt.Entry{
		Value: val, Expiry: int64(seq) * 7, Seq: seq, Type: crdt.TypeLWW,
		Version: crdt.Version{TS: crdt.Timestamp(seq << 16), Replica: rep},
	}}
}

// sameDelta compares deltas field by field (an empty value decodes as nil).
func sameDelta(a, b *crdt.Delta) bool {
	ea, eb := a.Entry, b.Entry
	return a.Key == b.Key && bytes.Equal(ea.Value, eb.Value) && ea.Expiry == eb.Expiry &&
		ea.Version == eb.Version && ea.Seq == eb.Seq && ea.Type == eb.Type && ea.Flags == eb.Flags
}

// logModel computes the size of the log's records as put encodes them: the header's three
// uvarints (body length and reference bit, writer index, seq difference from the writer's
// previous record) and the body (a copy, or a reference's timestamp difference and key).
type logModel struct {
	idx    map[crdt.ReplicaID]int
	tail   map[crdt.ReplicaID]uint64
	tsTail crdt.Timestamp
}

func newLogModel() *logModel {
	return &logModel{idx: map[crdt.ReplicaID]int{}, tail: map[crdt.ReplicaID]uint64{}}
}

func uvarintLen(v uint64) int { return len(binary.AppendUvarint(nil, v)) }

func zigzagLen(v int64) int { return uvarintLen(uint64(v<<1 ^ v>>63)) }

// size returns the record size of d (as a reference when ref) and, when it fits in maxBytes,
// advances the chains as the log does.
func (m *logModel) size(d *crdt.Delta, ref bool, maxBytes int) int {
	rep := d.Entry.Version.Replica
	if _, ok := m.idx[rep]; !ok {
		m.idx[rep] = len(m.idx)
	}
	body := len(crdt.AppendDelta(nil, d))
	if ref {
		body = zigzagLen(int64(d.Entry.Version.TS-m.tsTail)) + len(d.Key)
	}
	r := uint64(0)
	if ref {
		r = 1
	}
	sz := uvarintLen(uint64(body)<<1|r) + uvarintLen(uint64(m.idx[rep])) +
		zigzagLen(int64(d.Entry.Seq-m.tail[rep])) + body
	if sz <= maxBytes {
		m.tail[rep] = d.Entry.Seq
		if ref {
			m.tsTail = d.Entry.Version.TS
		}
	}
	return sz
}

// collected decodes what l.collect returns for ranges.
func collected(t *testing.T, l *deltaLog, ranges []crdt.Range) []logged {
	t.Helper()
	var out []logged
	if err := eachRecord(l.collect(ranges), func(lg *logged) error {
		out = append(out, *lg)
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	return out
}

// refOf is what collect returns for a delta logged as a reference: key, version and seq.
func refOf(d *crdt.Delta) logged {
	return logged{ref: true, Delta: crdt.Delta{Key: d.Key, Entry: crdt.Entry{Type: crdt.TypeLWW,
		Version: d.Entry.Version, Seq: d.Entry.Seq}}}
}

// TestDeltaLogMatchesReference drives the log and a naive slice model with the same random
// appends (sizes from tiny to larger than a segment) and compares what they hold, what they
// cover and what a repair would collect. The log holds the newest records that fit its bound,
// short of at most the oldest segment it dropped whole: the model keeps every record logged,
// and checks that the log holds a suffix of them that leaves no more room than that.
func TestDeltaLogMatchesReference(t *testing.T) {
	t.Parallel()
	for _, maxBytes := range []int{1 << 10, 64 << 10, 1 << 20} {
		t.Run(strconv.Itoa(maxBytes), func(t *testing.T) {
			t.Parallel()
			rng := rand.New(rand.NewPCG(uint64(maxBytes), 1))
			l := newDeltaLog(maxBytes)
			var ref []logged // every record logged, oldest first
			refDropped := map[crdt.ReplicaID]uint64{}
			refSizes := []int{} // sizes of the records in ref
			droppedTo := 0      // ref[:droppedTo] fell out of the log
			seqs := map[crdt.ReplicaID]uint64{}
			m := newLogModel()
			for i := range 5000 {
				rep := crdt.ReplicaID(1 + rng.IntN(3))
				seqs[rep]++
				size := rng.IntN(64)
				if rng.IntN(50) == 0 {
					size = rng.IntN(2 * l.segSize) // a record larger than a segment, or the log
				}
				if rng.IntN(200) == 0 {
					size = maxBytes - 40 - rng.IntN(100) // about the whole log: drains it, or is refused
				}
				d := logDelta(rep, seqs[rep], "k"+strconv.Itoa(rng.IntN(100)), size)
				if rng.IntN(20) == 0 {
					// Out of order, as a repair applies an older write after newer ones: a
					// negative seq and timestamp difference.
					d.Entry.Seq, d.Entry.Version.TS = d.Entry.Seq/2, d.Entry.Version.TS/2
				}
				want, isRef := logged{Delta: d}, rng.IntN(2) == 0
				if isRef {
					want = refOf(&d)
				}
				sz := m.size(&d, isRef, maxBytes)
				if isRef {
					l.appendRef(&d)
				} else {
					l.append(&d)
				}

				if sz > maxBytes {
					refDropped[rep] = max(refDropped[rep], d.Entry.Seq)
				} else {
					ref, refSizes = append(ref, want), append(refSizes, sz)
				}
				if l.n > len(ref)-droppedTo {
					t.Fatalf("append %d: log holds %d records, %d were logged since it last dropped", i, l.n, len(ref)-droppedTo)
				}
				for ; droppedTo < len(ref)-l.n; droppedTo++ {
					o := ref[droppedTo]
					refDropped[o.Entry.Version.Replica] = max(refDropped[o.Entry.Version.Replica], o.Entry.Seq)
				}
				held := 0
				for _, s := range refSizes[droppedTo:] {
					held += s
				}
				if l.bytes != held || l.bytes > maxBytes {
					t.Fatalf("append %d: log holds %d records in %d bytes, reference %d (bound %d)",
						i, l.n, l.bytes, held, maxBytes)
				}
				// It dropped no more than the segment holding the newest record dropped.
				if droppedTo > 0 && held <= maxBytes-max(l.segSize, refSizes[droppedTo-1]) {
					t.Fatalf("append %d: log holds %d bytes of a %d-byte bound: it dropped more than a segment (%d) too many",
						i, held, maxBytes, l.segSize)
				}
				if i%97 == 0 {
					var all []crdt.Range
					for r, s := range seqs {
						if !reflect.DeepEqual(l.covers(r, 1), refDropped[r] == 0) {
							t.Fatalf("append %d: covers(%d, 1) = %v, reference dropped %d", i, r, l.covers(r, 1), refDropped[r])
						}
						all = append(all, crdt.Range{Replica: r, From: 1, To: s})
					}
					got, kept := collected(t, l, all), ref[droppedTo:]
					if len(got) != len(kept) {
						t.Fatalf("append %d: collect returned %d deltas, reference holds %d", i, len(got), len(kept))
					}
					for j := range got {
						if got[j].ref != kept[j].ref || !sameDelta(&got[j].Delta, &kept[j].Delta) {
							t.Fatalf("append %d: collected delta %d is %+v, want %+v", i, j, got[j], kept[j])
						}
					}
				}
			}
			got := map[crdt.ReplicaID]uint64{}
			for _, w := range l.reps {
				if w.dropped > 0 {
					got[w.id] = w.dropped
				}
			}
			if !reflect.DeepEqual(got, refDropped) {
				t.Fatalf("dropped = %v, want %v", got, refDropped)
			}
		})
	}
}

// TestDeltaLogCollectFilters checks that collect returns exactly the dots in the ranges, in
// apply order, across segment boundaries.
func TestDeltaLogCollectFilters(t *testing.T) {
	t.Parallel()
	l := newDeltaLog(1 << 20)
	for seq := uint64(1); seq <= 3000; seq++ {
		for rep := crdt.ReplicaID(1); rep <= 2; rep++ {
			d := logDelta(rep, seq, "key", 100)
			l.append(&d)
		}
	}
	if len(l.segs) < 2 {
		t.Fatalf("want the records spread over several segments, have %d", len(l.segs))
	}
	got := collected(t, l, []crdt.Range{{Replica: 2, From: 10, To: 12}, {Replica: 1, From: 2999, To: 5000}})
	var dots []crdt.Dot
	for i := range got {
		dots = append(dots, got[i].Entry.Dot())
	}
	want := []crdt.Dot{{Replica: 2, Seq: 10}, {Replica: 2, Seq: 11}, {Replica: 2, Seq: 12},
		{Replica: 1, Seq: 2999}, {Replica: 1, Seq: 3000}}
	if !reflect.DeepEqual(dots, want) {
		t.Fatalf("collect = %v, want %v", dots, want)
	}
	if d := logDelta(2, 11, "key", 100); got[1].ref || !sameDelta(&got[1].Delta, &d) {
		t.Fatalf("collected delta %+v, want %+v", got[1], d)
	}
	if l.collect(nil) != nil {
		t.Fatal("collect(nil) returned deltas")
	}
}

// TestDeltaLogReleasesSegments checks that a draining log does not keep its old segments.
func TestDeltaLogReleasesSegments(t *testing.T) {
	t.Parallel()
	l := newDeltaLog(64 << 10)
	for seq := uint64(1); seq <= 20000; seq++ {
		d := logDelta(1, seq, "key", 50)
		l.append(&d)
	}
	held := 0
	for _, s := range l.segs {
		held += cap(s)
	}
	if held > l.maxBytes+2*l.segSize {
		t.Fatalf("segments hold %d bytes for a %d-byte log (segment %d)", held, l.maxBytes, l.segSize)
	}
	if !l.covers(1, 20000) || l.covers(1, 1) {
		t.Fatalf("covers: want only recent seqs covered, dropped up to %d", l.dropped(1))
	}
}

// TestDeltaLogRecordLargerThanSegmentAfterDrain covers a record larger than a segment that
// drains the whole log first: the drained segment must not stay in front of it.
func TestDeltaLogRecordLargerThanSegmentAfterDrain(t *testing.T) {
	t.Parallel()
	l := newDeltaLog(64 << 10)
	for seq := uint64(1); seq <= 100; seq++ {
		d := logDelta(1, seq, "small", 10)
		l.append(&d)
	}
	big := logDelta(1, 101, "big", 64<<10-60) // only just fits: everything else must go
	l.append(&big)
	if l.n != 1 {
		t.Fatalf("after the big record the log holds %d records, want 1", l.n)
	}
	for seq := uint64(102); seq <= 110; seq++ { // these push the big record out again
		d := logDelta(1, seq, "small", 10)
		l.append(&d)
	}
	got := collected(t, l, []crdt.Range{{Replica: 1, From: 1, To: 200}})
	if len(got) != 9 || got[0].Entry.Seq != 102 || got[8].Entry.Seq != 110 {
		t.Fatalf("collect returned %d deltas (first %v), want seqs 102..110", len(got), got[0].Entry.Seq)
	}
}

// TestLogRepairResolvesReferences heals a partition whose gap the log covers with writes that
// were then overwritten, deleted or expired on the writer: a repair re-reads the store, so the
// peer must get the newest state of every key, no older value, and every dot (no snapshot).
func TestLogRepairResolvesReferences(t *testing.T) {
	t.Parallel()
	net := newMemNet()
	a, b := net.add(t, "a", nil), net.add(t, "b", nil)
	for _, k := range []string{"over", "del", "exp", "same"} {
		mustSet(t, a, k, "before", SetOptions{})
	}
	converged(t, a, b)
	net.partition([]string{"a"}, []string{"b"})
	mustSet(t, a, "over", "first", SetOptions{})
	mustSet(t, a, "over", "second", SetOptions{})
	mustSet(t, a, "del", "gone soon", SetOptions{})
	if _, err := a.Delete(context.Background(), "del"); err != nil {
		t.Fatal(err)
	}
	mustSet(t, a, "exp", "short", SetOptions{TTL: time.Second})
	mustSet(t, a, "same", "after", SetOptions{})
	net.clock(a).Advance(2 * time.Second)
	net.clock(b).Advance(2 * time.Second)
	a.sweep(a.nowMs()) // the expired write leaves the store
	a.repl.mu.Lock()
	logged := collected(t, a.repl.log, []crdt.Range{{Replica: a.ReplicaID(), From: 1, To: 1 << 20}})
	a.repl.mu.Unlock()
	refs := 0
	for _, l := range logged {
		if l.ref {
			refs++
		}
	}
	if refs != len(logged) || refs < 9 {
		t.Fatalf("log holds %d references among %d records, want every plain write as one", refs, len(logged))
	}
	net.heal()
	converged(t, a, b)
	want := map[string]string{"over": "second", "same": "after"}
	for _, k := range []string{"over", "del", "exp", "same"} {
		v, ok := mustGet(t, b, k)
		if w, has := want[k]; ok != has || v != w {
			t.Fatalf("b: %s = %q (present %v), want %q (present %v)", k, v, ok, w, has)
		}
	}
	if st := a.ReplicationStats(); st.SnapshotsSent != 0 {
		t.Fatalf("the log covered the gap, yet %d snapshots were sent", st.SnapshotsSent)
	}
	waitFor(t, func() bool {
		b.repl.mu.Lock()
		defer b.repl.mu.Unlock()
		seq, _ := b.repl.vec.Prefix(a.ReplicaID())
		a.clockMu.Lock()
		defer a.clockMu.Unlock()
		return seq == a.seq
	})
}

// TestEachLoggedGroupsUnits checks that a repair hands a transaction's unit (copies sharing one
// dot) over whole and in order, and each reference alone, resolved against the store: the
// write the store still holds as it stands, a superseded one as an expired delete tombstone of
// its dot stamped at time zero (it loses to anything: see resolveRef).
func TestEachLoggedGroupsUnits(t *testing.T) {
	t.Parallel()
	n, _ := newTestNode(t, nil)
	mustSet(t, n, "k", "old", SetOptions{})
	old, _, _ := n.store.Peek("k", n.nowMs())
	mustSet(t, n, "k", "new", SetOptions{})
	cur, _, _ := n.store.Peek("k", n.nowMs())
	l := newDeltaLog(1 << 20)
	ref := func(v value) crdt.Delta {
		return crdt.Delta{Key: "k", Entry: crdt.Entry{Type: crdt.TypeLWW, Version: v.ver(n.reps), Seq: v.seq()}}
	}
	l.add([]crdt.Delta{ref(old)})
	unit := []crdt.Delta{logDelta(7, 3, "u1", 5), logDelta(7, 3, "u2", 6), logDelta(7, 3, "u3", 7)}
	l.add(unit)
	l.add([]crdt.Delta{ref(cur)})
	var got [][]crdt.Delta
	err := n.eachLogged(l.collect([]crdt.Range{{Replica: 7, From: 1, To: 9}, {Replica: n.replica, From: 1, To: 9}}),
		func(ds []crdt.Delta) error {
			got = append(got, append([]crdt.Delta(nil), ds...))
			return nil
		})
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 3 || len(got[0]) != 1 || len(got[1]) != 3 || len(got[2]) != 1 {
		t.Fatalf("writes handed over: %d (%v)", len(got), got)
	}
	if e := got[0][0].Entry; !e.Tombstone() || e.Expiry != 1 || e.Version != (crdt.Version{Replica: n.reps.id(old.rep())}) || e.Seq != old.seq() {
		t.Fatalf("superseded write sent as %+v, want an expired tombstone of its dot at time zero", e)
	}
	for i := range unit {
		if !sameDelta(&got[1][i], &unit[i]) {
			t.Fatalf("unit delta %d is %+v, want %+v", i, got[1][i], unit[i])
		}
	}
	if e := got[2][0].Entry; e.Tombstone() || string(e.Value) != "new" || e.Version != cur.ver(n.reps) {
		t.Fatalf("current write sent as %+v", e)
	}
}

// TestRepairOfSupersededWriteKeepsNewerTie replays the repair that lost a write in
// TestReplicationConverges: three writes of one key share a timestamp (same millisecond and
// logical counter on three nodes) and differ by replica id, w < v < z. The sender holds z and
// sends v, which z superseded there, from its log; the receiver holds w and lacks z. Whatever
// order v's dot and z arrive in, the receiver must end up holding z: v must not leave a floor
// at the shared timestamp that refuses z (and records z's dot, so no repair asks for it again).
func TestRepairOfSupersededWriteKeepsNewerTie(t *testing.T) {
	t.Parallel()
	s := newMemNet().add(t, "s", nil) // each node alone on its network: the test is the network
	x := newMemNet().add(t, "x", nil)
	ts := crdt.MakeTimestamp(x.nowMs(), 7)
	write := func(rep crdt.ReplicaID, val string) crdt.Delta {
		return crdt.Delta{Key: "k", Entry: crdt.Entry{Type: crdt.TypeLWW, Value: []byte(val), Seq: 1,
			Version: crdt.Version{TS: ts, Replica: rep}}}
	}
	w, v, z := write(1<<40+1, "w"), write(1<<40+2, "v"), write(1<<40+3, "z")
	for _, d := range []crdt.Delta{v, z} {
		if s.repl.applyBatch([]crdt.Delta{d}, true) != 1 {
			t.Fatalf("sender did not apply %+v", d.Entry.Version)
		}
	}
	if x.repl.applyBatch([]crdt.Delta{w}, true) != 1 {
		t.Fatal("receiver did not apply w")
	}
	s.repl.mu.Lock()
	recs := s.repl.log.collect([]crdt.Range{{Replica: v.Entry.Version.Replica, From: 1, To: 1}})
	s.repl.mu.Unlock()
	sent := 0
	if err := s.eachLogged(recs, func(ds []crdt.Delta) error {
		sent += x.repl.applyBatch(ds, false)
		return nil
	}); err != nil || sent != 1 {
		t.Fatalf("repair of v: %d dots sent, err %v", sent, err)
	}
	if x.repl.applyBatch([]crdt.Delta{z}, false) != 1 {
		t.Fatal("receiver did not take z's dot")
	}
	if got, ok := mustGet(t, x, "k"); !ok || got != "z" {
		t.Fatalf("receiver holds %q (present %v), want the newest write z", got, ok)
	}
}

// TestDeltaLogSetLimit shrinks and regrows a full log: it drops its oldest records down to the
// new bound (covers follows), the records left still decode in order through the chains, and
// the bound never leaves [min(minLogBytes, ceiling), ceiling].
func TestDeltaLogSetLimit(t *testing.T) {
	t.Parallel()
	l := newDeltaLog(4 << 20)
	const writes = 200000
	for seq := uint64(1); seq <= writes; seq++ {
		d := logDelta(crdt.ReplicaID(1+seq%3), seq, "key:"+strconv.Itoa(int(seq)), 0)
		if seq%5 == 0 {
			l.append(&d)
		} else {
			l.appendRef(&d)
		}
	}
	if l.bytes > 4<<20 || l.n < writes/2 {
		t.Fatalf("full log: %d records in %d bytes", l.n, l.bytes)
	}
	l.setLimit(64 << 10)
	if l.maxBytes != minLogBytes {
		t.Fatalf("setLimit below the floor: bound %d, want %d", l.maxBytes, minLogBytes)
	}
	l.setLimit(1 << 40)
	if l.maxBytes != 4<<20 {
		t.Fatalf("setLimit above the ceiling: bound %d, want %d", l.maxBytes, 4<<20)
	}
	l.setLimit(minLogBytes)
	if l.bytes > minLogBytes {
		t.Fatalf("after shrinking to %d the log holds %d bytes", minLogBytes, l.bytes)
	}
	first := uint64(writes - l.n + 1) // records were appended in seq order
	for r := crdt.ReplicaID(1); r <= 3; r++ {
		if l.covers(r, first-3) || !l.covers(r, first) {
			t.Fatalf("replica %d: covers up to %d, want from %d (dropped %d)", r, l.dropped(r), first, l.dropped(r))
		}
	}
	got := collected(t, l, []crdt.Range{{Replica: 1, From: 1, To: writes}, {Replica: 2, From: 1, To: writes}, {Replica: 3, From: 1, To: writes}})
	if len(got) != l.n {
		t.Fatalf("collect returned %d records, the log holds %d", len(got), l.n)
	}
	for i := range got {
		seq := first + uint64(i)
		want := logDelta(crdt.ReplicaID(1+seq%3), seq, "key:"+strconv.Itoa(int(seq)), 0)
		if seq%5 != 0 {
			if w := refOf(&want); !got[i].ref || !sameDelta(&got[i].Delta, &w.Delta) {
				t.Fatalf("record %d: %+v, want reference %+v", i, got[i], w)
			}
		} else if got[i].ref || !sameDelta(&got[i].Delta, &want) {
			t.Fatalf("record %d: %+v, want copy %+v", i, got[i], want)
		}
	}
	// A tiny log (as tests make) keeps its own bound as the floor.
	tiny := newDeltaLog(4 << 10)
	if tiny.setLimit(minLogBytes); tiny.maxBytes != 4<<10 {
		t.Fatalf("tiny log raised to %d", tiny.maxBytes)
	}
}

// TestDeltaLogReferenceSize pins the size of a reference to a 16-byte key, the delta log's
// per-write cost in the per-key memory figures (docs/benchmarks.md): ~22 bytes, half the
// fixed-width record's 45.
func TestDeltaLogReferenceSize(t *testing.T) {
	t.Parallel()
	l := newDeltaLog(1 << 20)
	ts := crdt.MakeTimestamp(1_800_000_000_000, 0)
	for seq := uint64(1); seq <= 1000; seq++ {
		d := logDelta(7, seq, "key:"+strconv.FormatInt(int64(100000000000+seq), 10), 0)
		d.Entry.Version.TS = ts + crdt.Timestamp(seq/10)<<16 // ten writes a millisecond
		l.appendRef(&d)
	}
	if per := float64(l.bytes) / float64(l.n); per > 22.5 {
		t.Fatalf("a reference to a 16-byte key takes %.1f bytes", per)
	}
}

// TestDeltaLogReusesSegmentsWhileBoundGrows drives the log the way a loading store does: full,
// while the janitor raises its bound by 1 % at a time (sizeLog follows the data held). The
// segments it allocates over the whole run must stay near what it holds at the end; when every
// small move of the bound changed the segment size, drained segments could not be reused and
// the log allocated ~4 times what it holds here (garbage resident until the next collection).
func TestDeltaLogReusesSegmentsWhileBoundGrows(t *testing.T) {
	t.Parallel()
	l := newDeltaLog(4 << 20)
	l.setLimit(1 << 20)
	seen := map[*byte]int{}
	seq := uint64(0)
	for limit := 1 << 20; limit < 3<<20; limit += limit / 100 {
		l.setLimit(limit)
		for range 5000 {
			seq++
			d := logDelta(1, seq, fmt.Sprintf("key:%012d", seq), 100)
			l.appendRef(&d)
			if last := l.segs[len(l.segs)-1]; cap(last) > 0 {
				seen[unsafe.SliceData(last)] = cap(last)
			}
		}
	}
	allocated, held := 0, 0
	for _, c := range seen {
		allocated += c
	}
	for _, s := range l.segs {
		held += cap(s)
	}
	if !l.covers(1, seq) || l.covers(1, 1) {
		t.Fatalf("covers: the log should hold only recent seqs (dropped up to %d of %d)", l.dropped(1), seq)
	}
	if allocated > 2*held {
		t.Fatalf("the log allocated %d bytes of segments over the run and holds %d (bound %d, segment %d)", allocated, held, l.maxBytes, l.segSize)
	}
	t.Logf("allocated %d bytes of segments, holds %d", allocated, held)
}

// TestDeltaLogRefFastPathEncodesAsPut logs the same references through appendRef (whose common
// case writes a record in place, appendRefFast) and through put alone, and checks that the two
// logs hold the same bytes, summaries and chains: keys of both sides of the fast path's length
// limit, writers beyond its 128, seq and timestamp steps of every size, drops of whole segments.
func TestDeltaLogRefFastPathEncodesAsPut(t *testing.T) {
	t.Parallel()
	rng := rand.New(rand.NewPCG(7, 8))
	fast, slow := newDeltaLog(64<<10), newDeltaLog(64<<10)
	fastHits := 0
	seqs := map[crdt.ReplicaID]uint64{}
	for i := range 20000 {
		rep := crdt.ReplicaID(1 + rng.IntN(3))
		if rng.IntN(10) == 0 {
			rep = crdt.ReplicaID(1 + rng.IntN(200)) // writers beyond a one-byte index
		}
		seqs[rep] += 1 + uint64(rng.IntN(2))*uint64(rng.IntN(200)) // steps of 1 and of up to 200
		key := "key:" + strconv.Itoa(rng.IntN(1000))
		if rng.IntN(8) == 0 {
			key += string(bytes.Repeat([]byte("x"), 40+rng.IntN(40))) // around the 64-byte body
		}
		d := logDelta(rep, seqs[rep], key, 0)
		d.Entry.Version.TS = crdt.Timestamp(uint64(i)<<16 + uint64(rng.IntN(3)))
		if rng.IntN(20) == 0 {
			d.Entry.Version.TS /= 2 // out of order: a negative timestamp step
		}
		n := fast.n
		tsz := zigzagOf(int64(d.Entry.Version.TS - fast.tsTail))
		if fast.appendRefFast(&d, tsz) {
			fast.tsTail = d.Entry.Version.TS
			fastHits++
		} else {
			fast.appendRef(&d)
		}
		if fast.n == n {
			t.Fatalf("write %d not logged", i)
		}
		var tsb [binary.MaxVarintLen64]byte
		if slow.put(&d, true, appendZigzag(tsb[:0], int64(d.Entry.Version.TS-slow.tsTail)), d.Key) {
			slow.tsTail = d.Entry.Version.TS
		}
		if !reflect.DeepEqual(fast.segs, slow.segs) || !reflect.DeepEqual(fast.sums, slow.sums) ||
			!reflect.DeepEqual(fast.reps, slow.reps) || fast.n != slow.n || fast.bytes != slow.bytes ||
			fast.head != slow.head || fast.tsTail != slow.tsTail || fast.tsHead != slow.tsHead {
			t.Fatalf("write %d (key %d bytes, writer %d, seq %d): the logs differ", i, len(key), rep, seqs[rep])
		}
	}
	if fastHits < 10000 || fastHits == 20000 {
		t.Fatalf("fast path took %d of 20000 writes: the test does not cover both paths", fastHits)
	}
}
