package resp

import (
	"context"
	"sort"
	"strings"
	"sync"
	"time"

	lua "github.com/yuin/gopher-lua"
	"github.com/yuin/gopher-lua/parse"

	"github.com/geocache/geocache/node"
)

// Functions: FUNCTION LOAD registers a library of Lua functions, FCALL and FCALL_RO call one.
//
// A library is Lua code registered on this node only, like a script of SCRIPT LOAD: it is not
// replicated to other regions (a client loads it on each node it calls, as it would on each
// Redis primary) and it is not saved in the node's snapshot. A function runs exactly as an
// EVAL script does (atomically, under every store lock, its writes replicated as one unit).
//
// gopher-lua closures cannot move between Lua states and every run has a state of its own, so
// FCALL runs the library's compiled code again in a fresh state to obtain its functions, then
// calls the one named. That is sound because loading can do nothing but register functions: the
// loading environment has only redis.register_function, redis.log and constants (as in Redis).

// functionFlags are the flags redis.register_function accepts.
var functionFlags = []string{"no-writes", "allow-oom", "allow-stale", "no-cluster", "allow-cross-slot-keys"}

const (
	// maxLibraryBytes bounds the code of all loaded libraries; FUNCTION FLUSH empties them.
	maxLibraryBytes = 64 << 20
	// functionLoadTime bounds the run of a library's code at FUNCTION LOAD, as Redis does.
	functionLoadTime = 500 * time.Millisecond
	chunkFunction    = "user_function"
	errNameChars     = "Library names can only contain letters, numbers, or underscores(_) and must be at least one character long"
)

// library is one loaded library.
type library struct {
	name  string
	code  string
	proto *lua.FunctionProto
	funcs []*luaFunction // in registration order
}

// luaFunction is one function of a library.
type luaFunction struct {
	name     string
	desc     *string // nil: none given
	flags    []string
	noWrites bool
	allowOOM bool
	lib      *library
}

// functionLibs holds the libraries of this node. Function names are unique across libraries
// and case-insensitive; library names are case-sensitive, as in Redis.
type functionLibs struct {
	mu    sync.Mutex
	libs  map[string]*library
	funcs map[string]*luaFunction // by lower-case name
	bytes int
}

func (fl *functionLibs) function(name string) *luaFunction {
	fl.mu.Lock()
	defer fl.mu.Unlock()
	return fl.funcs[strings.ToLower(name)]
}

// add registers libs; replace lets a library replace one of the same name. It checks every
// conflict before changing anything and returns Redis's error, or "" (restore: worded as
// FUNCTION RESTORE words it).
func (fl *functionLibs) add(libs []*library, replace, restore bool) string {
	fl.mu.Lock()
	defer fl.mu.Unlock()
	bytes := fl.bytes
	owner := make(map[string]string, len(fl.funcs)) // function -> library, after the change
	for n, f := range fl.funcs {
		owner[n] = f.lib.name
	}
	for _, lib := range libs {
		if old, ok := fl.libs[lib.name]; ok {
			if !replace {
				if restore {
					return "ERR Library " + lib.name + " already exists"
				}
				return "ERR Library '" + lib.name + "' already exists"
			}
			bytes -= len(old.code)
			for _, f := range old.funcs {
				delete(owner, strings.ToLower(f.name))
			}
		}
	}
	for _, lib := range libs {
		for _, f := range lib.funcs {
			n := strings.ToLower(f.name)
			if _, taken := owner[n]; taken {
				return "ERR Function " + f.name + " already exists"
			}
			owner[n] = lib.name
		}
		bytes += len(lib.code)
	}
	if bytes > maxLibraryBytes {
		return "ERR function libraries are full (64 MiB); FUNCTION FLUSH or DELETE frees them"
	}
	if fl.libs == nil {
		fl.libs, fl.funcs = make(map[string]*library), make(map[string]*luaFunction)
	}
	for _, lib := range libs {
		if old, ok := fl.libs[lib.name]; ok {
			for _, f := range old.funcs {
				delete(fl.funcs, strings.ToLower(f.name))
			}
		}
		fl.libs[lib.name] = lib
		for _, f := range lib.funcs {
			fl.funcs[strings.ToLower(f.name)] = f
		}
	}
	fl.bytes = bytes
	return ""
}

