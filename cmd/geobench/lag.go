package main

import (
	"context"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"
)

// lagResult is one side's replication visibility lag at one write rate.
type lagResult struct {
	rate     int
	p50, p99 time.Duration
	probes   int
	achieved float64 // background writes per second actually sent
}

// measureLag writes `rate` SETs per second of 100-byte values to src (one pipelined connection,
// paced per millisecond) and, beside them, probes: a SET of a fresh key on src, then EXISTS on
// dst in a loop until it is there. A probe's lag is from sending its SET to the EXISTS that
// found the key (an upper bound of the true lag, including the SET's round trip on both sides).
// EXISTS answers from the local node on both redis and geocache.
func measureLag(ctx context.Context, src, dst *server, rate int, d time.Duration, tag string) (lagResult, error) {
	res := lagResult{rate: rate}
	w, err := dialRESP(src.addr, time.Second)
	if err != nil {
		return res, err
	}
	defer w.Close()
	p, err := dialRESP(src.addr, time.Second)
	if err != nil {
		return res, err
	}
	defer p.Close()
	q, err := dialRESP(dst.addr, time.Second)
	if err != nil {
		return res, err
	}
	defer q.Close()

	stop := make(chan struct{})
	var wg sync.WaitGroup
	var werr error
	var sent int
	val := strings.Repeat("v", 100)
	wg.Go(func() {
		t := time.NewTicker(time.Millisecond)
		defer t.Stop()
		start := time.Now()
		var b strings.Builder
		for {
			select {
			case <-stop:
				res.achieved = float64(sent) / time.Since(start).Seconds()
				return
			case <-t.C:
			}
			// Catch up to the schedule: ticks may be late or coalesced.
			due := int(time.Since(start).Seconds()*float64(rate)) - sent
			if due <= 0 {
				continue
			}
			b.Reset()
			for i := range due {
				k := "geobench:lagbg:" + strconv.Itoa((sent+i)%10000)
				fmt.Fprintf(&b, "*3\r\n$3\r\nSET\r\n$%d\r\n%s\r\n$%d\r\n%s\r\n", len(k), k, len(val), val)
			}
			w.c.SetDeadline(time.Now().Add(10 * time.Second))
			if _, werr = w.c.Write([]byte(b.String())); werr != nil {
				return
			}
			for range due {
				if _, werr = w.r.ReadString('\n'); werr != nil {
					return
				}
			}
			sent += due
		}
	})
	var lags []time.Duration
	deadline := time.Now().Add(d)
	for i := 0; time.Now().Before(deadline) && ctx.Err() == nil; i++ {
		key := "geobench:lag:" + tag + ":" + strconv.Itoa(i)
		t0 := time.Now()
		if _, err := p.do("SET", key, val); err != nil {
			close(stop)
			wg.Wait()
			return res, err
		}
		for {
			v, err := q.do("EXISTS", key)
			if err != nil {
				close(stop)
				wg.Wait()
				return res, err
			}
			if v == "1" {
				break
			}
			if time.Since(t0) > 5*time.Second {
				close(stop)
				wg.Wait()
				return res, fmt.Errorf("geobench: a write on %s did not reach %s in 5 s", src.name, dst.name)
			}
		}
		lags = append(lags, time.Since(t0))
		time.Sleep(2 * time.Millisecond) // probe spacing: a measurement schedule
	}
	close(stop)
	wg.Wait()
	if werr != nil {
		return res, werr
	}
	slices.Sort(lags)
	res.probes = len(lags)
	if len(lags) > 0 {
		res.p50 = lags[len(lags)/2]
		res.p99 = lags[min(len(lags)-1, len(lags)*99/100)]
	}
	return res, nil
}
