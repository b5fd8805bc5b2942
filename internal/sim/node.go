package sim

import (
	"context"
	"errors"
	"fmt"
	"os/exec"
	"path/filepath"
	"slices"
	"sync"
	"syscall"

	"github.com/go-logr/logr"
	"k8s.io/client-go/rest"

	"github.com/irisha/irisha/internal/sim/kubelet"
	"github.com/irisha/irisha/internal/sim/kwok"
	"github.com/irisha/irisha/internal/sim/netproxy"
	"github.com/irisha/irisha/internal/sim/proc"
)

// NodeState is the simulated machine's state.
type NodeState string

// Node states.
const (
	NodeRunning NodeState = "Running"
	NodeFrozen  NodeState = "Frozen"
	NodeKilled  NodeState = "Killed"
)

// Node is one simulated node: a kwok heartbeat process, a simulated kubelet
// and the processes started on it, all reaching the API server through the
// node's own proxy.
type Node struct {
	Name string
	Zone string
	// IP is the node's InternalIP (reported by kwok, used as pods' hostIP).
	IP string

	c          *Cluster
	index      int
	proxy      *netproxy.Proxy
	gateway    *netproxy.Gateway
	kubeconfig string
	log        logr.Logger

	// net is the node's network state (guarded by c.netMu, network.go).
	net nodeNet

	mu            sync.Mutex
	state         NodeState
	kwok          *proc.Process
	kubelet       *kubelet.Kubelet
	kubeletCancel context.CancelFunc
	kubeletDone   chan struct{}
	procs         []*proc.Process
}

// Kubeconfig is the path of an admin kubeconfig that reaches the API server
// through this node's proxy: what a process on this node should use.
func (n *Node) Kubeconfig() string { return n.kubeconfig }

// APIServer is the host:port of this node's proxy to the API server.
func (n *Node) APIServer() string { return n.proxy.Addr() }

// RESTConfig reaches the API server through this node's proxy.
func (n *Node) RESTConfig() *rest.Config { return n.c.cp.RESTConfigVia(n.proxy.Addr()) }

// State of the simulated machine.
func (n *Node) State() NodeState {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.state
}

// StartProcess starts cmd "on" this node: in its own process group,
// SIGKILLed by Kill, SIGSTOPped by Freeze, SIGCONTed by Thaw, and killed by
// Cluster.Stop. Point the process at Kubeconfig or APIServer so that
// Partition cuts it off. Its environment gets PeerProxyEnv (after the
// host's environment, whose proxy settings are dropped, when cmd.Env is
// nil; before cmd.Env otherwise, so that cmd.Env wins), so its HTTP(S)
// requests to other nodes' IPs go through the node's peer gateway. Its
// output goes to a log in the work directory unless cmd.Stdout/Stderr are
// set.
func (n *Node) StartProcess(name string, cmd *exec.Cmd) (*proc.Process, error) {
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.state != NodeRunning {
		return nil, fmt.Errorf("node %s is %s: cannot start %s", n.Name, n.state, name)
	}
	cmd.Env = n.withPeerProxy(cmd.Env)
	logPath := filepath.Join(n.c.dir, "nodes", n.Name, "proc-"+sanitize(name)+".log")
	p, err := proc.Start(&n.c.reg, n.Name+"/"+name, cmd, logPath)
	if err != nil {
		return nil, err
	}
	// Exited processes are dropped: execs start one per command, and the
	// cluster's registry, not the node, keeps them for PIDs.
	n.procs = append(slices.DeleteFunc(n.procs, (*proc.Process).Exited), p)
	return p, nil
}

// Kill is an abrupt power-off: the kubelet stops at once (no more status
// writes), kwok is SIGKILLed (the Lease stops being renewed) and so is
// every process on the node; its connections to the API server and its
// peers drop; the node's API objects keep their last state.
func (n *Node) Kill() error {
	n.mu.Lock()
	if n.state == NodeKilled {
		n.mu.Unlock()
		return nil
	}
	// From now on StartProcess refuses; the kubelet may be inside it, so
	// it is stopped without holding the lock.
	n.state = NodeKilled
	n.mu.Unlock()
	n.stopKubelet()
	n.mu.Lock()
	defer n.mu.Unlock()
	errs := n.killProcsLocked()
	// Established connections of the dead processes must not linger, and
	// nothing reaches a powered-off machine.
	n.c.updateNetwork(func() { n.net.down = true })
	n.log.Info("Node killed", "node", n.Name)
	return errors.Join(errs...)
}

func (n *Node) killProcsLocked() []error {
	var errs []error
	for _, p := range append([]*proc.Process{n.kwok}, n.procs...) {
		if p != nil {
			if err := p.Kill(); err != nil {
				errs = append(errs, err)
			}
		}
	}
	n.procs = nil
	return errs
}

// Freeze pauses the node as a paused VM: SIGSTOP to kwok and to every
// process on the node, and the kubelet stops working. Connections stay
// open.
func (n *Node) Freeze() error {
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.state != NodeRunning {
		return fmt.Errorf("node %s is %s: cannot freeze", n.Name, n.state)
	}
	n.kubelet.Freeze()
	if err := n.signalLocked(syscall.SIGSTOP); err != nil {
		return err
	}
	n.state = NodeFrozen
	n.log.Info("Node frozen", "node", n.Name)
	return nil
}

