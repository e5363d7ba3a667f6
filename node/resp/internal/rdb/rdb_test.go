package rdb

import (
	"bytes"
	"encoding/binary"
	"errors"
	"math"
	"reflect"
	"strconv"
	"strings"
	"testing"
)

// Payloads redis-server 7.0.15 returned for DUMP (redis-cli --no-raw), after:
// SET s hello; SET i 12345; SET neg -7; SET big 123456789012; SET lzf <"abcabcabc" x 20>;
// HSET h f1 v1 f2 300 f3 -5; SADD is 1 2 -3 70000; SADD ss a b c; ZADD z 1 a 2.5 b -inf c.
var redisDumps = map[string]string{
	"s":   "\x00\x05hello\n\x00cr\xdfve4 \n",
	"i":   "\x00\xc190\n\x00\x9d\x94\xea'\x93\xfc\b\xb9",
	"neg": "\x00\xc0\xf9\n\x00^&\xd10\xd7\xa2B\xab",
	"big": "\x00\x0c123456789012\n\x00\x91\x10\x01\xb1\xd1\x16\xe7\xac",
	"lzf": "\x00\xc3\x0b@\xb4\x03abca\xe0\xa5\x02\x01bc\n\x00+[k\xacl&\xc3m",
	"h":   "\x10\x1d\x1d\x00\x00\x00\x06\x00\x82f1\x03\x82v1\x03\x82f2\x03\xc1,\x02\x82f3\x03\xdf\xfb\x02\xff\n\x00?\xa1\xa3T0\x9b\xc9\x02",
	"is":  "\x0b\x18\x04\x00\x00\x00\x04\x00\x00\x00\xfd\xff\xff\xff\x01\x00\x00\x00\x02\x00\x00\x00p\x11\x01\x00\n\x00\x15\xefc{\x14\x0f\xcdd",
	"ss":  "\x02\x03\x01c\x01b\x01a\n\x00^\xa6~V#u\x0b\xab",
	"z":   "\x11\x1d\x1d\x00\x00\x00\x06\x00\x81c\x02\x84-inf\x05\x81a\x02\x01\x01\x81b\x02\x832.5\x04\xff\n\x009\x923\x9b\xe1\x1f2=",
}

func bs(ss ...string) [][]byte {
	out := make([][]byte, len(ss))
	for i, s := range ss {
		out[i] = []byte(s)
	}
	return out
}

func pairs(ss ...string) [][2][]byte {
	var out [][2][]byte
	for i := 0; i < len(ss); i += 2 {
		out = append(out, [2][]byte{[]byte(ss[i]), []byte(ss[i+1])})
	}
	return out
}

func TestCRC64(t *testing.T) {
	// The check value of CRC-64/Jones as Redis's crc64.c computes it (its self-test).
	if got := CRC64([]byte("123456789")); got != 0xe9c6d914c4b8d9ca {
		t.Fatalf("CRC64(123456789) = %#x, want 0xe9c6d914c4b8d9ca", got)
	}
}

func TestDecodeRedisDumps(t *testing.T) {
	want := map[string]Object{
		"s":   {Kind: String, Str: []byte("hello")},
		"i":   {Kind: String, Str: []byte("12345")},
		"neg": {Kind: String, Str: []byte("-7")},
		"big": {Kind: String, Str: []byte("123456789012")},
		"lzf": {Kind: String, Str: []byte(strings.Repeat("abcabcabc", 20))},
		"h":   {Kind: Hash, Fields: pairs("f1", "v1", "f2", "300", "f3", "-5")},
		"is":  {Kind: Set, Members: bs("-3", "1", "2", "70000")},
		"ss":  {Kind: Set, Members: bs("c", "b", "a")},
		"z":   {Kind: ZSet, Scored: []Scored{{[]byte("c"), math.Inf(-1)}, {[]byte("a"), 1}, {[]byte("b"), 2.5}}},
	}
	for name, p := range redisDumps {
		got, err := Decode([]byte(p))
		if err != nil {
			t.Errorf("%s: %v", name, err)
			continue
		}
		if !reflect.DeepEqual(got, want[name]) {
			t.Errorf("%s: got %+v, want %+v", name, got, want[name])
		}
	}
}

