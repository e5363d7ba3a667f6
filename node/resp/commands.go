package resp

import (
	"context"
	"errors"
	"strconv"
	"strings"

	"github.com/geocache/geocache/node"
)

// Command flags.
const (
	flagNoAuth    = 1 << iota // allowed before AUTH (AUTH, HELLO, QUIT, RESET)
	flagWrite                 // may write
	flagNoQueue               // runs at once inside MULTI (EXEC, DISCARD, MULTI, WATCH, QUIT, RESET)
	flagKeyspace              // reads the whole keyspace: EXEC holds the whole store for it
	flagNoScript              // not allowed from a script (redis.call)
	flagAllowBusy             // runs while a script is busy (Redis's allow_busy)
	flagNoGate                // does not take the script gate: scripts (serialised by their own lock), WAIT (blocks)
	flagNoMulti               // refused inside MULTI (Redis's no_multi: SAVE)
	flagDenyOOM               // refused while out of memory (Redis's denyoom; oom.go)
	flagNoMonitor             // not fed to MONITOR by dispatch (Redis's admin and skip_monitor)
)

// handler runs one command. argv[0] is the command name (argv[1] the subcommand for container
// commands). Arguments alias the input buffer: a handler must copy what it keeps.
type handler func(ctx context.Context, s *Server, c *client, argv [][]byte)

// command is one entry of the command table, with Redis's arity convention: n means exactly n
// arguments including the name, -n at least n.
type command struct {
	name  string // full name as Redis reports it: "get", "client|setname"
	arity int
	flags int
	fn    handler
	subs  map[string]*command // subcommands of a container command (CLIENT, COMMAND, CONFIG)
	// firstKey, lastKey and keyStep say which arguments are keys, as Redis's legacy key spec
	// (lastKey -1: the last argument); firstKey 0: none. EXEC locks these keys.
	firstKey, lastKey, keyStep int
}

