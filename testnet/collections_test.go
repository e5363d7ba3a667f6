package testnet

import (
	"slices"
	"testing"

	"github.com/geocache/geocache/crdt"
)

var collReset = crdt.Version{TS: 1, Replica: 1}

func hashReg(key string, v crdt.Version, fields ...string) Register {
	h := crdt.NewHash(collReset)
	for i := 0; i < len(fields); i += 2 {
		h.Set(crdt.Version{TS: crdt.Timestamp(10 + i), Replica: 2}, [2][]byte{[]byte(fields[i]), []byte(fields[i+1])})
	}
	h.MarkFull()
	return Register{Key: key, Value: string(h.AppendBinary(nil)), Version: v, Type: "hash"}
}

// setReg encodes a set holding members; churn adds and removes a member first, so that two
// registers of equal content differ in their removed writes (as nodes that collected them at
// different times do).
func setReg(key string, v crdt.Version, churn bool, members ...string) Register {
	s := crdt.NewSet(collReset)
	if churn {
		s.Add(crdt.Version{TS: 5, Replica: 3}, "gone")
		s.Rem("gone")
	}
	s.Add(crdt.Version{TS: 10, Replica: 2}, members...)
	s.MarkFull()
	return Register{Key: key, Value: string(s.AppendBinary(nil)), Version: v, Type: "set"}
}

func zsetReg(key string, v crdt.Version, kv ...any) Register {
	z := crdt.NewZSet(collReset)
	for i := 0; i < len(kv); i += 2 {
		z.Add(crdt.Version{TS: crdt.Timestamp(10 + i), Replica: 2}, kv[i].(string), kv[i+1].(float64))
	}
	z.MarkFull()
	return Register{Key: key, Value: string(z.AppendBinary(nil)), Version: v, Type: "zset"}
}

func collViolations(t *testing.T, ops []Op, regs ...Register) []Violation {
	t.Helper()
	r := Check(CheckInput{Ops: ops, Prefix: "k/", Dumps: []NodeDump{dump("a", regs...), dump("b", regs...)}})
	var out []Violation
	for _, v := range r.Violations {
		if v.Kind != KindCollection {
			t.Fatalf("unexpected violation %v", v)
		}
		out = append(out, v)
	}
	return out
}

// Fields written on different nodes must all be there; each holds its client's last
// acknowledged value or a later one that may have been applied.
func TestCheckerHashFields(t *testing.T) {
	k := HashKey("k/", 0)
	var h hist
	h.add(Op{Node: "a", Client: "a/c0", Kind: OpHSet, Key: k, Member: "a/c0", Value: "a1", Invoke: at(100), Complete: at(101)})
	h.add(Op{Node: "b", Client: "b/c0", Kind: OpHSet, Key: k, Member: "b/c0", Value: "b1", Invoke: at(100), Complete: at(101)})
	h.add(Op{Node: "a", Client: "a/c0", Kind: OpHSet, Key: k, Member: "a/c0", Value: "a2", Invoke: at(200), Complete: at(201), Status: StatusUnknown})
	h.add(Op{Node: "b", Client: "b/c0", Kind: OpHSet, Key: k, Member: "b/c0", Value: "b2", Invoke: at(200), Complete: at(201), Status: StatusFail})
	v := ver(300, 0xa)
	for _, fields := range [][]string{{"a/c0", "a1", "b/c0", "b1"}, {"a/c0", "a2", "b/c0", "b1"}} {
		if got := collViolations(t, h.ops, hashReg(k, v, fields...)); len(got) != 0 {
			t.Fatalf("fields %q: %v", fields, got)
		}
	}
	bad := [][]string{
		{"a/c0", "a1"},                         // b's field lost: the whole hash was last-writer-wins
		{"a/c0", "a1", "b/c0", "b2"},           // a failed write applied
		{"a/c0", "a1", "b/c0", "b1", "x", "y"}, // a field nobody wrote
	}
	for _, fields := range bad {
		if got := collViolations(t, h.ops, hashReg(k, v, fields...)); len(got) != 2 { // once per node
			t.Fatalf("fields %q: want a violation on each node, got %v", fields, got)
		}
	}
}

