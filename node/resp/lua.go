package resp

import (
	"context"
	"crypto/sha1"
	"encoding/hex"
	"errors"
	"log/slog"
	"math"
	"strconv"
	"strings"

	lua "github.com/yuin/gopher-lua"

	"github.com/geocache/geocache/node"
)

// Bounds of one script's Lua state: the call depth (deep recursion gets "stack overflow", as in
// Redis) and the value stack (a script filling it gets "registry overflow").
const (
	luaCallStack   = 200
	luaRegistryMax = 1 << 20
)

// luaCall is the state of one script execution that redis.call needs.
type luaCall struct {
	s   *Server
	oom oomRule
	run *scriptRun // nil inside EXEC (not killable)
	sc  *client    // the client the script's commands run as: RESP2, the transaction's backend
	ro  bool
	// chunk is where the code came from in Lua's messages: user_script or user_function.
	chunk string
	sb    sandbox
	env   *lua.LTable // the script's read-only globals
}

// luaScript is what one run executes: an EVAL script, or a function of a library.
type luaScript struct {
	name       string             // the SHA1 of an EVAL script, the function's name
	proto      *lua.FunctionProto // the script, or the library's code
	fn         *luaFunction       // the function to call; nil for EVAL
	keys, args [][]byte
	ro         bool     // *_RO command or a no-writes function: writes are refused
	argv       [][]byte // the command, for FUNCTION STATS
	oom        oomRule  // what it may do while out of memory (oom.go)
}

// raisedKey marks an error table raised by redis.call with the script line it came from.
const raisedLine = "\x00line"

// luaConstants are the constants of the redis table.
var luaConstants = map[string]lua.LValue{"LOG_DEBUG": lua.LNumber(0), "LOG_VERBOSE": lua.LNumber(1),
	"LOG_NOTICE": lua.LNumber(2), "LOG_WARNING": lua.LNumber(3), "REPL_NONE": lua.LNumber(0),
	"REPL_SLAVE": lua.LNumber(1), "REPL_REPLICA": lua.LNumber(1), "REPL_AOF": lua.LNumber(2),
	"REPL_ALL": lua.LNumber(3), "REDIS_VERSION": lua.LString(redisVersion),
	"REDIS_VERSION_NUM": lua.LNumber(0x07000f)}

// runLua runs a compiled script against tx and appends its reply to c.out.
func (s *Server) runLua(ctx context.Context, c *client, tx *node.Tx, run *scriptRun, sc *luaScript) []byte {
	L := newLuaState(ctx)
	defer L.Close()
	lc := &luaCall{s: s, run: run, ro: sc.ro, oom: sc.oom, chunk: "user_script",
		sc: &client{s: s, fd: -1, proto: 2, authed: true, user: c.user, tx: tx, ctx: ctx}}
	if sc.fn != nil {
		lc.chunk = chunkFunction
	}
	lc.setup(L, sc)
	var err error
	if sc.fn == nil {
		fn := L.NewFunctionFromProto(sc.proto)
		fn.Env = lc.env
		L.Push(fn)
		err = L.PCall(0, 1, nil)
	} else {
		callbacks, msg := loadLibrary(L, &lc.sb, sc.fn.lib, L.G.Global)
		if msg != "" { // the library loaded once: only a cancelled run gets here
			return appendError(c.out, msg)
		}
		L.Push(callbacks[strings.ToLower(sc.fn.name)])
		L.Push(stringsTable(L, sc.keys))
		L.Push(stringsTable(L, sc.args))
		err = L.PCall(2, 1, nil)
	}
	if err != nil {
		return appendError(c.out, lc.errorReply(ctx, err, sc.name))
	}
	out := appendLua(c.out, L.Get(-1), c.proto, 0)
	L.Pop(1)
	return out
}