// replaceAll replaces every library by libs (FUNCTION RESTORE FLUSH).
func (fl *functionLibs) replaceAll(libs []*library) string {
	next := &functionLibs{}
	if msg := next.add(libs, false, true); msg != "" {
		return msg
	}
	fl.mu.Lock()
	defer fl.mu.Unlock()
	fl.libs, fl.funcs, fl.bytes = next.libs, next.funcs, next.bytes
	return ""
}

func (fl *functionLibs) remove(name string) bool {
	fl.mu.Lock()
	defer fl.mu.Unlock()
	lib, ok := fl.libs[name]
	if !ok {
		return false
	}
	for _, f := range lib.funcs {
		delete(fl.funcs, strings.ToLower(f.name))
	}
	delete(fl.libs, name)
	fl.bytes -= len(lib.code)
	return true
}

func (fl *functionLibs) flush() {
	fl.mu.Lock()
	fl.libs, fl.funcs, fl.bytes = nil, nil, 0
	fl.mu.Unlock()
}

// list returns the libraries sorted by name (Redis lists them in its hash table's order).
func (fl *functionLibs) list() []*library {
	fl.mu.Lock()
	defer fl.mu.Unlock()
	out := make([]*library, 0, len(fl.libs))
	for _, lib := range fl.libs {
		out = append(out, lib)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].name < out[j].name })
	return out
}

func (fl *functionLibs) counts() (libs, funcs int) {
	fl.mu.Lock()
	defer fl.mu.Unlock()
	return len(fl.libs), len(fl.funcs)
}

// validName is Redis's rule for library and function names.
func validName(s string) bool {
	if s == "" {
		return false
	}
	for _, ch := range []byte(s) {
		if !(ch == '_' || ('0' <= ch && ch <= '9') || ('a' <= ch && ch <= 'z') || ('A' <= ch && ch <= 'Z')) {
			return false
		}
	}
	return true
}

// compileLibrary parses the shebang ("#!lua name=<lib>"), compiles the code and runs it in the
// loading environment to learn its functions. It returns the library or Redis's error.
func compileLibrary(ctx context.Context, code string) (*library, string) {
	first, _, _ := strings.Cut(code, "\n")
	if !strings.HasPrefix(first, "#!") {
		return nil, "ERR Missing library metadata"
	}
	parts := strings.Split(first[2:], " ") // as Redis splits it: "#! name=x" has engine ""
	if !strings.EqualFold(parts[0], "lua") {
		return nil, "ERR Engine '" + parts[0] + "' not found"
	}
	lib := &library{code: code}
	named := false
	for _, p := range parts[1:] {
		if p == "" {
			continue
		}
		v, ok := strings.CutPrefix(p, "name=")
		if !ok {
			return nil, "ERR Invalid metadata value given: " + p
		}
		if named {
			return nil, "ERR Invalid metadata value, name argument was given multiple times"
		}
		lib.name, named = v, true
	}
	if lib.name == "" {
		return nil, "ERR Library name was not given"
	}
	if !validName(lib.name) {
		return nil, "ERR " + errNameChars
	}
	// The shebang line stays a (blank) line so that positions count lines as Redis does.
	body := strings.Repeat(" ", len(first)) + code[len(first):]
	chunk, err := parse.Parse(strings.NewReader(body), chunkFunction)
	if err == nil {
		lib.proto, err = lua.Compile(chunk, chunkFunction)
	}
	if err != nil {
		return nil, "ERR Error compiling function: " + compileMessage(err)
	}
	ctx, cancel := context.WithTimeout(ctx, functionLoadTime)
	defer cancel()
	L := newLuaState(ctx)
	defer L.Close()
	if _, errMsg := loadLibrary(L, &sandbox{}, lib, nil); errMsg != "" {
		if ctx.Err() == context.DeadlineExceeded {
			errMsg = "ERR FUNCTION LOAD timeout"
		}
		return nil, "ERR Error registering functions: " + errMsg
	}
	if len(lib.funcs) == 0 {
		return nil, "ERR No functions registered"
	}
	return lib, ""
}

