package resp

import (
	"context"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// CLIENT INFO and CLIENT LIST print Redis 7.0.15's fields in its order, so that clients parsing
// them (redis-py's client_info() and client_list()) find every key. Fields geocache has no
// counterpart for are constant (db=0, sub=0, redir=-1); the buffer sizes are the connection's
// own for the connection asking and 0 for others, whose buffers only their own goroutine or
// event loop may read.

func cmdClientInfo(_ context.Context, _ *Server, c *client, argv [][]byte) {
	c.out = appendVerbatim(c.out, c.describe(time.Now(), c, argvSize(argv))+"\n", c.proto)
}

// cmdClientList serves CLIENT LIST [TYPE normal|master|replica|pubsub] | [ID id [id ...]], as
// Redis 7.0's clientCommand parses it.
func cmdClientList(_ context.Context, s *Server, c *client, argv [][]byte) {
	var ids []uint64
	all := true
	switch {
	case len(argv) == 2:
	case len(argv) == 4 && equalFold(argv[2], "type"):
		switch t := strings.ToLower(string(argv[3])); t {
		case "normal":
		case "master", "replica", "slave", "pubsub":
			all = false // geocache's connections are all normal ones
		default:
			c.out = appendError(c.out, "ERR Unknown client type '"+string(cstr(argv[3]))+"'")
			return
		}
	case len(argv) > 3 && equalFold(argv[2], "id"):
		for _, a := range argv[3:] {
			id, ok := string2ll(a)
			if !ok {
				c.out = appendError(c.out, "ERR Invalid client ID")
				return
			}
			ids = append(ids, uint64(id))
		}
	default:
		c.out = appendError(c.out, errSyntax)
		return
	}
	s.mu.Lock()
	var list []*client
	switch {
	case ids != nil: // in the order asked, repeats included, as Redis does
		byID := make(map[uint64]*client, len(s.clients))
		for o := range s.clients {
			byID[o.id] = o
		}
		for _, id := range ids {
			if o, ok := byID[id]; ok {
				list = append(list, o)
			}
		}
	case all:
		for o := range s.clients {
			list = append(list, o)
		}
		sortClients(list)
	}
	now := time.Now()
	var b strings.Builder
	for _, o := range list {
		b.WriteString(o.describe(now, c, argvSize(argv)))
		b.WriteByte('\n')
	}
	s.mu.Unlock() // held while describing: an event loop's fd stays open while registered
	c.out = appendVerbatim(c.out, b.String(), c.proto)
}

func sortClients(cs []*client) {
	for i := 1; i < len(cs); i++ {
		for j := i; j > 0 && cs[j].id < cs[j-1].id; j-- {
			cs[j], cs[j-1] = cs[j-1], cs[j]
		}
	}
}

// argvSize is the bytes of a command's arguments, Redis's argv-mem.
func argvSize(argv [][]byte) int {
	n := 0
	for _, a := range argv {
		n += len(a)
	}
	return n
}

// describe formats one CLIENT LIST line of c for the connection asker, whose current command's
// arguments take argvMem bytes.
func (c *client) describe(now time.Time, asker *client, argvMem int) string {
	c.mu.Lock()
	name, user, proto := c.name, c.user, c.proto
	c.mu.Unlock()
	self := c == asker
	idle := now.Sub(time.Unix(0, c.lastActive.Load())) / time.Second
	cmd := "NULL"
	if self && c.cur != nil {
		cmd = c.cur.name
	} else if last := c.lastCmd.Load(); last != nil {
		cmd = last.name
	}
	flags, events := "N", "r"
	multi := -1
	var qbuf, qfree, rbs, totMem int
	switch c.state.Load() {
	case stateBlocked:
		flags = "b"
	case stateWriting:
		events = "rw"
	}
	if self {
		if c.multi != nil {
			flags, multi = "x", len(c.multi.cmds)
		}
		qbuf, qfree, rbs = c.w-c.r, len(c.in)-c.w, len(c.in)
		totMem = rbs + cap(c.out) + argvMem
	} else {
		argvMem = 0
	}
	var b strings.Builder
	field := func(k, v string) {
		if b.Len() > 0 {
			b.WriteByte(' ')
		}
		b.WriteString(k)
		b.WriteByte('=')
		b.WriteString(v)
	}
	num := func(k string, v int64) { field(k, strconv.FormatInt(v, 10)) }
	num("id", int64(c.id))
	field("addr", c.addr)
	field("laddr", c.laddr)
	num("fd", int64(c.socketFD()))
	field("name", name)
	num("age", int64(now.Sub(c.born)/time.Second))
	num("idle", int64(max(idle, 0)))
	field("flags", flags)
	num("db", 0)
	num("sub", 0)
	num("psub", 0)
	num("ssub", 0)
	num("multi", int64(multi))
	num("qbuf", int64(qbuf))
	num("qbuf-free", int64(qfree))
	num("argv-mem", int64(argvMem))
	num("multi-mem", 0)
	num("rbs", int64(rbs))
	num("rbp", int64(qbuf))
	num("obl", 0)
	num("oll", 0)
	num("omem", 0)
	num("tot-mem", int64(totMem))
	field("events", events)
	field("cmd", cmd)
	field("user", user)
	num("redir", -1)
	num("resp", int64(proto))
	return b.String()
}

// socketFD is the connection's file descriptor: the event loop's, or the one under a
// goroutine's net.Conn (-1 when it has none, as with TLS).
func (c *client) socketFD() int {
	if c.fd >= 0 {
		return c.fd
	}
	sc, ok := c.conn.(syscall.Conn)
	if !ok {
		return -1
	}
	raw, err := sc.SyscallConn()
	if err != nil {
		return -1
	}
	fd := -1
	raw.Control(func(u uintptr) { fd = int(u) })
	return fd
}
