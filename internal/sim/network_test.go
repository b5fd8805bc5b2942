package sim_test

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"math"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os/exec"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"

	"github.com/irisha/irisha/internal/sim"
)

func readyCondition(ctx context.Context, t *testing.T, c *sim.Cluster, node string) corev1.NodeCondition {
	t.Helper()
	n, err := c.Clientset().CoreV1().Nodes().Get(ctx, node, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	return readyOf(n)
}

func readyOf(n *corev1.Node) corev1.NodeCondition {
	for _, c := range n.Status.Conditions {
		if c.Type == corev1.NodeReady {
			return c
		}
	}
	return corev1.NodeCondition{}
}

// TestNodeConditionTransitionTimes: the heartbeat writes conditions as a
// kubelet does. A heartbeat that finds Ready True keeps its
// lastTransitionTime; a node that comes back after the node lifecycle
// controller marked it Unknown is Ready since then, not since its
// creation.
func TestNodeConditionTransitionTimes(t *testing.T) {
	timings := sim.FastTimings()
	timings.NodeStatusPeriod = 2 * time.Second
	c := startCluster(t, sim.Options{Nodes: 1, Timings: timings})
	ctx, cancel := context.WithTimeout(context.Background(), testTimeout)
	defer cancel()
	node := c.Nodes()[0]

	before := readyCondition(ctx, t, c, node.Name)
	if err := sim.WaitForNode(ctx, c.Clientset(), node.Name, func(n *corev1.Node) bool {
		return readyOf(n).LastHeartbeatTime.After(before.LastHeartbeatTime.Time)
	}); err != nil {
		t.Fatalf("waiting for a heartbeat: %v", err)
	}
	after := readyCondition(ctx, t, c, node.Name)
	if after.Status != corev1.ConditionTrue || !after.LastTransitionTime.Equal(&before.LastTransitionTime) {
		t.Fatalf("after a heartbeat Ready is %s since %v, want True since %v", after.Status, after.LastTransitionTime, before.LastTransitionTime)
	}

	killed := time.Now()
	if err := node.Kill(); err != nil {
		t.Fatal(err)
	}
	if err := sim.WaitForNode(ctx, c.Clientset(), node.Name, sim.NodeNotReady); err != nil {
		t.Fatal(err)
	}
	if err := node.BringBack(ctx); err != nil {
		t.Fatal(err)
	}
	if err := sim.WaitForNode(ctx, c.Clientset(), node.Name, sim.NodeReady); err != nil {
		t.Fatal(err)
	}
	back := readyCondition(ctx, t, c, node.Name)
	if !back.LastTransitionTime.After(killed) {
		t.Fatalf("Ready again since %v, want after the kill at %v", back.LastTransitionTime, killed)
	}
}

// getTook does one GET through cs and says how long it took.
func getTook(ctx context.Context, cs kubernetes.Interface) (time.Duration, error) {
	start := time.Now()
	_, err := cs.CoreV1().Namespaces().Get(ctx, metav1.NamespaceDefault, metav1.GetOptions{})
	return time.Since(start), err
}

// reaches reports whether one GET through cs succeeds within 2 s. A
// client-go GET retries on resets and EOFs, so a cut path is an error only
// after the deadline.
func reaches(ctx context.Context, cs kubernetes.Interface) error {
	ctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	_, err := getTook(ctx, cs)
	return err
}

func clientset(t *testing.T, cfg *rest.Config, err error) kubernetes.Interface {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
	cfg.Timeout = 5 * time.Second
	cs, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return cs
}

// TestAPIServerChaos: latency on every member's path (and one node's on
// top), the API server cut from every member while the harness looks on,
// and the API server frozen for everyone.
func TestAPIServerChaos(t *testing.T) {
	c := startCluster(t, sim.Options{Nodes: 1})
	ctx, cancel := context.WithTimeout(context.Background(), testTimeout)
	defer cancel()
	node := c.Nodes()[0]
	onNode := clientset(t, node.RESTConfig(), nil)
	outsideCfg, err := c.ClientRESTConfig("tester")
	outside := clientset(t, outsideCfg, err)
	direct := c.Clientset()

	const d = 300 * time.Millisecond
	c.SetAPILatency(d)
	node.SetAPILatency(d)
	if took, err := getTook(ctx, outside); err != nil || took < d {
		t.Fatalf("outside client with %v latency: %v, %v", d, took, err)
	}
	if took, err := getTook(ctx, onNode); err != nil || took < 2*d {
		t.Fatalf("node with %v + %v latency: %v, %v", d, d, took, err)
	}
	c.SetAPILatency(0)
	node.SetAPILatency(0)
	// The fastest of a few GETs: one alone can take longer than the
	// latency that was removed on a machine busy with other tests.
	fastest := time.Duration(math.MaxInt64)
	for range 5 {
		took, err := getTook(ctx, onNode)
		if err != nil {
			t.Fatalf("node without latency: %v", err)
		}
		fastest = min(fastest, took)
	}
	if fastest >= d {
		t.Fatalf("node without latency: the fastest of 5 GETs took %v", fastest)
	}

	c.CutAPIServer()
	for name, cs := range map[string]kubernetes.Interface{"node": onNode, "outside client": outside} {
		if err := reaches(ctx, cs); err == nil {
			t.Fatalf("%s reached a cut API server", name)
		}
	}
	if _, err := getTook(ctx, direct); err != nil {
		t.Fatalf("the harness's direct client: %v", err)
	}
	// A node's own partition outlives the cluster-wide cut.
	node.PartitionFromAPIServer()
	c.HealAPIServer()
	if _, err := getTook(ctx, outside); err != nil {
		t.Fatalf("outside client after healing: %v", err)
	}
	if err := reaches(ctx, onNode); err == nil {
		t.Fatal("a node partitioned from the API server reached it")
	}
	node.Heal()
	if _, err := getTook(ctx, onNode); err != nil {
		t.Fatalf("node after healing: %v", err)
	}

	if err := c.FreezeAPIServer(); err != nil {
		t.Fatal(err)
	}
	for name, cs := range map[string]kubernetes.Interface{"node": onNode, "harness": direct} {
		hctx, hcancel := context.WithTimeout(ctx, time.Second)
		_, err := getTook(hctx, cs)
		hcancel()
		if err == nil {
			t.Fatalf("%s got an answer from a frozen API server", name)
		}
	}
	if err := c.ThawAPIServer(); err != nil {
		t.Fatal(err)
	}
	if _, err := getTook(ctx, onNode); err != nil {
		t.Fatalf("node after thawing: %v", err)
	}
}

// witness serves its node's name, standing for a per-node server that
// advertises <node IP>:<port>.
func witness(t *testing.T, name string) string {
	t.Helper()
	s := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { _, _ = io.WriteString(w, name) }))
	t.Cleanup(s.Close)
	u, err := url.Parse(s.URL)
	if err != nil {
		t.Fatal(err)
	}
	return u.Port()
}

