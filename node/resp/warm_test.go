package resp_test

import (
	"strings"
	"sync"
	"testing"

	"github.com/geocache/geocache/node"
)

// warming wraps a node and records what the server asks it to warm.
type warming struct {
	*node.Node
	mu    sync.Mutex
	calls [][]string // Warm
	reads [][]string // WarmReads
	elems [][]string // WarmElems: each call's keys, then its elems
}

// Warming is always on here: the node would turn it on only for a large store.
func (w *warming) Warming() bool { return true }

func (w *warming) Warm(keys []string) {
	w.mu.Lock()
	w.calls = append(w.calls, deepCopy(keys))
	w.mu.Unlock()
	w.Node.Warm(keys)
}

// deepCopy copies keys and their bytes: they alias the connection's input buffer, which the
// next read overwrites.
func deepCopy(keys []string) []string {
	out := make([]string, len(keys))
	for i, k := range keys {
		out[i] = strings.Clone(k)
	}
	return out
}

func (w *warming) WarmElems(keys, elems []string) {
	w.mu.Lock()
	w.elems = append(w.elems, deepCopy(keys), deepCopy(elems))
	w.mu.Unlock()
	w.Node.WarmElems(keys, elems)
}

func (w *warming) WarmReads(keys []string) {
	w.mu.Lock()
	w.reads = append(w.reads, deepCopy(keys))
	w.mu.Unlock()
	w.Node.WarmReads(keys)
}

// TestPipelineWarmsKeys checks that a pipeline's keys reach the backend's Warmer before the
// commands run, in order, and that the commands still answer as they should. A lone command
// is not warmed.
func TestPipelineWarmsKeys(t *testing.T) {
	t.Parallel()
	for _, mode := range transports {
		t.Run(mode.name, func(t *testing.T) {
			t.Parallel()
			w := &warming{Node: standaloneNode(t)}
			addr, _ := serveBackend(t, w, mode.loops)
			c := dialRaw(t, addr)

			if got := c.do(t, "SET", "lone", "1"); got != "+OK\r\n" {
				t.Fatalf("SET lone = %q", got)
			}
			w.mu.Lock()
			if len(w.calls) != 0 {
				t.Fatalf("a lone command was warmed: %q", w.calls)
			}
			w.mu.Unlock()

			var req []byte
			for _, k := range []string{"a", "b", "c"} {
				req = append(req, encode("SET", k, "v"+k)...)
			}
			req = append(req, encode("MGET", "a", "d", "c")...)
			if _, err := c.Write(req); err != nil {
				t.Fatal(err)
			}
			var replies []string
			for range 4 {
				r, err := c.readReply(5e9)
				if err != nil {
					t.Fatal(err)
				}
				replies = append(replies, r)
			}
			want := "+OK\r\n,+OK\r\n,+OK\r\n,*3\r\n$2\r\nva\r\n$-1\r\n$2\r\nvc\r\n"
			if got := strings.Join(replies, ","); got != want {
				t.Fatalf("replies %q, want %q", got, want)
			}
			w.mu.Lock()
			defer w.mu.Unlock()
			if len(w.calls) == 0 {
				t.Fatal("the pipeline was not warmed")
			}
			if len(w.reads) != 0 {
				t.Fatalf("a pipeline of writes was warmed as reads: %q", w.reads)
			}
			// The request may arrive in pieces: each call warms a run of the pipeline's first
			// arguments, in order.
			firsts := " a b c a " // each command's first argument
			for _, call := range w.calls {
				if len(call) < 2 || !strings.Contains(firsts, " "+strings.Join(call, " ")+" ") {
					t.Fatalf("warmed %q, want a run of at least two of %q", call, firsts)
				}
			}

			// A pipeline of GETs is warmed as reads (values too).
			w.calls, w.reads = nil, nil
			w.mu.Unlock()
			req = nil
			for _, k := range []string{"a", "b", "d"} {
				req = append(req, encode("get", k)...)
			}
			if _, err := c.Write(req); err != nil {
				t.Fatal(err)
			}
			replies = replies[:0]
			for range 3 {
				r, err := c.readReply(5e9)
				if err != nil {
					t.Fatal(err)
				}
				replies = append(replies, r)
			}
			w.mu.Lock()
			if got, want := strings.Join(replies, ","), "$2\r\nva\r\n,$2\r\nvb\r\n,$-1\r\n"; got != want {
				t.Fatalf("replies %q, want %q", got, want)
			}
			if len(w.reads) == 0 || len(w.calls) != 0 {
				t.Fatalf("GET pipeline: Warm %q, WarmReads %q; want WarmReads only", w.calls, w.reads)
			}
			for _, call := range w.reads {
				if len(call) < 2 || !strings.Contains(" a b d ", " "+strings.Join(call, " ")+" ") {
					t.Fatalf("warmed as reads %q, want a run of at least two of a b d", call)
				}
			}
		})
	}
}

