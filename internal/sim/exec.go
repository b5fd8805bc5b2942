package sim

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	utilexec "k8s.io/client-go/util/exec"

	"github.com/irisha/irisha/internal/sim/kubelet"
)

// defaultExecDialTimeout is kube-apiserver's dial timeout to a kubelet.
const defaultExecDialTimeout = 30 * time.Second

// routeCheck is how often an exec looks at its path to the kubelet.
const routeCheck = 20 * time.Millisecond

// kubeletPort is the kubelet's port, as the API server dials it.
const kubeletPort = "10250"

// maxErrorOutput is how much of a failed command's output its error quotes.
const maxErrorOutput = 2048

// ExecFunc is how a ContainerRunner says to run a command inside its
// container (ContainerProcess.Exec).
type ExecFunc = kubelet.ExecFunc

// Exec runs argv in a container of a pod, as `kubectl exec` does through
// the API server and the pod's kubelet, and returns its standard output; a
// command that exits non-zero is an error wrapping a
// k8s.io/client-go/util/exec.CodeExitError (its exit code), quoting its
// output. stdin, if not nil, is the command's standard input. container ""
// is the pod's only container. The command runs on the pod's node (frozen
// and killed with it, killed with its container, killed by Stop and listed
// in PIDs) and is killed when ctx ends.
//
// It fails as on a real cluster: a pod that does not exist (NotFound), or
// is not scheduled, or a container not in the pod, is the API server's
// BadRequest; a container that is not running is the kubelet's "container
// not found"; a killed node fails at once (no route to host), a node cut
// off from the API server after Timings.ExecDialTimeout (i/o timeout), and
// a frozen node (or API server) blocks until ctx ends. A cut while the
// command runs loses its result (the command may go on, as on a real node).
func (c *Cluster) Exec(ctx context.Context, namespace, pod, container string, stdin []byte, argv ...string) ([]byte, error) {
	wrap := func(err error) error {
		return fmt.Errorf("exec %q in pod %s/%s: %w", strings.Join(argv, " "), namespace, pod, err)
	}
	p, err := c.clientset.CoreV1().Pods(namespace).Get(ctx, pod, metav1.GetOptions{})
	if err != nil {
		return nil, wrap(err)
	}
	if container, err = execContainer(p, container); err != nil {
		return nil, wrap(err)
	}
	n := c.Node(p.Spec.NodeName)
	if n == nil {
		return nil, wrap(fmt.Errorf("pod %s is on %s, not a simulated node", pod, p.Spec.NodeName))
	}
	e, err := c.startExec(ctx, n, namespace, pod, container, stdin, argv)
	if err != nil {
		return nil, wrap(err)
	}
	stdout, stderr, code, err := c.waitExec(ctx, n, e)
	if err != nil {
		return nil, wrap(err)
	}
	if code != 0 {
		exit := utilexec.CodeExitError{Err: fmt.Errorf("command terminated with exit code %d", code), Code: int(code)}
		return stdout, wrap(fmt.Errorf("%w%s", exit, quoteOutput(stdout, stderr)))
	}
	return stdout, nil
}

// execContainer is the API server's choice of container (validateContainer
// in its pod registry).
func execContainer(p *corev1.Pod, container string) (string, error) {
	if p.Spec.NodeName == "" {
		return "", apierrors.NewBadRequest(fmt.Sprintf("pod %s does not have a host assigned", p.Name))
	}
	var names []string
	for _, ctr := range p.Spec.Containers {
		names = append(names, ctr.Name)
		if ctr.Name == container {
			return container, nil
		}
	}
	switch {
	case container != "":
		return "", apierrors.NewBadRequest(fmt.Sprintf("container %s is not valid for pod %s", container, p.Name))
	case len(names) == 1:
		return names[0], nil
	}
	return "", apierrors.NewBadRequest(fmt.Sprintf("a container name must be specified for pod %s, choose one of: %s", p.Name, names))
}

// startExec dials the node's kubelet and starts the command there. A node
// that froze or went away between the dial and the start is dialled again,
// so the start fails the way the dial would.
func (c *Cluster) startExec(ctx context.Context, n *Node, namespace, pod, container string, stdin []byte, argv []string) (*kubelet.ExecProcess, error) {
	for {
		if err := c.dialKubelet(ctx, n); err != nil {
			return nil, err
		}
		n.mu.Lock()
		k := n.kubelet
		n.mu.Unlock()
		e, err := k.StartExec(namespace, pod, container, stdin, argv)
		if err != nil && c.kubeletRoute(n) != routeUp {
			continue
		}
		return e, err
	}
}

