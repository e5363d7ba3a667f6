package crdt

import (
	"bytes"
	"encoding/hex"
	"errors"
	"fmt"
	"math/rand/v2"
	"reflect"
	"strings"
	"testing"
)

// sampleBatches are valid batches covering every field shape; they are
// also the fuzz seed corpus.
func sampleBatches() []Batch {
	ctVal, ctFlags, _ := EncodeValue("application/json", []byte(`{"a":1}`))
	return []Batch{
		{From: 1},
		{From: 0xfeedface12345678, Deltas: []Delta{{Key: "k", Entry: lww("v", 1700000000000, 0xfeedface12345678, 1)}}},
		{From: 2, Deltas: []Delta{
			{Key: "", Entry: Entry{Type: TypeLWW, Version: Version{TS: MakeTimestamp(5, 7), Replica: 3}, Seq: 1 << 40, Expiry: -1}},
			{Key: "gone", Entry: Entry{Type: TypeLWW, Flags: FlagTombstone, Version: Version{TS: ^Timestamp(0), Replica: ^ReplicaID(0)}, Seq: ^uint64(0)}},
			{Key: "typed", Entry: Entry{Type: TypeLWW, Flags: ctFlags, Value: ctVal, Expiry: 1700000060000, Version: Version{TS: 9, Replica: 2}, Seq: 3}},
			{Key: strings.Repeat("K", 300), Entry: Entry{Type: TypeLWW, Value: bytes.Repeat([]byte{0xAB}, 1000), Version: Version{TS: 10, Replica: 2}, Seq: 4}},
		}},
	}
}

func TestBatchRoundTrip(t *testing.T) {
	t.Parallel()
	for i, b := range sampleBatches() {
		buf := AppendBatch([]byte("prefix"), &b)
		if string(buf[:6]) != "prefix" {
			t.Fatalf("%d: AppendBatch clobbered dst", i)
		}
		got, err := DecodeBatch(buf[6:], Limits{})
		if err != nil {
			t.Fatalf("%d: %v", i, err)
		}
		if !batchEqual(got, b) {
			t.Fatalf("%d: round trip\n got %+v\nwant %+v", i, got, b)
		}
		// Each delta also round-trips alone, consuming exactly its bytes.
		for _, d := range b.Deltas {
			enc := AppendDelta(nil, &d)
			got, n, err := DecodeDelta(append(enc, 0xFF, 0xFF), Limits{})
			if err != nil || n != len(enc) || !deltaEqual(got, d) {
				t.Fatalf("%d: DecodeDelta = %+v, %d, %v; want %d bytes", i, got, n, err, len(enc))
			}
		}
	}
}

// TestDecodeBatchBorrowKeys: the keys are views of the frame (they change with it), the values
// are copies (they do not), and otherwise the batch is DecodeBatch's.
func TestDecodeBatchBorrowKeys(t *testing.T) {
	t.Parallel()
	for i, b := range sampleBatches() {
		src := AppendBatch(nil, &b)
		var got Batch
		if err := DecodeBatchBorrowKeys(&got, src, Limits{}); err != nil {
			t.Fatalf("%d: %v", i, err)
		}
		if !batchEqual(got, b) {
			t.Fatalf("%d: got %+v\nwant %+v", i, got, b)
		}
		for j := range src {
			src[j] ^= 0xff
		}
		for j, d := range got.Deltas {
			if want := b.Deltas[j]; len(want.Key) > 0 && d.Key == want.Key {
				t.Errorf("%d/%d: key %q did not change with its frame: not a view", i, j, d.Key)
			}
			if !bytes.Equal(d.Entry.Value, b.Deltas[j].Entry.Value) {
				t.Errorf("%d/%d: value changed with the frame: not a copy", i, j)
			}
		}
	}
}

// TestDecodeBatchBorrow: keys and values are views of the frame (they change with it), a
// value's capacity ends with it (an append cannot write into the frame), and otherwise the
// batch is DecodeBatch's.
func TestDecodeBatchBorrow(t *testing.T) {
	t.Parallel()
	for i, b := range sampleBatches() {
		src := AppendBatch(nil, &b)
		var got Batch
		if err := DecodeBatchBorrow(&got, src, Limits{}); err != nil {
			t.Fatalf("%d: %v", i, err)
		}
		if !batchEqual(got, b) {
			t.Fatalf("%d: got %+v\nwant %+v", i, got, b)
		}
		for j, d := range got.Deltas {
			if v := d.Entry.Value; cap(v) != len(v) {
				t.Errorf("%d/%d: value capacity %d beyond its length %d", i, j, cap(v), len(v))
			}
		}
		for j := range src {
			src[j] ^= 0xff
		}
		for j, d := range got.Deltas {
			want := b.Deltas[j]
			if len(want.Key) > 0 && d.Key == want.Key {
				t.Errorf("%d/%d: key %q did not change with its frame: not a view", i, j, d.Key)
			}
			if len(want.Entry.Value) > 0 && bytes.Equal(d.Entry.Value, want.Entry.Value) {
				t.Errorf("%d/%d: value did not change with its frame: not a view", i, j)
			}
		}
	}
}