// TestPipelineWarmsElems checks that a pipeline of commands on one key (SADDs to a set) has
// their elements warmed, the key with each, and that the commands still answer as they should.
func TestPipelineWarmsElems(t *testing.T) {
	t.Parallel()
	w := &warming{Node: standaloneNode(t)}
	addr, _ := serveBackend(t, w, transports[0].loops)
	c := dialRaw(t, addr)
	var req []byte
	for _, m := range []string{"x", "y", "x", "z"} {
		req = append(req, encode("SADD", "s", m)...)
	}
	req = append(req, encode("SCARD", "s")...)
	if _, err := c.Write(req); err != nil {
		t.Fatal(err)
	}
	var replies []string
	for range 5 {
		r, err := c.readReply(5e9)
		if err != nil {
			t.Fatal(err)
		}
		replies = append(replies, r)
	}
	if got, want := strings.Join(replies, ","), ":1\r\n,:1\r\n,:0\r\n,:1\r\n,:3\r\n"; got != want {
		t.Fatalf("replies %q, want %q", got, want)
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	if len(w.elems) == 0 || len(w.calls) != 0 {
		t.Fatalf("pipeline on one key: Warm %q, WarmElems %q; want WarmElems only", w.calls, w.elems)
	}
	for i := 0; i < len(w.elems); i += 2 {
		keys, elems := strings.Join(w.elems[i], " "), " "+strings.Join(w.elems[i+1], " ")+" "
		if len(w.elems[i]) < 2 || strings.Trim(keys, "s ") != "" || !strings.Contains(" x y x z  ", elems) {
			t.Fatalf("warmed keys %q elems %q, want a run of x y x z (and SCARD's none) on s", keys, elems)
		}
	}
}

// TestPipelineWarmsZAddMembers: a pipeline of ZADDs has its members warmed, not the scores
// (or flags) that are their second arguments.
func TestPipelineWarmsZAddMembers(t *testing.T) {
	t.Parallel()
	w := &warming{Node: standaloneNode(t)}
	addr, _ := serveBackend(t, w, transports[0].loops)
	c := dialRaw(t, addr)
	var req []byte
	req = append(req, encode("ZADD", "z", "1", "x")...)
	req = append(req, encode("ZADD", "z", "NX", "CH", "2", "y")...)
	req = append(req, encode("ZADD", "z", "3", "w", "4", "v")...)
	if _, err := c.Write(req); err != nil {
		t.Fatal(err)
	}
	for range 3 {
		if _, err := c.readReply(5e9); err != nil {
			t.Fatal(err)
		}
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	if len(w.elems) == 0 {
		t.Fatal("pipeline of ZADDs on one key: no WarmElems")
	}
	for i := 0; i < len(w.elems); i += 2 {
		if got := " " + strings.Join(w.elems[i+1], " ") + " "; !strings.Contains(" x y w ", got) {
			t.Fatalf("warmed elems %q, want a run of the members x y w", got)
		}
	}
}

// TestHSetKeepsNoRequestBytes: HSET hands the hash views of its request (the field and the
// value), which the next request overwrites in the connection's buffer: what the hash keeps
// must be its own copy.
func TestHSetKeepsNoRequestBytes(t *testing.T) {
	t.Parallel()
	addr, _ := serveBackend(t, standaloneNode(t), transports[0].loops)
	c := dialRaw(t, addr)
	for _, req := range [][]string{
		{"HSET", "h", "f1", "value-one", "f2", "value-two"},
		{"HSET", "h", "zz", "XXXXXXXXX", "yy", "YYYYYYYYY"}, // the same bytes of the buffer
		{"HGET", "h", "f1"},
		{"HGET", "h", "f2"},
	} {
		if _, err := c.Write(encode(req...)); err != nil {
			t.Fatal(err)
		}
		r, err := c.readReply(5e9)
		if err != nil {
			t.Fatal(err)
		}
		if req[0] == "HGET" {
			if want := map[string]string{"f1": "value-one", "f2": "value-two"}[req[2]]; r != "$9\r\n"+want+"\r\n" {
				t.Fatalf("HGET h %s = %q, want %q", req[2], r, want)
			}
		}
	}
}
