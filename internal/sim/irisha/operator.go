package simirisha

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"os/exec"
	"strings"
	"sync"
	"time"

	coordinationv1 "k8s.io/api/coordination/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	"k8s.io/client-go/tools/clientcmd"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/irisha/irisha/config"
	"github.com/irisha/irisha/internal/resources"
	"github.com/irisha/irisha/internal/sim"
	"github.com/irisha/irisha/internal/sim/proc"
	"github.com/irisha/irisha/internal/witness"
)

// pollInterval is how often readiness of the CRDs and the operator is
// checked (neither offers a watch that says "serving").
const pollInterval = 50 * time.Millisecond

// OperatorOptions of StartOperator.
type OperatorOptions struct {
	// AgentImage is passed as --agent-image (nothing is pulled in the sim).
	AgentImage string
	// LeaderElect runs with --leader-elect on a Lease in
	// LeaderElectionNamespace (default "irisha-system", created if needed).
	// Off by default: the sim runs one operator process at a time, and with
	// election a restarted operator waits out the killed one's Lease (15 s),
	// which a test of "operator killed mid-failover" may or may not want.
	LeaderElect             bool
	LeaderElectionNamespace string
	// Args are added to the command line (e.g. "--zap-log-level=debug").
	Args []string
	// Impersonate runs the operator as this user (e.g. the installed
	// ServiceAccount, "system:serviceaccount:irisha-system:irisha-manager"),
	// so the API server authorizes its every request as that user's.
	Impersonate string
}

// Operator is `irisha-manager operator` running next to the simulated
// cluster, as the outside client "operator" (sim.Cluster.ClientKubeconfig):
// it runs on no simulated node, so no node chaos reaches it, but
// CutAPIServer and SetAPILatency do.
type Operator struct {
	c    *sim.Cluster
	bins Binaries
	opts OperatorOptions

	mu     sync.Mutex
	p      *proc.Process
	starts int
}

// StartOperator installs irisha's CRDs and starts the operator; it returns
// once the operator serves its health endpoint. The cluster's Stop kills
// it (it is in c.PIDs()).
func StartOperator(ctx context.Context, c *sim.Cluster, bins Binaries, opts OperatorOptions) (*Operator, error) {
	if err := InstallCRDs(ctx, c); err != nil {
		return nil, err
	}
	if opts.LeaderElect {
		if opts.LeaderElectionNamespace == "" {
			opts.LeaderElectionNamespace = "irisha-system"
		}
		if err := c.CreateNamespace(ctx, opts.LeaderElectionNamespace); err != nil && !apierrors.IsAlreadyExists(err) {
			return nil, err
		}
	}
	o := &Operator{c: c, bins: bins, opts: opts}
	if err := o.Start(ctx); err != nil {
		return nil, err
	}
	return o, nil
}

// Start starts the operator process again (after Kill or Stop) and waits
// until it serves /readyz.
func (o *Operator) Start(ctx context.Context) error {
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.p != nil && !o.p.Exited() {
		return errors.New("the operator is already running")
	}
	health, err := freeAddr()
	if err != nil {
		return err
	}
	args := []string{"operator",
		"--metrics-bind-address", "0",
		"--health-probe-bind-address", health,
	}
	if o.opts.AgentImage != "" {
		args = append(args, "--agent-image", o.opts.AgentImage)
	}
	if o.opts.LeaderElect {
		args = append(args, "--leader-elect", "--leader-election-namespace", o.opts.LeaderElectionNamespace)
	} else {
		// The operator elects a leader unless told not to.
		args = append(args, "--leader-elect=false")
	}
	args = append(args, o.opts.Args...)
	kubeconfig, err := o.c.ClientKubeconfig("operator")
	if err != nil {
		return err
	}
	if o.opts.Impersonate != "" {
		if kubeconfig, err = impersonating(kubeconfig, o.opts.Impersonate); err != nil {
			return err
		}
	}
	cmd := exec.Command(o.bins.Manager, args...)
	cmd.Env = append(hostEnv(""), "KUBECONFIG="+kubeconfig)
	o.starts++
	// One log per start: <cluster dir>/proc-operator-<n>.log.
	p, err := o.c.StartProcess(fmt.Sprintf("operator-%d", o.starts), cmd)
	if err != nil {
		return fmt.Errorf("starting the operator: %w", err)
	}
	o.p = p
	if err := waitServing(ctx, p, "http://"+health+"/readyz"); err != nil {
		_ = p.Kill()
		return fmt.Errorf("waiting for the operator (log in %s): %w", o.c.Dir(), err)
	}
	return nil
}

// Kill SIGKILLs the operator, as a node crash or OOM kill would: no
// cleanup, no leader Lease release.
func (o *Operator) Kill() error {
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.p == nil {
		return nil
	}
	return o.p.Kill()
}

// Stop stops the operator gracefully (SIGTERM, SIGKILL after grace).
func (o *Operator) Stop(grace time.Duration) error {
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.p == nil {
		return nil
	}
	return o.p.Terminate(grace)
}

