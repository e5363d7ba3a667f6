package resp

import (
	"context"
	"crypto/sha1"
	"encoding/hex"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	lua "github.com/yuin/gopher-lua"
	"github.com/yuin/gopher-lua/parse"

	"github.com/geocache/geocache/node"
)

// Lua scripting: EVAL, EVALSHA, EVAL_RO, EVALSHA_RO and SCRIPT, with gopher-lua (Lua 5.1).
//
// A script runs atomically on the node: one at a time, inside node.AtomicAll, so it holds every
// store lock and its writes replicate as one unit (its effects, never the script). It runs off
// the event loop. Other clients' commands wait for it (off their event loops too) until it has
// run for Config.ScriptBusyTime; then they answer -BUSY and SCRIPT KILL may stop it, unless it
// already wrote. A script reaches the node only through redis.call and redis.pcall: no file
// system, network, os or io library, no loading of code.

const (
	errBusy         = "BUSY Redis is busy running a script. You can only call SCRIPT KILL or SHUTDOWN NOSAVE."
	errBusyFunction = "BUSY Redis is busy running a script. You can only call FUNCTION KILL or SHUTDOWN NOSAVE."
	errNoScript     = "NOSCRIPT No matching script. Please use EVAL."
	errNotBusy      = "NOTBUSY No scripts in execution right now."
	errUnkillable   = "UNKILLABLE Sorry the script already executed write commands against the dataset. You can either wait the script termination or kill the server in a hard way using the SHUTDOWN NOSAVE command."
	// maxScriptBytes bounds the script cache; SCRIPT FLUSH empties it.
	maxScriptBytes = 64 << 20
)

// scriptCache holds the scripts EVAL and SCRIPT LOAD saw, compiled, by SHA1.
type scriptCache struct {
	mu    sync.Mutex
	m     map[string]*cachedScript
	bytes int
}

// cachedScript is a compiled script and what its shebang ("#!lua flags=...") said.
type cachedScript struct {
	proto    *lua.FunctionProto
	noWrites bool
	// flagged: the script has a shebang, so its flags decide, as a function's do, whether it
	// may start while out of memory (allow-oom, no-writes); without one, each redis.call of a
	// denyoom command is checked instead (oom.go).
	flagged, allowOOM bool
}

// get returns the compiled script for sha, or nil.
func (sc *scriptCache) get(sha string) *cachedScript {
	sc.mu.Lock()
	defer sc.mu.Unlock()
	return sc.m[sha]
}

// load compiles body and caches it; it returns the SHA1 or a compile error reply.
func (sc *scriptCache) load(body []byte) (string, *cachedScript, string) {
	sum := sha1.Sum(body)
	sha := hex.EncodeToString(sum[:])
	if p := sc.get(sha); p != nil {
		return sha, p, ""
	}
	cs := &cachedScript{}
	code := string(body)
	if strings.HasPrefix(code, "#!") {
		cs.flagged = true
		first, _, _ := strings.Cut(code, "\n")
		parts := strings.Fields(first)
		if parts[0] != "#!lua" {
			return "", nil, "ERR Unexpected engine in script shebang: " + parts[0]
		}
		for _, p := range parts[1:] {
			flags, ok := strings.CutPrefix(p, "flags=")
			if !ok {
				return "", nil, "ERR Unknown lua shebang option: " + p
			}
			for _, f := range strings.Split(flags, ",") {
				if f == "" {
					continue
				}
				known := false
				for _, k := range functionFlags {
					known = known || f == k
				}
				if !known {
					return "", nil, "ERR Unexpected flag in script shebang: " + f
				}
				cs.noWrites = cs.noWrites || f == "no-writes"
				cs.allowOOM = cs.allowOOM || f == "allow-oom"
			}
		}
		// The shebang stays a blank line, so that positions count lines as Redis does.
		code = strings.Repeat(" ", len(first)) + code[len(first):]
	}
	chunk, err := parse.Parse(strings.NewReader(code), "user_script")
	var proto *lua.FunctionProto
	if err == nil {
		proto, err = lua.Compile(chunk, "user_script")
	}
	if err != nil {
		return "", nil, "ERR Error compiling script (new function): " + compileMessage(err)
	}
	sc.mu.Lock()
	defer sc.mu.Unlock()
	if sc.bytes+len(body) > maxScriptBytes {
		return "", nil, "ERR script cache is full (64 MiB); SCRIPT FLUSH empties it"
	}
	cs.proto = proto
	if sc.m == nil {
		sc.m = make(map[string]*cachedScript)
	}
	if _, ok := sc.m[sha]; !ok {
		sc.m[sha] = cs
		sc.bytes += len(body)
	}
	return sha, cs, ""
}

