package crdt

import (
	"bytes"
	"errors"
	"reflect"
	"testing"
)

// fuzzLimits are small so the fuzzer reaches the limit checks; decoding
// must still be bounded by the input size with any limits.
var fuzzLimits = Limits{MaxKey: 512, MaxValue: 4096, MaxBatch: 64}

// checkDecodeErr fails unless err wraps exactly one package sentinel.
func checkDecodeErr(t *testing.T, err error) {
	t.Helper()
	n := 0
	for _, s := range []error{ErrMalformed, ErrTooLarge, ErrVersion} {
		if errors.Is(err, s) {
			n++
		}
	}
	if n != 1 {
		t.Fatalf("error %q wraps %d sentinels, want 1", err, n)
	}
}

// fuzzSeeds are sampleBatches with keys and values cut to a few bytes:
// the fuzzer minimises every new interesting input, which is quadratic in
// its size, so kilobyte seeds stall it for tens of seconds at a time.
func fuzzSeeds() []Batch {
	bs := sampleBatches()
	for i := range bs {
		for j := range bs[i].Deltas {
			d := &bs[i].Deltas[j]
			if len(d.Key) > 8 {
				d.Key = d.Key[:8]
			}
			if d.Entry.Flags&FlagContentType == 0 && len(d.Entry.Value) > 8 {
				d.Entry.Value = d.Entry.Value[:8]
			}
		}
	}
	return bs
}

func FuzzDecodeBatch(f *testing.F) {
	for _, b := range fuzzSeeds() {
		f.Add(AppendBatch(nil, &b))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		src := bytes.Clone(data)
		b, err := DecodeBatch(src, fuzzLimits)
		// Decoding into a reused batch (stale deltas in it) gives the same.
		reused := Batch{From: 5, Deltas: make([]Delta, 3, 4)}
		reused.Deltas[0].Key = "stale"
		if err2 := DecodeBatchInto(&reused, src, fuzzLimits); (err == nil) != (err2 == nil) ||
			(err == nil && !batchEqual(reused, b)) || (err != nil && len(reused.Deltas) != 0) {
			t.Fatalf("DecodeBatchInto = %v (%d deltas), DecodeBatch = %v", err2, len(reused.Deltas), err)
		}
		// So does decoding with the keys borrowed from src.
		borrowed := Batch{From: 5, Deltas: make([]Delta, 1, 2)}
		if err3 := DecodeBatchBorrowKeys(&borrowed, src, fuzzLimits); (err == nil) != (err3 == nil) ||
			(err == nil && !batchEqual(borrowed, b)) || (err != nil && len(borrowed.Deltas) != 0) {
			t.Fatalf("DecodeBatchBorrowKeys = %v (%d deltas), DecodeBatch = %v", err3, len(borrowed.Deltas), err)
		}
		// And with the values borrowed too.
		if err4 := DecodeBatchBorrow(&borrowed, src, fuzzLimits); (err == nil) != (err4 == nil) ||
			(err == nil && !batchEqual(borrowed, b)) || (err != nil && len(borrowed.Deltas) != 0) {
			t.Fatalf("DecodeBatchBorrow = %v (%d deltas), DecodeBatch = %v", err4, len(borrowed.Deltas), err)
		}
		if err != nil {
			checkDecodeErr(t, err)
			return
		}
		// Valid: entries satisfy their invariants, re-encoding round-trips,
		// and nothing aliases the input.
		for _, d := range b.Deltas {
			if err := d.Entry.Validate(); err != nil {
				t.Fatalf("decoded invalid entry: %v", err)
			}
		}
		enc := AppendBatch(nil, &b)
		if len(enc) > len(data) {
			t.Fatalf("re-encoding grew from %d to %d bytes", len(data), len(enc))
		}
		again, err := DecodeBatch(enc, fuzzLimits)
		if err != nil || !batchEqual(again, b) {
			t.Fatalf("re-encoded batch does not round-trip: %v", err)
		}
		clear(src)
		if !batchEqual(again, b) {
			t.Fatal("decoded batch aliases its input")
		}
	})
}

func FuzzDecodeDelta(f *testing.F) {
	for _, b := range fuzzSeeds() {
		for _, d := range b.Deltas {
			f.Add(AppendDelta(nil, &d))
		}
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		src := bytes.Clone(data)
		d, n, err := DecodeDelta(src, fuzzLimits)
		if err != nil {
			checkDecodeErr(t, err)
			if n != 0 {
				t.Fatalf("error with %d bytes consumed", n)
			}
			return
		}
		if n <= 0 || n > len(data) {
			t.Fatalf("consumed %d of %d bytes", n, len(data))
		}
		if err := d.Entry.Validate(); err != nil {
			t.Fatalf("decoded invalid entry: %v", err)
		}
		enc := AppendDelta(nil, &d)
		again, m, err := DecodeDelta(enc, fuzzLimits)
		if err != nil || m != len(enc) || !deltaEqual(again, d) {
			t.Fatalf("re-encoded delta does not round-trip: %v", err)
		}
		clear(src)
		if !deltaEqual(again, d) {
			t.Fatal("decoded delta aliases its input")
		}
	})
}

func FuzzDecodeVector(f *testing.F) {
	f.Add(AppendVector(nil, nil))
	f.Add(AppendVector(nil, vec(1, 1, 2, 5, 9).Summary()))
	f.Add(AppendVector(nil, []ReplicaState{
		{Replica: 1, Prefix: 10, PrefixTS: 99, Extra: []uint64{12, 13, 1 << 40}},
		{Replica: 1 << 63, Prefix: 1<<64 - 2, Extra: []uint64{1<<64 - 1}},
	}))
	f.Fuzz(func(t *testing.T, data []byte) {
		src := bytes.Clone(data)
		s, n, err := DecodeVector(src, 16)
		if err != nil {
			checkDecodeErr(t, err)
			return
		}
		if n < headerLen || n > len(data) {
			t.Fatalf("consumed %d of %d bytes", n, len(data))
		}
		if len(s) > 16 {
			t.Fatalf("%d replicas decoded, limit 16", len(s))
		}
		if !encodable(s) {
			t.Fatal("decoder accepted a summary the encoder would normalise")
		}
		enc := AppendVector(nil, s)
		again, m, err := DecodeVector(enc, 16)
		if err != nil || m != len(enc) || (len(s) > 0 && !reflect.DeepEqual(again, s)) {
			t.Fatalf("re-encoded vector does not round-trip: %v", err)
		}
		clear(src)
		if len(s) > 0 && !reflect.DeepEqual(again, s) {
			t.Fatal("decoded vector aliases its input")
		}
		// The summary must rebuild into a vector without panicking.
		VectorFromSummary(s).Missing(NewVector())
	})
}
