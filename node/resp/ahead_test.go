package resp

import (
	"bytes"
	"context"
	"strings"
	"testing"

	"github.com/geocache/geocache/node"
)

// alwaysWarm is a node whose Warming is always on, as a node with a large store's is.
type alwaysWarm struct{ *node.Node }

func (alwaysWarm) Warming() bool { return true }

// aheadClient is a connection to a server over a node that always warms; its replies go to the
// returned buffer.
func aheadClient(t *testing.T, cfg Config) (*client, *bytes.Buffer) {
	t.Helper()
	n, err := node.New(node.Config{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { n.Close() })
	s, err := New(alwaysWarm{n}, cfg)
	if err != nil {
		t.Fatal(err)
	}
	rc := &recordConn{}
	return newClient(s, rc, "", ""), &rc.out
}

// run feeds req to c as one read and processes it.
func run(c *client, req string) int {
	c.w += copy(c.in[c.w:], req)
	return c.process(context.Background())
}

// TestPipelineParsedOnce checks that a pipeline the connection parsed ahead to warm its keys
// runs from that parse (its own parser never runs) and answers as it should, an inline
// command and an incomplete one included (parsed when they run).
func TestPipelineParsedOnce(t *testing.T) {
	c, out := aheadClient(t, Config{})
	req := "*3\r\n$3\r\nSET\r\n$1\r\na\r\n$2\r\nva\r\n*3\r\n$3\r\nSET\r\n$1\r\nb\r\n$2\r\nvb\r\n" +
		"*4\r\n$4\r\nMGET\r\n$1\r\na\r\n$1\r\nz\r\n$1\r\nb\r\n*0\r\n"
	if got := run(c, req); got != procOK {
		t.Fatalf("process = %d", got)
	}
	if want := "+OK\r\n+OK\r\n*3\r\n$2\r\nva\r\n$-1\r\n$2\r\nvb\r\n"; out.String() != want {
		t.Fatalf("replies %q, want %q", out.String(), want)
	}
	if c.p.argv != nil {
		t.Fatalf("the pipeline was parsed again when it ran: %q", c.p.argv)
	}

	// An inline command ends the run kept; what follows it is parsed when it runs, and a
	// command still arriving waits for its bytes.
	out.Reset()
	req = "*2\r\n$3\r\nGET\r\n$1\r\na\r\nGET b\r\n*2\r\n$3\r\nGET\r\n$1\r\na\r\n*2\r\n$3\r\nGET\r\n$1"
	if got := run(c, req); got != procOK {
		t.Fatalf("process = %d", got)
	}
	if got := run(c, "\r\nb\r\n"); got != procOK {
		t.Fatalf("process = %d", got)
	}
	if want := "$2\r\nva\r\n$2\r\nvb\r\n$2\r\nva\r\n$2\r\nvb\r\n"; out.String() != want {
		t.Fatalf("replies %q, want %q", out.String(), want)
	}
}

// TestPipelineAheadAfterReset checks that a pipeline parsed ahead with an authenticated
// client's limits is parsed again once a RESET in it has taken the authentication away: the
// request after it gets Redis's unauthenticated bulk limit (a protocol error that closes the
// connection), not a NOAUTH reply.
func TestPipelineAheadAfterReset(t *testing.T) {
	c, out := aheadClient(t, Config{Password: "pw"})
	if got := run(c, "*2\r\n$4\r\nAUTH\r\n$2\r\npw\r\n"); got != procOK || out.String() != "+OK\r\n" {
		t.Fatalf("AUTH: process = %d, reply %q", got, out.String())
	}
	out.Reset()
	big := strings.Repeat("x", unauthBulk+1)
	req := "*3\r\n$3\r\nSET\r\n$1\r\na\r\n$1\r\n1\r\n*1\r\n$5\r\nRESET\r\n" +
		"*3\r\n$3\r\nSET\r\n$1\r\nb\r\n$16385\r\n" + big + "\r\n"
	c.in = make([]byte, len(req)+1024)
	if got := run(c, req); got != procClose {
		t.Fatalf("process = %d, want the connection closed; replies %q", got, out.String())
	}
	if want := "+OK\r\n+RESET\r\n-ERR Protocol error: unauthenticated bulk length\r\n"; out.String() != want {
		t.Fatalf("replies %q, want %q", out.String(), want)
	}
}
