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
// counterpart for are constant: db=0 (one keyspace), sub=psub=ssub=0 (no pub/sub), redir=-1 (no
// tracking). The buffer fields are the connection's own for the connection asking, with
// Redis's meanings: qbuf the bytes read in the current batch, the running command included
// (Redis trims its query buffer after the batch), qbuf-free the rest of the input buffer,
// argv-mem the running command's argument bytes, multi-mem the queued commands' argument bytes
// plus a pointer per argument, rbs the reply buffer's capacity, rbp and obl the replies
// buffered and not yet written, tot-mem the input and reply buffers and the arguments. For
// other connections, whose buffers only their own goroutine or event loop may read, they are
// 0, as are oll and omem (geocache keeps no reply list beside its one buffer).

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
			if !o.killed {
				byID[o.id] = o
			}
		}
		for _, id := range ids {
			if o, ok := byID[id]; ok {
				list = append(list, o)
			}
		}
	case all:
		for o := range s.clients {
			if !o.killed {
				list = append(list, o)
			}
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
	events := "r"
	multi := -1
	var qbuf, qfree, rbs, rbp, multiMem, totMem int
	var flags []byte
	if c.monitoring.Load() {
		flags = append(flags, 'O')
	}
	var ms *multiState // another connection's is its own goroutine's to read
	if self {
		ms = c.multi
		if c.execing != nil { // Redis's EXEC keeps the client's MULTI state while it runs
			ms, argvMem = c.execing, c.execing.execArgv
		}
	}
	if ms != nil {
		flags = append(flags, 'x')
		multi = len(ms.cmds)
		for _, argv := range ms.argv {
			multiMem += argvSize(argv) + 8*len(argv) // Redis adds a pointer per argument
		}
	}
	switch c.state.Load() {
	case stateBlocked:
		flags = append(flags, 'b')
	case stateWriting:
		events = "rw"
	}
	if self && c.closeAfterReply {
		flags = append(flags, 'c')
	}
	if len(flags) == 0 {
		flags = append(flags, 'N')
	}
	if self {
		qbuf, qfree = c.w, len(c.in)-c.w
		rbs, rbp = cap(c.out), len(c.out)-c.wpos
		totMem = len(c.in) + cap(c.out) + argvMem + multiMem
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
	field("flags", string(flags))
	num("db", 0)
	num("sub", 0)
	num("psub", 0)
	num("ssub", 0)
	num("multi", int64(multi))
	num("qbuf", int64(qbuf))
	num("qbuf-free", int64(qfree))
	num("argv-mem", int64(argvMem))
	num("multi-mem", int64(multiMem))
	num("rbs", int64(rbs))
	num("rbp", int64(rbp))
	num("obl", int64(rbp))
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

// clientType is Redis's getClientTypeByName: -1 for an unknown name. geocache's connections
// are all of type normal (a MONITOR connection is too, as in Redis).
func clientType(name []byte) int {
	switch {
	case equalFold(name, "normal"):
		return 0
	case equalFold(name, "slave"), equalFold(name, "replica"):
		return 1
	case equalFold(name, "pubsub"):
		return 2
	case equalFold(name, "master"):
		return 3
	}
	return -1
}

// cmdClientKill serves CLIENT KILL addr (the old form: OK or "No such client", may kill the
// caller) and CLIENT KILL [ID id] [TYPE type] [ADDR addr] [LADDR laddr] [USER user] [SKIPME
// yes|no] (the number killed; SKIPME yes by default), as Redis 7.0's clientCommand parses them.
// MAXAGE came in Redis 7.4: a syntax error here as in 7.0. A killed connection is unregistered
// at once, so INFO's connected_clients and CLIENT LIST no longer show it (Redis frees it at
// once); the caller itself is closed after the reply.
func cmdClientKill(_ context.Context, s *Server, c *client, argv [][]byte) {
	var addr, laddr, user []byte
	var id uint64
	typ, skipme := -1, true
	if len(argv) == 3 {
		addr, skipme = argv[2], false
	} else {
		for i := 2; i < len(argv); i += 2 {
			if i+1 >= len(argv) {
				c.out = appendError(c.out, errSyntax)
				return
			}
			v := argv[i+1]
			switch opt := argv[i]; {
			case equalFold(opt, "id"):
				n, ok := string2ll(v)
				if !ok || n < 1 {
					c.out = appendError(c.out, "ERR client-id should be greater than 0")
					return
				}
				id = uint64(n)
			case equalFold(opt, "type"):
				if typ = clientType(v); typ < 0 {
					c.out = appendError(c.out, "ERR Unknown client type '"+string(cstr(v))+"'")
					return
				}
			case equalFold(opt, "addr"):
				addr = v
			case equalFold(opt, "laddr"):
				laddr = v
			case equalFold(opt, "user"):
				if _, ok := s.cfg.Users[string(v)]; !ok && string(v) != "default" {
					c.out = appendError(c.out, "ERR No such user '"+string(cstr(v))+"'")
					return
				}
				user = v
			case equalFold(opt, "skipme"):
				switch {
				case equalFold(v, "yes"):
					skipme = true
				case equalFold(v, "no"):
					skipme = false
				default:
					c.out = appendError(c.out, errSyntax)
					return
				}
			default:
				c.out = appendError(c.out, errSyntax)
				return
			}
		}
	}
	killed, self := 0, false
	s.mu.Lock()
	for o := range s.clients {
		if addr != nil && string(addr) != o.addr ||
			laddr != nil && string(laddr) != o.laddr ||
			typ > 0 || // no replica, pub/sub or master connections here
			id != 0 && o.id != id ||
			o == c && skipme || o.killed {
			continue
		}
		if user != nil {
			o.mu.Lock()
			u := o.user
			o.mu.Unlock()
			if u != string(user) {
				continue
			}
		}
		killed++
		if o == c {
			self = true
			continue
		}
		// Redis frees it at once: INFO and CLIENT LIST stop counting it now, not when
		// its goroutine or loop gets to close it.
		o.kill()
		o.killed = true
		s.connected.Add(-1)
	}
	s.mu.Unlock()
	switch {
	case len(argv) != 3:
		c.out = appendInt(c.out, int64(killed))
	case killed == 0:
		c.out = appendError(c.out, "ERR No such client")
	default:
		c.out = append(c.out, "+OK\r\n"...)
	}
	if self {
		c.closeAfterReply = true
	}
}

// cmdClientReply serves CLIENT REPLY ON|OFF|SKIP. Only ON replies; OFF and SKIP take effect
// through client.dispatchQuiet.
func cmdClientReply(_ context.Context, _ *Server, c *client, argv [][]byte) {
	switch v := argv[2]; {
	case equalFold(v, "on"):
		c.reply = 0
		c.out = append(c.out, "+OK\r\n"...)
	case equalFold(v, "off"):
		c.reply |= replyOff
	case equalFold(v, "skip"):
		if c.reply&replyOff == 0 {
			c.reply |= replySkipNext
		}
	default:
		c.out = appendError(c.out, errSyntax)
	}
}
