package rdb

import (
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc64"
)

// Version is the RDB version of Redis 7.0, which a payload's footer carries. A payload of a
// later version is refused, as Redis 7.0 refuses it (its encodings may be unknown here).
const Version = 10

// RDB object types (Redis's rdb.h).
const (
	TypeString       = 0
	TypeList         = 1
	TypeSet          = 2
	TypeZSet         = 3
	TypeHash         = 4
	TypeZSet2        = 5
	TypeModule       = 6
	TypeModule2      = 7
	TypeHashZipmap   = 9
	TypeListZiplist  = 10
	TypeSetIntset    = 11
	TypeZSetZiplist  = 12
	TypeHashZiplist  = 13
	TypeListQuick    = 14
	TypeStream       = 15
	TypeHashListpack = 16
	TypeZSetListpack = 17
	TypeListQuick2   = 18
	TypeStream2      = 19
)

var (
	// ErrChecksum is a payload whose footer is missing, of a later RDB version, or whose CRC
	// does not match (Redis: "DUMP payload version or checksum are wrong").
	ErrChecksum = errors.New("rdb: payload version or checksum are wrong")
	// ErrFormat is a payload whose object cannot be read (Redis: "Bad data format").
	ErrFormat = errors.New("rdb: bad data format")
	// ErrUnsupported wraps ErrFormat for an object of a type this package does not read
	// (lists, streams, module values).
	ErrUnsupported = fmt.Errorf("%w: unsupported type", ErrFormat)
)

// crcJones is the table of Redis's CRC-64: the Jones polynomial, reflected (crc64.c).
var crcJones = crc64.MakeTable(0x95ac9329ac4bc9b5)

// CRC64 is Redis's crc64(0, p). Go's crc64 inverts the register before and after, Redis's does
// not: the inversions around Update undo that.
func CRC64(p []byte) uint64 { return ^crc64.Update(^uint64(0), crcJones, p) }

// Finish appends the footer to an RDB object (a type byte and its encoding), making it a
// DUMP payload.
func Finish(b []byte) []byte {
	b = binary.LittleEndian.AppendUint16(b, Version)
	return binary.LittleEndian.AppendUint64(b, CRC64(b))
}

// Verify checks a payload's footer as Redis's verifyDumpPayload does and returns the object
// before it.
func Verify(p []byte) ([]byte, error) {
	if len(p) < 10 {
		return nil, ErrChecksum
	}
	body := p[:len(p)-8]
	if binary.LittleEndian.Uint16(body[len(body)-2:]) > Version {
		return nil, ErrChecksum
	}
	if binary.LittleEndian.Uint64(p[len(p)-8:]) != CRC64(body) {
		return nil, ErrChecksum
	}
	return body[:len(body)-2], nil
}

// Kind is the type of a decoded value.
type Kind uint8

// The kinds of value Decode returns.
const (
	String Kind = iota
	Hash
	Set
	ZSet
)

func (k Kind) String() string {
	switch k {
	case String:
		return "string"
	case Hash:
		return "hash"
	case Set:
		return "set"
	case ZSet:
		return "zset"
	}
	return fmt.Sprintf("Kind(%d)", uint8(k))
}

// Scored is a sorted-set member and its score.
type Scored struct {
	Member []byte
	Score  float64
}

// Object is a decoded value: the field of its kind is set. Byte slices may alias the payload
// (or a buffer decompression made): copy what is kept. A hash, set or sorted set holds at
// least one element and no duplicates, in the payload's order.
type Object struct {
	Kind    Kind
	Str     []byte      // String
	Fields  [][2][]byte // Hash: field and value pairs
	Members [][]byte    // Set
	Scored  []Scored    // ZSet; scores are never NaN
}

// Decode verifies a DUMP payload and decodes its object. A bad footer is ErrChecksum; an object
// that cannot be read, or bytes left after it, an error wrapping ErrFormat (ErrUnsupported for a
// type other than string, hash, set or sorted set).
func Decode(p []byte) (Object, error) {
	body, err := Verify(p)
	if err != nil {
		return Object{}, err
	}
	if len(body) == 0 {
		return Object{}, fmt.Errorf("%w: no object", ErrFormat)
	}
	r := reader{b: body[1:]}
	var o Object
	switch t := body[0]; t {
	case TypeString:
		o.Kind, o.Str = String, r.str()
	case TypeSet:
		o.Kind, o.Members = Set, r.plainSet()
	case TypeSetIntset:
		o.Kind, o.Members = Set, intset(r.str(), &r)
	case TypeHash:
		o.Kind, o.Fields = Hash, r.plainHash()
	case TypeHashZiplist, TypeHashListpack:
		o.Kind, o.Fields = Hash, r.pairs(t)
	case TypeZSet2:
		o.Kind, o.Scored = ZSet, r.plainZSet()
	case TypeZSetZiplist, TypeZSetListpack:
		o.Kind, o.Scored = ZSet, r.scoredPairs(t)
	case TypeList, TypeListZiplist, TypeListQuick, TypeListQuick2:
		return Object{}, fmt.Errorf("%w (list)", ErrUnsupported)
	case TypeStream, TypeStream2:
		return Object{}, fmt.Errorf("%w (stream)", ErrUnsupported)
	case TypeModule, TypeModule2:
		return Object{}, fmt.Errorf("%w (module value)", ErrUnsupported)
	case TypeZSet, TypeHashZipmap:
		// Written only by Redis before 2.6 (zipmap) and 3.2 (string scores), which geocache's
		// users do not dump from; Redis 7.0 reads them, this package does not.
		return Object{}, fmt.Errorf("%w (RDB type %d, from Redis before 3.2)", ErrUnsupported, t)
	default:
		return Object{}, fmt.Errorf("%w: unknown RDB type %d", ErrFormat, t)
	}
	if r.err != nil {
		return Object{}, r.err
	}
	if len(r.b) != 0 {
		return Object{}, fmt.Errorf("%w: %d bytes after the object", ErrFormat, len(r.b))
	}
	return o, nil
}
