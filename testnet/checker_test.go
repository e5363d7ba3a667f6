package testnet

import (
	"fmt"
	"testing"
	"time"

	"github.com/geocache/geocache/crdt"
)

// A synthetic world: node "a" (replica 0xa) and node "b" (replica 0xb), clocks without offset.
var t0 = time.UnixMilli(1_700_000_000_000)

func at(ms int) time.Time { return t0.Add(time.Duration(ms) * time.Millisecond) }

// ver is the version a write stamped at ms on replica r would get.
func ver(ms int, r uint64) crdt.Version {
	return crdt.Version{TS: crdt.MakeTimestamp(at(ms).UnixMilli(), 0), Replica: crdt.ReplicaID(r)}
}

type hist struct{ ops []Op }

func (h *hist) add(o Op) *Op {
	o.ID = len(h.ops) + 1
	if o.Status == "" {
		o.Status = StatusOK
	}
	if o.Inc == 0 {
		o.Inc = 1
	}
	if o.Client == "" {
		o.Client = o.Node + "/c0"
	}
	h.ops = append(h.ops, o)
	return &h.ops[len(h.ops)-1]
}

// set adds an acknowledged SET invoked at ms (completing 1 ms later) with an exact version.
func (h *hist) set(node, key, val string, ms int, rep uint64) *Op {
	return h.add(Op{Node: node, Kind: OpSet, Key: key, Value: val, Invoke: at(ms), Complete: at(ms + 1),
		Version: ver(ms, rep).String()})
}

// del adds an acknowledged DEL that removed a live value (reply 1).
func (h *hist) del(node, key string, ms int) *Op {
	return h.add(Op{Node: node, Kind: OpDel, Key: key, Found: true, Invoke: at(ms), Complete: at(ms + 1)})
}

func (h *hist) get(node, key, val string, ms int) *Op {
	return h.add(Op{Node: node, Kind: OpGet, Key: key, Value: val, Found: val != "", Invoke: at(ms), Complete: at(ms + 1)})
}

func dump(node string, regs ...Register) NodeDump {
	d := NodeDump{Node: node, At: at(10_000), Regs: map[string]Register{}}
	for _, r := range regs {
		d.Regs[r.Key] = r
	}
	return d
}

func live(key, val string, v crdt.Version) Register {
	return Register{Key: key, Value: val, Version: v}
}

func kinds(r CheckResult) []string {
	var out []string
	for _, v := range r.Violations {
		out = append(out, v.Kind)
	}
	return out
}

func TestCheckerAcceptsAConvergedHistory(t *testing.T) {
	var h hist
	h.set("a", "k/1", "a1", 100, 0xa)
	h.set("b", "k/1", "b1", 150, 0xb) // the LWW winner
	h.get("a", "k/1", "a1", 120)
	h.get("a", "k/1", "b1", 400)
	h.set("a", "k/2", "a2", 200, 0xa)
	h.del("b", "k/2", 300)
	h.get("b", "k/2", "", 310)
	h.set("a", "k/3", "a3", 200, 0xa).TTL = time.Second // expired and gone everywhere
	tomb := Register{Key: "k/2", Deleted: true, Version: ver(300, 0xb)}
	in := CheckInput{Ops: h.ops, Prefix: "k/", Dumps: []NodeDump{
		dump("a", live("k/1", "b1", ver(150, 0xb)), tomb),
		dump("b", live("k/1", "b1", ver(150, 0xb)), tomb),
	}}
	r := Check(in)
	if !r.OK() {
		t.Fatalf("violations on a correct history: %v", r.Violations)
	}
	if r.Judged != 3 || r.Keys != 2 || r.AckedWrites != 5 || r.ExactVersions != 4 {
		t.Fatalf("counts %+v", r)
	}
}

