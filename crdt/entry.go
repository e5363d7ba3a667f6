package crdt

import (
	"fmt"
	"strconv"
)

// Type tags the CRDT an entry holds. It is on the wire in every delta so a
// second type (a PN-counter) can be added without a format break; decoders
// reject types they do not know instead of misreading them.
type Type uint8

// Known entry types. 0 is deliberately invalid so a forgotten field is
// caught by Validate and by every decoder rather than replicated.
const (
	TypeLWW     Type = 1 // last-writer-wins register
	TypeCounter Type = 2 // PN-counter started from a base (see Counter); Value is its encoding
	// TypeFlush is a cluster-wide flush marker (FLUSHALL): empty key and value, no flags. Every
	// entry stamped at or before its timestamp is gone on every node that applied it.
	TypeFlush Type = 3
	// Collections: Value is an encoded state or delta (see dots.go), no flags.
	TypeHash Type = 4 // observed-remove map of LWW fields (Hash)
	TypeSet  Type = 5 // add-wins observed-remove set (Set)
	TypeZSet Type = 6 // sorted set (ZSet)

	maxType = TypeZSet
)

// IsCollection reports whether t is a hash, set or sorted set.
func (t Type) IsCollection() bool { return t >= TypeHash && t <= TypeZSet }

// String returns the type's name, or "Type(n)" for an unknown one.
func (t Type) String() string {
	switch t {
	case TypeLWW:
		return "lww"
	case TypeCounter:
		return "counter"
	case TypeFlush:
		return "flush"
	case TypeHash:
		return "hash"
	case TypeSet:
		return "set"
	case TypeZSet:
		return "zset"
	}
	return "Type(" + strconv.Itoa(int(t)) + ")"
}

// Flags qualify an entry's value.
type Flags uint8

// Entry flags. Bits not listed here are rejected by Validate and the
// decoders, because an old node must not silently drop a meaning a newer one
// attached to the value.
const (
	FlagTombstone   Flags = 1 << 0 // replicated delete: Value empty
	FlagContentType Flags = 1 << 1 // Value = [1 byte len n][n bytes content type][data]

	knownFlags = FlagTombstone | FlagContentType
)

// MaxContentType is the longest content type EncodeValue accepts; its
// length is stored in a single byte.
const MaxContentType = 255

// Entry is one replicated register value. The dot's replica is always
// Version.Replica (the writer).
type Entry struct {
	Value   []byte  // raw payload (includes the content-type prefix when FlagContentType)
	Expiry  int64   // absolute unix ms, 0 = none
	Version Version // LWW order; the writer is Version.Replica
	Seq     uint64  // dot sequence number; Dot() = {Version.Replica, Seq}
	Type    Type    // CRDT type tag; must be valid (non-zero, known)
	Flags   Flags   // tombstone, content type
}

// Dot returns the write's dot. It is derived from Version.Replica rather
// than stored so the two can never disagree.
func (e *Entry) Dot() Dot { return Dot{Replica: e.Version.Replica, Seq: e.Seq} }

// Tombstone reports whether e is a replicated delete.
func (e *Entry) Tombstone() bool { return e.Flags&FlagTombstone != 0 }

// Expired reports whether e has an expiry that is at or before nowMs.
// Expiry is absolute, so every region expires the key at the same moment.
func (e *Entry) Expired(nowMs int64) bool { return e.Expiry != 0 && e.Expiry <= nowMs }

// Data returns the payload without the content-type prefix, as a sub-slice
// of Value (no allocation). If the prefix is malformed (which Validate and
// the decoders reject) Data returns nil rather than misframed bytes.
func (e *Entry) Data() []byte {
	if e.Flags&FlagContentType == 0 {
		return e.Value
	}
	n, ok := e.ctLen()
	if !ok {
		return nil
	}
	return e.Value[1+n:]
}

// ContentType returns the content type stored with the value, or "" if
// there is none or the prefix is malformed.
func (e *Entry) ContentType() string {
	if e.Flags&FlagContentType == 0 {
		return ""
	}
	n, ok := e.ctLen()
	if !ok {
		return ""
	}
	return string(e.Value[1 : 1+n])
}

func (e *Entry) ctLen() (int, bool) {
	if len(e.Value) == 0 {
		return 0, false
	}
	n := int(e.Value[0])
	return n, 1+n <= len(e.Value)
}

// Validate checks the entry's own invariants (type, flags, tombstone value,
// content-type prefix). Decoders apply it to every decoded entry; writers
// should apply it before encoding, because AppendDelta cannot report errors
// and an invalid entry would be rejected by every peer. Size limits are
// checked separately (see Limits).
func (e *Entry) Validate() error {
	if err := e.validateTag(); err != nil {
		return err
	}
	if e.Type == TypeCounter {
		// A counter is never a tombstone (a delete is a register) and carries no content type.
		if e.Flags != 0 {
			return fmt.Errorf("%w: counter entry with flags %#x", ErrMalformed, uint8(e.Flags))
		}
		_, err := CounterOf(e)
		return err
	}
	if e.Tombstone() && len(e.Value) != 0 {
		return fmt.Errorf("%w: tombstone with a %d-byte value", ErrMalformed, len(e.Value))
	}
	if e.Flags&FlagContentType != 0 {
		if _, ok := e.ctLen(); !ok {
			return fmt.Errorf("%w: content-type prefix exceeds the value", ErrMalformed)
		}
	}
	return nil
}

// validateTag checks type and flags: a future type or flag is ErrVersion
// (a newer peer), type 0 is ErrMalformed (never written by a valid peer).
func (e *Entry) validateTag() error {
	switch {
	case e.Type == 0:
		return fmt.Errorf("%w: entry type 0", ErrMalformed)
	case e.Type > maxType:
		return fmt.Errorf("%w: unknown entry type %d", ErrVersion, e.Type)
	case e.Type == TypeFlush && (e.Flags != 0 || len(e.Value) != 0 || e.Expiry != 0):
		return fmt.Errorf("%w: flush marker with a value, flags or expiry", ErrMalformed)
	case e.Type.IsCollection() && e.Flags != 0:
		return fmt.Errorf("%w: %s entry with flags %#x", ErrMalformed, e.Type, uint8(e.Flags))
	case e.Flags&^knownFlags != 0:
		return fmt.Errorf("%w: unknown entry flags %#x", ErrVersion, uint8(e.Flags&^knownFlags))
	}
	return nil
}

// EncodeValue builds an entry value that carries a content type, returning
// the bytes for Entry.Value and the flags to set. An empty content type
// returns a copy of data and no flags. A content type longer than
// MaxContentType bytes is an error wrapping ErrTooLarge. The result never
// aliases data.
func EncodeValue(contentType string, data []byte) ([]byte, Flags, error) {
	if contentType == "" {
		return append([]byte(nil), data...), 0, nil
	}
	if len(contentType) > MaxContentType {
		return nil, 0, fmt.Errorf("%w: content type is %d bytes, max %d", ErrTooLarge, len(contentType), MaxContentType)
	}
	v := make([]byte, 0, 1+len(contentType)+len(data))
	v = append(v, byte(len(contentType)))
	v = append(v, contentType...)
	v = append(v, data...)
	return v, FlagContentType, nil
}
