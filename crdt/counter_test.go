package crdt

import (
	"bytes"
	"errors"
	"math"
	"math/rand/v2"
	"strconv"
	"testing"
)

// sim is a naive cluster of replicas that write one key with SET, DEL, INCRBY and EXPIRE and
// exchange deltas in arbitrary order, with duplicates. Timestamps come from one global
// counter, so a later operation always has a higher version (as the HLC guarantees for a
// write after an observed one).
type sim struct {
	rng    *rand.Rand
	ts     Timestamp
	seq    []uint64
	state  []Entry
	has    []bool
	deltas []Entry
	// The reference: every reset (register write) and every increment with the base it
	// was made on.
	incrs []simIncr
}

type simIncr struct {
	base  Version
	delta int64
}

func newSim(seed uint64, replicas int) *sim {
	return &sim{rng: rand.New(rand.NewPCG(seed, 1)), seq: make([]uint64, replicas),
		state: make([]Entry, replicas), has: make([]bool, replicas)}
}

func (s *sim) stamp(r int) (Version, uint64) {
	s.ts++
	s.seq[r]++
	return Version{TS: s.ts, Replica: ReplicaID(r + 1)}, s.seq[r]
}

func (s *sim) local(r int, full, delta Entry) {
	s.state[r], s.has[r] = full, true
	s.deltas = append(s.deltas, delta)
}

// counterOf returns the counter an increment on r's state starts from, or false for a value
// that is not an integer.
func (s *sim) counterOf(r int) (Counter, bool) {
	e := &s.state[r]
	switch {
	case !s.has[r]:
		return Counter{}, true
	case e.Type == TypeCounter:
		c, err := CounterOf(e)
		if err != nil {
			panic(err)
		}
		return c, true
	case e.Tombstone():
		return Counter{BaseVer: e.Version, ExpVer: e.Version, Expiry: e.Expiry}, true
	}
	v, err := strconv.ParseInt(string(e.Value), 10, 64)
	if err != nil {
		return Counter{}, false
	}
	return Counter{Base: v, BaseVer: e.Version, Expiry: e.Expiry, ExpVer: e.Version}, true
}

func counterEntry(c *Counter, full bool, rep ReplicaID, ver Version, seq uint64) Entry {
	if !full {
		d := c.Only(rep)
		c = &d
	}
	return Entry{Type: TypeCounter, Expiry: c.Expiry, Version: ver, Seq: seq, Value: AppendCounter(nil, c, ver.Replica, seq)}
}

func (s *sim) step() {
	r := s.rng.IntN(len(s.state))
	switch op := s.rng.IntN(10); {
	case op < 4: // INCRBY
		c, ok := s.counterOf(r)
		if !ok {
			return
		}
		ver, seq := s.stamp(r)
		d := int64(s.rng.IntN(21) - 10)
		if _, err := c.Add(ver.Replica, seq, d); err != nil {
			panic(err)
		}
		s.incrs = append(s.incrs, simIncr{base: c.BaseVer, delta: d})
		s.local(r, counterEntry(&c, true, ver.Replica, ver, seq), counterEntry(&c, false, ver.Replica, ver, seq))
	case op == 4: // SET
		ver, seq := s.stamp(r)
		e := Entry{Type: TypeLWW, Version: ver, Seq: seq, Value: []byte(strconv.Itoa(s.rng.IntN(100)))}
		s.local(r, e, e)
	case op == 5: // DEL
		ver, seq := s.stamp(r)
		e := Entry{Type: TypeLWW, Version: ver, Seq: seq, Flags: FlagTombstone, Expiry: 1 << 40}
		s.local(r, e, e)
	case op == 6: // EXPIRE
		if !s.has[r] || s.state[r].Tombstone() {
			return
		}
		ver, seq := s.stamp(r)
		at := int64(s.rng.IntN(1000) + 1)
		if e := s.state[r]; e.Type == TypeLWW {
			e.Version, e.Seq, e.Expiry = ver, seq, at
			s.local(r, e, e)
			return
		}
		c, _ := s.counterOf(r)
		c.Expiry, c.ExpVer = at, ver
		full := counterEntry(&c, true, ver.Replica, ver, seq)
		s.local(r, full, counterEntry(&c, false, ver.Replica, ver, seq))
	default: // deliver a delta, maybe one already delivered
		if len(s.deltas) == 0 {
			return
		}
		s.deliver(r, s.deltas[s.rng.IntN(len(s.deltas))])
	}
}

