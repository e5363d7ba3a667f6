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
