package crdt

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"slices"
	"strconv"
	"unsafe"
)

// Wire format (all multi-byte fixed fields little-endian):
//
//	frame   = WireMagic WireVersion kind body
//	batch   = from:fixed64 count:uvarint delta*count          (kind 1)
//	vector  = count:uvarint replica*count                      (kind 2)
//	replica = id:fixed64 prefix:uvarint prefixTS:fixed64 n:uvarint gap:uvarint*n
//	delta   = type:u8 flags:u8 keyLen:uvarint key ts:fixed64 writer:fixed64
//	          seq:uvarint expiry:varint valLen:uvarint value
//
// Replica ids are random and timestamps carry the millis in their high
// bits, so both are fixed 8 bytes (a uvarint would take 9-10). Extras are
// gaps from the previous seq (the first from the prefix), which keeps a
// run of nearby out-of-order seqs at about a byte each and makes "strictly
// increasing, above the prefix" a structural property of the encoding.
// The type byte leads each delta so a future type may define what follows.

// WireVersion is the codec version written in every frame header. A
// decoder rejects other versions with ErrVersion rather than guessing.
const WireVersion = 1

// WireMagic is the first byte of every frame; it catches a stream that is
// not speaking this protocol (or is misaligned) on the first byte.
const WireMagic byte = 0xC6

// Kind is the frame kind byte that follows the version in a frame header.
type Kind uint8

// Frame kinds. New kinds (e.g. sync requests) can be added without
// breaking the existing ones.
const (
	KindBatch  Kind = 1 // a Batch of deltas
	KindVector Kind = 2 // a version vector summary

	maxKind = KindVector
)

// String returns "batch", "vector" or "Kind(n)".
func (k Kind) String() string {
	switch k {
	case KindBatch:
		return "batch"
	case KindVector:
		return "vector"
	}
	return "Kind(" + strconv.Itoa(int(k)) + ")"
}

// Decoding errors. Every decoder error wraps exactly one of these.
var (
	ErrMalformed = errors.New("crdt: malformed frame")
	ErrTooLarge  = errors.New("crdt: frame field too large")
	ErrVersion   = errors.New("crdt: unsupported wire version")
)

// Default limits; see Limits.
const (
	DefaultMaxKey   = 16 << 10    // 16 KiB keys
	DefaultMaxValue = 1<<20 + 256 // 1 MiB of data plus room for a content-type prefix
	DefaultMaxBatch = 4096        // deltas per batch
	// DefaultMaxCollection bounds one hash, set or sorted set state: a snapshot ships a
	// collection whole, so its bound is separate from (and larger than) a string value's.
	DefaultMaxCollection = 64 << 20
)

// Smallest encodings, used to reject counts the remaining input cannot
// hold before allocating for them.
const (
	headerLen     = 3                         // magic, version, kind
	minDeltaLen   = 2 + 1 + 8 + 8 + 1 + 1 + 1 // type, flags, key len, ts, writer, seq, expiry, value len
	minReplicaLen = 8 + 1 + 8 + 1             // id, prefix, prefix ts, extra count
)

// DefaultMaxReplicas is the replica count DecodeVector allows when passed
// maxReplicas <= 0. Replica ids are per process start, so a long-lived
// cluster accumulates ids until the node prunes them; this is generous for
// that while bounding a hostile frame.
const DefaultMaxReplicas = 1 << 14

// Limits bounds what a decoder accepts. A zero (or negative) field means
// its default, so Limits{} is the default limits.
type Limits struct {
	// MaxKey is the largest key in bytes (default 16 KiB). Larger keys
	// are rejected with ErrTooLarge before any allocation.
	MaxKey int
	// MaxValue is the largest raw Entry.Value in bytes, content-type
	// prefix included (default 1 MiB + 256). It bounds the memory one
	// delta can make the decoder allocate.
	MaxValue int
	// MaxBatch is the most deltas in one batch (default 4096). Senders
	// batch ~64; the headroom is for snapshot streaming.
	MaxBatch int
	// MaxCollection is the largest Entry.Value of a hash, set or sorted
	// set (default 64 MiB): a full state is shipped whole.
	MaxCollection int
}

// DefaultLimits returns the default limits.
func DefaultLimits() Limits {
	return Limits{MaxKey: DefaultMaxKey, MaxValue: DefaultMaxValue, MaxBatch: DefaultMaxBatch, MaxCollection: DefaultMaxCollection}
}