// commandTable builds the command table. It is built per Server and never modified after.
func commandTable() map[string]*command {
	t := make(map[string]*command)
	add := func(name string, arity, flags int, fn handler) *command {
		c := &command{name: name, arity: arity, flags: flags, fn: fn}
		t[name] = c
		return c
	}
	container := func(name string, arity, flags int, fn handler, subs ...*command) {
		c := add(name, arity, flags, fn)
		c.subs = make(map[string]*command, len(subs))
		for _, sub := range subs {
			sub.name = name + "|" + sub.name
			c.subs[sub.name[len(name)+1:]] = sub
		}
	}
	sub := func(name string, arity, flags int, fn handler) *command {
		return &command{name: name, arity: arity, flags: flags, fn: fn}
	}

	// Strings.
	add("get", 2, 0, cmdGet)
	add("set", -3, flagWrite, cmdSet)
	add("getdel", 2, flagWrite, cmdGetDel)
	add("getex", -2, flagWrite, cmdGetEx)
	add("mget", -2, 0, cmdMGet)
	add("mset", -3, flagWrite, cmdMSet)
	add("strlen", 2, 0, cmdStrlen)
	add("setex", 4, flagWrite, cmdSetEx)
	add("psetex", 4, flagWrite, cmdSetEx)
	add("setnx", 3, flagWrite, cmdSetNX)
	add("getset", 3, flagWrite, cmdGetSet)
	add("msetnx", -3, flagWrite, cmdMSetNX)
	add("append", 3, flagWrite, cmdAppend)
	add("setrange", 4, flagWrite, cmdSetRange)
	add("getrange", 4, 0, cmdGetRange)
	add("substr", 4, 0, cmdGetRange)
	add("incr", 2, flagWrite, cmdIncr)
	add("decr", 2, flagWrite, cmdIncr)
	add("incrby", 3, flagWrite, cmdIncrBy)
	add("decrby", 3, flagWrite, cmdIncrBy)
	add("incrbyfloat", 3, flagWrite, cmdIncrByFloat)
	add("lcs", -3, 0, cmdLCS)
	add("setbit", 4, flagWrite, cmdSetBit)
	add("getbit", 3, 0, cmdGetBit)
	add("bitcount", -2, 0, cmdBitCount)
	add("bitpos", -3, 0, cmdBitPos)
	add("bitop", -4, flagWrite, cmdBitOp)
	add("bitfield", -2, flagWrite, cmdBitField)
	add("bitfield_ro", -2, 0, cmdBitField)

	addCollections(add)
	addGeoCommands(add)

	// Keyspace.
	add("del", -2, flagWrite, cmdDel)
	add("unlink", -2, flagWrite, cmdDel)
	add("exists", -2, 0, cmdExists)
	add("touch", -2, 0, cmdTouch)
	add("expire", -3, flagWrite, cmdExpire)
	add("pexpire", -3, flagWrite, cmdExpire)
	add("expireat", -3, flagWrite, cmdExpire)
	add("pexpireat", -3, flagWrite, cmdExpire)
	add("expiretime", 2, 0, cmdExpireTime)
	add("pexpiretime", 2, 0, cmdExpireTime)
	add("ttl", 2, 0, cmdTTL)
	add("pttl", 2, 0, cmdTTL)
	add("persist", 2, flagWrite, cmdPersist)
	add("type", 2, 0, cmdType)
	add("dbsize", 1, 0, cmdDBSize)
	add("flushall", -1, flagWrite, cmdFlush)
	add("flushdb", -1, flagWrite, cmdFlush)
	add("rename", 3, flagWrite, cmdRename)
	add("renamenx", 3, flagWrite, cmdRename)
	add("copy", -3, flagWrite, cmdCopy)
	add("dump", 2, 0, cmdDump)
	add("restore", -4, flagWrite, cmdRestore)
	add("randomkey", 1, 0, cmdRandomKey)
	container("object", -2, 0, nil,
		sub("encoding", 3, 0, cmdObjectEncoding),
		sub("refcount", 3, 0, cmdObjectRefcount),
		sub("freq", 3, 0, cmdObjectFreq),
		sub("help", 2, 0, cmdObjectHelp),
	)
	container("memory", -2, 0, nil,
		sub("usage", -3, 0, cmdMemoryUsage),
	)
	add("scan", -2, 0, cmdScan)
	add("keys", 2, 0, cmdKeys)

	// Connection.
	add("ping", -1, 0, cmdPing)
	add("echo", 2, 0, cmdEcho)
	add("hello", -1, flagNoAuth, cmdHello)
	add("auth", -2, flagNoAuth, cmdAuth)
	add("select", 2, 0, cmdSelect)
	add("quit", -1, flagNoAuth, cmdQuit)
	add("reset", 1, flagNoAuth, cmdReset)
	container("client", -2, 0, nil,
		sub("id", 2, 0, cmdClientID),
		sub("getname", 2, 0, cmdClientGetName),
		sub("setname", 3, 0, cmdClientSetName),
		sub("setinfo", 4, 0, cmdClientSetInfo),
		sub("info", 2, 0, cmdClientInfo),
		sub("list", -2, 0, cmdClientList),
		sub("kill", -3, 0, cmdClientKill),
		sub("reply", 3, 0, cmdClientReply),
		sub("help", 2, 0, cmdClientHelp),
	)
	add("monitor", 1, flagNoGate, cmdMonitor)

	// Transactions.
	add("multi", 1, flagNoQueue, cmdMulti)
	add("exec", 1, flagNoQueue, cmdExec)
	add("discard", 1, flagNoQueue, cmdDiscard)
	add("watch", -2, flagNoQueue, cmdWatch)
	add("unwatch", 1, 0, cmdUnwatch)

	// Scripting.
	add("eval", -3, flagNoScript|flagNoGate, cmdEval)
	add("evalsha", -3, flagNoScript|flagNoGate, cmdEvalSha)
	add("eval_ro", -3, flagNoScript|flagNoGate, cmdEval)
	add("evalsha_ro", -3, flagNoScript|flagNoGate, cmdEvalSha)
	container("script", -2, flagNoScript, nil,
		sub("load", 3, flagNoScript, cmdScriptLoad),
		sub("exists", -3, flagNoScript, cmdScriptExists),
		sub("flush", -2, flagNoScript, cmdScriptFlush),
		sub("kill", 2, flagNoScript|flagAllowBusy, cmdScriptKill),
	)

	// geocache's own.
	add("geocache.nearest", -3, 0, cmdNearest)
	add("geocache.forget", 2, 0, cmdForget)

	// Server.
	add("info", -1, 0, cmdInfo)
	add("wait", 3, flagNoGate, cmdWait)
	add("time", 1, 0, cmdTime)
	add("save", 1, flagNoMulti, cmdSave)
	add("bgsave", -1, 0, cmdBGSave)
	add("lastsave", 1, 0, cmdLastSave)
	container("command", -1, 0, cmdCommand,
		sub("count", 2, 0, cmdCommandCount),
		sub("info", -2, 0, cmdCommandInfo),
		sub("docs", -2, 0, cmdCommandDocs),
		sub("list", -2, 0, cmdCommandList),
		sub("help", 2, 0, cmdCommandHelp),
	)
	container("config", -2, 0, nil,
		sub("get", -3, 0, cmdConfigGet),
		sub("set", -4, 0, cmdConfigSet),
		sub("help", 2, 0, cmdConfigHelp),
	)
	add("fcall", -3, flagNoScript|flagNoGate, cmdFCall)
	add("fcall_ro", -3, flagNoScript|flagNoGate, cmdFCall)
	container("function", -2, flagNoScript, nil,
		sub("load", -3, flagWrite|flagNoScript, cmdFunctionLoad),
		sub("delete", 3, flagWrite|flagNoScript, cmdFunctionDelete),
		sub("flush", -2, flagWrite|flagNoScript, cmdFunctionFlush),
		sub("kill", 2, flagNoScript|flagAllowBusy, cmdScriptKill),
		sub("list", -2, flagNoScript, cmdFunctionList),
		sub("stats", 2, flagNoScript|flagAllowBusy, cmdFunctionStats),
		sub("dump", 2, flagNoScript, cmdFunctionDump),
		sub("restore", -3, flagWrite|flagNoScript, cmdFunctionRestore),
	)

	// Key specs, for EXEC's locks.
	for _, name := range []string{"get", "set", "getdel", "getex", "strlen", "expire", "pexpire",
		"expireat", "pexpireat", "expiretime", "pexpiretime", "ttl", "pttl", "persist", "type"} {
		t[name].firstKey, t[name].lastKey, t[name].keyStep = 1, 1, 1
	}
	for _, name := range []string{"incr", "decr", "incrby", "decrby", "incrbyfloat", "setex", "psetex",
		"setnx", "getset", "append", "setrange", "getrange", "substr"} {
		t[name].firstKey, t[name].lastKey, t[name].keyStep = 1, 1, 1
	}
	for _, name := range []string{"rename", "renamenx", "copy", "lcs"} {
		t[name].firstKey, t[name].lastKey, t[name].keyStep = 1, 2, 1
	}
	for _, name := range []string{"mget", "del", "unlink", "exists", "touch"} {
		t[name].firstKey, t[name].lastKey, t[name].keyStep = 1, -1, 1
	}
	for _, name := range []string{"mset", "msetnx"} {
		t[name].firstKey, t[name].lastKey, t[name].keyStep = 1, -1, 2
	}
	// OBJECT names its key after the subcommand, RANDOMKEY and FLUSHALL the whole keyspace.
	for _, name := range []string{"object", "randomkey", "flushall", "flushdb"} {
		t[name].flags |= flagKeyspace
		for _, sub := range t[name].subs {
			sub.flags |= flagKeyspace
		}
	}
	// Scripts may name any key: inside EXEC they need the whole store too.
	for _, name := range []string{"dbsize", "scan", "keys", "info", "eval", "evalsha", "eval_ro", "evalsha_ro", "fcall", "fcall_ro"} {
		t[name].flags |= flagKeyspace
	}
	t["quit"].flags |= flagNoQueue
	t["reset"].flags |= flagNoQueue
	// As Redis's command flags; WATCH, though allow_busy in Redis, waits for a script here
	// (it reads the store, which the script holds).
	for _, name := range []string{"multi", "exec", "discard", "watch", "unwatch", "hello", "auth",
		"quit", "reset", "wait", "client", "eval", "evalsha", "eval_ro", "evalsha_ro", "script",
		"fcall", "fcall_ro", "function", "monitor"} {
		t[name].flags |= flagNoScript
		for _, sub := range t[name].subs {
			sub.flags |= flagNoScript
		}
	}
	t["config"].subs["get"].flags |= flagNoScript
	for _, name := range []string{"bzpopmin", "bzpopmax", "bzmpop"} { // blocking: never in a script
		if t[name] != nil {
			t[name].flags |= flagNoScript
		}
	}
	for _, name := range []string{"multi", "discard", "unwatch", "hello", "auth", "quit", "reset"} {
		t[name].flags |= flagAllowBusy
	}
	deriveKeySpecs(t)
	markDenyOOM(t)
	for _, c := range t {
		markNoMonitor(c)
		for _, sub := range c.subs {
			markNoMonitor(sub)
		}
	}
	return t
}