// newLuaState is a Lua state with the bounds every script runs under.
func newLuaState(ctx context.Context) *lua.LState {
	L := lua.NewState(lua.Options{SkipOpenLibs: true, CallStackSize: luaCallStack,
		RegistrySize: 1024, RegistryMaxSize: luaRegistryMax, RegistryGrowStep: 256})
	L.SetContext(ctx)
	return L
}

// loadLibrary runs lib's code in L in the loading environment. With run (a state set up by
// luaCall.setup) it returns the library's callbacks by lower-case name, their globals being
// run's from then on; without it, it fills lib.funcs. The error is Redis's text after "Error
// registering functions: ".
func loadLibrary(L *lua.LState, sb *sandbox, lib *library, run *lua.LTable) (map[string]*lua.LFunction, string) {
	loading := true
	api := L.NewTable()
	callbacks := map[string]*lua.LFunction{}
	api.RawSetString("register_function", L.NewFunction(func(L *lua.LState) int {
		if !loading {
			L.RaiseError("redis.register_function can only be called on FUNCTION LOAD command")
		}
		f, cb, msg := registerArgs(L)
		if msg != "" {
			L.Error(lua.LString(msg), 0)
		}
		n := strings.ToLower(f.name)
		if _, dup := callbacks[n]; dup {
			L.Error(lua.LString("Function already exists in the library"), 0)
		}
		callbacks[n] = cb
		if run == nil {
			f.lib = lib
			lib.funcs = append(lib.funcs, f)
		}
		return 0
	}))
	api.RawSetString("log", L.NewFunction(func(L *lua.LState) int { return 0 }))
	for name, v := range luaConstants {
		api.RawSetString(name, v)
	}
	loadEnv := L.NewTable()
	loadEnv.RawSetString("redis", sb.proxy(L, api, nil, true))
	// One globals table for the library's closures, reading the loading environment while it
	// loads and the run's globals after, as Redis swaps its globals' __index.
	env := sb.proxy(L, nil, func(name string) lua.LValue {
		if loading || run == nil {
			return loadEnv.RawGetString(name)
		}
		return run.RawGetString(name)
	}, true)
	fn := L.NewFunctionFromProto(lib.proto)
	fn.Env = env
	L.Push(fn)
	err := L.PCall(0, 0, nil)
	loading = false
	if err != nil {
		return nil, "ERR " + luaErrorText(err)
	}
	return callbacks, ""
}

// registerArgs reads redis.register_function's arguments: (name, callback) or a table of
// named arguments.
func registerArgs(L *lua.LState) (*luaFunction, *lua.LFunction, string) {
	f := &luaFunction{}
	var cb *lua.LFunction
	switch L.GetTop() {
	case 1:
		t, ok := L.Get(1).(*lua.LTable)
		if !ok {
			return nil, nil, "calling redis.register_function with a single argument is only applicable to Lua table (representing named arguments)."
		}
		var msg string
		t.ForEach(func(k, v lua.LValue) {
			if msg != "" {
				return
			}
			switch k.String() {
			case "function_name":
				s, ok := v.(lua.LString)
				if !ok {
					msg = "function_name argument given to redis.register_function must be a string"
				}
				f.name = string(s)
			case "description":
				s, ok := v.(lua.LString)
				if !ok {
					msg = "description argument given to redis.register_function must be a string"
				}
				d := string(s)
				f.desc = &d
			case "callback":
				fn, ok := v.(*lua.LFunction)
				if !ok {
					msg = "callback argument given to redis.register_function must be a function"
				}
				cb = fn
			case "flags":
				ft, ok := v.(*lua.LTable)
				if !ok {
					msg = "flags argument to redis.register_function must be a table representing function flags"
					return
				}
				for i := 1; i <= ft.Len(); i++ {
					name, ok := ft.RawGetInt(i).(lua.LString)
					known := false
					for _, fl := range functionFlags {
						known = known || (ok && string(name) == fl)
					}
					if !known {
						msg = "unknown flag given"
						return
					}
					f.flags = append(f.flags, string(name))
					f.noWrites = f.noWrites || name == "no-writes"
					f.allowOOM = f.allowOOM || name == "allow-oom"
				}
			default:
				msg = "unknown argument given to redis.register_function"
			}
		})
		switch {
		case msg != "":
			return nil, nil, msg
		case f.name == "":
			return nil, nil, "redis.register_function must get a function name argument"
		case cb == nil:
			return nil, nil, "redis.register_function must get a callback argument"
		}
	case 2:
		name, ok := L.Get(1).(lua.LString)
		if !ok {
			return nil, nil, "first argument to redis.register_function must be a string"
		}
		if cb, ok = L.Get(2).(*lua.LFunction); !ok {
			return nil, nil, "second argument to redis.register_function must be a function"
		}
		f.name = string(name)
	default:
		return nil, nil, "wrong number of arguments to redis.register_function"
	}
	if !validName(f.name) {
		return nil, nil, errNameChars
	}
	return f, cb, ""
}