func (l Limits) withDefaults() Limits {
	if l.MaxKey <= 0 {
		l.MaxKey = DefaultMaxKey
	}
	if l.MaxValue <= 0 {
		l.MaxValue = DefaultMaxValue
	}
	if l.MaxBatch <= 0 {
		l.MaxBatch = DefaultMaxBatch
	}
	if l.MaxCollection <= 0 {
		l.MaxCollection = DefaultMaxCollection
	}
	return l
}

// Delta is one replicated write of a key.
type Delta struct {
	Key   string
	Entry Entry
}

// Batch is a group of deltas sent in one message.
type Batch struct {
	From   ReplicaID // sending replica (relays may carry other writers' deltas)
	Deltas []Delta
}

func appendHeader(dst []byte, k Kind) []byte {
	return append(dst, WireMagic, WireVersion, byte(k))
}

// AppendDelta appends the encoding of d (no frame header) to dst. It does
// not validate: run Entry.Validate and the size limits first, since an
// invalid delta is encoded as-is and rejected by every decoder.
func AppendDelta(dst []byte, d *Delta) []byte {
	e := &d.Entry
	dst = append(dst, byte(e.Type), byte(e.Flags))
	dst = binary.AppendUvarint(dst, uint64(len(d.Key)))
	dst = append(dst, d.Key...)
	dst = binary.LittleEndian.AppendUint64(dst, uint64(e.Version.TS))
	dst = binary.LittleEndian.AppendUint64(dst, uint64(e.Version.Replica))
	dst = binary.AppendUvarint(dst, e.Seq)
	dst = binary.AppendVarint(dst, e.Expiry)
	dst = binary.AppendUvarint(dst, uint64(len(e.Value)))
	return append(dst, e.Value...)
}

// AppendBatch appends b as a batch frame (header, sender, deltas) to dst.
// Like AppendDelta it does not validate the deltas.
func AppendBatch(dst []byte, b *Batch) []byte {
	n := headerLen + 8 + binary.MaxVarintLen64
	for i := range b.Deltas {
		// Upper bound per delta: fixed fields + 4 varints + payloads.
		n += 18 + 4*binary.MaxVarintLen64 + len(b.Deltas[i].Key) + len(b.Deltas[i].Entry.Value)
	}
	dst = slices.Grow(dst, n)
	dst = appendHeader(dst, KindBatch)
	dst = binary.LittleEndian.AppendUint64(dst, uint64(b.From))
	dst = binary.AppendUvarint(dst, uint64(len(b.Deltas)))
	for i := range b.Deltas {
		dst = AppendDelta(dst, &b.Deltas[i])
	}
	return dst
}

// PeekKind checks a frame header and returns the frame's kind, so a stream
// reader can dispatch before decoding. A bad magic byte or a short header
// is ErrMalformed; another wire version or an unknown kind is ErrVersion.
func PeekKind(src []byte) (Kind, error) {
	if len(src) < headerLen {
		return 0, fmt.Errorf("%w: %d-byte frame is shorter than the header", ErrMalformed, len(src))
	}
	if src[0] != WireMagic {
		return 0, fmt.Errorf("%w: bad magic byte %#x", ErrMalformed, src[0])
	}
	if src[1] != WireVersion {
		return 0, fmt.Errorf("%w: wire version %d, want %d", ErrVersion, src[1], WireVersion)
	}
	k := Kind(src[2])
	if k == 0 || k > maxKind {
		return 0, fmt.Errorf("%w: unknown frame kind %d", ErrVersion, src[2])
	}
	return k, nil
}

func checkHeader(src []byte, want Kind) error {
	k, err := PeekKind(src)
	if err != nil {
		return err
	}
	if k != want {
		return fmt.Errorf("%w: %s frame, want %s", ErrMalformed, k, want)
	}
	return nil
}

// reader decodes from an untrusted buffer; every method bounds-checks and
// reports truncation as ErrMalformed instead of panicking.
type reader struct {
	b   []byte
	off int
	// viewKeys makes decoded keys views of b instead of copies (DecodeBatchBorrowKeys), and
	// viewValues the values too (DecodeBatchBorrow).
	viewKeys, viewValues bool
}

