package resp_test

import (
	"testing"

	"github.com/geocache/geocache/node/resp"
)

// TestSAddPresentWritesNothing: on a node without replicas, SADD of members all present
// writes nothing, as in Redis: a WATCH of the key is not invalidated by it, while an SADD that
// adds a member is a write that is.
func TestSAddPresentWritesNothing(t *testing.T) {
	addr, _, _ := startGeocache(t, resp.Config{}, nil)
	a, b := dialRaw(t, addr), dialRaw(t, addr)
	if r := a.do(t, "SADD", "s", "x", "y"); r != ":2\r\n" {
		t.Fatalf("SADD: %q", r)
	}
	for _, tc := range []struct {
		members []string
		reply   string
		exec    string // EXEC's reply after b's SADD
	}{
		{[]string{"x"}, ":0\r\n", "*1\r\n$3\r\nbar\r\n"},
		{[]string{"y", "x"}, ":0\r\n", "*1\r\n$3\r\nbar\r\n"},
		{[]string{"x", "z"}, ":1\r\n", "*-1\r\n"},
	} {
		a.do(t, "WATCH", "s")
		if r := b.do(t, append([]string{"SADD", "s"}, tc.members...)...); r != tc.reply {
			t.Fatalf("SADD %q: %q, want %q", tc.members, r, tc.reply)
		}
		a.do(t, "MULTI")
		a.do(t, "ECHO", "bar")
		if r := a.do(t, "EXEC"); r != tc.exec {
			t.Fatalf("EXEC after SADD %q: %q, want %q", tc.members, r, tc.exec)
		}
	}
	if r := a.do(t, "SCARD", "s"); r != ":3\r\n" {
		t.Fatalf("SCARD: %q", r)
	}
}