// TestAppendMatchesRedis: the encodings geocache writes are Redis's byte for byte where Redis
// writes the plain encoding too (strings too short to compress, a set of strings).
func TestAppendMatchesRedis(t *testing.T) {
	str := func(s string) []byte { return Finish(AppendString([]byte{TypeString}, []byte(s))) }
	for name, s := range map[string]string{"s": "hello", "i": "12345", "neg": "-7", "big": "123456789012"} {
		if got := str(s); string(got) != redisDumps[name] {
			t.Errorf("%s: got %q, want %q", name, got, redisDumps[name])
		}
	}
	set := AppendLen([]byte{TypeSet}, 3)
	for _, m := range []string{"c", "b", "a"} {
		set = AppendString(set, []byte(m))
	}
	if got := Finish(set); string(got) != redisDumps["ss"] {
		t.Errorf("set: got %q, want %q", got, redisDumps["ss"])
	}
}

func TestAppendString(t *testing.T) {
	for _, s := range []string{"", "0", "-0", "007", "+1", "127", "128", "-128", "-129", "32767", "32768",
		"-32769", "2147483647", "2147483648", "-2147483648", "-2147483649", " 1", "x"} {
		b := AppendString(nil, []byte(s))
		r := reader{b: b}
		if got := r.str(); r.err != nil || string(got) != s || len(r.b) != 0 {
			t.Errorf("%q: encoded %x, read back %q (%v)", s, b, got, r.err)
		}
		_, isInt := smallInt([]byte(s))
		if wantInt := b[0]>>6 == 3; isInt != wantInt {
			t.Errorf("%q: integer encoding %v, want %v", s, wantInt, isInt)
		}
	}
	for _, n := range []uint64{0, 63, 64, 16383, 16384, math.MaxUint32, math.MaxUint32 + 1} {
		r := reader{b: AppendLen(nil, n)}
		if got, special := r.length(); got != n || special || r.err != nil {
			t.Errorf("length %d read back as %d", n, got)
		}
	}
}

// elemValues is one of each entry encoding of ziplists and listpacks, and its decimal form.
var elemValues = []any{
	int64(0), int64(12), int64(13), int64(-1), int64(127), int64(128), int64(-128), int64(-129),
	int64(4095), int64(-4096), int64(4096), int64(32767), int64(-32768), int64(32768),
	int64(1<<23 - 1), int64(-1 << 23), int64(1 << 23), int64(math.MaxInt32), int64(math.MinInt32),
	int64(math.MaxInt32 + 1), int64(math.MaxInt64), int64(math.MinInt64),
	"", "x", strings.Repeat("a", 63), strings.Repeat("b", 64), strings.Repeat("c", 127),
	strings.Repeat("d", 4095), strings.Repeat("e", 4096), strings.Repeat("f", 16383),
	strings.Repeat("g", 16384), strings.Repeat("h", 65535), "9223372036854775808",
}

func decimal(e any) []byte {
	if v, ok := e.(int64); ok {
		return strconv.AppendInt(nil, v, 10)
	}
	return []byte(e.(string))
}

func TestPackedHashes(t *testing.T) {
	var entries []any
	var want [][2][]byte
	for i, v := range elemValues {
		f := "field" + strconv.Itoa(i)
		entries = append(entries, f, v)
		want = append(want, [2][]byte{[]byte(f), decimal(v)})
	}
	for _, c := range []struct {
		name string
		t    byte
		blob []byte
	}{
		{"ziplist", TypeHashZiplist, Ziplist(entries...)},
		{"listpack", TypeHashListpack, Listpack(entries...)},
	} {
		got, err := Decode(Packed(c.t, c.blob))
		if err != nil {
			t.Fatalf("%s: %v", c.name, err)
		}
		if got.Kind != Hash || !reflect.DeepEqual(got.Fields, want) {
			t.Errorf("%s: got %d fields, want %d: %q", c.name, len(got.Fields), len(want), got.Fields)
		}
	}
}

func TestPackedZSets(t *testing.T) {
	entries := []any{"a", int64(1), "b", "2.5", "c", "-inf", "d", int64(-70000), "e", "1e308", "f", "1e999"}
	want := []Scored{{[]byte("a"), 1}, {[]byte("b"), 2.5}, {[]byte("c"), math.Inf(-1)},
		{[]byte("d"), -70000}, {[]byte("e"), 1e308}, {[]byte("f"), math.Inf(1)}}
	for _, t2 := range []byte{TypeZSetZiplist, TypeZSetListpack} {
		blob := Listpack(entries...)
		if t2 == TypeZSetZiplist {
			blob = Ziplist(entries...)
		}
		got, err := Decode(Packed(t2, blob))
		if err != nil {
			t.Fatalf("type %d: %v", t2, err)
		}
		if got.Kind != ZSet || !reflect.DeepEqual(got.Scored, want) {
			t.Errorf("type %d: got %v", t2, got.Scored)
		}
	}
}