func (r *reader) rest() int { return len(r.b) - r.off }

func (r *reader) truncated(what string) error {
	return fmt.Errorf("%w: truncated %s at offset %d", ErrMalformed, what, r.off)
}

func (r *reader) byte(what string) (byte, error) {
	if r.off >= len(r.b) {
		return 0, r.truncated(what)
	}
	c := r.b[r.off]
	r.off++
	return c, nil
}

func (r *reader) fixed64(what string) (uint64, error) {
	if r.rest() < 8 {
		return 0, r.truncated(what)
	}
	x := binary.LittleEndian.Uint64(r.b[r.off:])
	r.off += 8
	return x, nil
}

func (r *reader) uvarint(what string) (uint64, error) {
	x, n := binary.Uvarint(r.b[r.off:])
	if n <= 0 || r.padded(n) {
		return 0, r.varintErr(n, what)
	}
	r.off += n
	return x, nil
}

// padded reports whether the n-byte varint at the read offset has a redundant zero group (a
// non-minimal encoding of a smaller one): accepting it would let two encodings decode to one
// state, and the decoders promise that a decoded state re-encodes to its input.
func (r *reader) padded(n int) bool { return n > 1 && r.b[r.off+n-1] == 0 }

// varintErr builds the error for a failed varint read; what is only
// formatted here, off the success path.
func (r *reader) varintErr(n int, what string) error {
	if n == 0 {
		return r.truncated(what)
	}
	if n > 0 {
		return fmt.Errorf("%w: %s is a padded varint at offset %d", ErrMalformed, what, r.off)
	}
	return fmt.Errorf("%w: %s overflows 64 bits at offset %d", ErrMalformed, what, r.off)
}

func (r *reader) varint(what string) (int64, error) {
	x, n := binary.Varint(r.b[r.off:])
	if n <= 0 || r.padded(n) {
		return 0, r.varintErr(n, what)
	}
	r.off += n
	return x, nil
}

// length reads a uvarint length and checks it against limit (ErrTooLarge)
// and then against the remaining input (ErrMalformed), in that order, so
// nothing is ever allocated from an unchecked count.
func (r *reader) length(what string, limit int) (int, error) {
	n, k := binary.Uvarint(r.b[r.off:])
	if k <= 0 || r.padded(k) {
		return 0, r.varintErr(k, what+" length")
	}
	r.off += k
	if n > uint64(limit) {
		return 0, fmt.Errorf("%w: %s length %d exceeds %d", ErrTooLarge, what, n, limit)
	}
	if n > uint64(r.rest()) {
		return 0, fmt.Errorf("%w: %s length %d exceeds the %d bytes left", ErrMalformed, what, n, r.rest())
	}
	return int(n), nil
}

// take returns the next n bytes as a view of the input; n must have been
// checked by length.
func (r *reader) take(n int) []byte {
	b := r.b[r.off : r.off+n : r.off+n]
	r.off += n
	return b
}

// DecodeDelta decodes one delta (as written by AppendDelta) from the start
// of src and returns it with the number of bytes consumed. Key and value are
// copies, never views of src. lim's zero fields mean defaults.
func DecodeDelta(src []byte, lim Limits) (Delta, int, error) {
	r := reader{b: src}
	var d Delta
	if err := r.delta(&d, lim.withDefaults()); err != nil {
		return Delta{}, 0, err
	}
	return d, r.off, nil
}