// TestBatchGolden pins the wire format: a change here breaks mixed-version
// clusters and needs a WireVersion bump.
func TestBatchGolden(t *testing.T) {
	t.Parallel()
	b := Batch{From: 0x0102030405060708, Deltas: []Delta{{Key: "ab", Entry: Entry{
		Type: TypeLWW, Flags: FlagContentType, Value: []byte{1, 't', 'x'},
		Version: Version{TS: MakeTimestamp(1, 2), Replica: 9}, Seq: 300, Expiry: -2,
	}}}}
	const want = "c60101" + "0807060504030201" + "01" + // header, from, count
		"0102" + "02" + "6162" + // type, flags, key
		"0200010000000000" + "0900000000000000" + // ts, writer
		"ac02" + "03" + "03" + "017478" // seq 300, expiry -2 (zigzag 3), value
	if got := hex.EncodeToString(AppendBatch(nil, &b)); got != want {
		t.Fatalf("encoding\n got %s\nwant %s", got, want)
	}
}

func TestDecodeBatchErrors(t *testing.T) {
	t.Parallel()
	valid := AppendBatch(nil, &Batch{From: 1, Deltas: []Delta{{Key: "key", Entry: lww("value", 1, 1, 1)}}})
	// mutate returns valid with byte i set to c.
	mutate := func(i int, c byte) []byte {
		b := bytes.Clone(valid)
		b[i] = c
		return b
	}
	// Offsets in valid: 0 magic, 1 version, 2 kind, 3..10 from, 11 count,
	// 12 type, 13 flags, 14 key len, 15..17 key, 18..25 ts, 26..33 writer,
	// 34 seq, 35 expiry, 36 value len, 37.. value.
	withDelta := func(d Delta) []byte {
		return AppendBatch(nil, &Batch{From: 1, Deltas: []Delta{d}})
	}
	tests := []struct {
		name string
		src  []byte
		lim  Limits
		want error
	}{
		{"empty", nil, Limits{}, ErrMalformed},
		{"bad magic", mutate(0, 'G'), Limits{}, ErrMalformed},
		{"future version", mutate(1, 2), Limits{}, ErrVersion},
		{"vector kind", mutate(2, byte(KindVector)), Limits{}, ErrMalformed},
		{"unknown kind", mutate(2, 9), Limits{}, ErrVersion},
		{"count beyond input", mutate(11, 2), Limits{}, ErrMalformed},
		{"count over limit", mutate(11, 2), Limits{MaxBatch: 1}, ErrTooLarge},
		{"huge count", append(bytes.Clone(valid[:11]), 0xff, 0xff, 0xff, 0xff, 0x0f), Limits{MaxBatch: 1 << 40}, ErrMalformed},
		{"type 0", mutate(12, 0), Limits{}, ErrMalformed},
		{"future type", mutate(12, 2), Limits{}, ErrVersion},
		{"future flag", mutate(13, 0x80), Limits{}, ErrVersion},
		{"tombstone with value", mutate(13, byte(FlagTombstone)), Limits{}, ErrMalformed},
		{"content type overruns value", mutate(13, byte(FlagContentType)), Limits{}, ErrMalformed},
		{"key over limit", valid, Limits{MaxKey: 2}, ErrTooLarge},
		{"key beyond input", mutate(14, 100), Limits{}, ErrMalformed},
		{"value over limit", valid, Limits{MaxValue: 4}, ErrTooLarge},
		{"value beyond input", mutate(36, 6), Limits{}, ErrMalformed},
		{"trailing bytes", append(bytes.Clone(valid), 0), Limits{}, ErrMalformed},
		{"varint overflow", append(bytes.Clone(valid[:11]), bytes.Repeat([]byte{0xff}, 11)...), Limits{}, ErrMalformed},
		{"writer forgot Type", withDelta(Delta{Key: "k", Entry: Entry{Value: []byte("v")}}), Limits{}, ErrMalformed},
	}
	for _, tt := range tests {
		_, err := DecodeBatch(tt.src, tt.lim)
		if !errors.Is(err, tt.want) {
			t.Errorf("%s: err = %v, want %v", tt.name, err, tt.want)
		}
	}
	// Limits exactly at the sizes are accepted.
	if _, err := DecodeBatch(valid, Limits{MaxKey: 3, MaxValue: 5, MaxBatch: 1}); err != nil {
		t.Errorf("at the limits: %v", err)
	}
	// Every strict prefix of a valid frame is an error, never a panic.
	for _, b := range sampleBatches() {
		enc := AppendBatch(nil, &b)
		for n := 0; n < len(enc); n++ {
			if _, err := DecodeBatch(enc[:n], Limits{}); !errors.Is(err, ErrMalformed) {
				t.Fatalf("truncated to %d/%d: err = %v", n, len(enc), err)
			}
		}
	}
}