func TestIntsets(t *testing.T) {
	for _, c := range []struct {
		enc  int
		vals []int64
	}{
		{2, []int64{-32768, 0, 32767}},
		{4, []int64{math.MinInt32, 5, math.MaxInt32}},
		{8, []int64{math.MinInt64, -1, math.MaxInt64}},
	} {
		got, err := Decode(Packed(TypeSetIntset, Intset(c.enc, c.vals...)))
		if err != nil {
			t.Fatalf("enc %d: %v", c.enc, err)
		}
		var want [][]byte
		for _, v := range c.vals {
			want = append(want, strconv.AppendInt(nil, v, 10))
		}
		if got.Kind != Set || !reflect.DeepEqual(got.Members, want) {
			t.Errorf("enc %d: got %q, want %q", c.enc, got.Members, want)
		}
	}
}

// withFooter makes body a payload with a valid footer.
func withFooter(body []byte) []byte { return Finish(append([]byte(nil), body...)) }

func TestRejects(t *testing.T) {
	good := []byte(redisDumps["s"])
	badCRC := bytes.Clone(good)
	badCRC[len(badCRC)-1] ^= 1
	v11 := append([]byte("\x00\x05hello"), 11, 0)
	v11 = binary.LittleEndian.AppendUint64(v11, CRC64(v11))
	zlBadTail := Ziplist("a", "b")
	binary.LittleEndian.PutUint32(zlBadTail[4:], 10)
	lpBadBack := Listpack("a", "b")
	lpBadBack[len(lpBadBack)-2] = 9
	zlBadCount := Ziplist("a", "b")
	binary.LittleEndian.PutUint16(zlBadCount[8:], 4)
	nan := AppendDouble(AppendString(AppendLen([]byte{TypeZSet2}, 1), []byte("m")), math.NaN())
	for _, c := range []struct {
		name string
		p    []byte
		want error
	}{
		{"short", good[:9], ErrChecksum},
		{"crc", badCRC, ErrChecksum},
		{"version 11", v11, ErrChecksum},
		{"empty object", withFooter(nil), ErrFormat},
		{"trailing bytes", withFooter([]byte("\x00\x01ab")), ErrFormat},
		{"string truncated", withFooter([]byte("\x00\x05hell")), ErrFormat},
		{"empty set", withFooter([]byte{TypeSet, 0}), ErrFormat},
		{"duplicate member", withFooter([]byte("\x02\x02\x01a\x01a")), ErrFormat},
		{"duplicate field", withFooter([]byte("\x04\x02\x01a\x01x\x01a\x01y")), ErrFormat},
		{"count beyond payload", withFooter([]byte("\x02\x80\xff\xff\xff\xff\x01a")), ErrFormat},
		{"NaN score", withFooter(nan), ErrFormat},
		{"list", withFooter([]byte("\x01\x01\x01a")), ErrUnsupported},
		{"stream", withFooter([]byte{TypeStream2, 0}), ErrUnsupported},
		{"unknown type", withFooter([]byte{8, 0}), ErrFormat},
		{"odd listpack", Packed(TypeHashListpack, Listpack("a", "b", "c")), ErrFormat},
		{"empty listpack", Packed(TypeHashListpack, Listpack()), ErrFormat},
		{"listpack dup", Packed(TypeZSetListpack, Listpack("a", int64(1), "a", int64(2))), ErrFormat},
		{"listpack backlen", Packed(TypeHashListpack, lpBadBack), ErrFormat},
		{"ziplist tail", Packed(TypeHashZiplist, zlBadTail), ErrFormat},
		{"ziplist count", Packed(TypeHashZiplist, zlBadCount), ErrFormat},
		{"zset bad score", Packed(TypeZSetZiplist, Ziplist("a", "1x")), ErrFormat},
		{"intset order", Packed(TypeSetIntset, Intset(2, 2, 1)), ErrFormat},
		{"intset dup", Packed(TypeSetIntset, Intset(4, 1, 1)), ErrFormat},
		{"intset empty", Packed(TypeSetIntset, Intset(8)), ErrFormat},
		{"intset encoding", Packed(TypeSetIntset, Intset(3, 1)), ErrFormat},
		{"LZF claim", withFooter([]byte("\x00\xc3\x02\xff\xff\x01a")), ErrFormat},
	} {
		_, err := Decode(c.p)
		if !errors.Is(err, c.want) {
			t.Errorf("%s: got %v, want %v", c.name, err, c.want)
		}
	}
}

