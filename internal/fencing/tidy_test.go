package fencing

import (
	"reflect"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
)

// cordonedBack is node-1, cordoned by irisha (mark seen at t0+1s) for the
// failover of iris-a detected at t0, finished; its kubelet renewed its node
// Lease at t0+3s, seen at t0+5s. It never went NotReady.
func cordonedBack() NodeView {
	return NodeView{
		Now:    t0.Add(5 * time.Second),
		Timing: DefaultTiming(),
		Node: Node{
			Name: "node-1", Ready: corev1.ConditionTrue, Unschedulable: true, CordonedByIrisha: true,
			LeaseSeen: t0.Add(3 * time.Second), MarkedSince: t0.Add(time.Second),
		},
		NodeHistory: NodeHistory{Failovers: []Failover{{
			Target: Target{Reason: ReasonLeaseExpired, Node: "node-1", Pod: "iris-a", PodUID: "uid-a"}, DetectedAt: t0, Done: true,
		}}},
	}
}

func TestTidyNode(t *testing.T) {
	for _, tc := range []struct {
		name    string
		view    func(v *NodeView)
		actions []ActionKind
		waiting string // part of the reason it waits
	}{
		{
			name:    "back although it never went NotReady: uncordon",
			view:    func(*NodeView) {},
			actions: []ActionKind{Uncordon},
		},
		{
			name: "NodeShutdown's taint, back: remove it",
			view: func(v *NodeView) {
				v.Node.CordonedByIrisha, v.Node.Unschedulable, v.Node.TaintedByIrisha, v.Node.OutOfService = false, false, true, true
			},
			actions: []ActionKind{RemoveOutOfServiceTaint},
		},
		{
			name:    "cordoned and tainted: both go",
			view:    func(v *NodeView) { v.Node.TaintedByIrisha, v.Node.OutOfService = true, true },
			actions: []ActionKind{Uncordon, RemoveOutOfServiceTaint},
		},
		{
			name: "not irisha's cordon: nothing",
			view: func(v *NodeView) { v.Node.CordonedByIrisha = false },
		},
		{
			name:    "not Ready",
			view:    func(v *NodeView) { v.Node.Ready = corev1.ConditionUnknown },
			waiting: "not Ready",
		},
		{
			name:    "node Lease not renewed since the failover was detected",
			view:    func(v *NodeView) { v.Node.LeaseSeen, v.Node.MarkedSince = t0.Add(-time.Second), t0.Add(-2*time.Second) },
			waiting: "since pod iris-a was declared dead",
		},
		{
			name:    "node Lease not renewed since the mark was seen",
			view:    func(v *NodeView) { v.Node.MarkedSince = t0.Add(4 * time.Second) },
			waiting: "since irisha's mark was seen",
		},
		{
			name:    "no renewal seen since the operator started",
			view:    func(v *NodeView) { v.Node.LeaseSeen = time.Time{} },
			waiting: "since irisha's mark was seen",
		},
		{
			name:    "the mark's sighting unknown",
			view:    func(v *NodeView) { v.Node.MarkedSince = time.Time{} },
			waiting: "since irisha's mark was seen",
		},
		{
			name: "renewed after the failover, silent since",
			view: func(v *NodeView) {
				v.Now = t0.Add(3*time.Second + DefaultTiming().KubeletSilence + DefaultTiming().SkewMargin + time.Millisecond)
			},
			waiting: "lately",
		},
		{
			name:    "the old pod is still on it",
			view:    func(v *NodeView) { v.Pods = []NodePod{{Name: "iris-a", UID: "uid-a"}} },
			waiting: "old pod iris-a",
		},
		{
			name: "an abandoned failover's pod is the live one",
			view: func(v *NodeView) {
				v.Failovers[0].Abandoned = true
				v.Pods = []NodePod{{Name: "iris-a", UID: "uid-a"}}
			},
			actions: []ActionKind{Uncordon},
		},
		{
			name: "a pod of an instance that is gone (deleted mid-failover) is still on it",
			view: func(v *NodeView) {
				v.Failovers, v.Pods = nil, []NodePod{{Name: "gone-a", UID: "uid-gone", Orphaned: true}}
			},
			waiting: "gone-a",
		},
		{
			name:    "the instance deleted mid-failover, its pod gone: only the mark and the renewal count",
			view:    func(v *NodeView) { v.Failovers = nil },
			actions: []ActionKind{Uncordon},
		},
		{
			name:    "other instances' pods on it do not hold it",
			view:    func(v *NodeView) { v.Pods = []NodePod{{Name: "other-b", UID: "uid-b"}} },
			actions: []ActionKind{Uncordon},
		},
		{
			name: "another instance's failover of it is unfinished",
			view: func(v *NodeView) {
				v.Failovers = append(v.Failovers, Failover{Target: Target{Node: "node-1", Pod: "other-a", PodUID: "uid-other"}, DetectedAt: t0.Add(2 * time.Second)})
			},
			waiting: "pod other-a is not finished",
		},
		{
			name: "a later failover of it, finished, before the last renewal",
			view: func(v *NodeView) {
				v.Failovers = append(v.Failovers, Failover{Target: Target{Node: "node-1", Pod: "other-a", PodUID: "uid-other"}, DetectedAt: t0.Add(2 * time.Second), Done: true})
			},
			actions: []ActionKind{Uncordon},
		},
		{
			name: "a later failover of it, finished, after the last renewal: it was cut again",
			view: func(v *NodeView) {
				v.Failovers = append(v.Failovers, Failover{Target: Target{Node: "node-1", Pod: "other-a", PodUID: "uid-other"}, DetectedAt: t0.Add(4 * time.Second), Done: true})
			},
			waiting: "since pod other-a was declared dead",
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			v := cordonedBack()
			tc.view(&v)
			acts, waiting := TidyNode(v)
			if got := kinds(acts); !reflect.DeepEqual(got, tc.actions) {
				t.Errorf("actions %v, want %v (waiting: %s)", got, tc.actions, waiting)
			}
			for _, a := range acts {
				if a.Node != "node-1" {
					t.Errorf("%s on node %q", a.Kind, a.Node)
				}
			}
			if !strings.Contains(waiting, tc.waiting) || (tc.waiting == "") != (waiting == "") {
				t.Errorf("waiting %q, want it to say %q", waiting, tc.waiting)
			}
		})
	}
}
