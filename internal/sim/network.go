package sim

import (
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"k8s.io/client-go/rest"

	"github.com/irisha/irisha/internal/sim/netproxy"
)

// The simulated network. Everything listens on 127.0.0.1:
//
//   - every node reaches the API server through its own proxy
//     (Node.APIServer), and so does every outside client
//     (Cluster.ClientKubeconfig, e.g. the operator); the control plane's
//     own components and the test harness (Cluster.Client) go direct;
//   - every node has a peer gateway (Node.PeerGateway), an HTTP proxy that
//     processes on the node use for the other nodes' IPs (Node.IP): a
//     connection to 10.1.0.X:P goes to 127.0.0.1:P if the path between the
//     two nodes is up.
//
// The state below (guarded by Cluster.netMu) is applied to the proxies
// and gateways after every change (applyNetworkLocked).

// netState is the cluster-wide part of the network.
type netState struct {
	// apiCut: CutAPIServer; every member's path to the API server is cut.
	apiCut bool
	// apiFrozen: FreezeAPIServer.
	apiFrozen bool
	// latency: SetAPILatency, on every node's and outside client's path.
	latency time.Duration
	// peerCuts: CutPeers.
	peerCuts map[nodePair]struct{}
	clients  map[string]*outsideClient
	closed   bool
}

// nodeNet is a node's part of the network (guarded by Cluster.netMu).
type nodeNet struct {
	apiCut   bool // Partition, PartitionFromAPIServer
	peersCut bool // Partition, PartitionFromPeers
	down     bool // Kill (powered off)
	latency  time.Duration
}

// outsideClient is a cluster member on no node with its own path to the
// API server.
type outsideClient struct {
	proxy      *netproxy.Proxy
	kubeconfig string
}

type nodePair [2]string

func pairOf(a, b string) nodePair {
	if a > b {
		a, b = b, a
	}
	return nodePair{a, b}
}

// peerRoutes is a snapshot of the peer network, replaced (never changed)
// at every change, so the gateways read it without a lock.
type peerRoutes struct {
	byIP     map[string]string // node IP -> node name
	down     map[string]bool
	isolated map[string]bool
	cuts     map[nodePair]struct{}
}

// reachable says why a process on node from cannot reach node to, or nil.
func (r *peerRoutes) reachable(from, to string) error {
	for _, n := range []string{from, to} {
		if r.down[n] {
			return fmt.Errorf("%s is powered off", n)
		}
	}
	if from == to {
		return nil
	}
	for _, n := range []string{from, to} {
		if r.isolated[n] {
			return fmt.Errorf("%s is partitioned from its peers", n)
		}
	}
	if _, cut := r.cuts[pairOf(from, to)]; cut {
		return fmt.Errorf("the network between %s and %s is cut", from, to)
	}
	return nil
}

// route is the Router of the peer gateway of node from.
func (r *peerRoutes) route(from, target string) (string, error) {
	host, port, err := net.SplitHostPort(target)
	if err != nil {
		return "", err
	}
	to, ok := r.byIP[host]
	if !ok {
		return "", fmt.Errorf("no route to host %s: the peer network has only the nodes' IPs", host)
	}
	if err := r.reachable(from, to); err != nil {
		return "", fmt.Errorf("%s unreachable from %s: %w", to, from, err)
	}
	return net.JoinHostPort("127.0.0.1", port), nil
}

func (c *Cluster) peerRouter(from string) netproxy.Router {
	return func(target string) (string, error) {
		r := c.routes.Load()
		if r == nil {
			return "", errors.New("the peer network is not up yet")
		}
		return r.route(from, target)
	}
}

// updateNetwork changes the network state and applies it.
func (c *Cluster) updateNetwork(change func()) {
	c.netMu.Lock()
	defer c.netMu.Unlock()
	change()
	c.applyNetworkLocked()
}

