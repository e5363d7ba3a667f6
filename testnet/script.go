package testnet

import (
	"bufio"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// A scenario script is one command per line; '#' starts a comment. Targets name a node
// ("eu-west-1"), a region ("eu-west", meaning all its nodes) or the i-th region of the network
// ("$0", "$1", ...), so that scripts work on any matrix. In a partition, "*" is every region not
// named in another group.
//
//	sleep DUR                     let the workload run
//	partition A,B | C [| ...]     cut every link between the groups
//	isolate X                     cut X from everyone
//	cut A B | heal [A B]          cut (or heal) the links between A and B; heal alone heals all
//	stall A B | resume A B        black-hole (or release) the direction A -> B
//	delay A B DUR                 override the one-way delay A -> B
//	flap A B period=DUR for=DUR   cut and heal A <-> B every half period, in the background
//	kill X | stop X               SIGKILL, or SIGTERM (graceful)
//	restart X                     start a killed or stopped node again (kills it first if running)
//	pause X | continue X          SIGSTOP / SIGCONT
//	skew X DUR                    restart X with its clock shifted by DUR (--clock-offset)
//	warmup X                      wait until X is ready and agrees with the others; record it
//	workload on|off               start or stop the client workload (on at the start)
//	probe on|off                  enable or disable lag probing (on at the start)
//	converge                      wait until all running nodes agree; record the time
//	mark TEXT                     put a label on the timeline
//	count                         record every node's keys that outlive the next minute
//	expectwarm                    every node holds the keys counted (after a restart: warm)
//
// After the last line the runner stops the workload, heals everything, continues paused nodes,
// restarts killed ones, waits for expiries and convergence, and runs the checker.

// step is one parsed script line.
type step struct {
	line int
	cmd  string
	args []string
	kv   map[string]string
	dur  time.Duration // sleep, delay, skew
}

func (s step) String() string {
	out := s.cmd
	if len(s.args) > 0 {
		out += " " + strings.Join(s.args, " ")
	}
	for k, v := range s.kv {
		out += " " + k + "=" + v
	}
	return out
}

// arity: command -> number of positional arguments (-1: free text).
var scriptCommands = map[string]int{
	"sleep": 1, "partition": -1, "isolate": 1, "cut": 2, "heal": -1, "stall": 2, "resume": 2,
	"delay": 3, "flap": 2, "kill": 1, "stop": 1, "restart": 1, "pause": 1, "continue": 1,
	"skew": 2, "warmup": 1, "workload": 1, "probe": 1, "converge": 0, "mark": -1, "gossip": 1,
	"count": 0, "expectwarm": 0,
}

// ParseScript parses and validates a scenario script.
func ParseScript(src string) ([]step, error) {
	var steps []step
	sc := bufio.NewScanner(strings.NewReader(src))
	for ln := 1; sc.Scan(); ln++ {
		line := sc.Text()
		if i := strings.IndexByte(line, '#'); i >= 0 {
			line = line[:i]
		}
		f := strings.Fields(line)
		if len(f) == 0 {
			continue
		}
		st := step{line: ln, cmd: f[0], kv: map[string]string{}}
		for _, a := range f[1:] {
			if k, v, ok := strings.Cut(a, "="); ok && st.cmd != "mark" {
				st.kv[k] = v
			} else {
				st.args = append(st.args, a)
			}
		}
		n, ok := scriptCommands[st.cmd]
		if !ok {
			return nil, fmt.Errorf("testnet: script line %d: unknown command %q", ln, st.cmd)
		}
		if n >= 0 && len(st.args) != n {
			return nil, fmt.Errorf("testnet: script line %d: %s takes %d arguments, got %d", ln, st.cmd, n, len(st.args))
		}
		var err error
		switch st.cmd {
		case "sleep":
			st.dur, err = time.ParseDuration(st.args[0])
		case "delay":
			st.dur, err = time.ParseDuration(st.args[2])
		case "skew":
			st.dur, err = time.ParseDuration(st.args[1])
		case "heal":
			if len(st.args) != 0 && len(st.args) != 2 {
				err = fmt.Errorf("heal takes no arguments or two")
			}
		case "partition":
			if !strings.Contains(strings.Join(st.args, " "), "|") {
				err = fmt.Errorf("partition needs groups separated by |")
			}
		case "workload", "probe":
			if st.args[0] != "on" && st.args[0] != "off" {
				err = fmt.Errorf("%s takes on or off", st.cmd)
			}
		case "restart":
			if v, ok := st.kv["identity"]; ok && v != "new" {
				err = fmt.Errorf("restart takes identity=new or nothing")
			}
		case "flap":
			for _, k := range []string{"period", "for"} {
				if _, e := time.ParseDuration(st.kv[k]); e != nil {
					err = fmt.Errorf("flap needs %s=DURATION", k)
				}
			}
		}
		if err != nil {
			return nil, fmt.Errorf("testnet: script line %d: %w", ln, err)
		}
		steps = append(steps, st)
	}
	return steps, sc.Err()
}

// resolve maps "$i" to the i-th region's name.
func resolve(c *Cluster, target string) (string, error) {
	if rest, ok := strings.CutPrefix(target, "$"); ok {
		i, err := strconv.Atoi(rest)
		if err != nil || i < 0 || i >= len(c.cfg.Matrix.Regions) {
			return "", fmt.Errorf("testnet: %s: the network has %d regions", target, len(c.cfg.Matrix.Regions))
		}
		return c.cfg.Matrix.Regions[i].Name, nil
	}
	if _, err := c.nodesOf([]string{target}); err != nil {
		return "", err
	}
	return target, nil
}

// partitionGroups parses "A,B | C | *".
func partitionGroups(c *Cluster, args []string) ([][]string, error) {
	var groups [][]string
	star := -1
	used := map[string]bool{}
	for i, g := range strings.Split(strings.Join(args, " "), "|") {
		var names []string
		for _, t := range strings.FieldsFunc(g, func(r rune) bool { return r == ',' || r == ' ' }) {
			if t == "*" {
				star = i
				continue
			}
			name, err := resolve(c, t)
			if err != nil {
				return nil, err
			}
			names = append(names, name)
			used[name] = true
		}
		groups = append(groups, names)
	}
	if star >= 0 {
		for _, r := range c.cfg.Matrix.Regions {
			if !used[r.Name] {
				groups[star] = append(groups[star], r.Name)
			}
		}
	}
	for _, g := range groups {
		if len(g) == 0 {
			return nil, fmt.Errorf("testnet: partition with an empty group")
		}
	}
	return groups, nil
}
