package crdt

import (
	"bytes"
	"errors"
	"fmt"
	"math/rand/v2"
	"testing"
)

// applyKind adapts one collection type for TestApplyEncodedMatchesJoin.
type applyKind struct {
	name  string
	mk    func(reset Version) any
	write func(x any, rng *rand.Rand, dot Version) []byte // a random local write; its delta (nil: none)
	join  func(x any, b []byte) error                     // decode, then Join
	apply func(x any, b []byte) error                     // ApplyDelta
	enc   func(x any) []byte
	cmp   func(x any) string // what the encoding does not show: size, index order
	comp  func(x any, stable Timestamp)
	clone func(x any) any
	parts func(x any, limit int) [][]byte // AppendParts
	full  func(x any) bool
}

func collectParts(f func(int, func([]byte) error) error, limit int) [][]byte {
	var out [][]byte
	f(limit, func(b []byte) error { out = append(out, bytes.Clone(b)); return nil })
	return out
}

var applyElems = []string{"a", "b", "c", "d", "e"}

func pick(rng *rand.Rand) string { return applyElems[rng.IntN(len(applyElems))] }

var applyKinds = []applyKind{{
	name: "hash",
	mk:   func(r Version) any { return NewHash(r) },
	write: func(x any, rng *rand.Rand, dot Version) []byte {
		h := x.(*Hash)
		switch rng.IntN(6) {
		case 0, 1, 2:
			return h.Set(dot, [2][]byte{[]byte(pick(rng)), []byte(fmt.Sprint("v", dot.TS))},
				[2][]byte{[]byte(pick(rng)), []byte(fmt.Sprint("w", dot.TS))}).AppendBinary(nil)
		case 3, 4:
			if _, d := h.Del(pick(rng), pick(rng)); d != nil {
				return d.AppendBinary(nil)
			}
			return nil
		}
		return h.SetExpiry(dot, int64(rng.IntN(3))).AppendBinary(nil)
	},
	join: func(x any, b []byte) error {
		d, err := DecodeHash(b)
		if err == nil {
			x.(*Hash).Join(d)
		}
		return err
	},
	apply: func(x any, b []byte) error { return x.(*Hash).ApplyDelta(b) },
	enc:   func(x any) []byte { return x.(*Hash).AppendBinary(nil) },
	cmp: func(x any) string {
		h := x.(*Hash)
		return fmt.Sprint(h.Len(), h.Bytes(), h.Tombstones(), h.Expiry())
	},
	comp:  func(x any, s Timestamp) { x.(*Hash).Compact(s) },
	clone: func(x any) any { return x.(*Hash).Clone() },
	parts: func(x any, l int) [][]byte { return collectParts(x.(*Hash).AppendParts, l) },
	full:  func(x any) bool { return x.(*Hash).Full() },
}, {
	name: "set",
	mk:   func(r Version) any { return NewSet(r) },
	write: func(x any, rng *rand.Rand, dot Version) []byte {
		s := x.(*Set)
		if rng.IntN(2) == 0 {
			_, d := s.Add(dot, pick(rng), pick(rng))
			return d.AppendBinary(nil)
		}
		if _, d := s.Rem(pick(rng)); d != nil {
			return d.AppendBinary(nil)
		}
		return nil
	},
	join: func(x any, b []byte) error {
		d, err := DecodeSet(b)
		if err == nil {
			x.(*Set).Join(d)
		}
		return err
	},
	apply: func(x any, b []byte) error { return x.(*Set).ApplyDelta(b) },
	enc:   func(x any) []byte { return x.(*Set).AppendBinary(nil) },
	cmp: func(x any) string {
		s := x.(*Set)
		return fmt.Sprint(s.Len(), s.Bytes(), s.Tombstones())
	},
	comp:  func(x any, s Timestamp) { x.(*Set).Compact(s) },
	clone: func(x any) any { return x.(*Set).Clone() },
	parts: func(x any, l int) [][]byte { return collectParts(x.(*Set).AppendParts, l) },
	full:  func(x any) bool { return x.(*Set).Full() },
}, {
	name: "zset",
	mk:   func(r Version) any { return NewZSet(r) },
	write: func(x any, rng *rand.Rand, dot Version) []byte {
		z := x.(*ZSet)
		switch rng.IntN(6) {
		case 0, 1:
			return z.Add(dot, pick(rng), float64(rng.IntN(4))).AppendBinary(nil)
		case 2, 3:
			_, d := z.Incr(dot, pick(rng), float64(rng.IntN(3))+0.5)
			return d.AppendBinary(nil)
		case 4:
			if _, d := z.Rem(pick(rng)); d != nil {
				return d.AppendBinary(nil)
			}
			return nil
		}
		return z.SetExpiry(dot, int64(rng.IntN(3))).AppendBinary(nil)
	},
	join: func(x any, b []byte) error {
		d, err := DecodeZSet(b)
		if err == nil {
			x.(*ZSet).Join(d)
		}
		return err
	},
	apply: func(x any, b []byte) error { return x.(*ZSet).ApplyDelta(b) },
	enc:   func(x any) []byte { return x.(*ZSet).AppendBinary(nil) },
	cmp: func(x any) string {
		z := x.(*ZSet)
		var walk []string
		z.Walk(0, false, func(m string, s float64) bool { walk = append(walk, fmt.Sprint(m, "=", s)); return true })
		return fmt.Sprint(z.Len(), z.Bytes(), z.Tombstones(), walk)
	},
	comp:  func(x any, s Timestamp) { x.(*ZSet).Compact(s) },
	clone: func(x any) any { return x.(*ZSet).Clone() },
	parts: func(x any, l int) [][]byte { return collectParts(x.(*ZSet).AppendParts, l) },
	full:  func(x any) bool { return x.(*ZSet).Full() },
}}