func (sc *scriptCache) flush() {
	sc.mu.Lock()
	sc.m, sc.bytes = nil, 0
	sc.mu.Unlock()
}

// compileMessage shortens gopher-lua's parse error to one line.
func compileMessage(err error) string {
	msg := err.Error()
	if i := strings.IndexByte(msg, '\n'); i >= 0 {
		msg = msg[:i]
	}
	return strings.TrimSpace(msg)
}

// scriptRun is the script in execution, for the busy gate and SCRIPT KILL.
type scriptRun struct {
	wrote  atomic.Bool
	killed atomic.Bool
	cancel context.CancelFunc
	busy   chan struct{} // closed once the script has run for Config.ScriptBusyTime
	done   chan struct{} // closed when it ends
	// function is the name of the function running (FCALL), "" for EVAL; argv its command.
	function string
	argv     [][]byte
	start    time.Time
}

// busyError is the BUSY reply while run is busy: it names the command that can stop it.
func (r *scriptRun) busyError() string {
	if r.function != "" {
		return errBusyFunction
	}
	return errBusy
}

func (r *scriptRun) isBusy() bool {
	select {
	case <-r.busy:
		return true
	default:
		return false
	}
}

// gateScript holds back a command that found a script running: before the script's busy time
// it waits for the script (off the event loop) and runs then, after it the command answers
// -BUSY.
func (s *Server) gateScript(ctx context.Context, c *client, cmd *command, argv [][]byte) {
	if run := s.script.Load(); run != nil && run.isBusy() {
		c.reject(cmd, run.busyError())
		return
	}
	if c.loop != nil && !c.offLoop {
		c.wait = &waitRequest{run: func(ctx context.Context) {
			c.offLoop = true
			defer func() { c.offLoop = false }()
			s.waitScript(ctx)
			s.dispatch(ctx, c, argv)
		}}
		return
	}
	s.waitScript(ctx)
	s.dispatch(ctx, c, argv)
}

// waitScript waits until the running script ends or passes its busy time.
func (s *Server) waitScript(ctx context.Context) {
	run := s.script.Load()
	if run == nil {
		// The script is leaving the gate: wait for the gate itself.
		s.gate.RLock()
		s.gate.RUnlock() //nolint:staticcheck // an empty critical section: we only wait
		return
	}
	select {
	case <-run.done:
	case <-run.busy:
	case <-ctx.Done():
	}
}

// evalArgs parses EVAL's numkeys and splits keys from arguments, or replies with the error.
func evalArgs(c *client, argv [][]byte) (keys, args [][]byte, ok bool) {
	n, isInt := string2ll(argv[2])
	switch {
	case !isInt:
		c.out = appendError(c.out, errNotInteger)
	case n > int64(len(argv)-3):
		c.out = appendError(c.out, "ERR Number of keys can't be greater than number of args")
	case n < 0:
		c.out = appendError(c.out, "ERR Number of keys can't be negative")
	default:
		return argv[3 : 3+n], argv[3+n:], true
	}
	return nil, nil, false
}

func cmdEval(ctx context.Context, s *Server, c *client, argv [][]byte) {
	if s.mon.n.Load() != 0 { // fed before the script's commands, as Redis does
		s.feedMonitors(c.addr, nil, argv)
	}
	keys, args, ok := evalArgs(c, argv)
	if !ok {
		return
	}
	sha, cs, errMsg := s.scripts.load(argv[1])
	if errMsg != "" {
		c.out = appendError(c.out, errMsg)
		return
	}
	s.startScript(ctx, c, &luaScript{name: sha, proto: cs.proto, keys: keys, args: args,
		ro: cs.noWrites || strings.HasSuffix(strings.ToLower(string(argv[0])), "_ro"), oom: cs.oomRule()})
}

