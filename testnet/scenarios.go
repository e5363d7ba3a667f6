package testnet

import (
	"fmt"
	"sort"
	"time"
)

// Scenarios returns the built-in scenarios by name. "$i" is the i-th region of the network.
func Scenarios() map[string]Scenario {
	list := []Scenario{
		{Name: "steady", Description: "Steady state: the workload and lag probes on a healthy network; replication lag against the emulated one-way delay.",
			Script: `
sleep 20s
`},
		{Name: "partition", Description: "Partition and heal: the first region is cut from the others for 10 s while every region keeps writing; then writes stop, the partition heals and the time to agreement is measured.",
			Script: `
sleep 4s
partition $0 | *
sleep 10s
workload off
heal
converge
workload on
sleep 3s
`},
		{Name: "crash", Description: "Crash and restart: a node is killed with SIGKILL (no graceful leave), stays down 5 s, restarts with the same identity and a fresh replica id, and warms up from its peers while the workload continues.",
			Script: `
sleep 4s
kill $1
sleep 5s
restart $1
warmup $1
sleep 4s
`},
		{Name: "fullrestart", Description: "Whole-cluster restart: writes stop, every node is stopped (SIGTERM: each saves its cache snapshot to --data-dir) and started again; every node must serve the keys it held before (warm, from its own snapshot: no peer was up to fetch them from), then the workload resumes.",
			Script: `
sleep 5s
workload off
converge
count
stop $0
stop $1
stop $2
restart $0
restart $1
restart $2
expectwarm
converge
workload on
sleep 3s
`},
		{Name: "flap", Description: "Flapping link: the links between the first two regions are cut and healed every 0.5 s for 8 s.",
			Script: `
sleep 3s
flap $0 $1 period=1s for=8s
sleep 9s
sleep 3s
`},
		{Name: "skew", Description: "Clock skew: two nodes run with offsets +250 ms and -200 ms from the start (450 ms apart: within the allowed 500 ms, every delta accepted); the third is restarted 1.5 s ahead (beyond the bound: its deltas are rejected until the others' clocks catch up), then set right again.",
			// The bound applies between two nodes' clocks: +300 and -250 ms (550 ms apart) had one
			// node reject the other's every delta.
			Offsets: map[string]time.Duration{"$0": 250 * time.Millisecond, "$1": -200 * time.Millisecond},
			Script: `
sleep 5s
skew $2 1500ms
sleep 8s
skew $2 0s
warmup $2
sleep 3s
`},
		{Name: "stall", Description: "Stalled link: one direction between the first two regions black-holes its bytes (connection kept, data held) for 6 s, longer than the 3 s heartbeat timeout, then resumes.",
			Script: `
sleep 3s
stall $0 $1
sleep 6s
resume $0 $1
sleep 4s
`},
		{Name: "pause", Description: "Paused process: the third node is frozen with SIGSTOP for 5 s (sockets open, nothing processed), then continued.",
			Script: `
sleep 3s
pause $2
sleep 5s
continue $2
sleep 4s
`},
		{Name: "restart-seed", Description: "Seed restarted without its disk: the first node is killed with SIGKILL and started again in memory, with no --data-dir and no --join (a new peer id, knowing nobody) while the workload continues; the others, which know it only by its old id, must find it at its address. Gossip must flow between every pair within 3 s of the restart, and the restarted node warms up from its peers.",
			Script: `
sleep 4s
kill $0
sleep 2s
restart $0 identity=new
gossip $0
warmup $0
sleep 3s
`},
		{Name: "ci", Description: "The short CI scenario: steady-state lag, a partition with heal and measured convergence, a kill -9 with restart and warm-up, then the full check.",
			Script: `
sleep 8s
partition $0 | *
sleep 5s
workload off
heal
converge
workload on
kill $1
sleep 3s
restart $1
warmup $1
sleep 3s
`},
	}
	out := map[string]Scenario{}
	for _, s := range list {
		out[s.Name] = s
	}
	return out
}

// ScenarioNames lists the built-in scenarios in a stable order.
func ScenarioNames() []string {
	var out []string
	for n := range Scenarios() {
		out = append(out, n)
	}
	sort.Strings(out)
	return out
}

// LookupScenario returns a built-in scenario.
func LookupScenario(name string) (Scenario, error) {
	s, ok := Scenarios()[name]
	if !ok {
		return Scenario{}, fmt.Errorf("testnet: no scenario %q (have %v)", name, ScenarioNames())
	}
	return s, nil
}