// delta decodes one delta into d, which must be zero. On error d holds part of it. Decoding
// in place rather than returning the Delta spared two copies of it per received write.
func (r *reader) delta(d *Delta, lim Limits) error {
	e := &d.Entry
	t, err := r.byte("type")
	if err != nil {
		return err
	}
	f, err := r.byte("flags")
	if err != nil {
		return err
	}
	e.Type, e.Flags = Type(t), Flags(f)
	// Reject unknown types and flags before reading a layout they may not
	// share with LWW.
	if err := e.validateTag(); err != nil {
		return err
	}
	n, err := r.length("key", lim.MaxKey)
	if err != nil {
		return err
	}
	if k := r.take(n); r.viewKeys && n > 0 {
		d.Key = unsafe.String(&k[0], n)
	} else {
		d.Key = string(k) // string conversion copies
	}
	ts, err := r.fixed64("timestamp")
	if err != nil {
		return err
	}
	rep, err := r.fixed64("writer")
	if err != nil {
		return err
	}
	e.Version = Version{TS: Timestamp(ts), Replica: ReplicaID(rep)}
	if e.Seq, err = r.uvarint("seq"); err != nil {
		return err
	}
	if e.Expiry, err = r.varint("expiry"); err != nil {
		return err
	}
	maxValue := lim.MaxValue
	if e.Type.IsCollection() {
		maxValue = lim.MaxCollection
	}
	if n, err = r.length("value", maxValue); err != nil {
		return err
	}
	if n > 0 && r.viewValues {
		e.Value = r.take(n)
	} else if n > 0 {
		// A copy (callers reuse src), by make and copy, which the compiler turns into one
		// allocation without zeroing; append to nil went through growslice.
		src := r.take(n)
		v := make([]byte, len(src))
		copy(v, src)
		e.Value = v
	}
	if err := e.Validate(); err != nil {
		return err
	}
	return nil
}

// deltaFast decodes the delta at the read offset when it is a plain register write (TypeLWW,
// no flags) within lim, which is nearly every delta a writer's batch carries, and reports
// true; for anything else (another type, flags, a truncated or non-minimal field, a length over
// its limit) it changes nothing and reports false, and delta decodes it (or reports why not).
// delta reads field by field through calls that each check and name their field, ~600
// instructions per write for a receiver under a SET flood (6 % of its CPU): here one bounds
// check covers the fixed fields and one-byte lengths are read inline. What it accepts delta
// accepts, with the same result: such an entry always passes Validate.
func (r *reader) deltaFast(d *Delta, lim *Limits) bool {
	b := r.b[r.off:]
	if len(b) < 3 || Type(b[0]) != TypeLWW || b[1] != 0 {
		return false
	}
	// Each uvarint: one byte inline (a length under 128, an expiry of 0), longer ones by
	// slowUvarint. ok stays true until a field is refused. Written out at each field on
	// purpose: a helper for it is too costly for Go to inline (100 against a budget of 80),
	// and the call made this decode ~8 % slower (1.71–1.88 → 1.90–2.04 µs a 64-delta batch,
	// borrowed, four alternating runs).
	p, ok := 2, true
	kl := uint64(b[p])
	if kl < 0x80 {
		p++
	} else if kl, ok = slowUvarint(b, &p); !ok {
		return false
	}
	if kl > uint64(lim.MaxKey) || kl > uint64(len(b)-p) {
		return false
	}
	k := b[p : p+int(kl) : p+int(kl)]
	p += int(kl)
	if len(b)-p < 16+3 { // the fixed fields, and at least a byte for each uvarint after them
		return false
	}
	ts := binary.LittleEndian.Uint64(b[p:])
	rep := binary.LittleEndian.Uint64(b[p+8:])
	p += 16
	seq := uint64(b[p])
	if seq < 0x80 {
		p++
	} else if seq, ok = slowUvarint(b, &p); !ok {
		return false
	}
	if p >= len(b) {
		return false
	}
	ux := uint64(b[p]) // the expiry, zigzag-encoded (binary.AppendVarint)
	if ux < 0x80 {
		p++
	} else if ux, ok = slowUvarint(b, &p); !ok {
		return false
	}
	if p >= len(b) {
		return false
	}
	vl := uint64(b[p])
	if vl < 0x80 {
		p++
	} else if vl, ok = slowUvarint(b, &p); !ok {
		return false
	}
	if vl > uint64(lim.MaxValue) || vl > uint64(len(b)-p) {
		return false
	}
	v := b[p : p+int(vl) : p+int(vl)]
	if r.viewKeys && kl > 0 {
		d.Key = unsafe.String(&k[0], len(k))
	} else {
		d.Key = string(k)
	}
	e := &d.Entry
	e.Type, e.Flags = TypeLWW, 0
	e.Version = Version{TS: Timestamp(ts), Replica: ReplicaID(rep)}
	e.Seq = seq
	e.Expiry = int64(ux>>1) ^ -int64(ux&1)
	if vl > 0 && r.viewValues {
		e.Value = v
	} else if vl > 0 {
		c := make([]byte, len(v))
		copy(c, v)
		e.Value = c
	}
	r.off += p + int(vl)
	return true
}