func cmdEvalSha(ctx context.Context, s *Server, c *client, argv [][]byte) {
	if s.mon.n.Load() != 0 { // fed before the script's commands, as Redis does
		s.feedMonitors(c.addr, nil, argv)
	}
	keys, args, ok := evalArgs(c, argv)
	if !ok {
		return
	}
	sha := strings.ToLower(string(argv[1]))
	cs := s.scripts.get(sha)
	if cs == nil {
		c.out = appendError(c.out, errNoScript)
		return
	}
	s.startScript(ctx, c, &luaScript{name: sha, proto: cs.proto, keys: keys, args: args,
		ro: cs.noWrites || strings.HasSuffix(strings.ToLower(string(argv[0])), "_ro"), oom: cs.oomRule()})
}

// startScript runs a script: at once inside EXEC (the transaction holds the whole store), else
// off the event loop.
func (s *Server) startScript(ctx context.Context, c *client, sc *luaScript) {
	if s.tr == nil {
		c.out = appendError(c.out, errNoTx)
		return
	}
	if sc.oom == oomDenyStart && s.oom.Load() {
		// Refused as a denyoom command is (oom.go); inside EXEC, c.cur is the EXEC.
		c.flagTransaction()
		c.out = appendError(c.out, errOOM)
		return
	}
	if tx, ok := c.tx.(*node.Tx); ok {
		c.out = s.runLua(ctx, c, tx, nil, sc)
		return
	}
	run := func(ctx context.Context) { s.runScript(ctx, c, sc) }
	if c.loop != nil && !c.offLoop {
		c.wait = &waitRequest{run: run}
		return
	}
	c.ungate() // the script takes the gate exclusively
	run(ctx)
}

// runScript runs one script under every store lock, registered for the busy gate and SCRIPT
// KILL.
func (s *Server) runScript(ctx context.Context, c *client, sc *luaScript) {
	s.scriptMu.Lock()
	defer s.scriptMu.Unlock()
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	run := &scriptRun{cancel: cancel, busy: make(chan struct{}), done: make(chan struct{}),
		start: time.Now()}
	if sc.fn != nil {
		run.function = sc.fn.name
		run.argv = make([][]byte, len(sc.argv))
		for i, a := range sc.argv {
			run.argv[i] = append([]byte(nil), a...)
		}
	}
	// Registered before taking the gate, so that a command that fails to take it finds the
	// script to wait for.
	s.script.Store(run)
	s.gate.Lock()
	timer := time.AfterFunc(time.Duration(s.busyTime.Load()), func() { close(run.busy) })
	defer func() {
		timer.Stop()
		s.gate.Unlock()
		s.script.Store(nil)
		close(run.done)
	}()
	err := s.tr.AtomicAll(ctx, func(tx *node.Tx) error {
		c.out = s.runLua(ctx, c, tx, run, sc)
		return nil
	})
	if err != nil {
		c.out = appendError(c.out, backendError(err))
	}
}

func cmdScriptLoad(_ context.Context, s *Server, c *client, argv [][]byte) {
	sha, _, errMsg := s.scripts.load(argv[2])
	if errMsg != "" {
		c.out = appendError(c.out, errMsg)
		return
	}
	c.out = appendBulkString(c.out, sha)
}

func cmdScriptExists(_ context.Context, s *Server, c *client, argv [][]byte) {
	c.out = appendArrayLen(c.out, len(argv)-2)
	for _, a := range argv[2:] {
		n := int64(0)
		if s.scripts.get(strings.ToLower(string(a))) != nil {
			n = 1
		}
		c.out = appendInt(c.out, n)
	}
}

func cmdScriptFlush(_ context.Context, s *Server, c *client, argv [][]byte) {
	if len(argv) > 3 || (len(argv) == 3 && !equalFold(argv[2], "sync") && !equalFold(argv[2], "async")) {
		c.out = appendError(c.out, "ERR SCRIPT FLUSH only support SYNC|ASYNC option")
		return
	}
	s.scripts.flush()
	c.out = append(c.out, "+OK\r\n"...)
}

// cmdScriptKill serves SCRIPT KILL and FUNCTION KILL: each stops its own kind of script only.
func cmdScriptKill(_ context.Context, s *Server, c *client, argv [][]byte) {
	run := s.script.Load()
	function := equalFold(argv[0], "function")
	switch {
	case run == nil:
		c.out = appendError(c.out, errNotBusy)
	case run.wrote.Load():
		c.out = appendError(c.out, errUnkillable)
	case function != (run.function != ""):
		c.out = appendError(c.out, run.busyError())
	default:
		run.killed.Store(true)
		run.cancel()
		c.out = append(c.out, "+OK\r\n"...)
	}
}
