package resp

import (
	"math/rand"

	lua "github.com/yuin/gopher-lua"
)

// sandbox makes the tables a script reads but must not change read-only, as Redis 7.0 does
// (globals, redis, the library loading environment). gopher-lua has no read-only tables, so
// each is an empty proxy whose metatable reads the real table and refuses writes; setmetatable
// and rawset refuse the proxies, and getmetatable of one returns a locked empty table.
type sandbox struct {
	locked map[*lua.LTable]bool
}

// proxy returns a read-only view of real (nil: none) that reads missing names from get (nil:
// none). A name found nowhere is an error when strict (globals), else nil (a library table).
func (sb *sandbox) proxy(L *lua.LState, real *lua.LTable, get func(string) lua.LValue, strict bool) *lua.LTable {
	if sb.locked == nil {
		sb.locked = make(map[*lua.LTable]bool)
	}
	p, mt, guard := L.NewTable(), L.NewTable(), L.NewTable()
	mt.RawSetString("__index", L.NewFunction(func(L *lua.LState) int {
		key := L.CheckAny(2)
		v := lua.LValue(lua.LNil)
		if real != nil {
			v = real.RawGet(key)
		}
		if name, ok := key.(lua.LString); ok && v == lua.LNil && get != nil {
			v = get(string(name))
		}
		if v == lua.LNil && strict {
			switch name := key.String(); name {
			case "load", "loadstring", "gcinfo": // removed, but read as nil in Redis 7.0
			default:
				L.RaiseError("Script attempted to access nonexistent global variable '%s'", name)
			}
		}
		L.Push(v)
		return 1
	}))
	mt.RawSetString("__newindex", L.NewFunction(func(L *lua.LState) int {
		L.RaiseError("Attempt to modify a readonly table")
		return 0
	}))
	gmt := L.NewTable()
	gmt.RawSetString("__newindex", mt.RawGetString("__newindex"))
	L.SetMetatable(guard, gmt)
	mt.RawSetString("__metatable", guard)
	L.SetMetatable(p, mt)
	sb.locked[p], sb.locked[guard] = true, true
	return p
}

// harden replaces the base functions that could change a read-only table, and gives the
// state a random generator of its own (gopher-lua's math.random would seed the process-wide
// one), randomly seeded as Redis 7.0's; math.randomseed makes a script's draws repeatable.
func (sb *sandbox) harden(L *lua.LState) {
	G := L.G.Global
	for _, name := range []string{"setmetatable", "rawset"} {
		orig := G.RawGetString(name).(*lua.LFunction)
		G.RawSetString(name, L.NewFunction(func(L *lua.LState) int {
			if t, ok := L.Get(1).(*lua.LTable); ok && sb.locked[t] {
				L.Error(lua.LString("Attempt to modify a readonly table"), 0)
			}
			L.Insert(orig, 1)
			L.Call(L.GetTop()-1, lua.MultRet)
			return L.GetTop()
		}))
	}
	if str, ok := G.RawGetString("string").(*lua.LTable); ok {
		str.RawSetString("dump", lua.LNil) // no binary chunks: they could not be loaded anyway
	}
	m, ok := G.RawGetString("math").(*lua.LTable)
	if !ok {
		return
	}
	rng := rand.New(rand.NewSource(rand.Int63()))
	m.RawSetString("randomseed", L.NewFunction(func(L *lua.LState) int {
		rng.Seed(int64(L.CheckNumber(1))) // (a string of digits is a number, as in Lua)
		return 0
	}))
	m.RawSetString("random", L.NewFunction(func(L *lua.LState) int {
		switch L.GetTop() {
		case 0:
			L.Push(lua.LNumber(rng.Float64()))
		case 1:
			n := L.CheckInt64(1)
			if n < 1 {
				L.RaiseError("bad argument #1 to 'random' (interval is empty)")
			}
			L.Push(lua.LNumber(1 + rng.Int63n(n)))
		case 2:
			lo, hi := L.CheckInt64(1), L.CheckInt64(2)
			if lo > hi {
				L.RaiseError("bad argument #2 to 'random' (interval is empty)")
			}
			L.Push(lua.LNumber(lo + rng.Int63n(hi-lo+1)))
		default:
			L.RaiseError("wrong number of arguments")
		}
		return 1
	}))
}