// Thaw resumes a frozen node (SIGCONT); Resume is the same.
func (n *Node) Thaw() error {
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.state != NodeFrozen {
		return fmt.Errorf("node %s is %s: cannot thaw", n.Name, n.state)
	}
	if err := n.signalLocked(syscall.SIGCONT); err != nil {
		return err
	}
	n.kubelet.Thaw()
	n.state = NodeRunning
	n.log.Info("Node thawed", "node", n.Name)
	return nil
}

// Resume is Thaw.
func (n *Node) Resume() error { return n.Thaw() }

// BringBack restarts a killed node: a fresh kwok and kubelet (which, like a
// rebooted kubelet, finishes the deletions the dead node missed and
// restarts its pods' containers). Processes that ran on the node stay dead.
// A partition of the node (or a cluster-wide cut) is the network's, not
// the machine's: it outlives the power cycle until Heal.
func (n *Node) BringBack(ctx context.Context) error {
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.state != NodeKilled {
		return fmt.Errorf("node %s is %s: only a killed node can be brought back", n.Name, n.state)
	}
	n.c.updateNetwork(func() { n.net.down = false })
	if err := n.startLocked(ctx); err != nil {
		return err
	}
	n.state = NodeRunning
	n.log.Info("Node brought back", "node", n.Name)
	return nil
}

// Restart is BringBack.
func (n *Node) Restart(ctx context.Context) error { return n.BringBack(ctx) }

// PIDs of the node's live processes, kwok first.
func (n *Node) PIDs() []int {
	n.mu.Lock()
	defer n.mu.Unlock()
	var pids []int
	for _, p := range append([]*proc.Process{n.kwok}, n.procs...) {
		if p != nil && !p.Exited() {
			pids = append(pids, p.PID())
		}
	}
	return pids
}

// startLocked starts kwok and the kubelet.
func (n *Node) startLocked(_ context.Context) error {
	cmd, err := kwok.Command(kwok.Options{
		Node: n.Name, NodeIP: n.IP, Kubeconfig: n.kubeconfig, ConfigPath: n.c.kwokConfig,
		LeaseDurationSeconds: n.c.timings.NodeLeaseDurationSeconds,
	})
	if err != nil {
		return err
	}
	p, err := proc.Start(&n.c.reg, n.Name+"/kwok", cmd, filepath.Join(n.c.dir, "nodes", n.Name, "kwok.log"))
	if err != nil {
		return err
	}
	n.kwok = p
	k := kubelet.New(kubelet.Config{
		NodeName: n.Name, NodeIP: n.IP, PodIPPrefix: fmt.Sprintf("10.244.%d.", n.index+1),
		RESTConfig: n.RESTConfig(), Kubeconfig: n.kubeconfig, APIServer: n.proxy.Addr(),
		Runner: n.c.opts.Runner, StartProcess: n.StartProcess,
		VolumeDir: n.c.store.VolumeDir, Backoff: n.c.timings.CrashBackoff, Log: n.log,
		StateDir:               filepath.Join(n.c.dir, "nodes", n.Name),
		VirtualContainersReady: n.c.opts.VirtualContainersReady,
	})
	kctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		if err := k.Run(kctx); err != nil && kctx.Err() == nil {
			n.log.Error(err, "Simulated kubelet stopped", "node", n.Name)
		}
	}()
	n.kubelet, n.kubeletCancel, n.kubeletDone = k, cancel, done
	return nil
}

// stopKubelet cancels the kubelet and waits for it; n.mu must not be held
// (the kubelet may be waiting for it in StartProcess).
func (n *Node) stopKubelet() {
	n.mu.Lock()
	cancel, done := n.kubeletCancel, n.kubeletDone
	n.kubeletCancel = nil
	n.mu.Unlock()
	if cancel != nil {
		cancel()
		<-done
	}
}

func (n *Node) signalLocked(sig syscall.Signal) error {
	var errs []error
	for _, p := range append([]*proc.Process{n.kwok}, n.procs...) {
		if p != nil {
			if err := p.Signal(sig); err != nil {
				errs = append(errs, err)
			}
		}
	}
	return errors.Join(errs...)
}

// shutdown is Cluster.Stop's part: stop the kubelet, kill the processes
// (SIGKILL works on stopped ones too), close the proxy and the gateway.
func (n *Node) shutdown() error {
	n.mu.Lock()
	n.state = NodeKilled
	n.mu.Unlock()
	n.stopKubelet()
	n.mu.Lock()
	errs := n.killProcsLocked()
	n.mu.Unlock()
	n.proxy.Close()
	n.gateway.Close()
	return errors.Join(errs...)
}

func sanitize(s string) string {
	out := []rune(s)
	for i, r := range out {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-' || r == '_' || r == '.') {
			out[i] = '_'
		}
	}
	return string(out)
}
