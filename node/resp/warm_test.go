package resp_test

import (
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/geocache/geocache/node"
)

// warming wraps a node and records what the server asks it to warm.
type warming struct {
	*node.Node
	mu    sync.Mutex
	calls [][]string
}

// Warming is always on here: the node would turn it on only for a large store.
func (w *warming) Warming() bool { return true }

func (w *warming) Warm(keys []string) {
	w.mu.Lock()
	w.calls = append(w.calls, slices.Clone(keys)) // keys alias the connection's buffer
	w.mu.Unlock()
	w.Node.Warm(keys)
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
			// The request may arrive in pieces: each call warms a run of the pipeline's first
			// arguments, in order.
			firsts := " a b c a " // each command's first argument
			for _, call := range w.calls {
				if len(call) < 2 || !strings.Contains(firsts, " "+strings.Join(call, " ")+" ") {
					t.Fatalf("warmed %q, want a run of at least two of %q", call, firsts)
				}
			}
		})
	}
}
