// Command pacedget measures GET latency over RESP at a steady request rate (open loop), for the
// warm-restart benchmark (docs/bench-warm-restart.sh): with -bgsave, the latency while a
// background save runs against the latency without one, in the same run. A closed-loop tool
// such as redis-benchmark saturates the server, so its tail latency measures how the CPU is
// shared; a paced client measures what a client sending a fixed load sees. Latency is taken
// from the moment a request was due, not from when it was sent, so a stall delays and counts
// every request queued behind it (no coordinated omission).
//
//	pacedget -addr 127.0.0.1:6379 -rate 5000 -conns 8 -duration 10s -keyspace 1000000 [-bgsave]
//
// With -bgsave, a BGSAVE runs, then nothing for as long as it took, then another, and so on
// (INFO persistence rdb_bgsave_in_progress tells when one ends, polled every 5 ms); each
// request is counted as "saving" or "idle" by whether a save was running when it was due, so
// both figures share the same minutes of a shared machine's noise. Output, one line per class:
// requests, p50/p99/p99.9/max in milliseconds; then, with -bgsave, the p99 ratio.
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

// interval is a span of time during which a save ran.
type interval struct{ from, to time.Time }

func run(addr string, rate, conns int, dur time.Duration, keyspace int, bgsave bool) error {
	stop := make(chan struct{})
	var (
		saver   sync.WaitGroup
		saves   []interval
		saveErr error
	)
	if bgsave {
		c, err := dial(addr)
		if err != nil {
			return err
		}
		defer c.Close()
		saver.Add(1)
		go func() {
			defer saver.Done()
			saves, saveErr = saveLoop(c, stop)
		}()
	}
	every := time.Duration(float64(time.Second) * float64(conns) / float64(rate))
	start := time.Now().Add(50 * time.Millisecond)
	res := make([][]sample, conns)
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
			first := start.Add(every * time.Duration(i) / time.Duration(conns))
			res[i], errs[i] = paced(c, first, every, start.Add(dur), keyspace)
		}()
	}
	wg.Wait()
	close(stop)
	saver.Wait()
	if err := errors.Join(append(errs, saveErr)...); err != nil {
		return err
	}
	var idle, saving []time.Duration
	for _, s := range slices.Concat(res...) {
		if during(saves, s.due) {
			saving = append(saving, s.lat)
		} else {
			idle = append(idle, s.lat)
		}
	}
	if len(idle) == 0 {
		return errors.New("no requests completed outside saves")
	}
	p99idle := report("idle", idle)
	if bgsave {
		if len(saving) == 0 {
			return errors.New("no requests completed during a save")
		}
		p99saving := report("saving", saving)
		fmt.Printf("saves=%d p99_ratio=%.2f\n", len(saves), float64(p99saving)/float64(p99idle))
	}
	return nil
}

// during reports whether t falls in one of the intervals.
func during(iv []interval, t time.Time) bool {
	for _, v := range iv {
		if !t.Before(v.from) && t.Before(v.to) {
			return true
		}
	}
	return false
}

// report prints one class's quantiles and returns its p99.
func report(class string, lat []time.Duration) time.Duration {
	slices.Sort(lat)
	q := func(p float64) time.Duration { return lat[min(int(p*float64(len(lat))), len(lat)-1)] }
	ms := func(d time.Duration) string { return strconv.FormatFloat(float64(d)/1e6, 'f', 3, 64) }
	fmt.Printf("%s requests=%d p50_ms=%s p99_ms=%s p999_ms=%s max_ms=%s\n", class, len(lat),
		ms(q(0.50)), ms(q(0.99)), ms(q(0.999)), ms(q(1)))
	return q(0.99)
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

// sample is one request: when it was due and how long after that its reply came.
type sample struct {
	due time.Time
	lat time.Duration
}

// paced sends one GET every interval from first until end and returns each one's latency from
// the moment it was due.
func paced(c *conn, first time.Time, interval time.Duration, end time.Time, keyspace int) ([]sample, error) {
	var lat []sample
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
		lat = append(lat, sample{due, time.Since(due)})
	}
	return lat, nil
}

// saveLoop alternates until stop: a BGSAVE, waited for (INFO persistence
// rdb_bgsave_in_progress), then as long without one. It returns when each save ran.
func saveLoop(c *conn, stop <-chan struct{}) ([]interval, error) {
	var saves []interval
	inProgress := func() (bool, error) {
		if _, err := c.Write([]byte("*2\r\n$4\r\nINFO\r\n$11\r\npersistence\r\n")); err != nil {
			return false, err
		}
		info, err := reply(c.r)
		return !strings.Contains(info, "rdb_bgsave_in_progress:0"), err
	}
	for {
		// A save still running (from before this run) is waited out first.
		for {
			busy, err := inProgress()
			if err != nil {
				return saves, err
			}
			if !busy {
				break
			}
			time.Sleep(5 * time.Millisecond)
		}
		select {
		case <-stop:
			return saves, nil
		default:
		}
		from := time.Now()
		if _, err := c.Write([]byte("*1\r\n$6\r\nBGSAVE\r\n")); err != nil {
			return saves, err
		}
		r, err := reply(c.r)
		if err != nil {
			return saves, err
		}
		if strings.HasPrefix(r, "-") {
			return saves, fmt.Errorf("BGSAVE: %s", r)
		}
		for {
			time.Sleep(5 * time.Millisecond)
			busy, err := inProgress()
			if err != nil {
				return saves, err
			}
			if !busy {
				break
			}
		}
		saves = append(saves, interval{from, time.Now()})
		select {
		case <-stop:
			return saves, nil
		case <-time.After(time.Since(from)):
		}
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