// setup opens the libraries a Redis script has and no others, defines redis (and KEYS and ARGV
// for EVAL), and makes the globals read-only, as Redis 7.0 does.
func (lc *luaCall) setup(L *lua.LState, sc *luaScript) {
	for _, lib := range []struct {
		name string
		fn   lua.LGFunction
	}{{lua.BaseLibName, lua.OpenBase}, {lua.TabLibName, lua.OpenTable},
		{lua.StringLibName, lua.OpenString}, {lua.MathLibName, lua.OpenMath}} {
		L.Push(L.NewFunction(lib.fn))
		L.Push(lua.LString(lib.name))
		L.Call(1, 0)
	}
	// No loading of code, files or modules; nothing that prints to the server's stdout.
	for _, name := range []string{"dofile", "loadfile", "load", "loadstring", "require", "module",
		"newproxy", "print", "getfenv", "setfenv", "_printregs"} {
		L.SetGlobal(name, lua.LNil)
	}
	r := L.NewTable()
	L.SetFuncs(r, map[string]lua.LGFunction{
		"call":               func(L *lua.LState) int { return lc.call(L, true) },
		"pcall":              func(L *lua.LState) int { return lc.call(L, false) },
		"error_reply":        luaErrorReply,
		"status_reply":       luaStatusReply,
		"sha1hex":            luaSHA1Hex,
		"setresp":            lc.setResp,
		"log":                lc.log,
		"replicate_commands": func(L *lua.LState) int { L.Push(lua.LTrue); return 1 },
		"set_repl":           func(*lua.LState) int { return 0 },
	})
	for name, v := range luaConstants {
		r.RawSetString(name, v)
	}
	G := L.G.Global
	lc.sb.harden(L)
	G.RawSetString("redis", lc.sb.proxy(L, r, nil, false))
	if sc.fn == nil {
		G.RawSetString("KEYS", stringsTable(L, sc.keys))
		G.RawSetString("ARGV", stringsTable(L, sc.args))
	}
	lc.env = lc.sb.proxy(L, G, nil, true)
	G.RawSetString("_G", lc.env)
}

func stringsTable(L *lua.LState, vs [][]byte) *lua.LTable {
	t := L.CreateTable(len(vs), 0)
	for _, v := range vs {
		t.Append(lua.LString(v))
	}
	return t
}

// call is redis.call (raise) and redis.pcall (return the error table).
func (lc *luaCall) call(L *lua.LState, raise bool) int {
	fail := func(msg string) int {
		t := L.NewTable()
		t.RawSetString("err", lua.LString(msg))
		if !raise {
			L.Push(t)
			return 1
		}
		t.RawSetString(raisedLine, lua.LString(luaLine(L.Where(1), lc.chunk)))
		L.Error(t, 1)
		return 0
	}
	n := L.GetTop()
	if n == 0 {
		return fail("ERR Please specify at least one argument for this redis lib call")
	}
	argv := make([][]byte, n)
	for i := 1; i <= n; i++ {
		switch v := L.Get(i).(type) {
		case lua.LString:
			argv[i-1] = []byte(v)
		case lua.LNumber:
			argv[i-1] = []byte(v.String())
		default:
			return fail("ERR Lua redis lib command arguments must be strings or integers")
		}
	}
	cmd := lookup(lc.s.cmds, argv[0])
	if cmd != nil && cmd.subs != nil && n >= 2 {
		cmd = lookup(cmd.subs, argv[1])
	}
	switch {
	case cmd == nil:
		return fail("ERR Unknown Redis command called from script")
	case (cmd.arity > 0 && cmd.arity != n) || n < -cmd.arity || cmd.fn == nil:
		return fail("ERR Wrong number of args calling Redis command from script")
	case cmd.flags&flagNoScript != 0:
		return fail("ERR This Redis command is not allowed from script")
	case cmd.flags&flagWrite != 0 && lc.ro:
		return fail("ERR Write commands are not allowed from read-only scripts.")
	case lc.oom == oomCheckCalls && cmd.flags&flagDenyOOM != 0 && lc.s.oom.Load() &&
		(lc.run == nil || !lc.run.wrote.Load()):
		return fail(errOOM)
	}
	if cmd.flags&flagWrite != 0 && lc.run != nil {
		lc.run.wrote.Store(true)
	}
	sc := lc.sc
	sc.out = sc.out[:0]
	cmd.fn(sc.ctx, lc.s, sc, argv)
	if lc.s.mon.n.Load() != 0 && cmd.flags&flagNoMonitor == 0 {
		lc.s.feedMonitors("lua", cmd, argv)
	}
	v, rest, ok := parseReply(L, sc.out)
	if !ok || len(rest) != 0 {
		return fail("ERR reply of '" + cmd.name + "' could not be converted for Lua")
	}
	if t, isTable := v.(*lua.LTable); isTable && raise {
		if e := t.RawGetString("err"); e != lua.LNil {
			return fail(e.String())
		}
	}
	L.Push(v)
	return 1
}