func (s *sim) deliver(r int, d Entry) {
	s.state[r], _ = Merge(s.state[r], s.has[r], d)
	s.has[r] = true
}

// reference computes the key's value from the history alone: the latest reset (a register
// write, or the base an increment started from) wins; the increments made on it add up.
func (s *sim) reference() string {
	var reset Version
	var val []byte
	var isReg, seen bool
	for i := range s.deltas {
		d := &s.deltas[i]
		v, reg := d.Version, true
		if d.Type == TypeCounter {
			c, _ := CounterOf(d)
			v, reg = c.BaseVer, false
		}
		if !seen || reset.Less(v) || (v == reset && !reg) {
			reset, isReg, seen = v, reg, true
			if reg && !d.Tombstone() {
				val = d.Value
			} else if reg {
				val = nil
			}
		}
	}
	if isReg {
		if val == nil {
			return "<deleted>"
		}
		return string(val)
	}
	var base int64
	for i := range s.deltas {
		if d := &s.deltas[i]; d.Type == TypeCounter {
			if c, _ := CounterOf(d); c.BaseVer == reset {
				base = c.Base
			}
		}
	}
	for _, in := range s.incrs {
		if in.base == reset {
			base += in.delta
		}
	}
	return strconv.FormatInt(base, 10)
}

func valueString(e *Entry) string {
	switch {
	case e.Type == TypeCounter:
		c, err := CounterOf(e)
		if err != nil {
			return "<bad counter: " + err.Error() + ">"
		}
		return string(c.AppendValue(nil))
	case e.Tombstone():
		return "<deleted>"
	}
	return string(e.Value)
}

func sameEntry(a, b Entry) bool {
	return a.Type == b.Type && a.Flags == b.Flags && a.Version == b.Version && a.Seq == b.Seq &&
		a.Expiry == b.Expiry && bytes.Equal(a.Value, b.Value)
}

// TestCounterConvergesToReference runs random histories with concurrent increments, sets,
// deletes and expiries, delivers every delta to every replica in a random order (twice), and
// checks that all replicas hold the same entry and that its value is the reference's.
func TestCounterConvergesToReference(t *testing.T) {
	for seed := uint64(1); seed <= 300; seed++ {
		s := newSim(seed, 3)
		for range 40 {
			s.step()
		}
		if len(s.deltas) == 0 {
			continue
		}
		for r := range s.state {
			for _, i := range append(s.rng.Perm(len(s.deltas)), s.rng.Perm(len(s.deltas))...) {
				s.deliver(r, s.deltas[i])
			}
		}
		want := s.reference()
		for r := range s.state {
			if !sameEntry(s.state[r], s.state[0]) {
				t.Fatalf("seed %d: replica %d holds %+v, replica 0 %+v", seed, r, s.state[r], s.state[0])
			}
			if got := valueString(&s.state[r]); got != want {
				t.Fatalf("seed %d: replica %d value %s, reference %s", seed, r, got, want)
			}
		}
	}
}

// TestCounterMergeLaws checks commutativity, associativity and idempotence of Merge over
// entries drawn from random histories (registers, tombstones, counters and their deltas).
func TestCounterMergeLaws(t *testing.T) {
	for seed := uint64(1); seed <= 100; seed++ {
		s := newSim(seed, 3)
		for range 30 {
			s.step()
		}
		pool := append([]Entry(nil), s.deltas...)
		for r := range s.state {
			if s.has[r] {
				pool = append(pool, s.state[r])
			}
		}
		if len(pool) == 0 {
			continue
		}
		pick := func() Entry { return pool[s.rng.IntN(len(pool))] }
		m := func(a, b Entry) Entry { e, _ := Merge(a, true, b); return e }
		for range 200 {
			a, b, c := pick(), pick(), pick()
			if x, y := m(a, b), m(b, a); !sameEntry(x, y) {
				t.Fatalf("seed %d: not commutative:\n a=%+v\n b=%+v\n ab=%+v\n ba=%+v", seed, a, b, x, y)
			}
			if x, y := m(m(a, b), c), m(a, m(b, c)); !sameEntry(x, y) {
				t.Fatalf("seed %d: not associative:\n (ab)c=%+v\n a(bc)=%+v", seed, x, y)
			}
			if x, out := Merge(a, true, a); !sameEntry(x, a) || out != Duplicate {
				t.Fatalf("seed %d: not idempotent: %+v %s", seed, x, out)
			}
		}
	}
}

