package crdt

import (
	"bytes"
	"fmt"
	"math/rand/v2"
	"testing"
)

// TestBoxedMatchesUnboxed drives a boxed state (HashBox, SetBox, ZSetBox: its table, first
// records and replicas, and a sorted set's index, inside the box) and an unboxed one through
// the same random writes, removes, collections and joins of other replicas' deltas, over few
// names (the records stay in the box) and many (they outgrow it, empty, and come back), and
// checks after each step that both encode alike, and that a box decoded from the encoding and
// a clone of the boxed state do too.
func TestBoxedMatchesUnboxed(t *testing.T) {
	for _, names := range []int{2, 40, 3000} {
		t.Run(fmt.Sprint("hash/", names), func(t *testing.T) {
			var box HashBox
			a, b := box.Init(Version{}), NewHash(Version{})
			a.Restamp(Version{TS: 1, Replica: 1})
			b = NewHash(Version{TS: 1, Replica: 1})
			boxedRun(t, names, func(rng *rand.Rand, ts Timestamp, e string) {
				v := []byte(fmt.Sprint("v", rng.IntN(3)))
				switch k := rng.IntN(10); {
				case k < 5:
					dot := Version{TS: ts, Replica: ReplicaID(1 + rng.IntN(4))}
					a.Set(dot, [2][]byte{[]byte(e), v})
					b.Set(dot, [2][]byte{[]byte(e), v})
				case k < 6: // a concurrent write of another replica, joined as a delta
					d := NewHash(a.Reset())
					d.c.setElem(e, []Dotted[[]byte]{{Dot: Version{TS: ts - 1, Replica: 9}, P: v}}, bytesSize)
					a.Join(d)
					b.Join(d)
				case k < 9:
					a.Del(e)
					b.Del(e)
				default:
					a.Collect(ts, 1<<20)
					b.Collect(ts, 1<<20)
				}
			}, func() ([]byte, []byte, []byte, []byte) {
				var dbox HashBox
				d, err := dbox.Decode(a.AppendBinary(nil))
				if err != nil {
					t.Fatal(err)
				}
				return a.AppendBinary(nil), b.AppendBinary(nil), d.AppendBinary(nil), a.Clone().AppendBinary(nil)
			})
		})
		t.Run(fmt.Sprint("set/", names), func(t *testing.T) {
			var box SetBox
			a := box.Init(Version{TS: 1, Replica: 1})
			b := NewSet(Version{TS: 1, Replica: 1})
			boxedRun(t, names, func(rng *rand.Rand, ts Timestamp, e string) {
				switch k := rng.IntN(10); {
				case k < 6:
					dot := Version{TS: ts, Replica: ReplicaID(1 + rng.IntN(4))}
					a.Add(dot, e)
					b.Add(dot, e)
				case k < 9:
					a.Rem(e)
					b.Rem(e)
				default:
					a.Collect(ts, 1<<20)
					b.Collect(ts, 1<<20)
				}
			}, func() ([]byte, []byte, []byte, []byte) {
				var dbox SetBox
				d, err := dbox.Decode(a.AppendBinary(nil))
				if err != nil {
					t.Fatal(err)
				}
				return a.AppendBinary(nil), b.AppendBinary(nil), d.AppendBinary(nil), a.Clone().AppendBinary(nil)
			})
		})
		t.Run(fmt.Sprint("zset/", names), func(t *testing.T) {
			var box ZSetBox
			a := box.Init(Version{})
			a.Restamp(Version{TS: 1, Replica: 1})
			b := NewZSet(Version{TS: 1, Replica: 1})
			ranks := func(z *ZSet) []byte {
				var out []byte
				z.Walk(0, false, func(m string, s float64) bool {
					r, _ := z.Rank(m)
					out = fmt.Appendf(out, "%s=%v@%d ", m, s, r)
					return true
				})
				return out
			}
			boxedRun(t, names, func(rng *rand.Rand, ts Timestamp, e string) {
				switch k := rng.IntN(10); {
				case k < 5:
					dot, s := Version{TS: ts, Replica: ReplicaID(1 + rng.IntN(4))}, float64(rng.IntN(50))
					a.Add(dot, e, s)
					b.Add(dot, e, s)
				case k < 6:
					dot, by := Version{TS: ts, Replica: ReplicaID(1 + rng.IntN(4))}, float64(rng.IntN(5))
					a.Incr(dot, e, by)
					b.Incr(dot, e, by)
				case k < 9:
					a.Rem(e)
					b.Rem(e)
				default:
					a.Collect(ts, 1<<20)
					b.Collect(ts, 1<<20)
				}
			}, func() ([]byte, []byte, []byte, []byte) {
				var dbox ZSetBox
				d, err := dbox.Decode(a.AppendBinary(nil))
				if err != nil {
					t.Fatal(err)
				}
				if ra, rb, rd := ranks(a), ranks(b), ranks(d); !bytes.Equal(ra, rb) || !bytes.Equal(ra, rd) {
					t.Fatalf("index: boxed %s\nunboxed %s\ndecoded %s", ra, rb, rd)
				}
				return a.AppendBinary(nil), b.AppendBinary(nil), d.AppendBinary(nil), a.Clone().AppendBinary(nil)
			})
		})
	}
}