// markNoMonitor flags the commands Redis 7.0 does not feed to MONITOR from call(): those with
// the admin or skip_monitor flag in its COMMAND INFO (EVAL and FCALL feed themselves, before
// their script's commands).
func markNoMonitor(c *command) {
	top, _, _ := strings.Cut(c.name, "|")
	info := commandData[top].info2
	at := strings.Index(info, "$"+strconv.Itoa(len(c.name))+"\r\n"+c.name+"\r\n:")
	if at < 0 {
		return
	}
	// The entry's name, arity, and the array of its flags.
	rest := info[at:]
	for range 3 {
		_, rest, _ = strings.Cut(rest, "\r\n")
	}
	n, _ := strconv.Atoi(strings.TrimPrefix(rest[:strings.Index(rest, "\r\n")], "*"))
	_, rest, _ = strings.Cut(rest, "\r\n")
	for range n {
		var flag string
		flag, rest, _ = strings.Cut(rest, "\r\n")
		if flag == "+admin" || flag == "+skip_monitor" {
			c.flags |= flagNoMonitor
		}
	}
}

// lookup finds a command by name, ignoring ASCII case, without allocating.
func lookup(t map[string]*command, name []byte) *command {
	var buf [24]byte // the longest name, GEORADIUSBYMEMBER_RO, has 20
	if len(name) > len(buf) {
		return nil
	}
	for i, ch := range name {
		if 'A' <= ch && ch <= 'Z' {
			ch += 'a' - 'A'
		}
		buf[i] = ch
	}
	return t[string(buf[:len(name)])]
}

