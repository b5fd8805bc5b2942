package doctor

import (
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	coordinationv1 "k8s.io/api/coordination/v1"
	corev1 "k8s.io/api/core/v1"
	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	utilversion "k8s.io/apimachinery/pkg/util/version"
	"sigs.k8s.io/yaml"

	"github.com/irisha/irisha/api/v1alpha1"
	"github.com/irisha/irisha/config"
)

// LabelZone is the well-known zone label of nodes.
const LabelZone = "topology.kubernetes.io/zone"

// schedulable reports whether IRIS could be scheduled on n: Ready, not
// cordoned, no NoSchedule or NoExecute taint (a control-plane node's, for
// one); why says otherwise.
func schedulable(n *corev1.Node) (ok bool, why string) {
	if n.Spec.Unschedulable {
		return false, "cordoned"
	}
	ready := false
	for _, c := range n.Status.Conditions {
		if c.Type == corev1.NodeReady {
			ready = c.Status == corev1.ConditionTrue
		}
	}
	if !ready {
		return false, "not Ready"
	}
	for _, t := range n.Spec.Taints {
		if t.Effect == corev1.TaintEffectNoSchedule || t.Effect == corev1.TaintEffectNoExecute {
			return false, "tainted " + t.Key + ":" + string(t.Effect)
		}
	}
	return true, ""
}

// schedulableNodes returns the nodes IRIS can run on and the others' reasons.
func schedulableNodes(s *Snapshot) (ok []*corev1.Node, not []string) {
	for i := range s.Nodes {
		n := &s.Nodes[i]
		if yes, why := schedulable(n); yes {
			ok = append(ok, n)
		} else {
			not = append(not, n.Name+": "+why)
		}
	}
	return ok, not
}

// zonesOf returns the distinct zones of nodes, sorted ("" for unlabelled
// nodes is left out).
func zonesOf(nodes []*corev1.Node) []string {
	var zones []string
	for _, n := range nodes {
		if z := n.Labels[LabelZone]; z != "" && !slices.Contains(zones, z) {
			zones = append(zones, z)
		}
	}
	slices.Sort(zones)
	return zones
}

// NodesRule wants at least 3 schedulable nodes in at least 2 zones: one to
// lose, one to fail over to, one more for the third replica and for the
// drain after; and a zone outage that leaves a node to go to.
func NodesRule(s *Snapshot) []Finding {
	if why := s.unreadable("nodes"); why != "" {
		return []Finding{unreadableFinding("nodes", AreaNodes, "nodes", why)}
	}
	ok, not := schedulableNodes(s)
	count := Finding{Check: "nodes.count", Area: AreaNodes,
		Summary: fmt.Sprintf("%d schedulable nodes", len(ok))}
	if len(not) > 0 {
		count.Summary += fmt.Sprintf(" of %d (%s)", len(s.Nodes), strings.Join(not, "; "))
	}
	switch {
	case len(ok) >= 3:
		count.Severity = OK
	case len(ok) == 2:
		count.Severity = Warning
		count.Breaks = "after one node loss no node is left to spare: a second failure, or draining the survivor, stops IRIS; a volume with 3 replicas cannot place them all"
		count.Fix = "run at least 3 schedulable nodes"
	default:
		count.Severity = Error
		count.Breaks = "no failover: when its node is lost, IRIS has no other node to move to"
		count.Fix = "run at least 3 schedulable nodes (uncordon, add nodes, or tolerate the taints that keep IRIS off them)"
	}
	zones := zonesOf(ok)
	zone := Finding{Check: "nodes.zones", Area: AreaNodes}
	if len(zones) >= 2 {
		zone.Severity = OK
		zone.Summary = fmt.Sprintf("%d zones: %s", len(zones), strings.Join(zones, ", "))
	} else {
		zone.Severity = Warning
		zone.Summary = "schedulable nodes in one zone"
		if len(zones) == 0 {
			zone.Summary = "no schedulable node has a " + LabelZone + " label"
		} else {
			zone.Summary += ": " + zones[0]
		}
		zone.Breaks = "a zone outage takes every node at once: nothing to fail over to"
		zone.Fix = "spread the nodes over 2 or more zones (label " + LabelZone + ") with a StorageClass that replicates across them"
	}
	return []Finding{count, zone}
}