func TestCounterCodecRoundTrip(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 7))
	for range 2000 {
		c := Counter{Base: rng.Int64() - math.MaxInt64/2, Expiry: rng.Int64N(1 << 45)}
		if rng.IntN(2) == 0 {
			c.BaseVer = Version{TS: Timestamp(rng.Uint64()), Replica: ReplicaID(rng.Uint64())}
		}
		if rng.IntN(2) == 0 {
			c.ExpVer = Version{TS: Timestamp(rng.Uint64()), Replica: ReplicaID(rng.Uint64())}
		}
		for r := range rng.IntN(5) {
			c.Slots = append(c.Slots, Slot{Replica: ReplicaID(r*3 + 1), Seq: rng.Uint64N(1<<40) + 1, Sum: randSum(rng)})
		}
		writer, seq := ReplicaID(1), uint64(5)
		if len(c.Slots) > 0 && rng.IntN(2) == 0 {
			writer, seq = c.Slots[0].Replica, c.Slots[0].Seq
		}
		e := Entry{Type: TypeCounter, Expiry: c.Expiry, Version: Version{TS: 9, Replica: writer}, Seq: seq,
			Value: AppendCounter(nil, &c, writer, seq)}
		if err := e.Validate(); err != nil {
			t.Fatal(err)
		}
		got, err := CounterOf(&e)
		if err != nil {
			t.Fatal(err)
		}
		if m, changed := MergeCounters(got, c); changed || !bytes.Equal(AppendCounter(nil, &m, writer, seq), e.Value) {
			t.Fatalf("round trip changed %+v into %+v", c, got)
		}
		// The whole entry survives the delta codec too.
		d := Delta{Key: "k", Entry: e}
		back, _, err := DecodeDelta(AppendDelta(nil, &d), Limits{})
		if err != nil || !sameEntry(back.Entry, e) {
			t.Fatalf("delta round trip: %v %+v", err, back.Entry)
		}
	}
}