// dialKubelet waits until the API server reaches n's kubelet: at once if
// the path is up, never for a powered-off node, ExecDialTimeout for a cut
// one (unless it heals meanwhile), and as long as ctx allows for a frozen
// one, whose kernel accepts the connection while nothing answers.
func (c *Cluster) dialKubelet(ctx context.Context, n *Node) error {
	timeout := c.timings.ExecDialTimeout
	if timeout <= 0 {
		timeout = defaultExecDialTimeout
	}
	deadline := time.Now().Add(timeout)
	dial := "dial tcp " + net.JoinHostPort(n.IP, kubeletPort)
	tick := time.NewTicker(routeCheck)
	defer tick.Stop()
	for {
		switch c.kubeletRoute(n) {
		case routeUp:
			return nil
		case routeDown:
			return fmt.Errorf("error dialing backend: %s: connect: no route to host", dial)
		case routeCut:
			if time.Now().After(deadline) {
				return fmt.Errorf("error dialing backend: %s: i/o timeout", dial)
			}
		case routeHangs:
			deadline = time.Now().Add(timeout) // connected; waiting for an answer
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("waiting for the kubelet on %s: %w", n.Name, ctx.Err())
		case <-tick.C:
		}
	}
}

// waitExec waits for the command and for its result to come back through
// the API server: a cut or a dead node loses it, a frozen node or API
// server holds it, ctx's end kills the command.
func (c *Cluster) waitExec(ctx context.Context, n *Node, e *kubelet.ExecProcess) (stdout, stderr []byte, code int32, err error) {
	tick := time.NewTicker(routeCheck)
	defer tick.Stop()
	done := e.Done()
	for {
		select {
		case <-ctx.Done():
			_ = e.Kill()
			return nil, nil, 0, fmt.Errorf("waiting for the command on %s: %w", n.Name, ctx.Err())
		case <-done:
			done = nil // finished: deliver the result once the path allows
		case <-tick.C:
		}
		lost := "lost the connection to the kubelet on " + n.Name + " (" + net.JoinHostPort(n.IP, kubeletPort) + ")"
		switch c.kubeletRoute(n) {
		case routeDown:
			return nil, nil, 0, errors.New(lost + ": the node is powered off")
		case routeCut:
			// The node does not know it was cut off: what runs there goes on.
			return nil, nil, 0, fmt.Errorf("%s: the node is cut off from the API server; the command (pid %d) may still run there", lost, e.PID())
		case routeUp:
			if done == nil {
				stdout, stderr, code := e.Result()
				return stdout, stderr, code, nil
			}
		}
	}
}

// kubeletRoute is the state of the API server's path to a node's kubelet.
type kubeletRoute int

const (
	routeUp    kubeletRoute = iota
	routeHangs              // frozen node or API server: accepted, unanswered
	routeCut                // partitioned from the API server: packets dropped
	routeDown               // powered off: no route to host
)

// kubeletRoute reads n's state and the network's.
func (c *Cluster) kubeletRoute(n *Node) kubeletRoute {
	state := n.State()
	c.netMu.Lock()
	defer c.netMu.Unlock()
	return kubeletRouteOf(state, n.net, c.net)
}

// kubeletRouteOf: the API server's path to a kubelet is the node's path to
// the API server, the other way.
func kubeletRouteOf(state NodeState, node nodeNet, cluster netState) kubeletRoute {
	switch {
	case state == NodeKilled || node.down:
		return routeDown
	case cluster.apiCut || node.apiCut:
		return routeCut
	case state == NodeFrozen || cluster.apiFrozen:
		return routeHangs
	}
	return routeUp
}

// quoteOutput is ": " and the end of a failed command's output (standard
// output, then error), or "" if it printed nothing.
func quoteOutput(stdout, stderr []byte) string {
	out := strings.TrimSpace(string(stdout) + string(stderr))
	if out == "" {
		return ""
	}
	if len(out) > maxErrorOutput {
		out = "..." + out[len(out)-maxErrorOutput:]
	}
	return ": " + out
}