// instancesUsing returns "namespace/name" of the instances (and the
// target) whose failover mode is m.
func instancesUsing(s *Snapshot, m v1alpha1.FailoverMode) []string {
	var out []string
	for _, inst := range allInstances(s) {
		if inst.Spec.Failover.Mode == m {
			out = append(out, inst.Namespace+"/"+inst.Name)
		}
	}
	return out
}

// allInstances is s.Instances, plus the target if they were not listed.
func allInstances(s *Snapshot) []*v1alpha1.IrisInstance {
	var out []*v1alpha1.IrisInstance
	for i := range s.Instances {
		out = append(out, &s.Instances[i])
	}
	if s.Target != nil && !slices.ContainsFunc(out, func(i *v1alpha1.IrisInstance) bool {
		return i.Namespace == s.Target.Namespace && i.Name == s.Target.Name
	}) {
		out = append(out, s.Target)
	}
	return out
}

// OutOfServiceTaintRule checks that the API server supports the
// node.kubernetes.io/out-of-service taint (GA in 1.28, beta and on by
// default since 1.26): failover mode NodeShutdown uses it to release a
// powered-off node's volumes at once.
func OutOfServiceTaintRule(s *Snapshot) []Finding {
	f := Finding{Check: "kubernetes.out-of-service-taint", Area: AreaKubernetes}
	if s.Version == nil {
		return []Finding{unreadableFinding(f.Check, f.Area, "the server version (/version)", s.unreadable("version"))}
	}
	v, err := utilversion.ParseGeneric(s.Version.GitVersion)
	if err != nil || v.Major() == 0 {
		// v0.0.0-master+$Format:%H$ is an API server built from source
		// without version stamping (the simulated cluster's, for one).
		f.Severity = Warning
		f.Summary = fmt.Sprintf("server version %q is no release version: out-of-service taint support unknown", s.Version.GitVersion)
		f.Breaks = "if the server is older than 1.26, failover mode NodeShutdown cannot release a powered-off node's volumes"
		f.Fix = "check the server's release (kubectl version); 1.28 or later has the taint"
		return []Finding{f}
	}
	shutdown := instancesUsing(s, v1alpha1.FailoverNodeShutdown)
	switch {
	case v.AtLeast(utilversion.MajorMinor(1, 28)):
		f.Severity = OK
		f.Summary = fmt.Sprintf("Kubernetes %s: the out-of-service taint is GA (failover mode NodeShutdown can release a dead node's volumes at once)", s.Version.GitVersion)
	case v.AtLeast(utilversion.MajorMinor(1, 26)):
		f.Severity = Warning
		f.Summary = fmt.Sprintf("Kubernetes %s: the out-of-service taint is beta (NodeOutOfServiceVolumeDetach, on by default)", s.Version.GitVersion)
		f.Breaks = "failover mode NodeShutdown relies on a beta feature; a cluster that turned the gate off never detaches the dead node's volumes"
		f.Fix = "upgrade to Kubernetes 1.28 or later"
	default:
		f.Severity = Warning
		f.Summary = fmt.Sprintf("Kubernetes %s: no out-of-service taint (it came in 1.26 beta, 1.28 GA)", s.Version.GitVersion)
		f.Breaks = "failover mode NodeShutdown cannot release a powered-off node's volumes: its failover waits out the 6-minute force detach, if at all"
		f.Fix = "upgrade to Kubernetes 1.28 or later, or use failover mode Lease"
		if len(shutdown) > 0 {
			f.Severity = Error
			f.Breaks = "instances " + strings.Join(shutdown, ", ") + " use failover mode NodeShutdown: " + f.Breaks
		}
	}
	return []Finding{f}
}

// expectedAPI is the irisha API this build installs: resource plurals of
// the embedded CRDs.
var expectedAPI = sync.OnceValues(func() ([]string, error) {
	docs, err := config.CRDs()
	if err != nil {
		return nil, err
	}
	var out []string
	for _, d := range docs {
		crd := &apiextensionsv1.CustomResourceDefinition{}
		if err := yaml.Unmarshal(d, crd); err != nil {
			return nil, fmt.Errorf("decoding an embedded CRD: %w", err)
		}
		out = append(out, crd.Spec.Names.Plural)
	}
	slices.Sort(out)
	return out, nil
})

