package main

import (
	"bufio"
	"strings"
	"testing"
	"time"
)

func TestReply(t *testing.T) {
	t.Parallel()
	r := bufio.NewReader(strings.NewReader("+OK\r\n-ERR x\r\n:5\r\n$3\r\nfoo\r\n$-1\r\n$0\r\n\r\n*1\r\n"))
	for _, want := range []string{"+OK", "-ERR x", ":5", "foo", "", ""} {
		got, err := reply(r)
		if err != nil || got != want {
			t.Fatalf("reply = %q, %v; want %q", got, err, want)
		}
	}
	if _, err := reply(r); err == nil {
		t.Fatal("an array reply was accepted")
	}
}

func TestDuring(t *testing.T) {
	t.Parallel()
	t0 := time.Unix(1000, 0)
	iv := []interval{{t0, t0.Add(time.Second)}, {t0.Add(3 * time.Second), t0.Add(4 * time.Second)}}
	for d, want := range map[time.Duration]bool{
		-time.Millisecond: false, 0: true, 999 * time.Millisecond: true, time.Second: false,
		2 * time.Second: false, 3500 * time.Millisecond: true, 5 * time.Second: false,
	} {
		if got := during(iv, t0.Add(d)); got != want {
			t.Errorf("during(t0%+v) = %v, want %v", d, got, want)
		}
	}
}
