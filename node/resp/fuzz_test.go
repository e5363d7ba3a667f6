package resp

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"strconv"
	"testing"
	"time"

	"github.com/geocache/geocache/node"
)

// recordConn is a net.Conn that keeps what the server writes.
type recordConn struct {
	discardConn
	out bytes.Buffer
}

func (c *recordConn) Write(b []byte) (int, error) { return c.out.Write(b) }

// fuzzWarming is FuzzRESP's backend with warming always on.
type fuzzWarming struct {
	Backend
	Transactor
	Warmer
}

func (fuzzWarming) Warming() bool { return true }

// FuzzRESP feeds arbitrary bytes, cut into arbitrary reads, to a connection. The server must
// not crash, must only write well-formed replies, and must answer every complete request
// before closing for a protocol error.
func FuzzRESP(f *testing.F) {
	for _, seed := range []string{
		"*1\r\n$4\r\nPING\r\n",
		"*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$1\r\nv\r\n*2\r\n$3\r\nGET\r\n$1\r\nk\r\n",
		"*5\r\n$3\r\nSET\r\n$1\r\nk\r\n$1\r\nv\r\n$2\r\nEX\r\n$2\r\n10\r\n",
		"*4\r\n$6\r\nGETEX\r\n$1\r\nk\r\n$4\r\nPXAT\r\n$1\r\n1\r\n",
		"*2\r\n$5\r\nHELLO\r\n$1\r\n3\r\n*2\r\n$3\r\nGET\r\n$1\r\nx\r\n",
		"*3\r\n$4\r\nSCAN\r\n$1\r\n0\r\n$5\r\nMATCH\r\n",
		"*2\r\n$4\r\nKEYS\r\n$3\r\n*[a\r\n",
		"*1\r\n$4\r\nINFO\r\n*2\r\n$7\r\nCOMMAND\r\n$4\r\nDOCS\r\n",
		"*3\r\n$6\r\nCLIENT\r\n$7\r\nSETNAME\r\n$1\r\nx\r\n*1\r\n$5\r\nRESET\r\n",
		"PING\r\nECHO \"a\\x41\" 'b'\r\n",
		"ECHO \"unterminated\r\n",
		"*x\r\n", "*1\r\n$-1\r\n", "*-1\r\n*0\r\n", "*1\r\n:1\r\n", "$3\r\nabc\r\n",
		"*2\r\n$4\r\nWAIT\r\n$1\r\n1\r\n", "*3\r\n$4\r\nWAIT\r\n$1\r\n1\r\n$1\r\n1\r\n",
		"*3\r\n$6\r\nEXPIRE\r\n$1\r\nk\r\n$20\r\n-9223372036854775808\r\n",
		"*1\r\n$4\r\nQUIT\r\n*1\r\n$4\r\nPING\r\n",
		"MULTI\r\nSET a 1\r\nGET a\r\nNOSUCH\r\nEXEC\r\nWATCH a\r\nMULTI\r\nKEYS *\r\nEXEC\r\nDISCARD\r\n",
		"EVAL \"return {1, redis.call('SET', KEYS[1], ARGV[1]), redis.pcall('GET')}\" 1 k v\r\n",
		"SCRIPT LOAD \"return 1\"\r\nEVALSHA e0e1f9fabfc9d4800c877a703b823ac0578ff8db 0\r\nSCRIPT EXISTS x\r\n",
		"MULTI\r\nEVAL \"return redis.call('DBSIZE')\" 0\r\nEXEC\r\n",
	} {
		f.Add([]byte(seed), uint8(7))
		f.Add([]byte(seed), uint8(0x80|63))
	}
	n, err := node.New(node.Config{MaxMemory: 1 << 20})
	if err != nil {
		f.Fatal(err)
	}
	f.Cleanup(func() { n.Close() })
	// Only the Backend methods: a node's WaitReplicated would block a fuzzed "WAIT 1 0" for ever,
	// as Redis would without replicas.
	// Transactions and scripts are in; a script that loops for ever is cut by the connection's
	// deadline below.
	type plain struct {
		Backend
		Transactor
	}
	s, err := New(plain{n, n}, Config{Password: "", MaxBulkLen: 1 << 16, MaxRequestSize: 1 << 18, EventLoops: -1})
	if err != nil {
		f.Fatal(err)
	}
	// The same over a backend that warms every pipeline (as a node with a large store does), so
	// that requests also run from warmPipeline's parse: inputs with chunk's top bit set.
	sw, err := New(fuzzWarming{n, n, n}, Config{Password: "", MaxBulkLen: 1 << 16, MaxRequestSize: 1 << 18, EventLoops: -1})
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, input []byte, chunk uint8) {
		s := s
		if chunk&0x80 != 0 {
			s = sw
		}
		// A request must never hang the connection: report the input if one does.
		done := make(chan struct{})
		defer close(done)
		go func() {
			select {
			case <-done:
			case <-time.After(10 * time.Second):
				panic(fmt.Sprintf("input %q (chunk %d) hangs", input, chunk))
			}
		}()
		conn := &recordConn{}
		c := newClient(s, conn, "fuzz", "fuzz")
		defer time.AfterFunc(2*time.Second, c.cancel).Stop()
		step := int(chunk)%64 + 1
		closed := false
		for off := 0; off < len(input) && !closed; off += step {
			piece := input[off:min(off+step, len(input))]
			for len(piece) > 0 && !closed {
				n := copy(c.in[c.w:], piece)
				c.w += n
				piece = piece[n:]
				if c.process(c.ctx) != procOK {
					closed = true
					break
				}
				if !c.makeRoom() {
					closed = true
				}
			}
		}
		if c.r > c.w || c.w > len(c.in) {
			t.Fatalf("buffer indexes out of order: r=%d w=%d len=%d", c.r, c.w, len(c.in))
		}
		// Every reply must parse.
		r := bufio.NewReader(bytes.NewReader(conn.out.Bytes()))
		for {
			if _, err := r.Peek(1); err == io.EOF {
				break
			}
			if err := checkReply(r, 0); err != nil {
				t.Fatalf("malformed reply stream %q: %v", conn.out.Bytes(), err)
			}
		}
	})
}

