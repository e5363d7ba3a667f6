package testnet

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"syscall"
	"time"
)

// Incarnation identifies one process lifetime of a node.
type Incarnation struct {
	Node    string
	N       int // 1 for the first start
	Replica string
	Offset  time.Duration
	Start   time.Time
	End     time.Time // zero while running
	Killed  bool      // ended by SIGKILL (or SIGTERM): its unreplicated writes may be lost
}

// start launches a node's process (its state must not be running or paused).
func (c *Cluster) start(n *Node) error {
	logf, err := os.OpenFile(filepath.Join(c.cfg.Dir, n.Name+".log"), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return err
	}
	n.mu.Lock()
	defer n.mu.Unlock()
	args := c.args(n)
	fmt.Fprintf(logf, "=== %s start #%d: %s %v\n", time.Now().Format(time.RFC3339Nano), n.incarnation+1, c.cfg.Binary, args)
	cmd := exec.Command(c.cfg.Binary, args...)
	cmd.Stdout, cmd.Stderr = logf, logf
	// Linux: the node dies with us rather than outliving a crashed test run.
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		logf.Close()
		return fmt.Errorf("testnet: start %s: %w", n.Name, err)
	}
	c.Emu.SetSourcePID(cmd.Process.Pid, n.Name)
	n.cmd, n.exited, n.state, n.replica = cmd, make(chan struct{}), StateRunning, ""
	n.incarnation++
	n.lastStart = time.Now()
	exited := n.exited
	go func() { // owned by the node: Kill, Stop and Close wait for exited
		cmd.Wait()
		logf.Close()
		close(exited)
	}()
	c.mu.Lock()
	c.incs = append(c.incs, Incarnation{Node: n.Name, N: n.incarnation, Offset: n.offset, Start: n.lastStart})
	c.mu.Unlock()
	return nil
}

// waitHealthy waits until n answers /v1/members and records its replica id.
func (c *Cluster) waitHealthy(ctx context.Context, n *Node) error {
	ctx, cancel := context.WithTimeout(ctx, c.cfg.StartTimeout)
	defer cancel()
	n.mu.Lock()
	exited, inc := n.exited, n.incarnation
	n.mu.Unlock()
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	for {
		if self, _, err := c.members(ctx, n); err == nil && self != "" {
			n.mu.Lock()
			n.replica = self
			n.mu.Unlock()
			c.mu.Lock()
			for i := range c.incs {
				if c.incs[i].Node == n.Name && c.incs[i].N == inc {
					c.incs[i].Replica = self
				}
			}
			c.mu.Unlock()
			return nil
		}
		select {
		case <-exited:
			return fmt.Errorf("testnet: %s exited during start-up; see %s", n.Name,
				filepath.Join(c.cfg.Dir, n.Name+".log"))
		case <-ctx.Done():
			return fmt.Errorf("testnet: %s did not answer within %v: %w", n.Name, c.cfg.StartTimeout, ctx.Err())
		case <-tick.C:
		}
	}
}

// Running returns the nodes whose process runs (paused ones excluded).
func (c *Cluster) Running() []*Node {
	var out []*Node
	for _, n := range c.Nodes {
		if st, _, _ := n.State(); st == StateRunning {
			out = append(out, n)
		}
	}
	return out
}

// Incarnations returns every process lifetime so far.
func (c *Cluster) Incarnations() []Incarnation {
	c.mu.Lock()
	defer c.mu.Unlock()
	return slices.Clone(c.incs)
}

func (c *Cluster) endIncarnation(n *Node, inc int, killed bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for i := range c.incs {
		if c.incs[i].Node == n.Name && c.incs[i].N == inc && c.incs[i].End.IsZero() {
			c.incs[i].End = time.Now()
			c.incs[i].Killed = killed
		}
	}
}

// signal sends sig to a node and, for SIGKILL and SIGTERM, waits for it to exit.
func (c *Cluster) signal(n *Node, sig syscall.Signal, wait time.Duration) error {
	n.mu.Lock()
	cmd, exited, st, inc := n.cmd, n.exited, n.state, n.incarnation
	n.mu.Unlock()
	if cmd == nil || st == StateKilled || st == StateStopped {
		return fmt.Errorf("testnet: %s is not running", n.Name)
	}
	if st == StatePaused && sig != syscall.SIGCONT && sig != syscall.SIGKILL {
		cmd.Process.Signal(syscall.SIGCONT) // a stopped process cannot handle SIGTERM
	}
	if err := cmd.Process.Signal(sig); err != nil {
		return fmt.Errorf("testnet: signal %s: %w", n.Name, err)
	}
	if sig != syscall.SIGKILL && sig != syscall.SIGTERM && sig != syscall.SIGQUIT {
		return nil
	}
	select {
	case <-exited:
	case <-time.After(wait):
		cmd.Process.Kill()
		<-exited
	}
	c.Emu.SetSourcePID(cmd.Process.Pid, "")
	c.endIncarnation(n, inc, true)
	n.mu.Lock()
	if sig == syscall.SIGTERM {
		n.state = StateStopped
	} else {
		n.state = StateKilled
	}
	n.mu.Unlock()
	return nil
}