// validPayloads are payloads of every encoding Decode reads.
func validPayloads() [][]byte {
	var out [][]byte
	for _, p := range redisDumps {
		out = append(out, []byte(p))
	}
	entries := []any{"f", int64(-5), "g", "2.5", "h", int64(300), "i", strings.Repeat("z", 300)}
	out = append(out,
		Packed(TypeHashZiplist, Ziplist(entries...)),
		Packed(TypeHashListpack, Listpack(entries...)),
		Packed(TypeZSetZiplist, Ziplist(entries[:6]...)),
		Packed(TypeZSetListpack, Listpack(entries[:6]...)),
		Packed(TypeSetIntset, Intset(4, -70000, 3, 70000)),
	)
	z := AppendLen([]byte{TypeZSet2}, 2)
	z = AppendDouble(AppendString(z, []byte("a")), 1.5)
	z = AppendDouble(AppendString(z, []byte("b")), math.Inf(1))
	h := AppendLen([]byte{TypeHash}, 2)
	for _, s := range []string{"f", "1", "g", strings.Repeat("v", 100)} {
		h = AppendString(h, []byte(s))
	}
	return append(out, Finish(z), Finish(h))
}

// TestTruncated: every proper prefix of a valid object, with a valid footer, is refused.
func TestTruncated(t *testing.T) {
	for _, p := range validPayloads() {
		if _, err := Decode(p); err != nil {
			t.Fatalf("%q: %v", p, err)
		}
		body := p[:len(p)-10]
		for n := range len(body) {
			if o, err := Decode(withFooter(body[:n])); !errors.Is(err, ErrFormat) {
				t.Errorf("prefix %q of %q: got %+v, %v", body[:n], p, o, err)
			}
		}
	}
}

// encodePlain re-encodes o in the plain encodings, as DUMP does.
func encodePlain(o Object) []byte {
	var b []byte
	switch o.Kind {
	case String:
		b = AppendString([]byte{TypeString}, o.Str)
	case Hash:
		b = AppendLen([]byte{TypeHash}, uint64(len(o.Fields)))
		for _, f := range o.Fields {
			b = AppendString(AppendString(b, f[0]), f[1])
		}
	case Set:
		b = AppendLen([]byte{TypeSet}, uint64(len(o.Members)))
		for _, m := range o.Members {
			b = AppendString(b, m)
		}
	case ZSet:
		b = AppendLen([]byte{TypeZSet2}, uint64(len(o.Scored)))
		for _, m := range o.Scored {
			b = AppendDouble(AppendString(b, m.Member), m.Score)
		}
	}
	return Finish(b)
}

// FuzzDecode: Decode never panics, and what it accepts re-encodes (plain) to the same value.
func FuzzDecode(f *testing.F) {
	for _, p := range validPayloads() {
		f.Add(p)
		f.Add(p[:len(p)-10]) // the body alone: the fuzzer's mutations get a fresh footer
	}
	f.Fuzz(func(t *testing.T, p []byte) {
		for _, q := range [][]byte{p, withFooter(p)} {
			o, err := Decode(q)
			if err != nil {
				continue
			}
			back, err := Decode(encodePlain(o))
			if err != nil || !reflect.DeepEqual(back, o) {
				t.Fatalf("%q decoded to %+v, its plain encoding to %+v (%v)", q, o, back, err)
			}
		}
	})
}

// TestVerifyZeroCRC: a footer whose CRC is zero is checked like any other (Redis 7.0's
// verifyDumpPayload has no "checksum disabled" case, unlike its RDB file loader); FUNCTION
// RESTORE accepted one before it used Verify.
func TestVerifyZeroCRC(t *testing.T) {
	p := Finish(AppendString([]byte{TypeString}, []byte("hello")))
	clear(p[len(p)-8:])
	if _, err := Verify(p); !errors.Is(err, ErrChecksum) {
		t.Fatalf("Verify with a zero CRC: %v, want ErrChecksum", err)
	}
}

// TestReadString: one string from the front, the rest after it; a cut-short one fails.
func TestReadString(t *testing.T) {
	b := AppendString(AppendString(nil, []byte("code")), []byte("12"))
	s, rest, err := ReadString(b)
	if err != nil || string(s) != "code" {
		t.Fatalf("ReadString = %q, %v", s, err)
	}
	if s, rest, err = ReadString(rest); err != nil || string(s) != "12" || len(rest) != 0 {
		t.Fatalf("second ReadString = %q, %q, %v", s, rest, err)
	}
	if _, _, err := ReadString(b[:3]); !errors.Is(err, ErrFormat) {
		t.Fatalf("cut short: %v", err)
	}
}
