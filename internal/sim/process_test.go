package sim_test

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/clientcmd"

	"github.com/irisha/irisha/internal/sim"
	"github.com/irisha/irisha/internal/sim/proc"
	"github.com/irisha/irisha/internal/sim/reference"
)

// TestNodeProcessHook runs each container as a trivial local process and
// checks that it lives and dies with its node: restarted after a crash,
// stopped by Freeze, resumed by Thaw, cut off by Partition, killed by
// Kill; and (in startCluster's cleanup) that nothing survives Stop.
func TestNodeProcessHook(t *testing.T) {
	envDir := t.TempDir()
	runner := func(_ context.Context, env sim.ContainerEnv) (*sim.ContainerProcess, error) {
		// The process records what it was given, then idles like a server.
		out := filepath.Join(envDir, env.Pod.Name+"-"+env.Container)
		cmd := exec.Command("sh", "-c", `printf '%s\n%s\n' "$KUBECONFIG" "$DATA" > "$OUT"; exec sleep 600`)
		cmd.Env = append(os.Environ(), "KUBECONFIG="+env.Kubeconfig, "DATA="+env.Volumes["iris-external-sys"], "OUT="+out)
		return &sim.ContainerProcess{Cmd: cmd}, nil
	}
	c := startCluster(t, sim.Options{Nodes: 2, Runner: runner})
	ctx, cancel := context.WithTimeout(context.Background(), testTimeout)
	defer cancel()
	pod := deployReference(ctx, t, c, "ref", sim.LonghornClass)
	node := c.Node(pod.Spec.NodeName)

	pid := containerPID(t, node)
	if b, err := os.ReadFile(filepath.Join(envDir, pod.Name+"-iris")); err != nil {
		t.Fatal(err)
	} else if lines := strings.Split(strings.TrimSpace(string(b)), "\n"); len(lines) != 2 ||
		!podKubeconfig(t, lines[0], node) || lines[1] != c.VolumeDir(pvOf(ctx, t, c, "ref")) {
		t.Fatalf("runner env %q, want the pod's kubeconfig through node %s's proxy and the PV directory", lines, node.Name)
	}

	// Crash: the process dies, the kubelet restarts the container at once.
	if err := c.CrashContainer(ctx, "ref", pod.Name, reference.Container); err != nil {
		t.Fatal(err)
	}
	if _, err := sim.WaitForPods(ctx, c.Clientset(), "ref", reference.Selector, func(pods []corev1.Pod) bool {
		return len(pods) == 1 && sim.PodReady(&pods[0]) && pods[0].Status.ContainerStatuses[0].RestartCount == 1
	}); err != nil {
		t.Fatal(err)
	}
	if proc.Alive(pid) {
		t.Fatalf("crashed container process %d still alive", pid)
	}
	pid = containerPID(t, node)

	if err := node.Freeze(); err != nil {
		t.Fatal(err)
	}
	if st := waitStopped(pid, true); st != 'T' {
		t.Fatalf("frozen node: container process state %q, want T (stopped)", st)
	}
	if err := node.Thaw(); err != nil {
		t.Fatal(err)
	}
	if st := waitStopped(pid, false); st == 'T' {
		t.Fatal("thawed node: container process still stopped")
	}

	nodeClient, err := kubernetes.NewForConfig(node.RESTConfig())
	if err != nil {
		t.Fatal(err)
	}
	node.Partition()
	if _, err := nodeClient.CoreV1().Namespaces().Get(ctx, "default", metav1.GetOptions{}); err == nil {
		t.Fatal("a partitioned node still reaches the API server")
	}
	node.Heal()
	if _, err := nodeClient.CoreV1().Namespaces().Get(ctx, "default", metav1.GetOptions{}); err != nil {
		t.Fatalf("healed node: %v", err)
	}

	all := node.PIDs()
	if err := node.Kill(); err != nil {
		t.Fatal(err)
	}
	for _, p := range all {
		if proc.Alive(p) {
			t.Errorf("process %d alive after its node was killed", p)
		}
	}
	if _, err := node.StartProcess("late", exec.Command("true")); err == nil {
		t.Error("a killed node must refuse new processes")
	}
}

// podKubeconfig reports whether path is a kubeconfig through the node's
// proxy with the pod's ServiceAccount token, not the node's admin one.
func podKubeconfig(t *testing.T, path string, n *sim.Node) bool {
	t.Helper()
	cfg, err := clientcmd.LoadFromFile(path)
	if err != nil {
		t.Fatal(err)
	}
	cur := cfg.Contexts[cfg.CurrentContext]
	if path == n.Kubeconfig() || cur == nil || cfg.Clusters[cur.Cluster] == nil || cfg.AuthInfos[cur.AuthInfo] == nil {
		return false
	}
	user := cfg.AuthInfos[cur.AuthInfo]
	return cfg.Clusters[cur.Cluster].Server == "https://"+n.APIServer() && user.TokenFile != "" && user.ClientCertificateData == nil
}

// containerPID returns the one process on the node besides kwok.
func containerPID(t *testing.T, n *sim.Node) int {
	t.Helper()
	pids := n.PIDs()
	if len(pids) != 2 {
		t.Fatalf("node %s runs %v, want kwok and one container process", n.Name, pids)
	}
	if !slices.ContainsFunc(pids[1:], proc.Alive) {
		t.Fatalf("container process %d not alive", pids[1])
	}
	return pids[1]
}

// waitStopped waits (briefly: signals are delivered asynchronously) until
// the process is stopped or not, and returns its last state.
func waitStopped(pid int, stopped bool) byte {
	deadline := time.Now().Add(5 * time.Second)
	for {
		st, _ := proc.State(pid)
		if (st == 'T') == stopped || time.Now().After(deadline) {
			return st
		}
		time.Sleep(10 * time.Millisecond)
	}
}
