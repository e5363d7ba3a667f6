package resp_test

import (
	"fmt"
	"strings"
	"testing"
)

// TestZRangeReadReuse: a connection's ZRANGEs share one read (zrangeRead) and its buffer; a
// large range, an empty one, a small one, REV and WITHSCORES, and a ZRANGE inside MULTI (which
// reads through the transaction) each answer their own members.
func TestZRangeReadReuse(t *testing.T) {
	t.Parallel()
	addr, _ := serveBackend(t, standaloneNode(t), 1)
	c := dialRaw(t, addr)
	args := []string{"ZADD", "z"}
	for i := range 2000 {
		args = append(args, fmt.Sprint(i), fmt.Sprintf("m%04d", i))
	}
	if got := c.do(t, args...); got != ":2000\r\n" {
		t.Fatalf("ZADD = %q", got)
	}
	if got := c.do(t, "ZRANGE", "z", "0", "-1"); !strings.HasPrefix(got, "*2000\r\n$5\r\nm0000\r\n") || !strings.HasSuffix(got, "$5\r\nm1999\r\n") {
		t.Fatalf("ZRANGE 0 -1 = %.40q ... %q", got, got[len(got)-20:])
	}
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"ZRANGE", "z", "5", "4"}, "*0\r\n"},
		{[]string{"ZRANGE", "z", "0", "1"}, "*2\r\n$5\r\nm0000\r\n$5\r\nm0001\r\n"},
		{[]string{"ZRANGE", "z", "0", "0", "REV", "WITHSCORES"}, "*2\r\n$5\r\nm1999\r\n$4\r\n1999\r\n"},
		{[]string{"ZRANGEBYSCORE", "z", "(10", "12"}, "*2\r\n$5\r\nm0011\r\n$5\r\nm0012\r\n"},
		{[]string{"ZRANGE", "nokey", "0", "-1"}, "*0\r\n"},
		{[]string{"SET", "s", "x"}, "+OK\r\n"},
		{[]string{"ZRANGE", "s", "0", "-1"}, "-WRONGTYPE Operation against a key holding the wrong kind of value\r\n"},
		{[]string{"MULTI"}, "+OK\r\n"},
		{[]string{"ZADD", "z", "-1", "first"}, "+QUEUED\r\n"},
		{[]string{"ZRANGE", "z", "0", "0"}, "+QUEUED\r\n"},
		{[]string{"EXEC"}, "*2\r\n:1\r\n*1\r\n$5\r\nfirst\r\n"},
		{[]string{"ZRANGE", "z", "0", "1"}, "*2\r\n$5\r\nfirst\r\n$5\r\nm0000\r\n"},
	} {
		if got := c.do(t, tc.args...); got != tc.want {
			t.Errorf("%q = %q, want %q", tc.args, got, tc.want)
		}
	}
}
