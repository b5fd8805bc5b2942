package fencing

import (
	"fmt"
	"math/rand/v2"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"

	"github.com/irisha/irisha/api/v1alpha1"
	"github.com/irisha/irisha/internal/quorum"
)

// randomObservation draws an instance in any state: any mode, a Lease of any
// age (possibly released or missing), pods on any node in any phase, nodes
// in any condition, attachments anywhere, and possibly a failover in progress.
func randomObservation(r *rand.Rand) Observation {
	nodeNames := []string{"node-1", "node-2", "node-3"}
	pick := func(xs []string) string { return xs[r.IntN(len(xs))] }
	o := Observation{
		Now:    t0.Add(time.Duration(r.IntN(60_000)) * time.Millisecond),
		Mode:   []v1alpha1.FailoverMode{v1alpha1.FailoverLease, v1alpha1.FailoverNodeShutdown, v1alpha1.FailoverOff}[r.IntN(3)],
		Timing: Timing{SkewMargin: time.Duration(r.IntN(5000)) * time.Millisecond, KubeletSilence: time.Duration(r.IntN(30)) * time.Second},
		Nodes:  map[string]Node{},
	}
	for _, n := range nodeNames {
		if r.IntN(6) == 0 {
			continue // Node object deleted
		}
		o.Nodes[n] = Node{
			Name:        n,
			Ready:       []corev1.ConditionStatus{corev1.ConditionTrue, corev1.ConditionFalse, corev1.ConditionUnknown}[r.IntN(3)],
			LeaseRenew:  t0.Add(time.Duration(r.IntN(60)) * time.Second),
			LeaseSeen:   randomTime(r),
			MarkedSince: randomTime(r),
			// the rest are coin flips
			Unschedulable: r.IntN(2) == 0, CordonedByIrisha: r.IntN(2) == 0, ConfirmedOff: r.IntN(2) == 0,
			OutOfService: r.IntN(2) == 0, TaintedByIrisha: r.IntN(2) == 0, VolumeInUse: r.IntN(2) == 0,
		}
	}
	for i := range r.IntN(3) {
		o.Pods = append(o.Pods, Pod{
			Name: fmt.Sprintf("iris-%d", i), UID: fmt.Sprintf("uid-%d", i), Node: pick(append(nodeNames, "")),
			Deleting: r.IntN(3) == 0, IrisRunning: r.IntN(2) == 0, Ready: r.IntN(2) == 0,
		})
	}
	for i := range r.IntN(3) {
		o.Attachments = append(o.Attachments, Attachment{Name: fmt.Sprintf("csi-%d", i), Node: pick(nodeNames), Attached: r.IntN(2) == 0, Deleting: r.IntN(4) == 0})
	}
	if r.IntN(8) != 0 {
		renewed := t0.Add(time.Duration(r.IntN(50_000)) * time.Millisecond)
		l := &Lease{Duration: time.Duration(5+r.IntN(20)) * time.Second, RenewTime: renewed, Since: renewed.Add(time.Duration(r.IntN(3000)) * time.Millisecond)}
		switch k := r.IntN(4); {
		case k == 0:
			// released
		case len(o.Pods) > 0 && k < 3:
			p := o.Pods[r.IntN(len(o.Pods))]
			l.Holder = p.Identity()
		default:
			l.Holder = "gone_uid-gone"
		}
		o.Lease = l
	}
	if r.IntN(3) == 0 {
		t := Target{Reason: []string{ReasonLeaseExpired, ReasonNodeShutdown}[r.IntN(2)], Node: pick(nodeNames), Pod: "iris-0", PodUID: "uid-0"}
		if r.IntN(2) == 0 && o.Lease != nil {
			t.LeaseRenewTime = o.Lease.RenewTime
		}
		o.Failover = &Failover{Target: t, DetectedAt: t0.Add(time.Duration(r.IntN(60)) * time.Second), Done: r.IntN(2) == 0}
		o.Failover.Abandoned = o.Failover.Done && r.IntN(4) == 0
	}
	if r.IntN(2) == 0 {
		o.Witnesses = &quorum.Judgement{Quorum: r.IntN(3) != 0, NotBefore: t0.Add(time.Duration(r.IntN(60_000)) * time.Millisecond)}
	}
	return o
}

// randomTime is zero (never seen) one time in five, else a second within
// the minute the observations cover.
func randomTime(r *rand.Rand) time.Time {
	if r.IntN(5) == 0 {
		return time.Time{}
	}
	return t0.Add(time.Duration(r.IntN(60)) * time.Second)
}