// isOperator reports whether d runs irisha's operator: the labels of the
// install manifests, or the irisha-manager image run as `operator`.
func isOperator(d *appsv1.Deployment) bool {
	l := d.Spec.Template.Labels
	if l["app.kubernetes.io/name"] == "irisha" && l["app.kubernetes.io/component"] == "manager" {
		return true
	}
	for _, c := range d.Spec.Template.Spec.Containers {
		if strings.Contains(c.Image, "irisha-manager") && slices.Contains(append(slices.Clone(c.Command), c.Args...), "operator") {
			return true
		}
	}
	return false
}

// freshLease returns the Leases named name whose holder renewed them
// recently (within their duration plus a margin for clock skew between
// this machine and the holder).
func freshLease(s *Snapshot, name string) *coordinationv1.Lease {
	const skew = 30 * time.Second
	for i := range s.Leases {
		l := &s.Leases[i]
		if l.Name != name || l.Spec.HolderIdentity == nil || *l.Spec.HolderIdentity == "" || l.Spec.RenewTime == nil {
			continue
		}
		d := 15 * time.Second
		if l.Spec.LeaseDurationSeconds != nil {
			d = time.Duration(*l.Spec.LeaseDurationSeconds) * time.Second
		}
		if s.Now.Sub(l.Spec.RenewTime.Time) <= d+skew {
			return l
		}
	}
	return nil
}

func ago(now, at time.Time) string {
	d := now.Sub(at).Round(time.Second)
	if d < 0 {
		d = 0
	}
	return d.String() + " ago"
}

// OperatorRule checks the CRDs this build ships are served and that an
// operator runs: a Deployment of it with a Ready replica, or (run outside
// the cluster) a fresh leader Lease.
func OperatorRule(s *Snapshot) []Finding {
	return []Finding{crdsFinding(s), operatorFinding(s)}
}

func crdsFinding(s *Snapshot) Finding {
	f := Finding{Check: "operator.crds", Area: AreaOperator}
	want, err := expectedAPI()
	if err != nil {
		f.Severity, f.Summary = Warning, "this build's CRDs could not be read: "+err.Error()
		return f
	}
	if why := s.unreadable("api " + gvIrisha); why != "" {
		return unreadableFinding(f.Check, f.Area, "the "+gvIrisha+" API", why)
	}
	var missing []string
	for _, r := range want {
		if !s.served(gvIrisha, r) {
			missing = append(missing, r)
		}
	}
	switch {
	case len(missing) == 0:
		f.Severity, f.Summary = OK, "CRDs installed: "+strings.Join(want, ", ")+" ("+gvIrisha+")"
	case len(missing) == len(want):
		f.Severity, f.Summary = Warning, "irisha is not installed: no "+gvIrisha+" API"
		f.Breaks = "nothing yet: IrisInstances cannot be created"
		f.Fix = "install irisha (README, Install: irisha install, or kubectl apply --server-side -f dist/install.yaml)"
	default:
		f.Severity, f.Summary = Error, "CRDs missing: "+strings.Join(missing, ", ")
		f.Breaks = "the operator fails to watch what is missing, and those objects cannot be created"
		f.Fix = "apply the install manifests of this version again"
	}
	return f
}