// lookupCached is lookup with a one-entry cache of the connection's last command name, spelt
// as sent: a pipeline repeats one command, and comparing a few bytes is cheaper than hashing
// the name into the table (the table never changes after it is built).
func (c *client) lookupCached(t map[string]*command, name []byte) *command {
	if c.lastName.cmd != nil && string(name) == string(c.lastName.name[:c.lastName.n]) {
		return c.lastName.cmd
	}
	cmd := lookup(t, name)
	if cmd != nil && len(name) <= len(c.lastName.name) { // a longer name is not cached
		c.lastName.n = copy(c.lastName.name[:], name)
		c.lastName.cmd = cmd
	}
	return cmd
}

// dispatch runs one request, in the order Redis's processCommand checks it: unknown command,
// unknown subcommand, arity, authentication.
func (s *Server) dispatch(ctx context.Context, c *client, argv [][]byte) {
	cmd := c.lookupCached(s.cmds, argv[0])
	if cmd == nil {
		c.flagTransaction()
		c.out = appendError(c.out, unknownCommand(argv))
		return
	}
	if cmd.subs != nil && len(argv) >= 2 {
		sub := lookup(cmd.subs, argv[1])
		if sub == nil {
			c.flagTransaction()
			c.out = appendError(c.out, "ERR unknown subcommand '"+trunc(cstr(argv[1]), 128)+
				"'. Try "+strings.ToUpper(string(cstr(argv[0])))+" HELP.")
			return
		}
		cmd = sub
	}
	c.cur = cmd
	if (cmd.arity > 0 && cmd.arity != len(argv)) || len(argv) < -cmd.arity || cmd.fn == nil {
		// (A container called without a subcommand is caught by its arity.)
		c.reject(cmd, "ERR wrong number of arguments for '"+cmd.name+"' command")
		return
	}
	if !c.authed && cmd.flags&flagNoAuth == 0 {
		c.reject(cmd, "NOAUTH Authentication required.")
		return
	}
	if s.refuseWhileLoading(c, cmd) {
		return
	}
	if c.multi != nil && cmd.flags&flagNoMulti != 0 {
		c.reject(cmd, "ERR Command not allowed inside a transaction")
		return
	}
	// False unless CONFIG SET maxmemory left a bound too small for any entry (oom.go).
	if s.oom.Load() && s.refuseOOM(c, cmd) {
		return
	}
	if cmd.flags&flagAllowBusy == 0 {
		// A script holds the store: commands wait for it (or answer BUSY), off the event loop.
		if cmd.flags&flagNoGate != 0 {
			if run := s.script.Load(); run != nil && run.isBusy() {
				c.reject(cmd, run.busyError())
				return
			}
		} else if !c.gated {
			if !s.gate.TryRLock() {
				s.gateScript(ctx, c, cmd, argv)
				return
			}
			defer s.gate.RUnlock()
		}
	}
	if c.multi != nil && cmd.flags&flagNoQueue == 0 {
		c.queue(cmd, argv)
		return
	}
	cmd.fn(ctx, s, c, argv)
	if s.mon.n.Load() != 0 && cmd.flags&flagNoMonitor == 0 {
		s.feedMonitors(c.addr, cmd, argv)
	}
}