func TestCheckerFindsViolations(t *testing.T) {
	tests := []struct {
		name string
		make func(h *hist) []NodeDump
		want string
	}{
		{"divergent", func(h *hist) []NodeDump {
			h.set("a", "k/1", "a1", 100, 0xa)
			h.set("b", "k/1", "b1", 150, 0xb)
			return []NodeDump{dump("a", live("k/1", "a1", ver(100, 0xa))), dump("b", live("k/1", "b1", ver(150, 0xb)))}
		}, KindDivergent},
		{"missing", func(h *hist) []NodeDump {
			h.set("a", "k/1", "a1", 100, 0xa)
			return []NodeDump{dump("a", live("k/1", "a1", ver(100, 0xa))), dump("b")}
		}, KindMissing},
		{"lost write: the later acknowledged write lost", func(h *hist) []NodeDump {
			h.set("a", "k/1", "a1", 100, 0xa)
			h.set("b", "k/1", "b1", 150, 0xb)
			d := live("k/1", "a1", ver(100, 0xa))
			return []NodeDump{dump("a", d), dump("b", d)}
		}, KindLostWrite},
		{"lost write by clock bound (version unknown)", func(h *hist) []NodeDump {
			h.set("a", "k/1", "a1", 100, 0xa)
			h.set("b", "k/1", "b1", 150, 0xb).Version = ""
			d := live("k/1", "a1", ver(100, 0xa))
			return []NodeDump{dump("a", d), dump("b", d)}
		}, KindLostWrite},
		{"resurrected", func(h *hist) []NodeDump {
			h.set("a", "k/1", "a1", 100, 0xa)
			h.del("b", "k/1", 200) // its version is unknown, but at least 200 ms
			d := live("k/1", "a1", ver(100, 0xa))
			return []NodeDump{dump("a", d), dump("b", d)}
		}, KindResurrected},
		{"vanished everywhere", func(h *hist) []NodeDump {
			h.set("a", "k/1", "a1", 100, 0xa)
			return []NodeDump{dump("a"), dump("b")}
		}, KindLostWrite},
		{"phantom value", func(h *hist) []NodeDump {
			h.set("a", "k/1", "a1", 100, 0xa)
			d := live("k/1", "zz", ver(100, 0xa))
			return []NodeDump{dump("a", d), dump("b", d)}
		}, KindPhantom},
		{"failed write visible", func(h *hist) []NodeDump {
			h.set("a", "k/1", "a1", 100, 0xa).Status = StatusFail
			d := live("k/1", "a1", ver(100, 0xa))
			return []NodeDump{dump("a", d), dump("b", d)}
		}, KindPhantom},
		{"expired present", func(h *hist) []NodeDump {
			h.set("a", "k/1", "a1", 100, 0xa).TTL = time.Second
			d := live("k/1", "a1", ver(100, 0xa))
			d.ExpireAtMs = at(1100).UnixMilli()
			return []NodeDump{dump("a", d), dump("b", d)}
		}, KindExpiredPresent},
		{"read your writes: own older write", func(h *hist) []NodeDump {
			w1 := h.set("a", "k/1", "a1", 100, 0xa)
			w1.Version = ""
			w2 := h.set("a", "k/1", "a2", 200, 0xa)
			w2.Version = ""
			h.get("a", "k/1", "a1", 300)
			d := live("k/1", "a2", ver(200, 0xa))
			return []NodeDump{dump("a", d), dump("b", d)}
		}, KindReadYourWrites},
		{"read your writes: older foreign version", func(h *hist) []NodeDump {
			h.set("b", "k/1", "b1", 50, 0xb)
			h.set("a", "k/1", "a1", 100, 0xa)
			h.get("a", "k/1", "b1", 300)
			d := live("k/1", "a1", ver(100, 0xa))
			return []NodeDump{dump("a", d), dump("b", d)}
		}, KindReadYourWrites},
		{"monotonic reads", func(h *hist) []NodeDump {
			h.set("b", "k/1", "b1", 50, 0xb)
			h.set("b", "k/1", "b2", 100, 0xb)
			h.get("a", "k/1", "b2", 300)
			h.get("a", "k/1", "b1", 400)
			d := live("k/1", "b2", ver(100, 0xb))
			return []NodeDump{dump("a", d), dump("b", d)}
		}, KindMonotonic},
		{"monotonic reads: value vanished", func(h *hist) []NodeDump {
			h.set("b", "k/1", "b1", 50, 0xb)
			h.get("a", "k/1", "b1", 300)
			h.get("a", "k/1", "", 400)
			d := live("k/1", "b1", ver(50, 0xb))
			return []NodeDump{dump("a", d), dump("b", d)}
		}, KindMonotonic},
		{"future read", func(h *hist) []NodeDump {
			h.get("a", "k/1", "b1", 30)
			h.set("b", "k/1", "b1", 50, 0xb)
			d := live("k/1", "b1", ver(50, 0xb))
			return []NodeDump{dump("a", d), dump("b", d)}
		}, KindFutureRead},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var h hist
			dumps := tt.make(&h)
			r := Check(CheckInput{Ops: h.ops, Prefix: "k/", Dumps: dumps})
			found := false
			for _, v := range r.Violations {
				if v.Kind == tt.want {
					found = true
					if v.String() == "" || (len(v.Ops) == 0 && len(v.Nodes) == 0) {
						t.Errorf("violation without evidence: %+v", v)
					}
				}
			}
			if !found {
				t.Fatalf("want a %s violation, got %v", tt.want, kinds(r))
			}
		})
	}
}