// applyNetworkLocked publishes a new peer routing snapshot and sets every
// proxy's cut and latency. The snapshot is stored before the gateways
// recheck their connections, so no connection a cut refuses survives it.
func (c *Cluster) applyNetworkLocked() {
	r := &peerRoutes{byIP: map[string]string{}, down: map[string]bool{}, isolated: map[string]bool{}, cuts: map[nodePair]struct{}{}}
	for _, n := range c.nodes {
		r.byIP[n.IP] = n.Name
		r.down[n.Name] = n.net.down
		r.isolated[n.Name] = n.net.peersCut
	}
	for p := range c.net.peerCuts {
		r.cuts[p] = struct{}{}
	}
	c.routes.Store(r)
	for _, n := range c.nodes {
		setCut(n.proxy, c.net.apiCut || n.net.apiCut || n.net.down)
		n.proxy.SetLatency(c.net.latency + n.net.latency)
		n.gateway.Recheck()
	}
	for _, cl := range c.net.clients {
		setCut(cl.proxy, c.net.apiCut)
		cl.proxy.SetLatency(c.net.latency)
	}
}

func setCut(p *netproxy.Proxy, cut bool) {
	if cut {
		p.Cut()
	} else {
		p.Heal()
	}
}

// ClientKubeconfig is the path of an admin kubeconfig for an outside
// client called name (created at the first call): a cluster member on no
// node, such as the operator, with a path to the API server of its own.
// CutAPIServer and SetAPILatency reach it; node chaos does not.
func (c *Cluster) ClientKubeconfig(name string) (string, error) {
	cl, err := c.outsideClient(name)
	if err != nil {
		return "", err
	}
	return cl.kubeconfig, nil
}

// ClientRESTConfig is ClientKubeconfig as a rest.Config.
func (c *Cluster) ClientRESTConfig(name string) (*rest.Config, error) {
	cl, err := c.outsideClient(name)
	if err != nil {
		return nil, err
	}
	return c.cp.RESTConfigVia(cl.proxy.Addr()), nil
}

func (c *Cluster) outsideClient(name string) (*outsideClient, error) {
	key := sanitize(name)
	c.netMu.Lock()
	defer c.netMu.Unlock()
	if c.net.closed {
		return nil, fmt.Errorf("the cluster is stopping: no client %s", name)
	}
	if cl, ok := c.net.clients[key]; ok {
		return cl, nil
	}
	p, err := netproxy.New(c.cp.APIServerAddr)
	if err != nil {
		return nil, err
	}
	dir := filepath.Join(c.dir, "clients")
	if err := os.MkdirAll(dir, 0o700); err != nil {
		p.Close()
		return nil, fmt.Errorf("creating %s: %w", dir, err)
	}
	cl := &outsideClient{proxy: p, kubeconfig: filepath.Join(dir, key+".kubeconfig")}
	if err := c.cp.WriteKubeconfig(cl.kubeconfig, p.Addr()); err != nil {
		p.Close()
		return nil, err
	}
	if c.net.clients == nil {
		c.net.clients = map[string]*outsideClient{}
	}
	c.net.clients[key] = cl
	c.applyNetworkLocked()
	return cl, nil
}

// closeClients closes the outside clients' proxies (Stop).
func (c *Cluster) closeClients() {
	c.netMu.Lock()
	c.net.closed = true
	clients := c.net.clients
	c.net.clients = nil
	c.netMu.Unlock()
	for _, cl := range clients {
		cl.proxy.Close()
	}
}

// FreezeAPIServer SIGSTOPs the kube-apiserver: every request, from every
// client (nodes, outside clients, the controller manager, the scheduler,
// the storage controllers and the test's own Client), hangs until
// ThawAPIServer, as with an API server that stopped answering. New
// connections are accepted by the kernel and then hang too.
func (c *Cluster) FreezeAPIServer() error {
	c.netMu.Lock()
	defer c.netMu.Unlock()
	if c.net.apiFrozen {
		return nil
	}
	if err := c.cp.APIServer().Signal(syscall.SIGSTOP); err != nil {
		return fmt.Errorf("freezing the API server: %w", err)
	}
	c.net.apiFrozen = true
	c.log.Info("API server frozen")
	return nil
}

