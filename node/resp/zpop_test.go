package resp_test

import (
	"testing"
	"time"

	"github.com/geocache/geocache/node/resp"
)

// TestBlockingPopWakesOnWrite: a BZPOPMIN/BZMPOP on empty keys is answered when another
// connection adds a member, in both connection modes, and a timeout answers a null array.
func TestBlockingPopWakesOnWrite(t *testing.T) {
	for _, mode := range transports {
		t.Run(mode.name, func(t *testing.T) {
			addr, _, _ := startGeocache(t, resp.Config{EventLoops: mode.loops}, nil)
			blocked, writer := dialRaw(t, addr), dialRaw(t, addr)
			if _, err := blocked.Write(encode("BZPOPMIN", "a", "b", "0")); err != nil {
				t.Fatal(err)
			}
			if r, err := blocked.readReply(50 * time.Millisecond); err == nil {
				t.Fatalf("BZPOPMIN on empty keys answered at once: %q", r)
			}
			if r := writer.do(t, "ZADD", "b", "7", "m"); r != ":1\r\n" {
				t.Fatalf("ZADD: %q", r)
			}
			r, err := blocked.readReply(5 * time.Second)
			if want := "*3\r\n$1\r\nb\r\n$1\r\nm\r\n$1\r\n7\r\n"; err != nil || r != want {
				t.Fatalf("BZPOPMIN after ZADD: %q, %v; want %q", r, err, want)
			}
			if r := writer.do(t, "EXISTS", "b"); r != ":0\r\n" {
				t.Fatalf("popped key still exists: %q", r)
			}
			if r := blocked.do(t, "BZMPOP", "0.05", "1", "b", "MIN"); r != "*-1\r\n" {
				t.Fatalf("BZMPOP timeout: %q", r)
			}
		})
	}
}

// TestBlockingPopsServedInOrder: clients blocked on the same keys are served in the order they
// blocked, each from the first of its keys that has members, when one transaction fills both
// keys (Redis's "BZMPOP with multiple blocked clients"); the last waits for the next write.
func TestBlockingPopsServedInOrder(t *testing.T) {
	for _, mode := range transports {
		t.Run(mode.name, func(t *testing.T) {
			addr, _, srv := startGeocache(t, resp.Config{EventLoops: mode.loops}, nil)
			args := [][]string{{"MIN", "COUNT", "1"}, {"MAX", "COUNT", "10"}, {"MIN", "COUNT", "10"}, {"MAX", "COUNT", "1"}}
			var rds []*rawConn
			for i, a := range args {
				rd := dialRaw(t, addr)
				if _, err := rd.Write(encode(append([]string{"BZMPOP", "0", "2", "z1", "z2"}, a...)...)); err != nil {
					t.Fatal(err)
				}
				waitUntil(t, 5*time.Second, func() bool { return srv.BlockedPops() == i+1 })
				rds = append(rds, rd)
			}
			w := dialRaw(t, addr)
			w.do(t, "MULTI")
			w.do(t, "ZADD", "z1", "1", "a", "2", "b", "3", "c", "4", "d", "5", "e")
			w.do(t, "ZADD", "z2", "1", "a", "2", "b", "3", "c", "4", "d", "5", "e")
			if r := w.do(t, "EXEC"); r != "*2\r\n:5\r\n:5\r\n" {
				t.Fatalf("EXEC: %q", r)
			}
			want := []string{
				"*2\r\n$2\r\nz1\r\n*1\r\n*2\r\n$1\r\na\r\n$1\r\n1\r\n",
				"*2\r\n$2\r\nz1\r\n*4\r\n*2\r\n$1\r\ne\r\n$1\r\n5\r\n*2\r\n$1\r\nd\r\n$1\r\n4\r\n*2\r\n$1\r\nc\r\n$1\r\n3\r\n*2\r\n$1\r\nb\r\n$1\r\n2\r\n",
				"*2\r\n$2\r\nz2\r\n*5\r\n*2\r\n$1\r\na\r\n$1\r\n1\r\n*2\r\n$1\r\nb\r\n$1\r\n2\r\n*2\r\n$1\r\nc\r\n$1\r\n3\r\n*2\r\n$1\r\nd\r\n$1\r\n4\r\n*2\r\n$1\r\ne\r\n$1\r\n5\r\n",
			}
			for i, wnt := range want {
				if r, err := rds[i].readReply(5 * time.Second); err != nil || r != wnt {
					t.Fatalf("client %d: %q, %v; want %q", i+1, r, err, wnt)
				}
			}
			if r, err := rds[3].readReply(50 * time.Millisecond); err == nil {
				t.Fatalf("client 4 served with both keys empty: %q", r)
			}
			w.do(t, "ZADD", "z2", "1", "a", "2", "b", "3", "c")
			if r, err := rds[3].readReply(5 * time.Second); err != nil || r != "*2\r\n$2\r\nz2\r\n*1\r\n*2\r\n$1\r\nc\r\n$1\r\n3\r\n" {
				t.Fatalf("client 4 after ZADD: %q, %v", r, err)
			}
		})
	}
}
