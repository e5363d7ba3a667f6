package crdt

import (
	"bytes"
	"errors"
	"strings"
	"testing"
)

func TestEncodeValue(t *testing.T) {
	t.Parallel()
	tests := []struct {
		ct        string
		data      []byte
		wantValue []byte
		wantFlags Flags
	}{
		{"", []byte("hello"), []byte("hello"), 0},
		{"", nil, nil, 0},
		{"text/plain", []byte("hi"), append([]byte{10}, "text/plainhi"...), FlagContentType},
		{"a", nil, []byte{1, 'a'}, FlagContentType},
		{strings.Repeat("x", 255), []byte("d"), append(append([]byte{255}, strings.Repeat("x", 255)...), 'd'), FlagContentType},
	}
	for _, tt := range tests {
		v, f, err := EncodeValue(tt.ct, tt.data)
		if err != nil {
			t.Fatalf("EncodeValue(%q): %v", tt.ct, err)
		}
		if !bytes.Equal(v, tt.wantValue) || f != tt.wantFlags {
			t.Fatalf("EncodeValue(%q, %q) = %q, %v; want %q, %v", tt.ct, tt.data, v, f, tt.wantValue, tt.wantFlags)
		}
		e := Entry{Value: v, Flags: f, Type: TypeLWW}
		if err := e.Validate(); err != nil {
			t.Fatalf("encoded value invalid: %v", err)
		}
		if e.ContentType() != tt.ct || !bytes.Equal(e.Data(), tt.data) {
			t.Fatalf("round trip: ct %q data %q, want %q %q", e.ContentType(), e.Data(), tt.ct, tt.data)
		}
		if len(tt.data) > 0 && &v[len(v)-1] == &tt.data[len(tt.data)-1] {
			t.Fatalf("EncodeValue(%q) aliases data", tt.ct)
		}
	}
	if _, _, err := EncodeValue(strings.Repeat("x", 256), nil); !errors.Is(err, ErrTooLarge) {
		t.Fatalf("256-byte content type: err = %v, want ErrTooLarge", err)
	}
}

func TestEntryAccessors(t *testing.T) {
	t.Parallel()
	e := Entry{Value: []byte("v"), Expiry: 100, Version: Version{TS: 5, Replica: 7}, Seq: 3, Type: TypeLWW}
	if e.Dot() != (Dot{Replica: 7, Seq: 3}) {
		t.Errorf("Dot() = %v", e.Dot())
	}
	if e.Tombstone() {
		t.Error("Tombstone() true without flag")
	}
	for now, want := range map[int64]bool{99: false, 100: true, 101: true} {
		if got := e.Expired(now); got != want {
			t.Errorf("Expired(%d) = %v, want %v", now, got, want)
		}
	}
	if (&Entry{}).Expired(1 << 62) {
		t.Error("Expiry 0 must never expire")
	}
	if !bytes.Equal(e.Data(), []byte("v")) || e.ContentType() != "" {
		t.Errorf("plain value: Data %q ContentType %q", e.Data(), e.ContentType())
	}
	// A malformed prefix must not panic or misframe.
	bad := Entry{Value: []byte{9, 'a'}, Flags: FlagContentType}
	if bad.Data() != nil || bad.ContentType() != "" {
		t.Errorf("malformed prefix: Data %q ContentType %q", bad.Data(), bad.ContentType())
	}
	empty := Entry{Flags: FlagContentType}
	if empty.Data() != nil || empty.ContentType() != "" {
		t.Error("empty value with FlagContentType")
	}
	if TypeLWW.String() != "lww" || Type(9).String() != "Type(9)" {
		t.Error("Type.String")
	}
}

func TestEntryValidate(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		e    Entry
		want error
	}{
		{"plain", Entry{Type: TypeLWW, Value: []byte("x")}, nil},
		{"tombstone", Entry{Type: TypeLWW, Flags: FlagTombstone}, nil},
		{"content type", Entry{Type: TypeLWW, Flags: FlagContentType, Value: []byte{1, 'a', 'b'}}, nil},
		{"type 0", Entry{Value: []byte("x")}, ErrMalformed},
		{"future type", Entry{Type: maxType + 1}, ErrVersion},
		{"flush", Entry{Type: TypeFlush}, nil},
		{"flush with value", Entry{Type: TypeFlush, Value: []byte("x")}, ErrMalformed},
		{"flush with flags", Entry{Type: TypeFlush, Flags: FlagTombstone}, ErrMalformed},
		{"flush with expiry", Entry{Type: TypeFlush, Expiry: 5}, ErrMalformed},
		{"future flag", Entry{Type: TypeLWW, Flags: 1 << 2}, ErrVersion},
		{"tombstone with value", Entry{Type: TypeLWW, Flags: FlagTombstone, Value: []byte("x")}, ErrMalformed},
		{"tombstone with content type", Entry{Type: TypeLWW, Flags: FlagTombstone | FlagContentType}, ErrMalformed},
		{"short content type", Entry{Type: TypeLWW, Flags: FlagContentType, Value: []byte{3, 'a'}}, ErrMalformed},
	}
	for _, tt := range tests {
		err := tt.e.Validate()
		if (tt.want == nil) != (err == nil) || (tt.want != nil && !errors.Is(err, tt.want)) {
			t.Errorf("%s: Validate() = %v, want %v", tt.name, err, tt.want)
		}
	}
}
