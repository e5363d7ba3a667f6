package resp

import (
	"strings"
	"testing"

	"github.com/geocache/geocache/node"
)

// TestRedactedArgs checks which arguments MONITOR shows as "(redacted)", as Redis 7.0's
// commands call redactClientCommandArgument while they parse (MIGRATE included, for when it
// lands: geocache has no MIGRATE yet).
func TestRedactedArgs(t *testing.T) {
	for _, tc := range []struct {
		cmd  string
		argv string
		want string // the redacted indexes
	}{
		{"auth", "auth pw", "1"},
		{"auth", "auth user pw", "1 2"},
		{"auth", "auth a b c", ""},
		{"hello", "hello", ""},
		{"hello", "hello 3 auth u p", "3 4"},
		{"hello", "hello 2 setname n AUTH u p", "5 6"},
		{"hello", "hello 4 auth u p", ""}, // NOPROTO first
		{"hello", "hello x auth u p", ""}, // not an integer
		{"hello", "hello 3 bogus auth u p", ""},
		{"hello", "hello 3 auth u", ""},
		{"migrate", "migrate h 1 key 0 5000", ""},
		{"migrate", "migrate h 1 key 0 5000 AUTH pw", "7"},
		{"migrate", "migrate h 1 key 0 5000 copy AUTH2 u pw replace", "8 9"},
		{"migrate", "migrate h 1 \"\" 0 5000 KEYS auth pw", ""},
		{"set", "set auth pw", ""},
	} {
		argv := [][]byte{}
		for _, a := range strings.Fields(tc.argv) {
			argv = append(argv, []byte(a))
		}
		red := redactedArgs(&command{name: tc.cmd}, argv)
		var got []string
		for i := range argv {
			if red != nil && red(i) {
				got = append(got, string(rune('0'+i)))
			}
		}
		if g := strings.Join(got, " "); g != tc.want {
			t.Errorf("%s: redacted %q, want %q", tc.argv, g, tc.want)
		}
	}
}

func TestAppendRepr(t *testing.T) {
	got := string(appendRepr(nil, []byte("a\"b\\c\n\r\t\a\b\x00\x7f\xff~ ")))
	want := `"a\"b\\c\n\r\t\a\b\x00\x7f\xff~ "`
	if got != want {
		t.Fatalf("appendRepr: %s, want %s", got, want)
	}
}

// BenchmarkPipelineSETMonitored is BenchmarkPipelineSET with one MONITOR attached (its writer
// discarding the feed): the cost of building and queueing a feed line per command.
func BenchmarkPipelineSETMonitored(b *testing.B) {
	monitor := func(s *Server) func() {
		m := newClient(s, discardConn{}, "", "")
		s.startMonitor(m, true)
		return func() { s.stopMonitor(m) }
	}
	benchPipelineWith(b, func(n *node.Node) Backend { return n }, monitor, setRequest)
}

// TestNoMonitorFlags checks the commands dispatch does not feed, read from Redis's flags.
func TestNoMonitorFlags(t *testing.T) {
	tab := commandTable()
	for name, want := range map[string]bool{
		"monitor": true, "client|kill": true, "client|list": true, "config|set": true, "save": true,
		"eval": true, "fcall": true, "evalsha_ro": true,
		"set": false, "client|info": false, "client|reply": false, "multi": false, "exec": false,
		"auth": false, "hello": false, "function|load": false,
	} {
		top, sub, _ := strings.Cut(name, "|")
		c := tab[top]
		if sub != "" {
			c = c.subs[sub]
		}
		if got := c.flags&flagNoMonitor != 0; got != want {
			t.Errorf("%s: not fed to MONITOR %v, want %v", name, got, want)
		}
	}
}