// PID of the current (or last) operator process, 0 if none started.
func (o *Operator) PID() int {
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.p == nil {
		return 0
	}
	return o.p.PID()
}

// waitServing polls url until it answers 200, the process exits or ctx
// ends.
func waitServing(ctx context.Context, p *proc.Process, url string) error {
	ticker := time.NewTicker(pollInterval)
	defer ticker.Stop()
	hc := &http.Client{Timeout: time.Second}
	for {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
		if err != nil {
			return err
		}
		if resp, err := hc.Do(req); err == nil {
			_ = resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
		}
		select {
		case <-p.Done():
			return fmt.Errorf("the process exited: %v", p.Err())
		case <-ctx.Done():
			return ctx.Err()
		case <-ticker.C:
		}
	}
}

// InstallCRDs creates irisha's CRDs (those embedded in package config) if
// missing and waits until they are Established, so objects of them can be
// created at once.
func InstallCRDs(ctx context.Context, c *sim.Cluster) error {
	crds, err := config.CRDs()
	if err != nil {
		return err
	}
	for _, doc := range crds {
		u := &unstructured.Unstructured{}
		if err := utilyaml.Unmarshal(doc, &u.Object); err != nil {
			return fmt.Errorf("decoding a CRD: %w", err)
		}
		if err := c.Client().Create(ctx, u); err != nil && !apierrors.IsAlreadyExists(err) {
			return fmt.Errorf("creating CRD %s: %w", u.GetName(), err)
		}
		if err := waitEstablished(ctx, c.Client(), u.GetName()); err != nil {
			return err
		}
	}
	return nil
}

func waitEstablished(ctx context.Context, cl client.Client, name string) error {
	ticker := time.NewTicker(pollInterval)
	defer ticker.Stop()
	for {
		u := &unstructured.Unstructured{}
		u.SetGroupVersionKind(schema.GroupVersionKind{Group: "apiextensions.k8s.io", Version: "v1", Kind: "CustomResourceDefinition"})
		if err := cl.Get(ctx, client.ObjectKey{Name: name}, u); err == nil && established(u) {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("waiting for CRD %s to be established: %w", name, ctx.Err())
		case <-ticker.C:
		}
	}
}

func established(u *unstructured.Unstructured) bool {
	conds, _, _ := unstructured.NestedSlice(u.Object, "status", "conditions")
	for _, c := range conds {
		m, ok := c.(map[string]any)
		if ok && m["type"] == "Established" && m["status"] == "True" {
			return true
		}
	}
	return false
}

// WitnessNamespace is where StartWitnesses runs the node witnesses.
const WitnessNamespace = "irisha-system"

// StartWitnesses deploys the node witnesses' DaemonSet (resources.Witnesses)
// in WitnessNamespace, so the real DaemonSet controller puts one on every
// node and the simulated kubelets run them (Runner), and waits until every
// node's witness has written its record. Pass
// "--witness-namespace="+WitnessNamespace to the operator.
func StartWitnesses(ctx context.Context, c *sim.Cluster) error {
	if err := c.CreateNamespace(ctx, WitnessNamespace); err != nil && !apierrors.IsAlreadyExists(err) {
		return err
	}
	objs := resources.Witnesses(WitnessNamespace, "irisha:sim")
	for _, o := range []client.Object{objs.ServiceAccount, objs.Role, objs.RoleBinding, objs.DaemonSet} {
		if err := c.Client().Create(ctx, o); err != nil && !apierrors.IsAlreadyExists(err) {
			return fmt.Errorf("creating %s %s: %w", o.GetObjectKind().GroupVersionKind().Kind, o.GetName(), err)
		}
	}
	ticker := time.NewTicker(pollInterval)
	defer ticker.Stop()
	for {
		written := 0
		for _, n := range c.Nodes() {
			l := &coordinationv1.Lease{}
			if err := c.Client().Get(ctx, client.ObjectKey{Namespace: WitnessNamespace, Name: witness.RecordName(n.Name)}, l); err == nil && l.Annotations[witness.AnnotationEcho] != "" {
				written++
			}
		}
		if written == len(c.Nodes()) {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("waiting for every node's witness to write its record (%d of %d did): %w", written, len(c.Nodes()), ctx.Err())
		case <-ticker.C:
		}
	}
}

// impersonating writes a copy of kubeconfig whose user acts as user.
func impersonating(kubeconfig, user string) (string, error) {
	cfg, err := clientcmd.LoadFromFile(kubeconfig)
	if err != nil {
		return "", fmt.Errorf("reading %s: %w", kubeconfig, err)
	}
	for _, a := range cfg.AuthInfos {
		a.Impersonate = user
	}
	out := strings.TrimSuffix(kubeconfig, ".kubeconfig") + "-as-" + strings.NewReplacer(":", "-", "/", "-").Replace(user) + ".kubeconfig"
	if err := clientcmd.WriteToFile(*cfg, out); err != nil {
		return "", fmt.Errorf("writing %s: %w", out, err)
	}
	return out, nil
}