// Kill sends SIGKILL to a node and waits for it to die.
func (c *Cluster) Kill(name string) error {
	n, err := c.Node(name)
	if err != nil {
		return err
	}
	if err := c.signal(n, syscall.SIGKILL, 10*time.Second); err != nil {
		return err
	}
	c.Log.add("kill", n.Name)
	return nil
}

// Stop stops a node gracefully (SIGTERM), killing it after 10 s.
func (c *Cluster) Stop(name string) error {
	n, err := c.Node(name)
	if err != nil {
		return err
	}
	if err := c.signal(n, syscall.SIGTERM, 10*time.Second); err != nil {
		return err
	}
	c.Log.add("stop", n.Name)
	return nil
}

// Quit sends SIGQUIT to a node, whose Go runtime then writes every goroutine's stack to its log
// and exits: evidence for a node that stopped answering. The node counts as killed.
func (c *Cluster) Quit(name string) error {
	n, err := c.Node(name)
	if err != nil {
		return err
	}
	if err := c.signal(n, syscall.SIGQUIT, 10*time.Second); err != nil {
		return err
	}
	c.Log.add("quit (goroutine dump)", n.Name)
	return nil
}

// Pause freezes a node's process (SIGSTOP): its sockets stay open but nothing is read or sent.
func (c *Cluster) Pause(name string) error {
	n, err := c.Node(name)
	if err != nil {
		return err
	}
	if err := c.signal(n, syscall.SIGSTOP, 0); err != nil {
		return err
	}
	n.mu.Lock()
	n.state = StatePaused
	n.mu.Unlock()
	c.Log.add("pause", n.Name)
	return nil
}

// Continue resumes a paused node (SIGCONT).
func (c *Cluster) Continue(name string) error {
	n, err := c.Node(name)
	if err != nil {
		return err
	}
	if st, _, _ := n.State(); st != StatePaused {
		return fmt.Errorf("testnet: %s is not paused", n.Name)
	}
	if err := c.signal(n, syscall.SIGCONT, 0); err != nil {
		return err
	}
	n.mu.Lock()
	n.state = StateRunning
	n.mu.Unlock()
	c.Log.add("continue", n.Name)
	return nil
}

// Restart starts a killed or stopped node again with the same identity and addresses (a new
// replica id: a new write stream), optionally with a new clock offset, and waits until it
// answers. It does not wait for it to be warm.
func (c *Cluster) Restart(ctx context.Context, name string, offset *time.Duration) error {
	n, err := c.Node(name)
	if err != nil {
		return err
	}
	if st, _, _ := n.State(); st == StateRunning || st == StatePaused {
		if err := c.signal(n, syscall.SIGKILL, 10*time.Second); err != nil {
			return err
		}
		c.Log.add("kill", n.Name)
	}
	if offset != nil {
		n.mu.Lock()
		n.offset = *offset
		n.mu.Unlock()
	}
	if err := c.start(n); err != nil {
		return err
	}
	ev := "restart"
	if offset != nil {
		ev = "restart clock-offset=" + offset.String()
	}
	c.Log.add(ev, n.Name)
	return c.waitHealthy(ctx, n)
}

// RestartNewIdentity kills a node and starts it in memory: no --data-dir (a new peer id, an
// empty catalog) and no --join, as a seed restarted without its disk. The other members still
// know it by its old peer id; they must find it again at its address. It waits until the node
// answers.
func (c *Cluster) RestartNewIdentity(ctx context.Context, name string) error {
	n, err := c.Node(name)
	if err != nil {
		return err
	}
	if st, _, _ := n.State(); st == StateRunning || st == StatePaused {
		if err := c.signal(n, syscall.SIGKILL, 10*time.Second); err != nil {
			return err
		}
		c.Log.add("kill", n.Name)
	}
	n.mu.Lock()
	n.inMemory = true
	n.mu.Unlock()
	if err := c.start(n); err != nil {
		return err
	}
	c.Log.add("restart identity=new", n.Name)
	return c.waitHealthy(ctx, n)
}

// Audit inspects every TCP connection of the node processes: node-to-node connections that do
// not go through the emulator are bypasses.
func (c *Cluster) Audit() (ConnAudit, error) {
	pids := map[int]string{}
	for _, n := range c.Nodes {
		n.mu.Lock()
		if n.cmd != nil && (n.state == StateRunning || n.state == StatePaused) {
			pids[n.cmd.Process.Pid] = n.Name
		}
		n.mu.Unlock()
	}
	return auditConnections(pids)
}