// Add-wins: an SADD that no SREM could have observed survives; an SREM that observed every
// SADD on its own process removes the member; nothing appears that nobody added.
func TestCheckerSetAddWins(t *testing.T) {
	k := SetKey("k/", 0)
	v := ver(900, 0xa)
	var h hist
	// m: removed on b, then (after the SREM answered) added on a. The SREM could not observe
	// the add, so the add wins even if b's clock runs ahead.
	h.add(Op{Node: "b", Kind: OpSRem, Key: k, Member: "m", Invoke: at(100), Complete: at(101)})
	h.add(Op{Node: "a", Kind: OpSAdd, Key: k, Member: "m", Invoke: at(200), Complete: at(201)})
	// n: added on a, then removed on a: the remove observed the add.
	h.add(Op{Node: "a", Kind: OpSAdd, Key: k, Member: "n", Invoke: at(100), Complete: at(101)})
	h.add(Op{Node: "a", Kind: OpSRem, Key: k, Member: "n", Invoke: at(200), Complete: at(201)})
	// c: added on a and removed on b concurrently: either outcome is fine.
	h.add(Op{Node: "a", Kind: OpSAdd, Key: k, Member: "c", Invoke: at(100), Complete: at(110)})
	h.add(Op{Node: "b", Kind: OpSRem, Key: k, Member: "c", Invoke: at(105), Complete: at(106)})
	for _, members := range [][]string{{"m"}, {"m", "c"}} {
		if got := collViolations(t, h.ops, setReg(k, v, true, members...)); len(got) != 0 {
			t.Fatalf("members %q: %v", members, got)
		}
	}
	for _, members := range [][]string{{"c"}, {"m", "n"}, {"m", "z"}} {
		if got := collViolations(t, h.ops, setReg(k, v, false, members...)); len(got) != 2 {
			t.Fatalf("members %q: want a violation on each node, got %v", members, got)
		}
	}
	// A remove without a reply may run late: then the add is not guaranteed.
	h.ops[0].Status = StatusUnknown
	if got := collViolations(t, h.ops, setReg(k, v, false)); len(got) != 0 {
		t.Fatalf("after an unanswered SREM: %v", got)
	}
}

// Sorted-set increments on every node sum.
func TestCheckerZSetSums(t *testing.T) {
	k := ZSetKey("k/", 0)
	v := ver(900, 0xa)
	var h hist
	h.add(Op{Node: "a", Kind: OpZIncr, Key: k, Member: "m", Delta: 3, Invoke: at(100), Complete: at(101)})
	h.add(Op{Node: "b", Kind: OpZIncr, Key: k, Member: "m", Delta: 4, Invoke: at(100), Complete: at(101)})
	h.add(Op{Node: "b", Kind: OpZIncr, Key: k, Member: "m", Delta: 5, Invoke: at(200), Complete: at(201), Status: StatusUnknown})
	for _, s := range []float64{7, 12} {
		if got := collViolations(t, h.ops, zsetReg(k, v, "m", s)); len(got) != 0 {
			t.Fatalf("score %g: %v", s, got)
		}
	}
	for _, s := range []float64{4, 13} {
		if got := collViolations(t, h.ops, zsetReg(k, v, "m", s)); len(got) != 2 {
			t.Fatalf("score %g: want a violation on each node, got %v", s, got)
		}
	}
	if got := collViolations(t, h.ops, zsetReg(k, v)); len(got) != 2 {
		t.Fatalf("missing member: %v", got)
	}
}

// Agreement compares what clients read, not the encodings: nodes collect removed writes on
// their own schedules. Different content is still divergent.
func TestCheckerCollectionAgreement(t *testing.T) {
	k := SetKey("k/", 0)
	v := ver(900, 0xa)
	var h hist
	h.add(Op{Node: "a", Kind: OpSAdd, Key: k, Member: "m", Invoke: at(100), Complete: at(101), Status: StatusUnknown})
	h.add(Op{Node: "a", Kind: OpSAdd, Key: k, Member: "n", Invoke: at(100), Complete: at(101), Status: StatusUnknown})
	dumps := []NodeDump{dump("a", setReg(k, v, true, "m")), dump("b", setReg(k, v, false, "m"))}
	before := dumps[0].Regs[k].Value
	if r := Check(CheckInput{Ops: h.ops, Prefix: "k/", Dumps: dumps}); !r.OK() {
		t.Fatalf("same members, different metadata: %v", r.Violations)
	}
	if dumps[0].Regs[k].Value != before {
		t.Fatal("Check modified its input")
	}
	dumps[1] = dump("b", setReg(k, v, false, "m", "n"))
	if r := Check(CheckInput{Ops: h.ops, Prefix: "k/", Dumps: dumps}); !slices.Contains(kinds(r), KindDivergent) {
		t.Fatalf("different members not divergent: %v", kinds(r))
	}
}
