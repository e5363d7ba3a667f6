package resp_test

import (
	"fmt"
	"strconv"
	"sync"
	"testing"

	"github.com/geocache/geocache/node/resp"
)

// TestBitWritesAtomic: clients set distinct bits and increment distinct BITFIELD counters of
// one key concurrently, over event loops and goroutines. Each write is one read-modify-write
// of the value under the key's lock, so none is lost.
func TestBitWritesAtomic(t *testing.T) {
	t.Parallel()
	for _, loops := range []int{0, -1} {
		t.Run(fmt.Sprintf("loops=%d", loops), func(t *testing.T) {
			addr, _, _ := startGeocache(t, resp.Config{EventLoops: loops}, nil)
			const workers, each = 8, 50
			var wg sync.WaitGroup
			errs := make(chan string, workers)
			for w := range workers {
				c := dialRaw(t, addr)
				wg.Add(1)
				go func() {
					defer wg.Done()
					for i := range each {
						bit := strconv.Itoa(w*each + i)
						if r := c.do(t, "SETBIT", "bits", bit, "1"); r != ":0\r\n" {
							errs <- "SETBIT " + bit + ": " + r
							return
						}
						// Worker w's own u16 counter, at #w, in a second key.
						if r := c.do(t, "BITFIELD", "ctrs", "INCRBY", "u16", "#"+strconv.Itoa(w), "1"); r != "*1\r\n:"+strconv.Itoa(i+1)+"\r\n" {
							errs <- "BITFIELD: " + r
							return
						}
					}
				}()
			}
			wg.Wait()
			close(errs)
			for e := range errs {
				t.Fatal(e)
			}
			c := dialRaw(t, addr)
			if r := c.do(t, "BITCOUNT", "bits"); r != ":"+strconv.Itoa(workers*each)+"\r\n" {
				t.Fatalf("BITCOUNT = %q, want %d", r, workers*each)
			}
			for w := range workers {
				if r := c.do(t, "BITFIELD_RO", "ctrs", "GET", "u16", "#"+strconv.Itoa(w)); r != "*1\r\n:"+strconv.Itoa(each)+"\r\n" {
					t.Fatalf("counter %d = %q, want %d", w, r, each)
				}
			}
		})
	}
}