// slowUvarint reads the uvarint of two bytes or more at b[*p:] and moves *p past it; false
// (and *p unmoved) when it is truncated, overflows or is not minimal, as reader.uvarint
// refuses.
func slowUvarint(b []byte, p *int) (uint64, bool) {
	x, n := binary.Uvarint(b[*p:])
	if n <= 1 || b[*p+n-1] == 0 {
		return 0, false
	}
	*p += n
	return x, true
}

// DecodeBatch decodes a batch frame that occupies all of src; trailing
// bytes are ErrMalformed. Errors wrap ErrMalformed, ErrTooLarge or
// ErrVersion; decoding never panics, and allocation is bounded by both lim
// and len(src). Decoded keys and values do not alias src.
func DecodeBatch(src []byte, lim Limits) (Batch, error) {
	var b Batch
	if err := DecodeBatchInto(&b, src, lim); err != nil {
		return Batch{}, err
	}
	return b, nil
}

// DecodeBatchInto is DecodeBatch into b, reusing the capacity of b.Deltas:
// a receiver decoding batch after batch into one Batch allocates only the
// keys and values (which a store keeps), not a slice of deltas per batch.
// On error b holds no deltas.
func DecodeBatchInto(b *Batch, src []byte, lim Limits) error {
	return decodeBatchInto(b, reader{b: src, off: headerLen}, lim)
}

// DecodeBatchBorrowKeys is DecodeBatchInto except that the decoded keys are views of src, not
// copies: they are valid only while src is unchanged, and a caller that keeps one must copy
// it. Values are still copies. For a receiver that applies a frame before it reuses the frame's
// buffer and stores few of its keys (most name keys it already holds): copying every key was
// an allocation per received write.
func DecodeBatchBorrowKeys(b *Batch, src []byte, lim Limits) error {
	return decodeBatchInto(b, reader{b: src, off: headerLen, viewKeys: true}, lim)
}

// DecodeBatchBorrow is DecodeBatchBorrowKeys with the values views of src too (capacity
// clipped to their length). For a receiver that copies what it keeps of a value anyway: a
// node stores a string's bytes behind a copy of its key in one allocation, so a decoded copy
// of the value was an allocation per received write that became garbage at once.
func DecodeBatchBorrow(b *Batch, src []byte, lim Limits) error {
	return decodeBatchInto(b, reader{b: src, off: headerLen, viewKeys: true, viewValues: true}, lim)
}

func decodeBatchInto(b *Batch, r reader, lim Limits) error {
	b.From, b.Deltas = 0, b.Deltas[:0]
	lim = lim.withDefaults()
	if err := checkHeader(r.b, KindBatch); err != nil {
		return err
	}
	from, err := r.fixed64("sender")
	if err != nil {
		return err
	}
	count, err := r.uvarint("delta count")
	if err != nil {
		return err
	}
	if count > uint64(lim.MaxBatch) {
		return fmt.Errorf("%w: batch of %d deltas exceeds %d", ErrTooLarge, count, lim.MaxBatch)
	}
	if count > uint64(r.rest()/minDeltaLen) {
		return fmt.Errorf("%w: %d deltas cannot fit in %d bytes", ErrMalformed, count, r.rest())
	}
	b.From = ReplicaID(from)
	if count > 0 && b.Deltas == nil {
		b.Deltas = make([]Delta, 0, count)
	}
	for i := uint64(0); i < count; i++ {
		b.Deltas = append(b.Deltas, Delta{})
		d := &b.Deltas[len(b.Deltas)-1]
		if r.deltaFast(d, &lim) {
			continue
		}
		if err := r.delta(d, lim); err != nil {
			clear(b.Deltas)
			b.From, b.Deltas = 0, b.Deltas[:0]
			return fmt.Errorf("%w (delta %d)", err, i)
		}
	}
	if r.rest() != 0 {
		b.From, b.Deltas = 0, b.Deltas[:0]
		return fmt.Errorf("%w: %d trailing bytes after batch", ErrMalformed, r.rest())
	}
	return nil
}

