package resp

import (
	"strconv"
	"strings"
)

// deriveKeySpecs marks the commands Redis flags noscript, and fills in, for every command without a key spec of its own, the legacy key
// spec (first key, last key, step) Redis reports in COMMAND INFO (commandData, captured from
// redis-server), so EXEC locks the keys of any queued command. A command whose keys Redis
// finds only by parsing its arguments (movablekeys: ZUNIONSTORE, SINTERCARD, ...) locks the
// whole keyspace.
func deriveKeySpecs(t map[string]*command) {
	set := func(c *command) {
		m, ok := commandData[c.name]
		if !ok {
			return
		}
		if strings.Contains(m.info2, "\r\n+noscript\r\n") {
			// Redis refuses it in scripts (blocking pops, MULTI, ...): so does geocache.
			c.flags |= flagNoScript
		}
		if c.firstKey != 0 || c.flags&flagKeyspace != 0 {
			return
		}
		first, last, step, movable, ok := legacyKeySpec(m.info2)
		switch {
		case !ok:
		case movable:
			c.flags |= flagKeyspace
		case first > 0:
			c.firstKey, c.lastKey, c.keyStep = first, last, max(step, 1)
		}
	}
	for _, c := range t {
		set(c)
		for _, sub := range c.subs {
			set(sub)
		}
	}
}

// legacyKeySpec reads the flags and the first key, last key and step of a RESP2 COMMAND INFO
// element: *10, name, :arity, *n flags, :first, :last, :step, ...
func legacyKeySpec(info string) (first, last, step int, movable, ok bool) {
	lines := strings.Split(info, "\r\n")
	// lines: *10, $len, name, :arity, *n, flags..., :first, :last, :step
	if len(lines) < 5 || !strings.HasPrefix(lines[4], "*") {
		return 0, 0, 0, false, false
	}
	n, err := strconv.Atoi(lines[4][1:])
	if err != nil || len(lines) < 5+n+3 {
		return 0, 0, 0, false, false
	}
	for _, f := range lines[5 : 5+n] {
		if f == "+movablekeys" {
			movable = true
		}
	}
	nums := [3]int{}
	for i := range nums {
		l := lines[5+n+i]
		if !strings.HasPrefix(l, ":") {
			return 0, 0, 0, false, false
		}
		if nums[i], err = strconv.Atoi(l[1:]); err != nil {
			return 0, 0, 0, false, false
		}
	}
	return nums[0], nums[1], nums[2], movable, true
}