// checkReply reads one RESP2/RESP3 reply and reports whether it is well formed.
func checkReply(r *bufio.Reader, depth int) error {
	if depth > 16 {
		return fmt.Errorf("nesting too deep")
	}
	line, err := r.ReadString('\n')
	if err != nil {
		return err
	}
	if len(line) < 3 || line[len(line)-2] != '\r' {
		return fmt.Errorf("bad line %q", line)
	}
	body := line[1 : len(line)-2]
	switch line[0] {
	case '+', '-':
		if bytes.ContainsAny([]byte(body), "\r\n") {
			return fmt.Errorf("CR or LF inside %q", line)
		}
		return nil
	case ':':
		_, err := strconv.ParseInt(body, 10, 64)
		return err
	case '_':
		if body != "" {
			return fmt.Errorf("bad null %q", line)
		}
		return nil
	case '$', '=':
		n, err := strconv.Atoi(body)
		if err != nil || n < -1 {
			return fmt.Errorf("bad length in %q", line)
		}
		if n == -1 {
			return nil
		}
		b := make([]byte, n+2)
		if _, err := io.ReadFull(r, b); err != nil {
			return err
		}
		if b[n] != '\r' || b[n+1] != '\n' {
			return fmt.Errorf("bulk of %d bytes not followed by CRLF", n)
		}
		return nil
	case '*', '%', '~':
		n, err := strconv.Atoi(body)
		if err != nil || n < -1 {
			return fmt.Errorf("bad count in %q", line)
		}
		if line[0] == '%' {
			n *= 2
		}
		for range n {
			if err := checkReply(r, depth+1); err != nil {
				return err
			}
		}
		return nil
	}
	return fmt.Errorf("unknown reply type %q", line)
}

// FuzzHeaderNum checks parse's one-pass header length against the general path it stands in
// for: where headerNum reads a number, findCR finds the same '\r' and string2ll the same
// number.
func FuzzHeaderNum(f *testing.F) {
	for _, seed := range []string{"3\r\n", "0\r\n", "100\r\nx", "007\r\n", "-1\r\n", "12", "1\x00\r\n",
		"999999999999999999\r\n", "9999999999999999999\r\n", "\r\n", "+5\r\n", "12a\r\n"} {
		f.Add([]byte(seed), uint8(0))
	}
	f.Fuzz(func(t *testing.T, b []byte, from uint8) {
		at := min(int(from), len(b))
		v, cr, ok := headerNum(b, at)
		if !ok {
			return
		}
		if want := findCR(b, at); cr != want {
			t.Fatalf("headerNum(%q, %d): '\\r' at %d, findCR %d", b, at, cr, want)
		}
		if want, wok := string2ll(b[at:cr]); !wok || v != want {
			t.Fatalf("headerNum(%q, %d) = %d, string2ll = %d, %v", b, at, v, want, wok)
		}
	})
}