func cmdFunctionLoad(ctx context.Context, s *Server, c *client, argv [][]byte) {
	replace := false
	i := 2
	for ; i < len(argv)-1; i++ {
		if !equalFold(argv[i], "replace") {
			c.out = appendError(c.out, "ERR Unknown option given: "+string(argv[i]))
			return
		}
		replace = true
	}
	if i >= len(argv) {
		c.out = appendError(c.out, "ERR wrong number of arguments for 'function|load' command")
		return
	}
	lib, msg := compileLibrary(ctx, string(argv[i]))
	if msg == "" {
		msg = s.funcs.add([]*library{lib}, replace, false)
	}
	if msg != "" {
		c.out = appendError(c.out, msg)
		return
	}
	c.out = appendBulkString(c.out, lib.name)
}

func cmdFunctionDelete(_ context.Context, s *Server, c *client, argv [][]byte) {
	if !s.funcs.remove(string(argv[2])) {
		c.out = appendError(c.out, "ERR Library not found")
		return
	}
	c.out = append(c.out, "+OK\r\n"...)
}

// cmdFunctionFlush serves FUNCTION FLUSH [ASYNC|SYNC].
func cmdFunctionFlush(_ context.Context, s *Server, c *client, argv [][]byte) {
	switch {
	case len(argv) > 3:
		c.out = appendError(c.out, "ERR unknown subcommand or wrong number of arguments for 'FLUSH'. Try FUNCTION HELP.")
	case len(argv) == 3 && !equalFold(argv[2], "async") && !equalFold(argv[2], "sync"):
		c.out = appendError(c.out, "ERR FUNCTION FLUSH only supports SYNC|ASYNC option")
	default:
		s.funcs.flush()
		c.out = append(c.out, "+OK\r\n"...)
	}
}