func TestDecodeDoesNotAlias(t *testing.T) {
	t.Parallel()
	want := sampleBatches()[2]
	buf := AppendBatch(nil, &want)
	got, err := DecodeBatch(buf, Limits{})
	if err != nil {
		t.Fatal(err)
	}
	clear(buf) // the caller reuses its buffer
	if !batchEqual(got, want) {
		t.Fatal("decoded batch changed when the input buffer was reused")
	}
	vbuf := AppendVector(nil, vec(1, 1, 2, 5, 9).Summary())
	vs, _, err := DecodeVector(vbuf, 0)
	if err != nil {
		t.Fatal(err)
	}
	clear(vbuf)
	if !reflect.DeepEqual(vs, vec(1, 1, 2, 5, 9).Summary()) {
		t.Fatal("decoded vector changed when the input buffer was reused")
	}
}

func TestPeekKind(t *testing.T) {
	t.Parallel()
	if k, err := PeekKind(AppendBatch(nil, &Batch{})); k != KindBatch || err != nil {
		t.Errorf("batch: %v %v", k, err)
	}
	if k, err := PeekKind(AppendVector(nil, nil)); k != KindVector || err != nil {
		t.Errorf("vector: %v %v", k, err)
	}
	if KindBatch.String() != "batch" || KindVector.String() != "vector" || Kind(7).String() != "Kind(7)" {
		t.Error("Kind.String")
	}
}

func TestVectorRoundTrip(t *testing.T) {
	t.Parallel()
	big := NewVector()
	for _, s := range []uint64{1, 2, 3, 10, 12, 1 << 40, 1<<64 - 1} {
		big.Add(Dot{7, s}, tsOf(7, s))
	}
	big.Add(Dot{^ReplicaID(0), 1}, ^Timestamp(0))
	big.Add(Dot{0, 5}, 1)
	for i, s := range [][]ReplicaState{nil, vec(1, 1).Summary(), big.Summary()} {
		enc := AppendVector(nil, s)
		got, n, err := DecodeVector(append(enc, "trailer"...), 0)
		if err != nil || n != len(enc) {
			t.Fatalf("%d: n %d/%d err %v", i, n, len(enc), err)
		}
		if len(s) == 0 && len(got) == 0 {
			continue
		}
		if !reflect.DeepEqual(got, s) {
			t.Fatalf("%d: round trip\n got %+v\nwant %+v", i, got, s)
		}
	}
	// Input the decoder would reject is normalised by the encoder.
	messy := []ReplicaState{{Replica: 2, Prefix: 3, Extra: []uint64{9, 2, 9}}, {Replica: 1, Prefix: 1}}
	got, _, err := DecodeVector(AppendVector(nil, messy), 0)
	want := VectorFromSummary(messy).Summary()
	if err != nil || !reflect.DeepEqual(got, want) {
		t.Fatalf("messy input: %+v, %v; want %+v", got, err, want)
	}
}

func TestDecodeVectorErrors(t *testing.T) {
	t.Parallel()
	two := AppendVector(nil, []ReplicaState{{Replica: 1, Prefix: 1, Extra: []uint64{3}}, {Replica: 2}})
	// Offsets: 3 count, 4..11 id, 12 prefix, 13..20 ts, 21 n, 22 gap,
	// 23..30 id 2, 31 prefix, 32..39 ts, 40 n.
	mutate := func(i int, c byte) []byte {
		b := bytes.Clone(two)
		b[i] = c
		return b
	}
	var tooMany []byte
	tooMany = appendHeader(tooMany, KindVector)
	tooMany = append(tooMany, 1, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0)
	tooMany = append(tooMany, 0x81, 0x20) // MaxOutOfOrder + 1 extras
	tests := []struct {
		name string
		src  []byte
		max  int
		want error
	}{
		{"batch kind", mutate(2, byte(KindBatch)), 0, ErrMalformed},
		{"too many replicas", two, 1, ErrTooLarge},
		{"count beyond input", mutate(3, 100), 0, ErrMalformed},
		{"replicas out of order", mutate(23, 1), 0, ErrMalformed},
		{"zero gap", mutate(22, 0), 0, ErrMalformed},
		{"extras beyond input", mutate(40, 5), 0, ErrMalformed},
		{"too many extras", tooMany, 0, ErrTooLarge},
		{"gap overflows", append(append(bytes.Clone(two[:12]), 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01), append(make([]byte, 8), 1, 2)...), 0, ErrMalformed},
	}
	for _, tt := range tests {
		if _, _, err := DecodeVector(tt.src, tt.max); !errors.Is(err, tt.want) {
			t.Errorf("%s: err = %v, want %v", tt.name, err, tt.want)
		}
	}
	for n := 0; n < len(two); n++ {
		if _, _, err := DecodeVector(two[:n], 0); !errors.Is(err, ErrMalformed) {
			t.Fatalf("truncated to %d: err = %v", n, err)
		}
	}
}

