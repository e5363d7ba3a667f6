package resp

import (
	"strings"
	"testing"
)

// The denyoom flag comes from Redis's COMMAND INFO flags (the command's own, not its
// subcommands' or key specs'), subcommands included.
func TestDenyOOMFlags(t *testing.T) {
	t.Parallel()
	tab := commandTable()
	flagged := func(name string) bool {
		if top, sub, ok := strings.Cut(name, "|"); ok {
			return tab[top].subs[sub].flags&flagDenyOOM != 0
		}
		return tab[name].flags&flagDenyOOM != 0
	}
	for _, name := range []string{"set", "setnx", "mset", "append", "incr", "incrbyfloat", "hset",
		"sadd", "zadd", "sunionstore", "zrangestore", "copy", "restore", "function|load", "function|restore"} {
		if !flagged(name) {
			t.Errorf("%s is not flagged denyoom", name)
		}
	}
	for _, name := range []string{"get", "del", "expire", "getex", "getdel", "hdel", "srem", "zrem",
		"exec", "multi", "discard", "eval", "fcall", "config|set", "function|flush", "flushall", "ping"} {
		if flagged(name) {
			t.Errorf("%s is flagged denyoom", name)
		}
	}
	if hasInfoFlag("", "denyoom") || hasInfoFlag("*10\r\n$3\r\nget\r\n:2\r\n*0\r\n", "denyoom") {
		t.Error("hasInfoFlag found a flag in an element without it")
	}
}
