package testnet

import (
	"encoding/binary"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/netip"
	"sync"
	"time"
)

// AccuracyRow is the measured one-way delay through the emulator for one requested delay.
type AccuracyRow struct {
	Requested time.Duration
	Measured  Summary // p50, p99, p99.9 of the measured one-way delay
	Error     Summary // measured minus requested: p50, p99, p99.9
}

// MeasureAccuracy sends n small timestamped messages, every interval, through an emulated link
// for each requested one-way delay, and measures when each arrives (sender and receiver share
// this process's monotonic clock). Requested 0 measures the relay's own cost. It uses a random
// 127.X.Y.0/24 block.
func MeasureAccuracy(delays []time.Duration, n int, interval time.Duration, progress io.Writer) ([]AccuracyRow, error) {
	if progress == nil {
		progress = io.Discard
	}
	s := [3]byte{127, byte(100 + rand.IntN(150)), byte(1 + rand.IntN(250))}
	addr := func(last byte) netip.Addr { return netip.AddrFrom4([4]byte{s[0], s[1], s[2], last}) }
	base := time.Now()

	ln, err := net.Listen("tcp", addr(2).String()+":0")
	if err != nil {
		return nil, err
	}
	arrivals := make(chan time.Duration, n)
	done := make(chan struct{})
	var wg sync.WaitGroup
	defer func() { // stop the receiver and wait for its goroutines
		close(done)
		ln.Close()
		wg.Wait()
	}()
	wg.Go(func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			wg.Go(func() {
				defer c.Close()
				wg.Go(func() { <-done; c.Close() })
				var buf [16]byte
				for {
					if _, err := io.ReadFull(c, buf[:]); err != nil {
						return
					}
					sent := time.Duration(binary.BigEndian.Uint64(buf[:8]))
					select {
					case arrivals <- time.Since(base) - sent:
					case <-done:
						return
					}
				}
			})
		}
	})

	e := NewEmulator()
	defer e.Close()
	if err := e.AddNode("dst", addr(1).String()+":0", ln.Addr().String()); err != nil {
		return nil, err
	}
	e.SetSourceIP(addr(3), "src")
	var rows []AccuracyRow
	for _, d := range delays {
		e.SetDelay("src", "dst", d, 0)
		dl := net.Dialer{LocalAddr: &net.TCPAddr{IP: addr(3).AsSlice()}, Timeout: 2 * time.Second}
		c, err := dl.Dial("tcp", e.Front("dst"))
		if err != nil {
			return nil, err
		}
		c.(*net.TCPConn).SetNoDelay(true)
		measured, errs := NewSamples(n), NewSamples(n)
		next := time.Now()
		var buf [16]byte
		timer := newPreciseTimer()
		for i := 0; i < n; i++ {
			timer.sleepUntil(next)
			next = next.Add(interval)
			binary.BigEndian.PutUint64(buf[:8], uint64(time.Since(base)))
			binary.BigEndian.PutUint64(buf[8:], uint64(i))
			if _, err := c.Write(buf[:]); err != nil {
				c.Close()
				return nil, err
			}
		}
		timer.Close()
		for i := 0; i < n; i++ {
			select {
			case got := <-arrivals:
				measured.Add(got)
				errs.Add(got - d)
			case <-time.After(10*time.Second + d):
				c.Close()
				return nil, fmt.Errorf("testnet: accuracy: message %d of %d for %v never arrived", i, n, d)
			}
		}
		c.Close()
		row := AccuracyRow{Requested: d, Measured: measured.Summary(50, 99, 99.9), Error: errs.Summary(50, 99, 99.9)}
		fmt.Fprintf(progress, "  requested %-8v measured p50 %.3f ms, p99 %.3f ms, p99.9 %.3f ms, max %.3f ms\n", d,
			ms(row.Measured.P[0]), ms(row.Measured.P[1]), ms(row.Measured.P[2]), ms(row.Measured.Max))
		rows = append(rows, row)
	}
	return rows, nil
}

// WriteAccuracy writes the accuracy table as Markdown.
func WriteAccuracy(w io.Writer, command string, rows []AccuracyRow, n int, interval time.Duration) {
	fmt.Fprintf(w, "# Emulator accuracy\n\n- command: `%s`\n- %d messages of 16 bytes per delay, one every %v, through one relay front (order-preserving delay queue, timerfd sleeps)\n- machine: %s\n\n", command, n, interval, machineLoad())
	fmt.Fprintf(w, "| requested one-way | measured p50 | p99 | p99.9 | max | error p50 | error p99 | error p99.9 |\n|---|---|---|---|---|---|---|---|\n")
	for _, r := range rows {
		fmt.Fprintf(w, "| %v | %.3f ms | %.3f ms | %.3f ms | %.3f ms | %+.3f ms | %+.3f ms | %+.3f ms |\n", r.Requested,
			ms(r.Measured.P[0]), ms(r.Measured.P[1]), ms(r.Measured.P[2]), ms(r.Measured.Max),
			ms(r.Error.P[0]), ms(r.Error.P[1]), ms(r.Error.P[2]))
	}
}
