// Command pacedget measures GET latency over RESP at a steady request rate (open loop), with or
// without background saves running back to back, for the warm-restart benchmark
// (docs/bench-warm-restart.sh). A closed-loop tool such as redis-benchmark saturates the server,
// so its tail latency measures how the CPU is shared; a paced client measures what a client
// sending a fixed load sees. Latency is taken from the moment a request was due, not from when
// it was sent, so a stall delays and counts every request queued behind it (no coordinated
// omission).
//
//	pacedget -addr 127.0.0.1:6379 -rate 10000 -conns 8 -duration 5s -keyspace 1000000 [-bgsave]
//
// Output, one line: requests, achieved rate, p50/p99/p99.9/max in milliseconds, and with -bgsave
// the number of saves completed and the share of the time a save was running.
package main

import (
	"bufio"
	"errors"
	"flag"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"
)

func main() {
	addr := flag.String("addr", "127.0.0.1:6379", "RESP address")
	rate := flag.Int("rate", 10000, "GETs per second, all connections together")
	conns := flag.Int("conns", 8, "connections")
	dur := flag.Duration("duration", 5*time.Second, "measurement length")
	keyspace := flag.Int("keyspace", 1000000, "keys key:000000000000 .. (redis-benchmark -r)")
	bgsave := flag.Bool("bgsave", false, "run BGSAVE back to back during the measurement")
	flag.Parse()
	if *rate <= 0 || *conns <= 0 || *keyspace <= 0 {
		fmt.Fprintln(os.Stderr, "pacedget: -rate, -conns and -keyspace must be positive")
		os.Exit(2)
	}
	if err := run(*addr, *rate, *conns, *dur, *keyspace, *bgsave); err != nil {
		fmt.Fprintln(os.Stderr, "pacedget:", err)
		os.Exit(1)
	}
}

func run(addr string, rate, conns int, dur time.Duration, keyspace int, bgsave bool) error {
	stop := make(chan struct{})
	var saver struct {
		sync.WaitGroup
		saves   int
		running time.Duration
		err     error
	}
	if bgsave {
		c, err := dial(addr)
		if err != nil {
			return err
		}
		defer c.Close()
		saver.Add(1)
		go func() {
			defer saver.Done()
			saver.saves, saver.running, saver.err = saveLoop(c, stop)
		}()
	}
	interval := time.Duration(float64(time.Second) * float64(conns) / float64(rate))
	start := time.Now().Add(50 * time.Millisecond)
	lat := make([][]time.Duration, conns)
	errs := make([]error, conns)
	var wg sync.WaitGroup
	for i := range conns {
		c, err := dial(addr)
		if err != nil {
			return err
		}
		defer c.Close()
		wg.Add(1)
		go func() {
			defer wg.Done()
			// Connections are offset within the interval so that requests arrive evenly.
			first := start.Add(interval * time.Duration(i) / time.Duration(conns))
			lat[i], errs[i] = paced(c, first, interval, start.Add(dur), keyspace)
		}()
	}
	wg.Wait()
	close(stop)
	saver.Wait()
	if err := errors.Join(append(errs, saver.err)...); err != nil {
		return err
	}
	all := slices.Concat(lat...)
	slices.Sort(all)
	if len(all) == 0 {
		return errors.New("no requests completed")
	}
	q := func(p float64) string {
		return strconv.FormatFloat(float64(all[min(int(p*float64(len(all))), len(all)-1)])/1e6, 'f', 3, 64)
	}
	fmt.Printf("requests=%d rate=%.0f p50_ms=%s p99_ms=%s p999_ms=%s max_ms=%s", len(all),
		float64(len(all))/dur.Seconds(), q(0.50), q(0.99), q(0.999), q(1))
	if bgsave {
		fmt.Printf(" saves=%d saving=%.0f%%", saver.saves, 100*min(saver.running.Seconds()/dur.Seconds(), 1))
	}
	fmt.Println()
	return nil
}

type conn struct {
	net.Conn
	r *bufio.Reader
}

func dial(addr string) (*conn, error) {
	c, err := net.Dial("tcp", addr)
	if err != nil {
		return nil, err
	}
	return &conn{Conn: c, r: bufio.NewReader(c)}, nil
}

// paced sends one GET every interval from first until end and returns each one's latency from
// the moment it was due.
func paced(c *conn, first time.Time, interval time.Duration, end time.Time, keyspace int) ([]time.Duration, error) {
	var lat []time.Duration
	rng := rand.New(rand.NewPCG(uint64(first.UnixNano()), 1))
	buf := make([]byte, 0, 64)
	for due := first; due.Before(end); due = due.Add(interval) {
		if d := time.Until(due); d > 0 {
			time.Sleep(d)
		}
		key := fmt.Sprintf("key:%012d", rng.IntN(keyspace))
		buf = fmt.Appendf(buf[:0], "*2\r\n$3\r\nGET\r\n$%d\r\n%s\r\n", len(key), key)
		if _, err := c.Write(buf); err != nil {
			return lat, err
		}
		if _, err := reply(c.r); err != nil {
			return lat, err
		}
		lat = append(lat, time.Since(due))
	}
	return lat, nil
}

// saveLoop runs BGSAVE back to back until stop, waiting for each to finish (INFO persistence
// rdb_bgsave_in_progress), and reports how many completed and how long saves ran.
func saveLoop(c *conn, stop <-chan struct{}) (saves int, running time.Duration, err error) {
	for {
		select {
		case <-stop:
			return saves, running, nil
		default:
		}
		t0 := time.Now()
		if _, err := c.Write([]byte("*1\r\n$6\r\nBGSAVE\r\n")); err != nil {
			return saves, running, err
		}
		r, err := reply(c.r)
		if err != nil {
			return saves, running, err
		}
		if strings.HasPrefix(r, "-") && !strings.Contains(r, "in progress") {
			return saves, running, fmt.Errorf("BGSAVE: %s", r)
		}
		for {
			time.Sleep(5 * time.Millisecond)
			if _, err := c.Write([]byte("*2\r\n$4\r\nINFO\r\n$11\r\npersistence\r\n")); err != nil {
				return saves, running, err
			}
			info, err := reply(c.r)
			if err != nil {
				return saves, running, err
			}
			if strings.Contains(info, "rdb_bgsave_in_progress:0") {
				break
			}
		}
		running += time.Since(t0)
		saves++
	}
}

// reply reads one RESP2 reply (simple, error, integer, bulk or nil) and returns it as text.
func reply(r *bufio.Reader) (string, error) {
	line, err := r.ReadString('\n')
	if err != nil {
		return "", err
	}
	line = strings.TrimSuffix(line, "\r\n")
	if len(line) == 0 {
		return "", errors.New("empty reply line")
	}
	switch line[0] {
	case '+', '-', ':':
		return line, nil
	case '$':
		n, err := strconv.Atoi(line[1:])
		if err != nil {
			return "", fmt.Errorf("bad bulk length %q", line)
		}
		if n < 0 {
			return "", nil
		}
		b := make([]byte, n+2)
		if _, err := io.ReadFull(r, b); err != nil {
			return "", err
		}
		return string(b[:n]), nil
	}
	return "", fmt.Errorf("unexpected reply %q", line)
}
