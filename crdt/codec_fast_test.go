package crdt

import (
	"bytes"
	"encoding/binary"
	"math"
	"strings"
	"testing"
)

// fastSeeds are encoded deltas for the fast path and its edges: plain register writes (short
// and two-byte lengths, large seqs, negative and positive expiries, an empty key or value),
// the types and flags it leaves to delta, non-minimal varints and lengths over the limits.
func fastSeeds() [][]byte {
	lww := func(key string, val []byte, seq uint64, exp int64) Delta {
		return Delta{Key: key, Entry: Entry{Type: TypeLWW, Value: val, Seq: seq, Expiry: exp,
			Version: Version{TS: Timestamp(1_700_000_000_000<<16 + seq), Replica: 0xabc}}}
	}
	ds := []Delta{
		lww("key:000000012345", bytes.Repeat([]byte("v"), 100), 7, 0),
		lww("k", []byte("x"), 1<<40, -5),
		lww(strings.Repeat("k", 200), bytes.Repeat([]byte("v"), 300), math.MaxUint64, math.MaxInt64),
		lww("", []byte("x"), 1, math.MinInt64),
		lww(strings.Repeat("k", 200), []byte("x"), 5, 0), // over FuzzDeltaFast's key limit alone
		lww("k", bytes.Repeat([]byte("v"), 300), 5, 0),   // over its value limit alone
		lww("key", nil, 3, 1_700_000_000_123),
		{Key: "t", Entry: Entry{Type: TypeLWW, Flags: FlagTombstone, Seq: 2, Version: Version{TS: 9, Replica: 1}}},
		{Key: "c", Entry: Entry{Type: TypeLWW, Flags: FlagContentType, Value: []byte("\x04textdata"), Seq: 2, Version: Version{TS: 9, Replica: 1}}},
		// Seqs of two to five bytes.
		lww("s", []byte("x"), 300, 0),
		lww("s", []byte("x"), 70000, 0),
		lww("s", []byte("x"), 1<<28-1, 0),
		lww("s", []byte("x"), 1<<28, 0),
	}
	var out [][]byte
	for i := range ds {
		out = append(out, AppendDelta(nil, &ds[i]))
	}
	for _, b := range sampleBatches() {
		for i := range b.Deltas {
			out = append(out, AppendDelta(nil, &b.Deltas[i]))
		}
	}
	// A key length written in two bytes where one would do (0x85 0x00 = 5), and a seq padded
	// the same way: not minimal, refused by both.
	padded := append([]byte{byte(TypeLWW), 0, 0x85, 0x00}, "abcde"...)
	padded = binary.LittleEndian.AppendUint64(padded, 1)
	padded = binary.LittleEndian.AppendUint64(padded, 2)
	out = append(out, append(bytes.Clone(padded), 1, 0, 1, 'x'))
	p := append([]byte{byte(TypeLWW), 0, 1, 'k'}, make([]byte, 16)...)
	out = append(out, append(bytes.Clone(p), 0x81, 0x80, 0x00, 0, 1, 'x')) // a three-byte seq padded
	out = append(out, append(p, 0x81, 0x00, 0, 1, 'x'))
	return out
}

// FuzzDeltaFast checks that the fast path of the batch decoder (deltaFast) agrees with the
// field-by-field decoder (delta) on any input: what it accepts decodes to the same delta and
// offset, and what it refuses leaves the reader and the delta as they were.
func FuzzDeltaFast(f *testing.F) {
	for _, s := range fastSeeds() {
		f.Add(s, uint8(0))
		f.Add(s, uint8(3))
		for cut := 1; cut < len(s); cut += max(1, len(s)/7) {
			f.Add(s[:cut], uint8(1))
		}
	}
	f.Fuzz(func(t *testing.T, data []byte, mode uint8) {
		lim := Limits{MaxKey: 128, MaxValue: 256}.withDefaults()
		views := mode&1 != 0
		fast := reader{b: data, viewKeys: views, viewValues: mode&2 != 0}
		var fd Delta
		ok := fast.deltaFast(&fd, &lim)
		slow := reader{b: data, viewKeys: views, viewValues: mode&2 != 0}
		var sd Delta
		err := slow.delta(&sd, lim)
		if !ok {
			if fast.off != 0 || !deltaEqual(fd, Delta{}) {
				t.Fatalf("refused, yet moved to %d or filled %+v", fast.off, fd)
			}
			return
		}
		if err != nil {
			t.Fatalf("fast path accepted what delta refuses (%v): %+v", err, fd)
		}
		if fast.off != slow.off || !deltaEqual(fd, sd) {
			t.Fatalf("fast path: %+v at %d, delta: %+v at %d", fd, fast.off, sd, slow.off)
		}
	})
}

// TestDeltaFastTakesPlainWrites pins that the fast path is taken for what a writer's batch is
// made of (else it only costs a failed check per delta) and left for the rest.
func TestDeltaFastTakesPlainWrites(t *testing.T) {
	lim := Limits{}.withDefaults()
	seeds := fastSeeds()
	for i, want := range []bool{true, true, true, true, true, true, true, false, false} {
		r := reader{b: seeds[i]}
		var d Delta
		if got := r.deltaFast(&d, &lim); got != want {
			t.Errorf("seed %d: deltaFast = %v, want %v", i, got, want)
		} else if got && r.off != len(seeds[i]) {
			t.Errorf("seed %d: consumed %d of %d bytes", i, r.off, len(seeds[i]))
		}
	}
	for _, s := range seeds[len(seeds)-3:] {
		r := reader{b: s}
		var d Delta
		if r.deltaFast(&d, &lim) {
			t.Errorf("a non-minimal varint was taken: % x", s)
		}
	}
}
