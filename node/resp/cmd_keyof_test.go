package resp

import (
	"context"
	"testing"

	"github.com/geocache/geocache/crdt"
)

// A connection's SADD, HSET and ZADD reuse the previous command's key string (cmdOps.keyOf):
// a pipeline of them to one key allocates nothing per command, and one that alternates keys
// still writes each command to its own key.
func TestCollWriteKeyReused(t *testing.T) {
	n, run := pipeClient(t)
	ctx := context.Background()
	var mixed []byte
	for _, k := range []string{"a", "b", "a", "c", "b"} {
		mixed = append(mixed, cmd("SADD", "s:"+k, "m:"+k)...)
		mixed = append(mixed, cmd("HSET", "h:"+k, "f:"+k, "v")...)
		mixed = append(mixed, cmd("ZADD", "z:"+k, "1", "m:"+k)...)
	}
	run(mixed)
	for _, k := range []string{"a", "b", "c"} {
		var ms, fs, zs []string
		n.ReadSet(ctx, "s:"+k, func(st *crdt.Set) { st.Range(func(m string) bool { ms = append(ms, m); return true }) })
		n.ReadHash(ctx, "h:"+k, func(h *crdt.Hash) { h.Range(func(f string, _ []byte) bool { fs = append(fs, f); return true }) })
		n.ReadZSet(ctx, "z:"+k, func(z *crdt.ZSet) {
			z.Walk(0, false, func(m string, _ float64) bool { zs = append(zs, m); return true })
		})
		if len(ms) != 1 || ms[0] != "m:"+k || len(fs) != 1 || fs[0] != "f:"+k || len(zs) != 1 || zs[0] != "m:"+k {
			t.Errorf("key %s: set %q, hash %q, sorted set %q", k, ms, fs, zs)
		}
	}
	if raceEnabledResp() {
		return // the race detector allocates
	}
	for _, name := range []string{"SADD", "HSET"} {
		var p []byte
		for i := range 16 {
			if name == "SADD" {
				p = append(p, cmd("SADD", "myset", string(rune('a'+i)))...)
			} else {
				p = append(p, cmd("HSET", "myhash", string(rune('a'+i)), "v")...)
			}
		}
		run(p)
		if allocs := testing.AllocsPerRun(50, func() { run(p) }); allocs > 0.5 {
			t.Errorf("16 %ss of one key: %.1f allocations per pipeline, want 0", name, allocs)
		}
	}
}