// TestCodecRoundTripRandom round-trips random batches and vectors.
func TestCodecRoundTripRandom(t *testing.T) {
	t.Parallel()
	for seed := uint64(0); seed < 200; seed++ {
		rng := rand.New(rand.NewPCG(seed, 5))
		b := randBatch(rng)
		got, err := DecodeBatch(AppendBatch(nil, &b), Limits{})
		if err != nil || !batchEqual(got, b) {
			t.Fatalf("seed %d: batch round trip: %v", seed, err)
		}
		v := NewVector()
		for i := rng.IntN(200); i > 0; i-- {
			r := ReplicaID(rng.Uint64N(4) << 60)
			v.Add(Dot{r, 1 + rng.Uint64N(1+rng.Uint64N(1<<uint(rng.IntN(40))))}, Timestamp(rng.Uint64()))
		}
		s := v.Summary()
		gs, _, err := DecodeVector(AppendVector(nil, s), 0)
		if err != nil || (len(s) > 0 && !reflect.DeepEqual(gs, s)) {
			t.Fatalf("seed %d: vector round trip: %v", seed, err)
		}
	}
}

func randBatch(rng *rand.Rand) Batch {
	b := Batch{From: ReplicaID(rng.Uint64())}
	for i := rng.IntN(20); i > 0; i-- {
		key := make([]byte, rng.IntN(40))
		for j := range key {
			key[j] = byte(rng.Uint32())
		}
		e := Entry{
			Type:    TypeLWW,
			Expiry:  rng.Int64() >> rng.IntN(64),
			Version: Version{TS: Timestamp(rng.Uint64()), Replica: ReplicaID(rng.Uint64())},
			Seq:     rng.Uint64() >> rng.IntN(64),
		}
		switch rng.IntN(3) {
		case 0:
			e.Flags = FlagTombstone
		case 1:
			e.Value, e.Flags, _ = EncodeValue(fmt.Sprint("ct", rng.IntN(9)), key)
		default:
			e.Value = bytes.Repeat(key, rng.IntN(4))
		}
		b.Deltas = append(b.Deltas, Delta{Key: string(key), Entry: e})
	}
	return b
}

// deltaEqual compares deltas treating nil and empty values alike (the wire
// does not distinguish them).
func deltaEqual(a, b Delta) bool {
	if !bytes.Equal(a.Entry.Value, b.Entry.Value) {
		return false
	}
	a.Entry.Value, b.Entry.Value = nil, nil
	return reflect.DeepEqual(a, b)
}

func batchEqual(a, b Batch) bool {
	if a.From != b.From || len(a.Deltas) != len(b.Deltas) {
		return false
	}
	for i := range a.Deltas {
		if !deltaEqual(a.Deltas[i], b.Deltas[i]) {
			return false
		}
	}
	return true
}

// benchBatch is a typical gossip batch: 64 deltas of 100-byte values.
func benchBatch() Batch {
	b := Batch{From: 0x9d3c5e7f1a2b4c6d}
	val := bytes.Repeat([]byte("v"), 100)
	for i := 0; i < 64; i++ {
		b.Deltas = append(b.Deltas, Delta{Key: fmt.Sprintf("user:%08d", i), Entry: Entry{
			Type: TypeLWW, Value: val, Expiry: 1700000060000,
			Version: Version{TS: MakeTimestamp(1700000000000, uint16(i)), Replica: b.From},
			Seq:     1_000_000 + uint64(i),
		}})
	}
	return b
}

func BenchmarkAppendBatch(b *testing.B) {
	batch := benchBatch()
	buf := AppendBatch(nil, &batch)
	b.SetBytes(int64(len(buf)))
	b.ReportAllocs()
	for b.Loop() {
		buf = AppendBatch(buf[:0], &batch)
	}
	// After the loop: b.Loop resets user metrics when it starts timing.
	b.ReportMetric(float64(len(buf))/float64(len(batch.Deltas)), "wireB/delta")
}

func BenchmarkDecodeBatch(b *testing.B) {
	batch := benchBatch()
	buf := AppendBatch(nil, &batch)
	b.SetBytes(int64(len(buf)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := DecodeBatch(buf, Limits{}); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(len(buf))/float64(len(batch.Deltas)), "wireB/delta")
}
