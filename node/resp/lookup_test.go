package resp

import "testing"

// lookupCached answers what lookup answers, whatever the sequence of names (repeats, other
// spellings of the same command, unknown and over-long names in between).
func TestLookupCachedMatchesLookup(t *testing.T) {
	t.Parallel()
	table := commandTable()
	var c client
	for _, name := range []string{"get", "get", "GET", "GeT", "set", "nosuch", "nosuch", "get",
		"geocache.nearest", "geocache.nearest!", "averyveryverylongname", "", "set", "SET", "get"} {
		got := c.lookupCached(table, []byte(name))
		if want := lookup(table, []byte(name)); got != want {
			t.Fatalf("lookupCached(%q) = %v, lookup = %v", name, got, want)
		}
	}
}