// parseReply converts one RESP2 reply into a Lua value the way Redis does: integer -> number,
// bulk -> string, null -> false, array -> table, status -> {ok=...}, error -> {err=...}.
func parseReply(L *lua.LState, b []byte) (lua.LValue, []byte, bool) {
	if len(b) < 3 {
		return nil, nil, false
	}
	end := strings.Index(string(b), "\r\n")
	if end < 0 {
		return nil, nil, false
	}
	line, rest := string(b[1:end]), b[end+2:]
	switch b[0] {
	case '+', '-':
		t := L.NewTable()
		key := "ok"
		if b[0] == '-' {
			key = "err"
		}
		t.RawSetString(key, lua.LString(line))
		return t, rest, true
	case ':':
		n, err := strconv.ParseInt(line, 10, 64)
		return lua.LNumber(n), rest, err == nil
	case '$':
		n, err := strconv.Atoi(line)
		if err != nil {
			return nil, nil, false
		}
		if n < 0 {
			return lua.LFalse, rest, true
		}
		if len(rest) < n+2 {
			return nil, nil, false
		}
		return lua.LString(rest[:n]), rest[n+2:], true
	case '_': // RESP3, after redis.setresp(3)
		return lua.LNil, rest, true
	case '#':
		return lua.LBool(line == "t"), rest, true
	case ',':
		f, err := strconv.ParseFloat(line, 64)
		t := L.NewTable()
		t.RawSetString("double", lua.LNumber(f))
		return t, rest, err == nil
	case '%', '~':
		n, err := strconv.Atoi(line)
		if err != nil {
			return nil, nil, false
		}
		inner := L.CreateTable(0, n)
		for range n {
			var k, v lua.LValue = nil, lua.LTrue
			var ok bool
			if k, rest, ok = parseReply(L, rest); !ok {
				return nil, nil, false
			}
			if b[0] == '%' {
				if v, rest, ok = parseReply(L, rest); !ok {
					return nil, nil, false
				}
			}
			inner.RawSet(k, v)
		}
		t := L.NewTable()
		key := "map"
		if b[0] == '~' {
			key = "set"
		}
		t.RawSetString(key, inner)
		return t, rest, true
	case '*':
		n, err := strconv.Atoi(line)
		if err != nil {
			return nil, nil, false
		}
		if n < 0 {
			return lua.LFalse, rest, true
		}
		t := L.CreateTable(n, 0)
		for range n {
			var v lua.LValue
			var ok bool
			if v, rest, ok = parseReply(L, rest); !ok {
				return nil, nil, false
			}
			t.Append(v)
		}
		return t, rest, true
	}
	return nil, nil, false
}

// maxLuaDepth bounds the nesting of a script's reply (a self-referencing table would not end).
const maxLuaDepth = 100

// appendLua converts a script's return value into a reply the way Redis does: number ->
// integer (truncated), string -> bulk, true -> 1, false and nil -> null, {err=...} -> error,
// {ok=...} -> status, other tables -> arrays up to their first nil.
func appendLua(b []byte, v lua.LValue, proto, depth int) []byte {
	switch v := v.(type) {
	case lua.LNumber:
		f := float64(v)
		if math.IsNaN(f) {
			return appendInt(b, math.MinInt64)
		}
		return appendInt(b, int64(max(min(f, math.MaxInt64), math.MinInt64)))
	case lua.LString:
		return appendBulkString(b, string(v))
	case lua.LBool:
		if v {
			return appendInt(b, 1)
		}
		return appendNull(b, proto)
	case *lua.LTable:
		if e, ok := v.RawGetString("err").(lua.LString); ok {
			return appendError(b, string(e))
		}
		if s, ok := v.RawGetString("ok").(lua.LString); ok {
			return appendSimple(b, string(s))
		}
		if depth >= maxLuaDepth {
			return appendError(b, "ERR reached lua stack limit")
		}
		if d, ok := v.RawGetString("double").(lua.LNumber); ok {
			if proto == 3 {
				return append(append(b, ','), formatFloat(float64(d))+"\r\n"...)
			}
			return appendBulkString(b, formatFloat(float64(d)))
		}
		if m, ok := v.RawGetString("map").(*lua.LTable); ok {
			var kv []lua.LValue
			m.ForEach(func(k, val lua.LValue) { kv = append(kv, k, val) })
			b = appendMapLen(b, len(kv)/2, proto)
			for _, x := range kv {
				b = appendLua(b, x, proto, depth+1)
			}
			return b
		}
		if set, ok := v.RawGetString("set").(*lua.LTable); ok {
			var ms []lua.LValue
			set.ForEach(func(k, _ lua.LValue) { ms = append(ms, k) })
			b = appendSetLen(b, len(ms), proto)
			for _, x := range ms {
				b = appendLua(b, x, proto, depth+1)
			}
			return b
		}
		n := 0
		for v.RawGetInt(n+1) != lua.LNil {
			n++
		}
		b = appendArrayLen(b, n)
		for i := 1; i <= n; i++ {
			b = appendLua(b, v.RawGetInt(i), proto, depth+1)
		}
		return b
	}
	return appendNull(b, proto)
}

