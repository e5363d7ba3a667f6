package testnet

import (
	"net/netip"
	"strings"
	"testing"
	"time"
)

func TestParseScript(t *testing.T) {
	steps, err := ParseScript("sleep 1s # comment\n\nflap $0 $1 period=1s for=3s\nmark a b=c\nheal\n")
	if err != nil {
		t.Fatal(err)
	}
	if len(steps) != 4 || steps[0].dur != time.Second || steps[1].kv["period"] != "1s" ||
		strings.Join(steps[2].args, " ") != "a b=c" || steps[3].line != 5 {
		t.Fatalf("%+v", steps)
	}
	for _, bad := range []string{
		"sleep", "sleep x", "bogus 1", "partition a", "heal a", "workload maybe", "flap a b period=1s",
		"delay a b fast", "skew a", "kill",
	} {
		if _, err := ParseScript(bad); err == nil || !strings.Contains(err.Error(), "line 1") {
			t.Errorf("ParseScript(%q) = %v, want a line 1 error", bad, err)
		}
	}
}

func TestEveryRandomScriptParses(t *testing.T) {
	regions := []string{"us-east", "eu-west", "ap-southeast"}
	nodes := []string{"us-east-1", "eu-west-1", "ap-southeast-1"}
	kinds := map[string]bool{}
	for seed := uint64(1); seed <= 500; seed++ {
		src := RandomScript(seed, regions, nodes)
		steps, err := ParseScript(src)
		if err != nil {
			t.Fatalf("seed %d: %v\n%s", seed, err, src)
		}
		down := ""
		for _, s := range steps {
			kinds[s.cmd] = true
			switch s.cmd {
			case "kill", "pause":
				if down != "" {
					t.Fatalf("seed %d: two nodes down at once\n%s", seed, src)
				}
				down = s.args[0]
			case "restart", "continue":
				down = ""
			}
		}
		if down != "" {
			t.Fatalf("seed %d: %s left down\n%s", seed, down, src)
		}
	}
	for _, k := range []string{"partition", "isolate", "cut", "stall", "flap", "kill", "pause", "skew", "heal"} {
		if !kinds[k] {
			t.Errorf("500 random schedules never used %s", k)
		}
	}
}

func TestParseHexAddr(t *testing.T) {
	for in, want := range map[string]string{
		"0100007F:1F90":                         "127.0.0.1:8080",
		"0102A87F:1B58":                         "127.168.2.1:7000",
		"0000000000000000FFFF00000100007F:0050": "127.0.0.1:80", // IPv4-mapped IPv6
		"00000000000000000000000001000000:0016": "[::1]:22",
	} {
		got, err := parseHexAddr(in)
		if err != nil || got != netip.MustParseAddrPort(want) {
			t.Errorf("parseHexAddr(%s) = %v, %v; want %s", in, got, err, want)
		}
	}
	if _, err := parseHexAddr("zz:1"); err == nil {
		t.Error("accepted garbage")
	}
}

func TestPercentile(t *testing.T) {
	s := NewSamples(10)
	for i := 1; i <= 100; i++ {
		s.Add(time.Duration(i) * time.Millisecond)
	}
	sum := s.Summary(50, 99)
	if sum.Count != 100 || sum.Max != 100*time.Millisecond || sum.Mean != 50500*time.Microsecond || len(sum.P) != 2 {
		t.Fatalf("%+v", sum)
	}
	if got := percentile([]time.Duration{1, 2, 3, 4}, 50); got != 2 {
		t.Fatalf("p50 of 1..4 = %v", got)
	}
}