// boxedRun runs step on random names for a while (growing, then removing nearly all, so the
// table empties or shrinks), comparing the four encodings enc returns every few steps.
func boxedRun(t *testing.T, names int, step func(rng *rand.Rand, ts Timestamp, e string), enc func() (boxed, unboxed, decoded, cloned []byte)) {
	t.Helper()
	rng := rand.New(rand.NewPCG(3, uint64(names)))
	steps := 4000
	if names > 1000 {
		steps = 3 * names
	}
	for i := 0; i < steps; i++ {
		e := fmt.Sprint("e", rng.IntN(names))
		if i > steps*2/3 && names > 1000 {
			e = fmt.Sprint("e", rng.IntN(3)) // the rest go away as removed writes are collected
		}
		step(rng, Timestamp(10+2*i), e)
		if i%97 == 0 || i == steps-1 {
			a, b, d, c := enc()
			if !bytes.Equal(a, b) || !bytes.Equal(a, d) || !bytes.Equal(a, c) {
				t.Fatalf("step %d: boxed, unboxed, decoded and cloned encodings differ:\n%x\n%x\n%x\n%x", i, a, b, d, c)
			}
		}
	}
}

// A table shrunk to fewer elements than it holds in itself keeps its records there (p0 is its
// own r0, not the shrinking copy's), and a clone holds its own: writes to one do not show in
// the other.
func TestShrinkKeepsRecordsInTable(t *testing.T) {
	var tab elemTab[[]byte]
	for i := 0; i < 3000; i++ {
		tab.put(fmt.Sprint("e", i), []Dotted[[]byte]{{Dot: Version{TS: Timestamp(i + 1), Replica: 1}, P: []byte("v")}})
	}
	for i := 1; i < 3000; i++ {
		tab.del(fmt.Sprint("e", i))
	}
	if !tab.shrink() {
		t.Fatal("no shrink")
	}
	if !tab.ownRecs() || len(tab.p0) != 1 {
		t.Fatalf("after shrink: own records %v, %d records", tab.ownRecs(), len(tab.p0))
	}
	c := tab.clone()
	if !c.ownRecs() {
		t.Fatal("the clone's records are not its own")
	}
	c.put("e0", []Dotted[[]byte]{{Dot: Version{TS: 9000, Replica: 2}, P: []byte("w")}})
	var buf [1]Dotted[[]byte]
	if got := tab.get("e0", &buf); len(got) != 1 || string(got[0].P) != "v" || got[0].Dot != (Version{TS: 1, Replica: 1}) {
		t.Fatalf("original e0 %v after the clone's write", got)
	}
	if got := c.get("e0", &buf); len(got) != 1 || string(got[0].P) != "w" || got[0].Dot != (Version{TS: 9000, Replica: 2}) {
		t.Fatalf("clone's e0 %v", got)
	}
}