// cmdFunctionList serves FUNCTION LIST [WITHCODE] [LIBRARYNAME pattern].
func cmdFunctionList(_ context.Context, s *Server, c *client, argv [][]byte) {
	withCode, pattern, havePattern := false, "", false
	for i := 2; i < len(argv); i++ {
		switch {
		case equalFold(argv[i], "withcode") && !withCode:
			withCode = true
		case equalFold(argv[i], "libraryname") && !havePattern:
			if i+1 >= len(argv) {
				c.out = appendError(c.out, "ERR library name argument was not given")
				return
			}
			pattern, havePattern = string(argv[i+1]), true
			i++
		default:
			c.out = appendError(c.out, "ERR Unknown argument "+string(argv[i]))
			return
		}
	}
	var libs []*library
	for _, lib := range s.funcs.list() {
		if !havePattern || node.Match(strings.ToLower(pattern), strings.ToLower(lib.name)) {
			libs = append(libs, lib)
		}
	}
	c.out = appendArrayLen(c.out, len(libs))
	for _, lib := range libs {
		n := 3
		if withCode {
			n = 4
		}
		c.out = appendMapLen(c.out, n, c.proto)
		c.out = appendBulkString(c.out, "library_name")
		c.out = appendBulkString(c.out, lib.name)
		c.out = appendBulkString(c.out, "engine")
		c.out = appendBulkString(c.out, "LUA")
		c.out = appendBulkString(c.out, "functions")
		c.out = appendArrayLen(c.out, len(lib.funcs))
		for _, f := range lib.funcs {
			c.out = appendMapLen(c.out, 3, c.proto)
			c.out = appendBulkString(c.out, "name")
			c.out = appendBulkString(c.out, f.name)
			c.out = appendBulkString(c.out, "description")
			if f.desc == nil {
				c.out = appendNull(c.out, c.proto)
			} else {
				c.out = appendBulkString(c.out, *f.desc)
			}
			c.out = appendBulkString(c.out, "flags")
			c.out = appendSetLen(c.out, len(f.flags), c.proto)
			for _, fl := range f.flags {
				c.out = appendSimple(c.out, fl)
			}
		}
		if withCode {
			c.out = appendBulkString(c.out, "library_code")
			c.out = appendBulkString(c.out, lib.code)
		}
	}
}

// cmdFunctionStats serves FUNCTION STATS: the running function, if any, and the counts.
func cmdFunctionStats(_ context.Context, s *Server, c *client, _ [][]byte) {
	c.out = appendMapLen(c.out, 2, c.proto)
	c.out = appendBulkString(c.out, "running_script")
	if run := s.script.Load(); run == nil || run.function == "" {
		c.out = appendNull(c.out, c.proto)
	} else {
		c.out = appendMapLen(c.out, 3, c.proto)
		c.out = appendBulkString(c.out, "name")
		c.out = appendBulkString(c.out, run.function)
		c.out = appendBulkString(c.out, "command")
		c.out = appendArrayLen(c.out, len(run.argv))
		for _, a := range run.argv {
			c.out = appendBulk(c.out, a)
		}
		c.out = appendBulkString(c.out, "duration_ms")
		c.out = appendInt(c.out, time.Since(run.start).Milliseconds())
	}
	libs, funcs := s.funcs.counts()
	c.out = appendBulkString(c.out, "engines")
	c.out = appendMapLen(c.out, 1, c.proto)
	c.out = appendBulkString(c.out, "LUA")
	c.out = appendMapLen(c.out, 2, c.proto)
	c.out = appendBulkString(c.out, "libraries_count")
	c.out = appendInt(c.out, int64(libs))
	c.out = appendBulkString(c.out, "functions_count")
	c.out = appendInt(c.out, int64(funcs))
}

// cmdFCall serves FCALL and FCALL_RO function numkeys [key ...] [arg ...].
func cmdFCall(ctx context.Context, s *Server, c *client, argv [][]byte) {
	if s.mon.n.Load() != 0 { // fed before the script's commands, as Redis does
		s.feedMonitors(c.addr, nil, argv)
	}
	f := s.funcs.function(string(argv[1]))
	if f == nil {
		c.out = appendError(c.out, "ERR Function not found")
		return
	}
	n, isInt := string2ll(argv[2])
	switch {
	case !isInt:
		c.out = appendError(c.out, "ERR Bad number of keys provided")
		return
	case n > int64(len(argv)-3):
		c.out = appendError(c.out, "ERR Number of keys can't be greater than number of args")
		return
	case n < 0:
		c.out = appendError(c.out, "ERR Number of keys can't be negative")
		return
	}
	ro := equalFold(argv[0], "fcall_ro")
	if ro && !f.noWrites {
		c.out = appendError(c.out, "ERR Can not execute a script with write flag using *_ro command.")
		return
	}
	s.startScript(ctx, c, &luaScript{name: f.name, proto: f.lib.proto, fn: f,
		keys: argv[3 : 3+n], args: argv[3+n:], ro: ro || f.noWrites, argv: argv,
		oom: scriptOOMRule(true, f.noWrites, f.allowOOM)})
}