func TestCheckerDeleteSemantics(t *testing.T) {
	// A DEL that found nothing (reply 0) on an already deleted key is satisfied by a tombstone.
	var h hist
	h.set("a", "k/1", "a1", 100, 0xa)
	h.del("b", "k/1", 200)
	h.del("a", "k/1", 300).Found = false
	tomb := Register{Key: "k/1", Deleted: true, Version: ver(300, 0xa)}
	if r := Check(CheckInput{Ops: h.ops, Prefix: "k/", Dumps: []NodeDump{dump("a", tomb), dump("b", tomb)}}); !r.OK() {
		t.Fatalf("violations: %v", r.Violations)
	}
	// It still wrote a fresh tombstone: a write made elsewhere before it (in real time) must not
	// survive it, even though it answered 0 (the DEL that lost, found by fault injection).
	var h1 hist
	h1.del("a", "k/1", 100)
	h1.set("b", "k/1", "b1", 200, 0xb)
	h1.del("a", "k/1", 300).Found = false
	kept := live("k/1", "b1", ver(200, 0xb))
	r1 := Check(CheckInput{Ops: h1.ops, Prefix: "k/", Dumps: []NodeDump{dump("a", kept), dump("b", kept)}})
	if got := kinds(r1); len(got) != 2 || got[0] != KindResurrected || got[1] != KindResurrected {
		t.Fatalf("want resurrected on both nodes, got %v", got)
	}
	// A DEL that removed a value is a floor: the value may not come back.
	var h2 hist
	h2.set("a", "k/1", "a1", 100, 0xa)
	h2.del("a", "k/1", 200)
	h2.get("a", "k/1", "a1", 300)
	d := live("k/1", "a1", ver(100, 0xa))
	r := Check(CheckInput{Ops: h2.ops, Prefix: "k/", Dumps: []NodeDump{dump("a", d), dump("b", d)}})
	if got := kinds(r); len(got) != 3 || got[0] != KindReadYourWrites || got[1] != KindResurrected {
		t.Fatalf("want read-your-writes and resurrected (x2), got %v", got)
	}
}

func TestCheckerStaleTombstoneUnderAnExpiredWrite(t *testing.T) {
	// A tombstone older than a newer write that expired reads the same as the winner: a note.
	var h hist
	h.set("a", "k/1", "a1", 100, 0xa)
	h.del("a", "k/1", 200)
	h.set("b", "k/1", "b1", 300, 0xb).TTL = time.Second
	tomb := Register{Key: "k/1", Deleted: true, Version: ver(200, 0xa)}
	r := Check(CheckInput{Ops: h.ops, Prefix: "k/", Dumps: []NodeDump{dump("a", tomb), dump("b")}})
	if !r.OK() || len(r.Notes) == 0 {
		t.Fatalf("want no violation and a note: %v %v", r.Violations, r.Notes)
	}
	// A live value under the expired write is a stale read: a violation.
	d := live("k/1", "a1", ver(100, 0xa))
	h.ops = h.ops[:1]
	h.set("b", "k/1", "b1", 300, 0xb).TTL = time.Second
	if r := Check(CheckInput{Ops: h.ops, Prefix: "k/", Dumps: []NodeDump{dump("a", d), dump("b")}}); r.OK() {
		t.Fatal("a stale value under an expired newer write went unnoticed")
	}
}