// TestPeerNetwork: nodes reach each other's IPs through their peer
// gateways; a Partition cuts a node from its peers both ways (open tunnels
// drop); PartitionFromAPIServer and CutPeers build a split with nodes 2 and
// 3 cut from the API server but talking, and node 1 alone with it; a
// process on a node gets the gateway in its environment.
func TestPeerNetwork(t *testing.T) {
	c := startCluster(t, sim.Options{Nodes: 3})
	ctx, cancel := context.WithTimeout(context.Background(), testTimeout)
	defer cancel()
	nodes := c.Nodes()
	ports := map[string]string{}
	clients := map[string]*http.Client{}
	api := map[string]kubernetes.Interface{}
	for _, n := range nodes {
		ports[n.Name] = witness(t, n.Name)
		tr := &http.Transport{Proxy: http.ProxyURL(&url.URL{Scheme: "http", Host: n.PeerGateway()})}
		t.Cleanup(tr.CloseIdleConnections)
		clients[n.Name] = &http.Client{Transport: tr, Timeout: 5 * time.Second}
		api[n.Name] = clientset(t, n.RESTConfig(), nil)
	}
	ask := func(from, to *sim.Node) error {
		resp, err := clients[from.Name].Get("http://" + net.JoinHostPort(to.IP, ports[to.Name]) + "/")
		if err != nil {
			return err
		}
		defer resp.Body.Close()
		body, err := io.ReadAll(resp.Body)
		if err == nil && string(body) != to.Name {
			err = fmt.Errorf("answered %q", body)
		}
		return err
	}
	// want: the pairs (from, to) that must connect; every other must not.
	check := func(step string, want map[[2]int]bool) {
		t.Helper()
		for i, from := range nodes {
			for j, to := range nodes {
				err := ask(from, to)
				if ok := i == j || want[[2]int{i + 1, j + 1}]; ok != (err == nil) {
					t.Errorf("%s: %s -> %s: %v, want reachable %v", step, from.Name, to.Name, err, ok)
				}
			}
		}
	}
	all := map[[2]int]bool{{1, 2}: true, {1, 3}: true, {2, 1}: true, {2, 3}: true, {3, 1}: true, {3, 2}: true}
	check("all up", all)

	// A tunnel from node 2 to node 1, open when node 1 is partitioned.
	tunnel, err := net.Dial("tcp", nodes[1].PeerGateway())
	if err != nil {
		t.Fatal(err)
	}
	defer tunnel.Close()
	target := net.JoinHostPort(nodes[0].IP, ports[nodes[0].Name])
	fmt.Fprintf(tunnel, "CONNECT %s HTTP/1.1\r\nHost: %s\r\n\r\n", target, target)
	br := bufio.NewReader(tunnel)
	if resp, err := http.ReadResponse(br, &http.Request{Method: http.MethodConnect}); err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("CONNECT %s from node-2: %v %v", target, resp, err)
	}
	nodes[0].Partition()
	_ = tunnel.SetReadDeadline(time.Now().Add(5 * time.Second))
	if _, err := br.ReadByte(); err == nil || strings.Contains(err.Error(), "timeout") {
		t.Fatalf("the tunnel to a partitioned node: %v, want it dropped", err)
	}
	check("node-1 partitioned", map[[2]int]bool{{2, 3}: true, {3, 2}: true})
	if err := reaches(ctx, api["node-1"]); err == nil {
		t.Error("a partitioned node reached the API server")
	}
	nodes[0].Heal()
	check("node-1 healed", all)

	// Nodes 2 and 3 cut from the API server but talking to each other,
	// node 1 alone with the API server.
	nodes[1].PartitionFromAPIServer()
	nodes[2].PartitionFromAPIServer()
	for _, other := range []string{"node-2", "node-3"} {
		if err := c.CutPeers("node-1", other); err != nil {
			t.Fatal(err)
		}
	}
	check("split", map[[2]int]bool{{2, 3}: true, {3, 2}: true})
	for name, want := range map[string]bool{"node-1": true, "node-2": false, "node-3": false} {
		if err := reaches(ctx, api[name]); (err == nil) != want {
			t.Errorf("split: %s reaches the API server: %v, want %v", name, err, want)
		}
	}
	nodes[1].Heal()
	nodes[2].Heal()
	check("API healed, peers still cut", map[[2]int]bool{{2, 3}: true, {3, 2}: true})
	for _, other := range []string{"node-2", "node-3"} {
		if err := c.HealPeers("node-1", other); err != nil {
			t.Fatal(err)
		}
	}
	check("healed", all)
	if err := c.CutPeers("node-1", "node-9"); err == nil {
		t.Error("CutPeers accepted an unknown node")
	}

	// A powered-off machine answers no one; back, it does.
	if err := nodes[2].Kill(); err != nil {
		t.Fatal(err)
	}
	if err := ask(nodes[1], nodes[2]); err == nil {
		t.Error("reached a killed node")
	}
	if err := nodes[2].BringBack(ctx); err != nil {
		t.Fatal(err)
	}
	check("node-3 back", all)

	// Processes on a node get the node's gateway.
	var out bytes.Buffer
	cmd := exec.Command("sh", "-c", `printf '%s %s' "$HTTP_PROXY" "$HTTPS_PROXY"`)
	cmd.Stdout = &out
	p, err := nodes[1].StartProcess("env", cmd)
	if err != nil {
		t.Fatal(err)
	}
	<-p.Done()
	gw := "http://" + nodes[1].PeerGateway()
	if got := out.String(); got != gw+" "+gw {
		t.Errorf("a process on node-2 got proxies %q, want %s", got, gw)
	}
}