// ThawAPIServer resumes a frozen API server (SIGCONT).
func (c *Cluster) ThawAPIServer() error {
	c.netMu.Lock()
	defer c.netMu.Unlock()
	return c.thawLocked()
}

func (c *Cluster) thawLocked() error {
	if !c.net.apiFrozen {
		return nil
	}
	if err := c.cp.APIServer().Signal(syscall.SIGCONT); err != nil {
		return fmt.Errorf("thawing the API server: %w", err)
	}
	c.net.apiFrozen = false
	c.log.Info("API server thawed")
	return nil
}

// APIServerFrozen reports whether FreezeAPIServer is in effect.
func (c *Cluster) APIServerFrozen() bool {
	c.netMu.Lock()
	defer c.netMu.Unlock()
	return c.net.apiFrozen
}

// CutAPIServer cuts every cluster member's path to the API server: every
// node's proxy and every outside client's (ClientKubeconfig) drop their
// connections and refuse new ones. The control plane itself (controller
// manager, scheduler, etcd), the storage controllers and the test's own
// Client keep their direct connections, so the node-lifecycle controller
// sees every node go silent and tests can look on.
func (c *Cluster) CutAPIServer() {
	c.updateNetwork(func() { c.net.apiCut = true })
	c.log.Info("API server cut off from every member")
}

// HealAPIServer ends CutAPIServer; node partitions stay.
func (c *Cluster) HealAPIServer() {
	c.updateNetwork(func() { c.net.apiCut = false })
	c.log.Info("API server reachable again")
}

// APIServerCut reports whether CutAPIServer is in effect.
func (c *Cluster) APIServerCut() bool {
	c.netMu.Lock()
	defer c.netMu.Unlock()
	return c.net.apiCut
}

// SetAPILatency makes the API server answer every node and outside client
// d late (0 removes it): what the API server sends back through their
// proxies is delayed by d, open connections (watches) included, in order.
// A node's own latency (Node.SetAPILatency) adds to it. The control plane
// and the test's own Client are not slowed.
func (c *Cluster) SetAPILatency(d time.Duration) {
	c.updateNetwork(func() { c.net.latency = max(d, 0) })
	c.log.Info("API latency set", "latency", d)
}

// APILatency is what SetAPILatency set.
func (c *Cluster) APILatency() time.Duration {
	c.netMu.Lock()
	defer c.netMu.Unlock()
	return c.net.latency
}

// CutPeers cuts the peer network between nodes a and b, both ways: open
// connections between them drop, new ones are refused. Their paths to the
// API server are untouched.
func (c *Cluster) CutPeers(a, b string) error {
	if err := c.checkPair(a, b); err != nil {
		return err
	}
	c.updateNetwork(func() {
		if c.net.peerCuts == nil {
			c.net.peerCuts = map[nodePair]struct{}{}
		}
		c.net.peerCuts[pairOf(a, b)] = struct{}{}
	})
	c.log.Info("Peer network cut", "between", a, "and", b)
	return nil
}

// HealPeers ends CutPeers(a, b). A node's own Partition stays.
func (c *Cluster) HealPeers(a, b string) error {
	if err := c.checkPair(a, b); err != nil {
		return err
	}
	c.updateNetwork(func() { delete(c.net.peerCuts, pairOf(a, b)) })
	c.log.Info("Peer network healed", "between", a, "and", b)
	return nil
}

