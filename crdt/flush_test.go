package crdt

import (
	"bytes"
	"errors"
	"testing"
)

// TestFlushBeforeOrderIndependent: applying a flush floor f before or after joining states
// that hold writes on both sides of f gives identical states, holding only the writes after f;
// a late write stamped at or before f stays out.
func TestFlushBeforeOrderIndependent(t *testing.T) {
	v := func(ts Timestamp, r ReplicaID) Version { return Version{TS: ts, Replica: r} }
	const f = Timestamp(100)
	mk := func() (*Hash, *Hash) {
		a := NewHash(v(10, 1))
		a.MarkFull()
		a.Set(v(10, 1), [2][]byte{[]byte("old"), []byte("1")})
		a.SetExpiry(v(20, 1), 5000)
		b := a.Clone()
		a.Set(v(150, 1), [2][]byte{[]byte("new"), []byte("2")})
		b.Set(v(90, 2), [2][]byte{[]byte("late"), []byte("3")})
		b.Set(v(160, 2), [2][]byte{[]byte("new2"), []byte("4")})
		return a, b
	}
	a1, b1 := mk()
	a1.FlushBefore(f)
	a1.Join(b1) // flush, then a state that never saw it
	a2, b2 := mk()
	a2.Join(b2)
	a2.FlushBefore(f) // join, then flush
	a3, b3 := mk()
	b3.FlushBefore(f)
	a3.FlushBefore(f)
	b3.Join(a3)
	enc := [][]byte{a1.AppendBinary(nil), a2.AppendBinary(nil), b3.AppendBinary(nil)}
	if !bytes.Equal(enc[0], enc[1]) || !bytes.Equal(enc[0], enc[2]) {
		t.Fatalf("flush order changes the state:\n%x\n%x\n%x", enc[0], enc[1], enc[2])
	}
	got := map[string]string{}
	a1.Range(func(k string, v []byte) bool { got[k] = string(v); return true })
	if len(got) != 2 || got["new"] != "2" || got["new2"] != "4" {
		t.Fatalf("after the flush: %v, want new and new2 only", got)
	}
	if a1.Expiry() != 0 {
		t.Fatalf("an expiry written before the flush survived: %d", a1.Expiry())
	}
	late := NewHash(v(10, 1))
	late.Set(v(99, 3), [2][]byte{[]byte("later-arrival"), []byte("5")})
	a1.Join(late)
	if _, ok := a1.Get("later-arrival"); ok {
		t.Fatal("a write stamped before the flush came back")
	}
}

// TestFullFlag: the Full flag survives encoding, element deltas are not full, and joining a
// full state of the same incarnation makes a partial state full; a higher incarnation brings
// its own flag.
func TestFullFlag(t *testing.T) {
	v := func(ts Timestamp) Version { return Version{TS: ts, Replica: 1} }
	s := NewSet(v(1))
	s.MarkFull()
	_, d := s.Add(v(1), "a")
	_, later := s.Add(v(2), "b")
	if d.Full() || later.Full() {
		t.Fatal("an element delta claims to be full")
	}
	enc, err := DecodeSet(s.AppendBinary(nil))
	if err != nil || !enc.Full() || enc.Len() != 2 {
		t.Fatalf("decoded full state: full=%v len=%d err=%v", enc.Full(), enc.Len(), err)
	}
	partial := NewSet(v(1))
	partial.Join(later)
	if partial.Full() {
		t.Fatal("a state built from a delta is full")
	}
	partial.Join(enc)
	if !partial.Full() || partial.Len() != 2 {
		t.Fatalf("after joining the full state: full=%v len=%d", partial.Full(), partial.Len())
	}
	newer := NewSet(v(9))
	newer.Add(v(9), "x")
	partial.Join(newer)
	if partial.Full() || partial.Reset() != v(9) {
		t.Fatalf("a partial higher incarnation replaced a full one but kept full=%v", partial.Full())
	}
	bad := s.AppendBinary(nil)
	bad[1] |= 0x80
	if _, err := DecodeSet(bad); !errors.Is(err, ErrVersion) {
		t.Fatalf("unknown collection flag: %v, want ErrVersion", err)
	}
}