// TestApplyEncodedMatchesJoin drives three replicas of each type through random local writes,
// duplicated and out-of-order delta deliveries, full-state deliveries and compactions. Each
// replica is kept twice: one copy receives by decoding and joining, the other by ApplyDelta.
// After every step the two copies must encode to the same bytes and agree on size, removed
// writes and (sorted sets) index order; at the end all replicas converge.
func TestApplyEncodedMatchesJoin(t *testing.T) {
	for _, k := range applyKinds {
		t.Run(k.name, func(t *testing.T) {
			for seed := uint64(1); seed <= 40; seed++ {
				rng := rand.New(rand.NewPCG(seed, 11))
				reset := Version{TS: 1, Replica: 99}
				var viaJoin, viaApply [3]any
				for i := range viaJoin {
					viaJoin[i], viaApply[i] = k.mk(reset), k.mk(reset)
				}
				var sent [][]byte
				ts := Timestamp(10)
				deliver := func(r int, b []byte) {
					t.Helper()
					if err := k.join(viaJoin[r], b); err != nil {
						t.Fatal(err)
					}
					if err := k.apply(viaApply[r], b); err != nil {
						t.Fatalf("seed %d: apply: %v", seed, err)
					}
				}
				check := func(step int) {
					t.Helper()
					for i := range viaJoin {
						if a, b := k.enc(viaJoin[i]), k.enc(viaApply[i]); !bytes.Equal(a, b) {
							t.Fatalf("seed %d step %d replica %d: join %x\napply %x", seed, step, i, a, b)
						}
						if a, b := k.cmp(viaJoin[i]), k.cmp(viaApply[i]); a != b {
							t.Fatalf("seed %d step %d replica %d: join %s, apply %s", seed, step, i, a, b)
						}
					}
				}
				for step := 0; step < 250; step++ {
					r := rng.IntN(3)
					switch c := rng.IntN(20); {
					case c < 8: // a local write, made the same way on both copies
						ts++
						dot := Version{TS: ts, Replica: ReplicaID(r + 1)}
						opSeed := rng.Uint64()
						d1 := k.write(viaJoin[r], rand.New(rand.NewPCG(opSeed, 1)), dot)
						d2 := k.write(viaApply[r], rand.New(rand.NewPCG(opSeed, 1)), dot)
						if !bytes.Equal(d1, d2) {
							t.Fatalf("seed %d step %d: equal states made different deltas", seed, step)
						}
						if d1 != nil {
							sent = append(sent, d1)
						}
					case c < 16: // a delta delivered (possibly again, out of order)
						if len(sent) > 0 {
							deliver(r, sent[rng.IntN(len(sent))])
						}
					case c < 18: // another replica's full state
						deliver(r, k.enc(viaJoin[rng.IntN(3)]))
					case c < 19: // another replica's full state in parts, in order: as the whole
						src := viaJoin[rng.IntN(3)]
						whole := k.clone(viaJoin[r])
						if err := k.join(whole, k.enc(src)); err != nil {
							t.Fatal(err)
						}
						for _, p := range k.parts(src, 1+rng.IntN(60)) {
							deliver(r, p)
						}
						if a, b := k.enc(whole), k.enc(viaJoin[r]); !bytes.Equal(a, b) {
							t.Fatalf("seed %d step %d: parts joined %x\nwhole joined %x", seed, step, b, a)
						}
					default: // everyone exchanges everything, then some compact at a stable time
						for a := range viaJoin {
							for b := range viaJoin {
								deliver(b, k.enc(viaJoin[a]))
							}
						}
						stable := ts - Timestamp(rng.IntN(4))
						for i := range viaJoin {
							if rng.IntN(2) == 0 {
								continue // floors differ: a full state then raises one
							}
							k.comp(viaJoin[i], stable)
							k.comp(viaApply[i], stable)
						}
					}
					check(step)
				}
				for _, b := range sent {
					for r := range viaJoin {
						deliver(r, b)
					}
				}
				for a := range viaJoin {
					for b := range viaJoin {
						deliver(b, k.enc(viaApply[a]))
					}
				}
				check(-1)
				for i := 1; i < 3; i++ {
					if !bytes.Equal(k.enc(viaApply[0]), k.enc(viaApply[i])) {
						t.Fatalf("seed %d: replicas diverged", seed)
					}
				}
			}
		})
	}
}