// randomHistory draws other instances' failovers of a node and irisha pods
// on it, from a few UIDs so that pods and failovers often meet.
func randomHistory(r *rand.Rand) *NodeHistory {
	h := &NodeHistory{}
	for i := range r.IntN(3) {
		f := Failover{
			Target:     Target{Reason: ReasonLeaseExpired, Node: "node-1", Pod: fmt.Sprintf("other-%d", i), PodUID: fmt.Sprintf("uid-other-%d", r.IntN(3))},
			DetectedAt: t0.Add(time.Duration(r.IntN(60)) * time.Second),
			Done:       r.IntN(3) != 0,
		}
		f.Abandoned = f.Done && r.IntN(4) == 0
		h.Failovers = append(h.Failovers, f)
	}
	for i := range r.IntN(3) {
		h.Pods = append(h.Pods, NodePod{Name: fmt.Sprintf("pod-%d", i), UID: fmt.Sprintf("uid-other-%d", r.IntN(4)), Orphaned: r.IntN(4) == 0})
	}
	return h
}

// randomNodeView is a node irisha may have marked, with any history.
func randomNodeView(r *rand.Rand) NodeView {
	h := randomHistory(r)
	for i := range h.Failovers {
		h.Failovers[i].Node = "node-1"
	}
	return NodeView{
		Now:    t0.Add(time.Duration(r.IntN(80)) * time.Second),
		Timing: Timing{SkewMargin: time.Duration(r.IntN(5000)) * time.Millisecond, KubeletSilence: time.Duration(r.IntN(30)) * time.Second},
		Node: Node{
			Name:      "node-1",
			Ready:     []corev1.ConditionStatus{corev1.ConditionTrue, corev1.ConditionFalse, corev1.ConditionUnknown}[r.IntN(3)],
			LeaseSeen: randomTime(r), MarkedSince: randomTime(r),
			Unschedulable: r.IntN(2) == 0, CordonedByIrisha: r.IntN(2) == 0,
			OutOfService: r.IntN(2) == 0, TaintedByIrisha: r.IntN(2) == 0,
		},
		NodeHistory: *h,
	}
}

// checkGivenBack: a node is given back only if it is back and nothing of
// a failover is left on it. The rule is restated from the outside, so a
// TidyNode that skips one of its conditions fails here.
func checkGivenBack(v NodeView, fail func(string, ...any)) {
	n := v.Node
	for _, f := range v.Failovers {
		if !f.Done {
			fail("gave back node %s while the failover of pod %s is unfinished", n.Name, f.Pod)
		}
		if !n.LeaseSeen.After(f.DetectedAt) {
			fail("gave back node %s whose node Lease was not renewed since pod %s was declared dead", n.Name, f.Pod)
		}
		for _, p := range v.Pods {
			if !f.Abandoned && p.UID == f.PodUID {
				fail("gave back node %s while the old pod %s of a failover is still on it", n.Name, p.Name)
			}
		}
	}
	for _, p := range v.Pods {
		if p.Orphaned {
			fail("gave back node %s while pod %s, whose instance is gone, is still on it", n.Name, p.Name)
		}
	}
	if n.Ready != corev1.ConditionTrue {
		fail("gave back node %s, which is not Ready", n.Name)
	}
	if n.MarkedSince.IsZero() || !n.LeaseSeen.After(n.MarkedSince) {
		fail("gave back node %s whose node Lease was not renewed since irisha's mark was seen", n.Name)
	}
	if v.Now.Sub(n.LeaseSeen) > v.Timing.KubeletSilence+v.Timing.SkewMargin {
		fail("gave back node %s whose kubelet has been silent since", n.Name)
	}
}

// TestTidyNodeProperties: the node pass never gives back a node while a
// failover that targeted it is unfinished or an old pod is still on it, nor
// before its kubelet renewed its node Lease after the failovers and the
// mark, and only lifts irisha's own marks.
func TestTidyNodeProperties(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	gaveBack := 0
	for i := range 200_000 {
		v := randomNodeView(r)
		acts, waiting := TidyNode(v)
		fail := func(format string, args ...any) {
			t.Helper()
			t.Fatalf("case %d: "+format+"\nview %+v\nactions %+v", append(append([]any{i}, args...), v, acts)...)
		}
		if len(acts) > 0 {
			gaveBack++
			checkGivenBack(v, fail)
			if waiting != "" {
				fail("acted while waiting: %s", waiting)
			}
		} else if (v.Node.CordonedByIrisha || v.Node.TaintedByIrisha) && waiting == "" {
			fail("neither gave the node back nor said why")
		}
		for _, a := range acts {
			switch {
			case a.Node != v.Node.Name:
				fail("tidied node %s instead of %s", a.Node, v.Node.Name)
			case a.Kind == Uncordon && !v.Node.CordonedByIrisha:
				fail("uncordoned node %s that irisha did not cordon", a.Node)
			case a.Kind == RemoveOutOfServiceTaint && !v.Node.TaintedByIrisha:
				fail("removed an out-of-service taint irisha did not set")
			case a.fencing():
				fail("a fencing action %s while tidying", a.Kind)
			}
		}
	}
	if gaveBack < 1000 {
		t.Errorf("only %d of the random nodes were given back: the draw misses the interesting cases", gaveBack)
	}
}