// errorReply formats a script's failure as Redis 7.0 does: "<error> script: <name>, on
// @<chunk>:<line>.", the error being a redis.call error reply or "ERR " and Lua's message.
func (lc *luaCall) errorReply(ctx context.Context, err error, name string) string {
	at := " script: " + name + ", on @" + lc.chunk + ":"
	if lc.run != nil && lc.run.killed.Load() {
		return "ERR Script killed by user with SCRIPT KILL..." + at + "1."
	}
	var ae *lua.ApiError
	if !errors.As(err, &ae) {
		return "ERR " + err.Error()
	}
	if ctx.Err() != nil {
		return "ERR command canceled: connection closing"
	}
	if t, ok := ae.Object.(*lua.LTable); ok {
		msg := t.RawGetString("err").String()
		line := t.RawGetString(raisedLine).String()
		if t.RawGetString(raisedLine) == lua.LNil {
			line = "1"
		}
		return msg + at + line + "."
	}
	msg := luaErrorText(err)
	return "ERR " + msg + at + luaLine(msg, lc.chunk) + "."
}

// luaErrorText is the message of a Lua error: the error value, without gopher-lua's traceback.
func luaErrorText(err error) string {
	var ae *lua.ApiError
	if errors.As(err, &ae) && ae.Object != nil {
		return ae.Object.String()
	}
	return err.Error()
}

// luaLine extracts the line from a "<chunk>:<line>:" position; "1" when there is none.
func luaLine(where, chunk string) string {
	rest, ok := strings.CutPrefix(where, chunk+":")
	if !ok {
		return "1"
	}
	if i := strings.IndexByte(rest, ':'); i > 0 {
		if _, err := strconv.Atoi(rest[:i]); err == nil {
			return rest[:i]
		}
	}
	return "1"
}

// setResp is redis.setresp(2|3): the protocol redis.call's replies are converted from.
func (lc *luaCall) setResp(L *lua.LState) int {
	if L.GetTop() != 1 {
		L.Error(lua.LString("redis.setresp() requires one argument."), 0)
	}
	n := L.CheckInt(1)
	if n != 2 && n != 3 {
		L.Error(lua.LString("RESP version must be 2 or 3."), 0)
	}
	lc.sc.proto = n
	return 0
}

func luaErrorReply(L *lua.LState) int {
	t := L.NewTable()
	t.RawSetString("err", lua.LString(L.CheckString(1)))
	L.Push(t)
	return 1
}

func luaStatusReply(L *lua.LState) int {
	t := L.NewTable()
	t.RawSetString("ok", lua.LString(L.CheckString(1)))
	L.Push(t)
	return 1
}

func luaSHA1Hex(L *lua.LState) int {
	if L.GetTop() != 1 {
		L.Error(lua.LString("wrong number of arguments"), 0)
	}
	sum := sha1.Sum([]byte(L.CheckString(1)))
	L.Push(lua.LString(hex.EncodeToString(sum[:])))
	return 1
}

// log is redis.log(level, message...): the server's logger at the matching level.
func (lc *luaCall) log(L *lua.LState) int {
	if L.GetTop() < 2 {
		L.RaiseError("redis.log() requires two arguments or more.")
		return 0
	}
	level := L.CheckInt(1)
	parts := make([]string, 0, L.GetTop()-1)
	for i := 2; i <= L.GetTop(); i++ {
		parts = append(parts, L.Get(i).String())
	}
	lvl := slog.LevelInfo
	switch {
	case level <= 0:
		lvl = slog.LevelDebug
	case level >= 3:
		lvl = slog.LevelWarn
	}
	lc.s.cfg.Logger.Log(context.Background(), lvl, "resp: script: "+strings.Join(parts, " "))
	return 0
}
