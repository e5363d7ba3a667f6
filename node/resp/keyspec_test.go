package resp

import "testing"

// Every command that names keys gets a key spec (or locks the whole keyspace), so EXEC holds
// the locks of whatever a transaction queues; the derived specs are Redis's.
func TestKeySpecs(t *testing.T) {
	tab := commandTable()
	for name, want := range map[string][3]int{
		"hset": {1, 1, 1}, "smove": {1, 2, 1}, "zrangestore": {1, 2, 1}, "msetnx": {1, -1, 2},
		"incr": {1, 1, 1}, "get": {1, 1, 1}, "sdiffstore": {1, -1, 1},
	} {
		c := tab[name]
		if c == nil {
			t.Fatalf("%s missing", name)
		}
		if got := [3]int{c.firstKey, c.lastKey, c.keyStep}; got != want {
			t.Errorf("%s: key spec %v, want %v", name, got, want)
		}
	}
	for _, name := range []string{"zunionstore", "sintercard", "zinter", "eval", "flushall"} {
		if tab[name].flags&flagKeyspace == 0 {
			t.Errorf("%s does not lock the keyspace", name)
		}
	}
	for name, c := range tab {
		if m, ok := commandData[name]; ok && c.firstKey == 0 && c.flags&flagKeyspace == 0 {
			if first, _, _, _, ok := legacyKeySpec(m.info2); ok && first > 0 {
				t.Errorf("%s names keys but has no key spec", name)
			}
		}
	}
}
