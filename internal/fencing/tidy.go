package fencing

import (
	"fmt"
	"time"

	corev1 "k8s.io/api/core/v1"
)

// TidyNode is the one rule that gives back a node irisha cordoned or
// tainted out-of-service: both the failover of an instance and the node
// pass (which needs no instance, so an instance deleted in the middle of a
// failover does not leave its node cordoned) apply it. It returns what to
// undo, or, when nothing yet, why.
//
// The node is given back once all of these hold:
//   - no failover that targeted it is unfinished: a failover in progress
//     still needs its replacement kept off the node;
//   - it is back: Ready, and its kubelet renewed its node Lease after
//     irisha's mark was first seen and after every recorded failover of
//     the node was detected, that renewal seen lately, all on the
//     operator's clock (the kubelet's renewTime is never compared with
//     it). It need never have gone NotReady: a cut shorter than the node
//     controller's grace period never shows in the Ready condition;
//   - the old pods are gone from it: no pod of a failover that targeted it
//     (an abandoned failover's pod is the instance's live one, not an old
//     one), and no pod whose instance is gone (it may be the old pod of a
//     failover whose record was deleted with its instance).
func TidyNode(v NodeView) (actions []Action, waiting string) {
	n := v.Node
	if !n.CordonedByIrisha && !n.TaintedByIrisha {
		return nil, ""
	}
	if why := notBack(v); why != "" {
		return nil, why
	}
	if n.CordonedByIrisha {
		actions = append(actions, Action{Kind: Uncordon, Node: n.Name})
	}
	if n.TaintedByIrisha {
		actions = append(actions, Action{Kind: RemoveOutOfServiceTaint, Node: n.Name})
	}
	return actions, ""
}

// notBack says why v's node cannot be given back yet; empty when it can.
func notBack(v NodeView) string {
	n := v.Node
	for _, f := range v.Failovers {
		if !f.Done {
			return fmt.Sprintf("the failover of pod %s is not finished", f.Pod)
		}
	}
	if n.Ready != corev1.ConditionTrue {
		return "it is not Ready"
	}
	if n.LeaseSeen.IsZero() || n.MarkedSince.IsZero() || !n.LeaseSeen.After(n.MarkedSince) {
		return "its kubelet has not renewed its node Lease since irisha's mark was seen"
	}
	for _, f := range v.Failovers {
		if !n.LeaseSeen.After(f.DetectedAt) {
			return fmt.Sprintf("its kubelet has not renewed its node Lease since pod %s was declared dead", f.Pod)
		}
	}
	if v.Now.Sub(n.LeaseSeen) > v.Timing.KubeletSilence+v.Timing.SkewMargin {
		return "its kubelet has not renewed its node Lease lately"
	}
	for _, p := range v.Pods {
		if p.Orphaned {
			return fmt.Sprintf("pod %s, whose instance is gone, is still on it", p.Name)
		}
		for _, f := range v.Failovers {
			if !f.Abandoned && p.UID == f.PodUID {
				return fmt.Sprintf("the old pod %s is still on it", p.Name)
			}
		}
	}
	return ""
}

// TidyRecheck is how soon a node that still carries irisha's mark (and a
// finished failover of it) is looked at again: the renewals of node Leases,
// which say the node is back, wake no reconcile.
func (t Timing) TidyRecheck() time.Duration {
	return max(t.KubeletSilence/4, time.Second)
}
