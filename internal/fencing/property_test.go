package fencing

import (
	"fmt"
	"math/rand/v2"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"

	"github.com/irisha/irisha/api/v1alpha1"
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
			Name:       n,
			Ready:      []corev1.ConditionStatus{corev1.ConditionTrue, corev1.ConditionFalse, corev1.ConditionUnknown}[r.IntN(3)],
			ReadySince: t0.Add(time.Duration(r.IntN(60)) * time.Second),
			LeaseRenew: t0.Add(time.Duration(r.IntN(60)) * time.Second),
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
	}
	return o
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
		if d.Start && o.Mode == v1alpha1.FailoverNodeShutdown {
			n, exists := o.Nodes[d.Target.Node]
			if exists && (!n.ConfirmedOff || n.Ready == corev1.ConditionTrue) {
				fail("NodeShutdown mode acted on node %s that is not confirmed off", d.Target.Node)
			}
		}
		for _, a := range d.Actions {
			if !a.fencing() {
				if o.Failover == nil || a.Node != o.Failover.Node {
					fail("tidied node %s that no failover touched", a.Node)
				}
				if !o.Nodes[a.Node].ReadySince.After(o.Failover.DetectedAt) {
					fail("tidied node %s that has not been back since the failover", a.Node)
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