// ApplyDelta rejects a truncated or corrupted delta, and one of another incarnation, and
// changes nothing.
func TestApplyDeltaBadInputChangesNothing(t *testing.T) {
	for _, k := range applyKinds {
		t.Run(k.name, func(t *testing.T) {
			rng := rand.New(rand.NewPCG(3, 4))
			reset := Version{TS: 1, Replica: 9}
			src, dst := k.mk(reset), k.mk(reset)
			var deltas [][]byte
			for i := 0; i < 30; i++ {
				if d := k.write(src, rng, Version{TS: Timestamp(10 + i), Replica: 1}); d != nil {
					deltas = append(deltas, d)
				}
			}
			for _, d := range deltas[:len(deltas)/2] {
				if err := k.apply(dst, d); err != nil {
					t.Fatal(err)
				}
			}
			before, beforeCmp := k.enc(dst), k.cmp(dst)
			full := k.enc(src)
			for _, d := range append(deltas, full) {
				for n := 0; n < len(d); n++ {
					if err := k.apply(dst, d[:n]); err == nil {
						t.Fatalf("prefix %d of %d bytes applied", n, len(d))
					}
				}
			}
			if !bytes.Equal(k.enc(dst), before) || k.cmp(dst) != beforeCmp {
				t.Fatal("bad input changed the state")
			}
			other := k.enc(k.mk(Version{TS: 2, Replica: 9}))
			if err := k.apply(dst, other); !errors.Is(err, ErrVersion) {
				t.Fatalf("another incarnation: %v, want ErrVersion", err)
			}
			if err := k.apply(dst, full); err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(k.enc(dst), k.enc(src)) {
				t.Fatal("full state applied, not equal to its source")
			}
		})
	}
}

// A replica holding none of an incarnation adopts the first part of a large state and joins
// the rest: it is complete, and equal to the state, only after the last part.
func TestPartsAdoptedInOrder(t *testing.T) {
	for _, k := range applyKinds {
		t.Run(k.name, func(t *testing.T) {
			rng := rand.New(rand.NewPCG(5, 6))
			src := k.mk(Version{TS: 5, Replica: 1})
			for i := 0; i < 200; i++ {
				k.write(src, rng, Version{TS: Timestamp(10 + i), Replica: ReplicaID(1 + i%2)})
			}
			k.comp(src, 100) // a floor, and removed writes above it
			switch x := src.(type) {
			case *Hash:
				x.MarkFull()
			case *Set:
				x.MarkFull()
			case *ZSet:
				x.MarkFull()
			}
			parts := k.parts(src, 50)
			if len(parts) < 3 {
				t.Fatalf("%d parts, want several", len(parts))
			}
			for _, via := range []func(x any, b []byte) error{k.join, k.apply} {
				dst := k.mk(Version{TS: 1, Replica: 1}) // an older incarnation: replaced
				for i, p := range parts {
					if i == 0 {
						if err := k.join(dst, p); err != nil {
							t.Fatal(err)
						}
					} else if err := via(dst, p); err != nil {
						t.Fatal(err)
					}
					if done := i == len(parts)-1; k.full(dst) != done {
						t.Fatalf("after part %d of %d: complete %v", i+1, len(parts), k.full(dst))
					}
				}
				if a, b := k.enc(dst), k.enc(src); !bytes.Equal(a, b) {
					t.Fatalf("parts adopted:\n%x\nwant\n%x", a, b)
				}
				if a, b := k.cmp(dst), k.cmp(src); a != b {
					t.Fatalf("parts adopted: %s, want %s", a, b)
				}
			}
		})
	}
}

// FuzzApplyDelta: ApplyDelta of any input to a hash either fails and changes nothing, exactly
// when decoding fails or the incarnation differs, or gives Join's result.
func FuzzApplyDelta(f *testing.F) {
	rng := rand.New(rand.NewPCG(9, 9))
	reset := Version{TS: 1, Replica: 9}
	base := NewHash(reset)
	src := NewHash(reset)
	for i := 0; i < 40; i++ {
		if d := applyKinds[0].write(src, rng, Version{TS: Timestamp(10 + i), Replica: 1}); d != nil {
			f.Add(d)
			if i < 20 {
				base.ApplyDelta(d)
			}
		}
	}
	for _, p := range applyKinds[0].parts(src, 40) {
		f.Add(p)
	}
	before := base.AppendBinary(nil)
	f.Fuzz(func(t *testing.T, b []byte) {
		got := base.Clone()
		err := got.ApplyDelta(b)
		d, derr := DecodeHash(b)
		if derr != nil || d.Reset() != reset {
			if err == nil {
				t.Fatalf("applied input that decode rejects (%v) or of another incarnation", derr)
			}
			if !bytes.Equal(got.AppendBinary(nil), before) {
				t.Fatal("a failed apply changed the state")
			}
			return
		}
		if err != nil {
			t.Fatalf("apply failed on a valid delta: %v", err)
		}
		want := base.Clone()
		want.Join(d)
		if !bytes.Equal(got.AppendBinary(nil), want.AppendBinary(nil)) || got.Bytes() != want.Bytes() {
			t.Fatal("apply and join differ")
		}
	})
}