func TestCheckerExcusesWritesLostWithAKilledProcess(t *testing.T) {
	var h hist
	h.set("a", "k/1", "a1", 100, 0xa)
	h.set("b", "k/1", "b1", 150, 0xb) // acknowledged, then b is killed 500 ms later
	d := live("k/1", "a1", ver(100, 0xa))
	incs := []Incarnation{{Node: "a", N: 1}, {Node: "b", N: 1, End: at(651), Killed: true}}
	in := CheckInput{Ops: h.ops, Prefix: "k/", Dumps: []NodeDump{dump("a", d)}, Incarnations: incs}
	if r := Check(in); !r.OK() || r.Excused != 1 {
		t.Fatalf("a write lost within the settle window must be excused: %v (excused %d)", r.Violations, r.Excused)
	}
	// Killed 10 s later, undisturbed meanwhile: it must have replicated.
	incs[1].End = at(10_151)
	if r := Check(in); r.OK() {
		t.Fatal("a settled write lost with its process went unnoticed")
	}
	// ... unless its node was cut off meanwhile, and killed before it could catch up.
	in.Disturbances = map[string][]Interval{"b": {{Start: at(1000), End: at(3000)}}}
	if r := Check(in); !r.OK() {
		t.Fatalf("a write of a disturbed, then killed node must be excused: %v", r.Violations)
	}
	// Undisturbed for longer than CatchUp before the kill: it must have replicated.
	in.Disturbances = map[string][]Interval{"b": {{Start: at(1000), End: at(3000)}}}
	in.CatchUp = 5 * time.Second
	if r := Check(in); r.OK() {
		t.Fatal("a write lost long after its node recovered went unnoticed")
	}
}

func TestVersionParsing(t *testing.T) {
	v := crdt.Version{TS: crdt.MakeTimestamp(1_700_000_000_123, 7), Replica: 0xdeadbeef}
	got, err := parseVersion(v.String())
	if err != nil || got != v {
		t.Fatalf("parseVersion(%q) = %v, %v", v.String(), got, err)
	}
	got, err = parseETag(fmt.Sprintf(`"%016x-%016x"`, uint64(v.TS), uint64(v.Replica)))
	if err != nil || got != v {
		t.Fatalf("parseETag = %v, %v", got, err)
	}
	for _, bad := range []string{"", "1@", "x.1@ab", "1.1@zz", "1.70000@ab"} {
		if _, err := parseVersion(bad); err == nil {
			t.Errorf("parseVersion(%q) accepted", bad)
		}
	}
}

func TestCheckerCounters(t *testing.T) {
	k := CounterKey("k/", 0)
	incr := func(h *hist, node string, d int64, ms int, st Status) {
		h.add(Op{Node: node, Kind: OpIncr, Key: k, Delta: d, Invoke: at(ms), Complete: at(ms + 1), Status: st})
	}
	var h hist
	incr(&h, "a", 3, 100, StatusOK)
	incr(&h, "b", 4, 100, StatusOK) // concurrent, in another region
	incr(&h, "a", 5, 200, StatusUnknown)
	incr(&h, "b", 7, 300, StatusFail)
	counter := func(v string) Register { return Register{Key: k, Value: v, Version: ver(300, 0xa)} }
	for _, v := range []string{"7", "12"} { // with or without the unknown one
		r := Check(CheckInput{Ops: h.ops, Prefix: "k/", Dumps: []NodeDump{dump("a", counter(v)), dump("b", counter(v))}})
		if !r.OK() {
			t.Fatalf("value %s: %v", v, r.Violations)
		}
	}
	// A lost concurrent increment (last writer wins instead of a sum), a failed one applied.
	for _, v := range []string{"4", "19"} {
		r := Check(CheckInput{Ops: h.ops, Prefix: "k/", Dumps: []NodeDump{dump("a", counter(v)), dump("b", counter(v))}})
		if got := kinds(r); len(got) != 2 || got[0] != KindCounter {
			t.Fatalf("value %s: want two counter violations, got %v", v, got)
		}
	}
	// A node that lost the counter altogether.
	r := Check(CheckInput{Ops: h.ops, Prefix: "k/", Dumps: []NodeDump{dump("a", counter("7")), dump("b")}})
	if got := kinds(r); len(got) == 0 || got[len(got)-1] != KindCounter && got[0] != KindCounter {
		t.Fatalf("a node without the counter: got %v", got)
	}
}
