package resp_test

import (
	"fmt"
	"strings"
	"testing"
	"time"
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

// TestElemReadReuse: HGET and SISMEMBER share a connection's elemRead; hits, misses, missing
// and wrong-typed keys, pipelined together, and inside MULTI each answer their own.
func TestElemReadReuse(t *testing.T) {
	t.Parallel()
	for _, loops := range []int{0, 1} {
		addr, _ := serveBackend(t, standaloneNode(t), loops)
		c := dialRaw(t, addr)
		for _, tc := range []struct {
			args []string
			want string
		}{
			{[]string{"HSET", "h", "f", "value", "g", ""}, ":2\r\n"},
			{[]string{"SADD", "s", "a", "b"}, ":2\r\n"},
			{[]string{"SET", "str", "x"}, "+OK\r\n"},
			{[]string{"HGET", "h", "f"}, "$5\r\nvalue\r\n"},
			{[]string{"HGET", "h", "g"}, "$0\r\n\r\n"},
			{[]string{"HGET", "h", "nope"}, "$-1\r\n"},
			{[]string{"HGET", "nokey", "f"}, "$-1\r\n"},
			{[]string{"HGET", "str", "f"}, "-WRONGTYPE Operation against a key holding the wrong kind of value\r\n"},
			{[]string{"SISMEMBER", "s", "a"}, ":1\r\n"},
			{[]string{"SISMEMBER", "s", "c"}, ":0\r\n"},
			{[]string{"SISMEMBER", "nokey", "a"}, ":0\r\n"},
			{[]string{"SISMEMBER", "h", "a"}, "-WRONGTYPE Operation against a key holding the wrong kind of value\r\n"},
			{[]string{"SMISMEMBER", "s", "c", "b"}, "*2\r\n:0\r\n:1\r\n"},
			{[]string{"MULTI"}, "+OK\r\n"},
			{[]string{"HSET", "h", "f", "new"}, "+QUEUED\r\n"},
			{[]string{"HGET", "h", "f"}, "+QUEUED\r\n"},
			{[]string{"SREM", "s", "a"}, "+QUEUED\r\n"},
			{[]string{"SISMEMBER", "s", "a"}, "+QUEUED\r\n"},
			{[]string{"EXEC"}, "*4\r\n:0\r\n$3\r\nnew\r\n:1\r\n:0\r\n"},
		} {
			if got := c.do(t, tc.args...); got != tc.want {
				t.Errorf("loops %d: %q = %q, want %q", loops, tc.args, got, tc.want)
			}
		}
		// Pipelined: one batch, one time for the run, each its own reply.
		if _, err := c.Write(append(append(encode("HGET", "h", "f"), encode("SISMEMBER", "s", "b")...), encode("HGET", "h", "x")...)); err != nil {
			t.Fatal(err)
		}
		for _, want := range []string{"$3\r\nnew\r\n", ":1\r\n", "$-1\r\n"} {
			if got, err := c.readReply(5 * time.Second); err != nil || got != want {
				t.Errorf("loops %d: pipelined reply %q, %v; want %q", loops, got, err, want)
			}
		}
	}
}