// unknownCommand formats Redis's unknown-command error: the name and the first arguments,
// each cut at a NUL byte as C formats them, with at most 128 bytes of arguments.
func unknownCommand(argv [][]byte) string {
	var b strings.Builder
	b.WriteString("ERR unknown command '")
	b.WriteString(trunc(cstr(argv[0]), 128))
	b.WriteString("', with args beginning with: ")
	n := 0
	for _, a := range argv[1:] {
		if n >= 128 {
			break
		}
		a = cstr(a)
		if len(a) > 128-n {
			a = a[:128-n]
		}
		b.WriteByte('\'')
		b.Write(a)
		b.WriteString("' ")
		n += len(a) + 3
	}
	return b.String()
}

func trunc(b []byte, n int) string {
	if len(b) > n {
		b = b[:n]
	}
	return string(b)
}

// Error replies shared by several commands, worded as Redis words them.
const (
	errSyntax     = "ERR syntax error"
	errNotInteger = "ERR value is not an integer or out of range"
	errWrongType  = "WRONGTYPE Operation against a key holding the wrong kind of value"
	errWrongPass  = "WRONGPASS invalid username-password pair or user is disabled."
)

func errExpireTime(cmd string) string {
	return "ERR invalid expire time in '" + cmd + "' command"
}

// backendError turns a Backend error into an error reply.
func backendError(err error) string {
	var le *node.LoadError
	switch {
	case errors.As(err, &le):
		// The loader's own message ("origin: 503 Service Unavailable ..."), not the key.
		return "ERR " + strings.TrimPrefix(le.Err.Error(), "node: ")
	case errors.Is(err, node.ErrWrongType):
		return errWrongType
	case errors.Is(err, node.ErrKeyTooLarge):
		return "ERR key exceeds the maximum key size"
	case errors.Is(err, node.ErrValueTooLarge):
		return "ERR string exceeds maximum allowed size"
	case errors.Is(err, node.ErrClosed):
		return "ERR server is shutting down"
	case errors.Is(err, context.Canceled), errors.Is(err, context.DeadlineExceeded):
		return "ERR command canceled: connection closing"
	}
	return "ERR " + strings.TrimPrefix(err.Error(), "node: ")
}

// equalFold reports whether b equals the lower-case ASCII word w, ignoring case.
func equalFold(b []byte, w string) bool {
	if len(b) != len(w) {
		return false
	}
	for i := range len(b) {
		ch := b[i]
		if 'A' <= ch && ch <= 'Z' {
			ch += 'a' - 'A'
		}
		if ch != w[i] {
			return false
		}
	}
	return true
}