func TestCounterDeltaIsSmall(t *testing.T) {
	var c Counter
	if _, err := c.Add(42, 1, 1); err != nil {
		t.Fatal(err)
	}
	for r := ReplicaID(100); r < 120; r++ {
		if _, err := c.Add(r, 3, 5); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := c.Add(42, 7, 1); err != nil {
		t.Fatal(err)
	}
	d := c.Only(42)
	v := AppendCounter(nil, &d, 42, 7)
	if len(v) != 4 { // format, bits, slot count, sum (self slot)
		t.Fatalf("delta value of one slot is %d bytes: %x", len(v), v)
	}
	if got, _ := c.Value(); got != 102 {
		t.Fatalf("value %d, want 102", got)
	}
}

func TestCounterOverflow(t *testing.T) {
	c := Counter{Base: math.MaxInt64 - 1}
	if v, err := c.Add(1, 1, 1); err != nil || v != math.MaxInt64 {
		t.Fatalf("Add to max: %d %v", v, err)
	}
	before := AppendCounter(nil, &c, 1, 1)
	if _, err := c.Add(2, 1, 1); !errors.Is(err, ErrOverflow) {
		t.Fatalf("Add past max: %v", err)
	}
	if !bytes.Equal(AppendCounter(nil, &c, 1, 1), before) {
		t.Fatal("a failed Add changed the counter")
	}
	// Concurrent increments may add up past the range: the exact value is still shown.
	a := Counter{Base: math.MaxInt64, Slots: []Slot{{Replica: 1, Seq: 1, Sum: SumOf(5)}}}
	if _, ok := a.Value(); ok {
		t.Fatal("Value reported an overflowed sum as ok")
	}
	if got := string(a.AppendValue(nil)); got != "9223372036854775812" {
		t.Fatalf("AppendValue = %s", got)
	}
}

func TestCounterDecodeRejects(t *testing.T) {
	good := Counter{Slots: []Slot{{Replica: 1, Seq: 1, Sum: SumOf(1)}, {Replica: 2, Seq: 1, Sum: SumOf(1)}}}
	enc := AppendCounter(nil, &good, 9, 9)
	cases := map[string]struct {
		val  []byte
		want error
	}{
		"empty":          {nil, ErrMalformed},
		"newer format":   {[]byte{2, 0, 0}, ErrVersion},
		"unknown bits":   {[]byte{1, 0x80, 0}, ErrVersion},
		"trailing":       {append(append([]byte(nil), enc...), 0), ErrMalformed},
		"truncated":      {enc[:len(enc)-1], ErrMalformed},
		"self no slot":   {[]byte{1, cbSelf, 0}, ErrMalformed},
		"too many slots": {[]byte{1, 0, 0xff, 0xff, 0xff, 0x0f}, ErrTooLarge},
		"unsorted": {AppendCounter(nil, &Counter{Slots: []Slot{{Replica: 2, Seq: 1}, {Replica: 1, Seq: 1}}}, 9, 9),
			ErrMalformed},
		"seq zero": {AppendCounter(nil, &Counter{Slots: []Slot{{Replica: 2, Seq: 0}}}, 9, 9), ErrMalformed},
	}
	for name, tc := range cases {
		e := Entry{Type: TypeCounter, Version: Version{TS: 1, Replica: 9}, Seq: 9, Value: tc.val}
		if err := e.Validate(); !errors.Is(err, tc.want) {
			t.Errorf("%s: Validate = %v, want %v", name, err, tc.want)
		}
	}
	e := Entry{Type: TypeCounter, Flags: FlagTombstone, Value: enc}
	if err := e.Validate(); !errors.Is(err, ErrMalformed) {
		t.Errorf("counter tombstone: %v", err)
	}
}

// FuzzCounterOf feeds arbitrary counter values to the decoder: it must not panic, and what it
// accepts must re-encode to the same bytes (the encoding is canonical) and merge with itself to
// itself.
func FuzzCounterOf(f *testing.F) {
	c := Counter{Base: -3, BaseVer: Version{TS: 5, Replica: 2}, ExpVer: Version{TS: 6, Replica: 3},
		Slots: []Slot{{Replica: 1, Seq: 4, Sum: SumOf(9)}, {Replica: 7, Seq: 1, Sum: Sum{Hi: 3, Lo: 7}}}}
	f.Add(AppendCounter(nil, &c, 1, 4), uint64(1), uint64(4))
	f.Add(AppendCounter(nil, &c, 9, 9), uint64(9), uint64(9))
	f.Add([]byte{1, 0, 0}, uint64(1), uint64(1))
	f.Fuzz(func(t *testing.T, val []byte, writer, seq uint64) {
		e := Entry{Type: TypeCounter, Version: Version{TS: 1, Replica: ReplicaID(writer)}, Seq: seq, Value: val}
		got, err := CounterOf(&e)
		if err != nil {
			return
		}
		if re := AppendCounter(nil, &got, ReplicaID(writer), seq); !bytes.Equal(re, val) {
			// The self bit is optional for a slot that is the writer's, so only the decoded
			// counters must agree.
			e2 := e
			e2.Value = re
			again, err := CounterOf(&e2)
			if err != nil {
				t.Fatalf("re-encoding does not decode: %v", err)
			}
			if _, changed := MergeCounters(got, again); changed {
				t.Fatalf("re-encoding changed %+v into %+v", got, again)
			}
		}
		if m, out := Merge(e, true, e); out != Duplicate || !sameEntry(m, e) {
			t.Fatalf("merge with itself: %s", out)
		}
		_ = got.AppendValue(nil)
	})
}

func randSum(rng *rand.Rand) Sum {
	if rng.IntN(4) == 0 {
		return Sum{Hi: rng.Int64N(5) - 2, Lo: rng.Uint64()}
	}
	return SumOf(rng.Int64() - math.MaxInt64/2)
}

// A replica's own total may leave the int64 range while the value stays in it, as Redis
// allows: MaxInt64, then INCRBY -MaxInt64 twice.
func TestCounterWideSlot(t *testing.T) {
	c := Counter{Base: math.MaxInt64}
	for i, want := range []int64{0, -math.MaxInt64} {
		if v, err := c.Add(1, uint64(i+1), -math.MaxInt64); err != nil || v != want {
			t.Fatalf("step %d: %d %v", i, v, err)
		}
	}
	if _, err := c.Add(1, 3, -2); !errors.Is(err, ErrOverflow) {
		t.Fatalf("past MinInt64: %v", err)
	}
	e := Entry{Type: TypeCounter, Version: Version{TS: 1, Replica: 1}, Seq: 2, Value: AppendCounter(nil, &c, 1, 2)}
	got, err := CounterOf(&e)
	if err != nil {
		t.Fatal(err)
	}
	if v, ok := got.Value(); !ok || v != -math.MaxInt64 || got.Slots[0].Sum.Compare(SumOf(math.MinInt64)) >= 0 {
		t.Fatalf("wide slot round trip: %+v %d %v", got, v, ok)
	}
}