func operatorFinding(s *Snapshot) Finding {
	f := Finding{Check: "operator.running", Area: AreaOperator}
	if why := s.unreadable("deployments"); why != "" {
		return unreadableFinding(f.Check, f.Area, "deployments", why)
	}
	var ready, notReady []string
	for i := range s.Deployments {
		d := &s.Deployments[i]
		if !isOperator(d) {
			continue
		}
		want := int32(1)
		if d.Spec.Replicas != nil {
			want = *d.Spec.Replicas
		}
		desc := fmt.Sprintf("Deployment %s/%s (%d/%d ready)", d.Namespace, d.Name, d.Status.ReadyReplicas, want)
		if d.Status.ReadyReplicas > 0 {
			ready = append(ready, desc)
		} else {
			notReady = append(notReady, desc)
		}
	}
	leader := ""
	if l := freshLease(s, leaseOperator); l != nil {
		leader = fmt.Sprintf("leader %s holds Lease %s/%s, renewed %s", *l.Spec.HolderIdentity, l.Namespace, l.Name, ago(s.Now, l.Spec.RenewTime.Time))
	}
	switch {
	case len(ready) > 0:
		f.Severity, f.Summary = OK, "operator runs: "+strings.Join(ready, ", ")
		if leader != "" {
			f.Summary += "; " + leader
		}
	case leader != "":
		f.Severity, f.Summary = OK, "an operator runs ("+leader+"), outside the cluster or without the install manifests' labels"
	case len(notReady) > 0:
		f.Severity, f.Summary = Error, "operator not ready: "+strings.Join(notReady, ", ")
		f.Breaks = "no failover, no backups, no growth: nothing acts on IrisInstances"
		f.Fix = "kubectl describe the Deployment and read its pods' logs"
	default:
		f.Severity, f.Summary = Warning, "no irisha operator found (no Deployment with its labels or the irisha-manager image, no fresh leader Lease "+leaseOperator+")"
		f.Breaks = "nothing acts on IrisInstances"
		f.Fix = "install irisha (README, Install)"
		if n := len(allInstances(s)); n > 0 {
			f.Severity = Error
			f.Breaks = fmt.Sprintf("%d IrisInstance(s) and nothing acting on them: no failover, no backups, no growth", n)
		}
	}
	return f
}

// InstanceRule sums up the --instance's phase and conditions.
func InstanceRule(s *Snapshot) []Finding {
	inst := s.Target
	if inst == nil {
		return nil
	}
	f := Finding{Check: "instance.status", Area: AreaInstance, Subject: "irisinstance/" + inst.Name}
	st := inst.Status
	phase := string(st.Phase)
	if phase == "" {
		phase = "no status"
	}
	f.Summary = fmt.Sprintf("%s/%s: %s", inst.Namespace, inst.Name, phase)
	if st.Node != "" {
		f.Summary += " on node " + st.Node
	}
	var odd []string
	for _, c := range st.Conditions {
		normal := map[string]bool{
			v1alpha1.ConditionReady:        c.Status == "True",
			v1alpha1.ConditionProgressing:  c.Status == "False",
			v1alpha1.ConditionDegraded:     c.Status == "False",
			v1alpha1.ConditionFailoverHeld: c.Status == "False",
			v1alpha1.ConditionVolumeGrowth: c.Status == "True",
			v1alpha1.ConditionResizing:     c.Status == "False",
			v1alpha1.ConditionRestored:     c.Status == "True",
		}
		if ok, known := normal[c.Type]; known && !ok {
			odd = append(odd, fmt.Sprintf("%s=%s (%s: %s)", c.Type, c.Status, c.Reason, c.Message))
		}
	}
	ready := meta.IsStatusConditionTrue(st.Conditions, v1alpha1.ConditionReady)
	switch {
	case st.Phase == v1alpha1.PhaseRunning && ready:
		f.Severity = OK
		if c := meta.FindStatusCondition(st.Conditions, v1alpha1.ConditionReady); c != nil && c.Message != "" {
			f.Summary += ": " + c.Message
		}
	case st.Phase == v1alpha1.PhaseDegraded:
		f.Severity = Error
		f.Breaks = "IRIS is not serving as it should"
		f.Fix = "irisha status " + inst.Name + " -n " + inst.Namespace
	default:
		f.Severity = Warning
		f.Breaks = "IRIS is not Ready (yet)"
		f.Fix = "irisha status " + inst.Name + " -n " + inst.Namespace
		if st.Phase == "" {
			f.Breaks = "the operator has not reported on it: is it running?"
		}
	}
	if len(odd) > 0 {
		f.Summary += "; " + strings.Join(odd, "; ")
		if f.Severity == OK {
			f.Severity = Warning
			f.Breaks = "see the conditions"
			f.Fix = "irisha status " + inst.Name + " -n " + inst.Namespace
		}
	}
	return []Finding{f}
}
