package resp

import "strings"

// Out of memory. Redis refuses a command flagged denyoom while its memory is over maxmemory
// (and cannot evict below it), any command but EXEC, DISCARD, QUIT and RESET inside MULTI, and
// an EXEC whose transaction queued a denyoom command. geocache is a cache that evicts to make
// room, so the only condition in which it refuses is a bound too small to hold any entry
// (MemoryBounder.OutOfMemory): CONFIG SET maxmemory 1, which Redis's own tests use to force
// OOM. The node then evicts nothing and keeps serving what it holds (node/maxmemory.go), and
// the Server refuses writes as Redis does. The command flags are Redis's (the denyoom flag of
// its COMMAND INFO, commandData).

// errOOM is Redis's reply to a command refused for memory.
const errOOM = "OOM command not allowed when used memory > 'maxmemory'."

// MemoryBounder is implemented by a Backend whose memory bound can change at run time (as
// *node.Node's does): CONFIG SET maxmemory calls SetMaxMemory, then asks OutOfMemory whether
// writes are now refused. Neither is called concurrently with itself by the Server.
type MemoryBounder interface {
	SetMaxMemory(maxMemory int64) (evicted int, err error)
	OutOfMemory() bool
}

// refuseOOM answers a command refused while out of memory, as Redis's processCommand does, and
// reports whether it did. Called only while the Server is out of memory.
func (s *Server) refuseOOM(c *client, cmd *command) bool {
	deny := cmd.flags&flagDenyOOM != 0
	if c.multi != nil {
		switch cmd.name {
		case "exec":
			// An EXEC of reads alone runs; one with a denyoom command queued is refused (and
			// discards the transaction: reject).
			for _, q := range c.multi.cmds {
				deny = deny || q.flags&flagDenyOOM != 0
			}
		case "discard", "quit", "reset":
		default:
			deny = true // queueing takes memory too
		}
	}
	if !deny {
		return false
	}
	c.reject(cmd, errOOM)
	return true
}

// markDenyOOM flags the commands Redis flags denyoom, from the flags of their COMMAND INFO
// (the first array after the name and arity).
func markDenyOOM(t map[string]*command) {
	for name, cmd := range t {
		if hasInfoFlag(commandData[name].info2, "denyoom") {
			cmd.flags |= flagDenyOOM
		}
		for _, sub := range cmd.subs { // FUNCTION LOAD, FUNCTION RESTORE
			if hasInfoFlag(commandData[sub.name].info2, "denyoom") {
				sub.flags |= flagDenyOOM
			}
		}
	}
}

// hasInfoFlag reports whether a RESP2 COMMAND INFO element ("*10", "$3", "set", ":-3", "*2",
// "+write", "+denyoom", ...) lists flag among its command flags.
func hasInfoFlag(info2, flag string) bool {
	parts := strings.SplitN(info2, "\r\n", 6)
	if len(parts) < 6 || !strings.HasPrefix(parts[4], "*") {
		return false
	}
	n := 0
	for _, d := range parts[4][1:] {
		n = n*10 + int(d-'0')
	}
	for _, f := range strings.SplitN(parts[5], "\r\n", n+1)[:min(n, strings.Count(parts[5], "\r\n"))] {
		if f == "+"+flag {
			return true
		}
	}
	return false
}

// oomRule is what a script may do while out of memory, as Redis 7.0 decides it from the
// script's flags (scriptFlagsToCmdFlags, scriptVerifyOOM).
type oomRule uint8

const (
	// oomCheckCalls: a script without a shebang starts, and a redis.call of a denyoom command
	// is refused while out of memory unless the script already wrote (it cannot stop half
	// way).
	oomCheckCalls oomRule = iota
	// oomDenyStart: a script with flags but neither allow-oom nor no-writes, and every
	// function without them, is refused before it starts, as a denyoom command.
	oomDenyStart
	// oomAllow: allow-oom or no-writes: it runs and its calls are not checked.
	oomAllow
)

// scriptOOMRule is the rule for a script with flags declared (a shebang, or a function) or not.
func scriptOOMRule(flagged, noWrites, allowOOM bool) oomRule {
	switch {
	case !flagged:
		return oomCheckCalls
	case noWrites || allowOOM:
		return oomAllow
	}
	return oomDenyStart
}

func (cs *cachedScript) oomRule() oomRule { return scriptOOMRule(cs.flagged, cs.noWrites, cs.allowOOM) }