// AppendVector appends a vector frame for s, normally Vector.Summary().
// Input that the decoder would reject (replicas unsorted or repeated, extras
// unsorted, repeated, not above the prefix, or more than MaxOutOfOrder) is
// first normalised through VectorFromSummary, so every frame it writes
// decodes.
func AppendVector(dst []byte, s []ReplicaState) []byte {
	if !encodable(s) {
		s = VectorFromSummary(s).Summary()
	}
	dst = appendHeader(dst, KindVector)
	dst = binary.AppendUvarint(dst, uint64(len(s)))
	for i := range s {
		st := &s[i]
		dst = binary.LittleEndian.AppendUint64(dst, uint64(st.Replica))
		dst = binary.AppendUvarint(dst, st.Prefix)
		dst = binary.LittleEndian.AppendUint64(dst, uint64(st.PrefixTS))
		dst = binary.AppendUvarint(dst, uint64(len(st.Extra)))
		prev := st.Prefix
		for _, x := range st.Extra {
			dst = binary.AppendUvarint(dst, x-prev)
			prev = x
		}
	}
	return dst
}

func encodable(s []ReplicaState) bool {
	for i := range s {
		if i > 0 && s[i].Replica <= s[i-1].Replica {
			return false
		}
		if len(s[i].Extra) > MaxOutOfOrder {
			return false
		}
		prev := s[i].Prefix
		for _, x := range s[i].Extra {
			if x <= prev {
				return false
			}
			prev = x
		}
	}
	return true
}

// DecodeVector decodes a vector frame at the start of src and returns the
// summary and the number of bytes consumed (a frame may be followed by
// other data). At most maxReplicas replicas are accepted (<= 0 means
// DefaultMaxReplicas) and at most MaxOutOfOrder extras each; replicas must
// be strictly increasing. Errors wrap ErrMalformed, ErrTooLarge or
// ErrVersion. The result does not alias src.
func DecodeVector(src []byte, maxReplicas int) ([]ReplicaState, int, error) {
	if maxReplicas <= 0 {
		maxReplicas = DefaultMaxReplicas
	}
	if err := checkHeader(src, KindVector); err != nil {
		return nil, 0, err
	}
	r := reader{b: src, off: headerLen}
	count, err := r.uvarint("replica count")
	if err != nil {
		return nil, 0, err
	}
	if count > uint64(maxReplicas) {
		return nil, 0, fmt.Errorf("%w: vector of %d replicas exceeds %d", ErrTooLarge, count, maxReplicas)
	}
	if count > uint64(r.rest()/minReplicaLen) {
		return nil, 0, fmt.Errorf("%w: %d replicas cannot fit in %d bytes", ErrMalformed, count, r.rest())
	}
	out := make([]ReplicaState, 0, count)
	for i := uint64(0); i < count; i++ {
		var s ReplicaState
		id, err := r.fixed64("replica id")
		if err != nil {
			return nil, 0, err
		}
		s.Replica = ReplicaID(id)
		if i > 0 && s.Replica <= out[i-1].Replica {
			return nil, 0, fmt.Errorf("%w: replica %s out of order", ErrMalformed, s.Replica)
		}
		if s.Prefix, err = r.uvarint("prefix"); err != nil {
			return nil, 0, err
		}
		ts, err := r.fixed64("prefix timestamp")
		if err != nil {
			return nil, 0, err
		}
		s.PrefixTS = Timestamp(ts)
		n, err := r.uvarint("extra count")
		if err != nil {
			return nil, 0, err
		}
		if n > MaxOutOfOrder {
			return nil, 0, fmt.Errorf("%w: %d out-of-order seqs exceed %d", ErrTooLarge, n, MaxOutOfOrder)
		}
		if n > uint64(r.rest()) { // each gap takes at least one byte
			return nil, 0, fmt.Errorf("%w: %d out-of-order seqs cannot fit in %d bytes", ErrMalformed, n, r.rest())
		}
		if n > 0 {
			s.Extra = make([]uint64, 0, n)
		}
		prev := s.Prefix
		for j := uint64(0); j < n; j++ {
			gap, err := r.uvarint("extra gap")
			if err != nil {
				return nil, 0, err
			}
			if gap == 0 || gap > math.MaxUint64-prev {
				return nil, 0, fmt.Errorf("%w: out-of-order seq gap %d after %d", ErrMalformed, gap, prev)
			}
			prev += gap
			s.Extra = append(s.Extra, prev)
		}
		out = append(out, s)
	}
	return out, r.off, nil
}