func (c *Cluster) checkPair(a, b string) error {
	var unknown []string
	for _, n := range []string{a, b} {
		if c.Node(n) == nil {
			unknown = append(unknown, n)
		}
	}
	if len(unknown) > 0 {
		return fmt.Errorf("no node %s", strings.Join(unknown, ", "))
	}
	if a == b {
		return fmt.Errorf("cannot cut %s from itself", a)
	}
	return nil
}

// PeerGateway is the host:port of the node's peer gateway, the HTTP proxy
// (CONNECT, and absolute-form requests) through which processes on the
// node reach other nodes' IPs.
func (n *Node) PeerGateway() string { return n.gateway.Addr() }

// PeerProxyEnv is the environment that sends a process's HTTP(S) traffic
// to other nodes through the node's peer gateway: HTTP_PROXY and
// HTTPS_PROXY (and their lower-case forms). Go's net/http never proxies
// loopback hosts, so the process's path to the API server (127.0.0.1)
// stays direct. StartProcess adds it to every process on the node.
func (n *Node) PeerProxyEnv() []string {
	u := "http://" + n.gateway.Addr()
	return []string{"HTTP_PROXY=" + u, "HTTPS_PROXY=" + u, "http_proxy=" + u, "https_proxy=" + u}
}

// proxyVars are the variables that would steer a process's HTTP traffic
// around the peer gateway.
var proxyVars = []string{"HTTP_PROXY", "HTTPS_PROXY", "NO_PROXY", "ALL_PROXY"}

// withPeerProxy is the environment of a process on the node: env (nil is
// the host's, minus its proxy settings) with PeerProxyEnv. Variables env
// sets itself win.
func (n *Node) withPeerProxy(env []string) []string {
	if env != nil {
		return append(n.PeerProxyEnv(), env...)
	}
	var out []string
	for _, kv := range os.Environ() {
		k, _, _ := strings.Cut(kv, "=")
		skip := false
		for _, v := range proxyVars {
			if strings.EqualFold(k, v) {
				skip = true
			}
		}
		if !skip {
			out = append(out, kv)
		}
	}
	return append(out, n.PeerProxyEnv()...)
}

// Partition cuts the node's network: to the API server (open connections
// drop, new ones are refused) and to every peer, both ways. Everything on
// the node keeps running.
func (n *Node) Partition() {
	n.c.updateNetwork(func() { n.net.apiCut, n.net.peersCut = true, true })
	n.log.Info("Node partitioned", "node", n.Name)
}

// PartitionFromAPIServer cuts only the node's path to the API server; its
// peers still reach it and it reaches them.
func (n *Node) PartitionFromAPIServer() {
	n.c.updateNetwork(func() { n.net.apiCut = true })
	n.log.Info("Node partitioned from the API server", "node", n.Name)
}

// PartitionFromPeers cuts only the node from its peers, both ways; its
// path to the API server stays.
func (n *Node) PartitionFromPeers() {
	n.c.updateNetwork(func() { n.net.peersCut = true })
	n.log.Info("Node partitioned from its peers", "node", n.Name)
}

// Heal ends Partition, PartitionFromAPIServer and PartitionFromPeers.
// Cluster-wide cuts (CutAPIServer, CutPeers) stay.
func (n *Node) Heal() {
	n.c.updateNetwork(func() { n.net.apiCut, n.net.peersCut = false, false })
	n.log.Info("Node partition healed", "node", n.Name)
}

// Partitioned reports whether the node is partitioned (from the API
// server, its peers or both) by Partition, PartitionFromAPIServer or
// PartitionFromPeers.
func (n *Node) Partitioned() bool {
	n.c.netMu.Lock()
	defer n.c.netMu.Unlock()
	return n.net.apiCut || n.net.peersCut
}

// SetAPILatency delays what the API server sends this node by d (0
// removes it), on top of the cluster's SetAPILatency.
func (n *Node) SetAPILatency(d time.Duration) {
	n.c.updateNetwork(func() { n.net.latency = max(d, 0) })
	n.log.Info("Node API latency set", "node", n.Name, "latency", d)
}