func leaseValid(o Observation) bool {
	return o.Lease != nil && o.Lease.Holder != "" && o.Now.Before(o.Lease.ExpiresAt(o.Timing))
}

func inProgress(o Observation) bool { return o.Failover != nil && !o.Failover.Done }

// TestProperties checks the safety rules on many random observations.
func TestProperties(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	for i := range 200_000 {
		o := randomObservation(r)
		d := Decide(o)
		fail := func(format string, args ...any) {
			t.Helper()
			t.Fatalf("case %d: "+format+"\nobservation %+v\nlease %+v failover %+v\ndecision %+v", append(append([]any{i}, args...), o, o.Lease, o.Failover, d)...)
		}

		if o.Mode == v1alpha1.FailoverOff && (len(d.Actions) > 0 || d.Start) {
			fail("mode Off acted")
		}
		if !inProgress(o) && leaseValid(o) {
			for _, a := range d.Actions {
				if a.fencing() {
					fail("fenced (%s) while the Lease is valid plus the skew margin", a.Kind)
				}
			}
			if d.Start {
				fail("declared a pod dead while the Lease is valid plus the skew margin")
			}
		}
		// With witnesses, a Lease that ran out proves nothing until they
		// allow it: the agent may be riding out an outage on their word.
		if held := o.Witnesses != nil && !o.Witnesses.Allows(o.Now); held && !inProgress(o) && o.Mode == v1alpha1.FailoverLease {
			for _, a := range d.Actions {
				if a.fencing() {
					fail("fenced (%s) while the witnesses hold failovers", a.Kind)
				}
			}
			if d.Start {
				fail("declared a pod dead while the witnesses hold failovers")
			}
		}
		if d.Start && o.Mode == v1alpha1.FailoverNodeShutdown {
			n, exists := o.Nodes[d.Target.Node]
			if exists && (!n.ConfirmedOff || n.Ready == corev1.ConditionTrue) {
				fail("NodeShutdown mode acted on node %s that is not confirmed off", d.Target.Node)
			}
		}
		for _, a := range d.Actions {
			if !a.fencing() {
				fail("%s from an instance's decision: nodes are given back by the node pass alone", a.Kind)
				continue
			}
			if d.Target == nil && a.Kind == ClearLease && d.Reason == ReasonHolderGone {
				// An expired Lease whose pod is gone, freed for the
				// replacement once the witnesses allow it.
				if o.Witnesses == nil || !o.Witnesses.Allows(o.Now) || leaseValid(o) || a.Holder != o.Lease.Holder {
					fail("freed the Lease of %s without the witnesses' leave or while it is valid", a.Holder)
				}
				if _, exists := findHolder(o.Pods, a.Holder); exists {
					fail("freed the Lease of %s, whose pod exists", a.Holder)
				}
				continue
			}
			if d.Target == nil || a.Node != d.Target.Node {
				fail("action %s on node %s, which is not the dead pod's node", a.Kind, a.Node)
			}
			checkTargetsItsOwn(t, o, a, fail)
			// A holder that renewed since it was declared dead is alive.
			if l := o.Lease; l != nil && leaseValid(o) && !l.RenewTime.Equal(d.Target.LeaseRenewTime) {
				if (a.Kind == ForceDeletePod && Identity(a.Pod, a.PodUID) == l.Holder) || (a.Kind == ClearLease && a.Holder == l.Holder) {
					fail("%s against %s, which renewed its Lease after it was declared dead", a.Kind, l.Holder)
				}
			}
		}
	}
}

// checkTargetsItsOwn: irisha deletes only the instance's own pods and
// attachments.
func checkTargetsItsOwn(t *testing.T, o Observation, a Action, fail func(string, ...any)) {
	t.Helper()
	switch a.Kind {
	case ForceDeletePod:
		for _, p := range o.Pods {
			if p.UID == a.PodUID && p.Name == a.Pod {
				return
			}
		}
		fail("force-deleted pod %s that is not the instance's", a.Pod)
	case DeleteAttachment:
		for _, at := range o.Attachments {
			if at.Name == a.Attachment {
				if at.Deleting {
					fail("deleted attachment %s again while it is being deleted", a.Attachment)
				}
				return
			}
		}
		fail("deleted attachment %s that is not the instance's", a.Attachment)
	case ClearLease:
		if o.Lease == nil || o.Lease.Holder != a.Holder {
			fail("cleared a Lease not held by %s", a.Holder)
		}
	}
}
