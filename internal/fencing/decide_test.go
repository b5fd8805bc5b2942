package fencing

import (
	"reflect"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"

	"github.com/irisha/irisha/api/v1alpha1"
	"github.com/irisha/irisha/internal/quorum"
)

var t0 = time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC)

const leaseDuration = 10 * time.Second

// running is an instance whose pod iris-a on node-1 holds the Lease renewed
// at t0, the volume attached to node-1.
func running(now time.Time) Observation {
	return Observation{
		Now:    now,
		Mode:   v1alpha1.FailoverLease,
		Timing: DefaultTiming(),
		Lease:  &Lease{Holder: "iris-a_uid-a", Duration: leaseDuration, RenewTime: t0, Since: t0},
		Pods:   []Pod{{Name: "iris-a", UID: "uid-a", Node: "node-1", IrisRunning: true, Ready: true}},
		Nodes: map[string]Node{
			"node-1": {Name: "node-1", Ready: corev1.ConditionTrue, VolumeInUse: true},
			"node-2": {Name: "node-2", Ready: corev1.ConditionTrue},
		},
		Attachments: []Attachment{{Name: "csi-1", Node: "node-1", Attached: true}},
	}
}

// recovered is an instance that failed over from node-1 at t0: its
// replacement iris-b runs on node-2, node-1 is still cordoned by irisha and
// its kubelet renewed its node Lease at t0+3s, after the cordon was seen.
func recovered(now time.Time) Observation {
	o := running(now)
	o.Lease = &Lease{Holder: "iris-b_uid-b", Duration: leaseDuration, RenewTime: now, Since: now}
	o.Pods = []Pod{{Name: "iris-b", UID: "uid-b", Node: "node-2", IrisRunning: true, Ready: true}}
	o.Nodes["node-1"] = Node{Name: "node-1", Ready: corev1.ConditionTrue, LeaseSeen: t0.Add(3 * time.Second), MarkedSince: t0.Add(time.Second), Unschedulable: true, CordonedByIrisha: true}
	o.Attachments = []Attachment{{Name: "csi-2", Node: "node-2", Attached: true}}
	o.Failover = &Failover{Target: Target{Reason: ReasonLeaseExpired, Node: "node-1", Pod: "iris-a", PodUID: "uid-a"}, DetectedAt: t0, Done: true}
	return o
}

func kinds(acts []Action) []ActionKind {
	var out []ActionKind
	for _, a := range acts {
		out = append(out, a.Kind)
	}
	return out
}

func TestDecide(t *testing.T) {
	expired := t0.Add(leaseDuration + DefaultTiming().SkewMargin)
	for _, tc := range []struct {
		name    string
		obs     func() Observation
		verdict v1alpha1.FencingVerdict
		reason  string
		actions []ActionKind
		start   bool
	}{
		{
			name:    "valid Lease on a healthy node",
			obs:     func() Observation { return running(t0.Add(5 * time.Second)) },
			verdict: v1alpha1.FencingHealthy, reason: ReasonLeaseValid,
		},
		{
			name: "node NotReady while the Lease is valid is only suspect",
			obs: func() Observation {
				o := running(t0.Add(5 * time.Second))
				o.Nodes["node-1"] = Node{Name: "node-1", Ready: corev1.ConditionUnknown, VolumeInUse: true}
				return o
			},
			verdict: v1alpha1.FencingSuspect, reason: ReasonNodeNotReady,
		},
		{
			name:    "Lease expired but within the skew margin",
			obs:     func() Observation { return running(expired.Add(-time.Millisecond)) },
			verdict: v1alpha1.FencingHealthy, reason: ReasonLeaseValid,
		},
		{
			name:    "Lease expired beyond the margin: node lost or partitioned, the kubelet's last word was running",
			obs:     func() Observation { return running(expired) },
			verdict: v1alpha1.FencingConfirmedDead, reason: ReasonLeaseExpired, start: true,
			actions: []ActionKind{Cordon, ReleaseVolume, ForceDeletePod, ClearLease, DeleteAttachment},
		},
		{
			name: "Lease expired, but the witnesses hold failovers: a majority does not reach the API server",
			obs: func() Observation {
				o := running(expired)
				o.Witnesses = &quorum.Judgement{Fresh: 1, Members: 3, Message: "only 1 of 3 witnesses reach the API server"}
				return o
			},
			verdict: v1alpha1.FencingSuspect, reason: ReasonNoWitnessQuorum,
		},
		{
			name: "Lease expired, the witnesses' last \"cannot\" not yet waited out: held",
			obs: func() Observation {
				o := running(expired)
				o.Witnesses = &quorum.Judgement{Quorum: true, NotBefore: expired.Add(time.Second)}
				return o
			},
			verdict: v1alpha1.FencingSuspect, reason: ReasonNoWitnessQuorum,
		},
		{
			name: "Lease expired and the witnesses allow it: fail over",
			obs: func() Observation {
				o := running(expired)
				o.Witnesses = &quorum.Judgement{Quorum: true, NotBefore: expired}
				return o
			},
			verdict: v1alpha1.FencingConfirmedDead, reason: ReasonLeaseExpired, start: true,
			actions: []ActionKind{Cordon, ReleaseVolume, ForceDeletePod, ClearLease, DeleteAttachment},
		},
		{
			name: "Lease expired, its pod gone, witnesses in use and allowing: the operator frees the Lease",
			obs: func() Observation {
				o := running(expired)
				o.Pods = nil
				o.Witnesses = &quorum.Judgement{Quorum: true}
				return o
			},
			verdict: v1alpha1.FencingHealthy, reason: ReasonHolderGone,
			actions: []ActionKind{ClearLease},
		},
		{
			name: "Lease expired while the live kubelet restarts the container",
			obs: func() Observation {
				o := running(expired)
				o.Pods[0].IrisRunning, o.Pods[0].Ready = false, false
				return o
			},
			verdict: v1alpha1.FencingSuspect, reason: ReasonRestartingInPlace,
		},
		{
			name: "Lease expired, container not running, node still Ready but its kubelet silent",
			obs: func() Observation {
				o := running(expired)
				o.Pods[0].IrisRunning = false
				n := o.Nodes["node-1"]
				n.LeaseRenew = expired.Add(-DefaultTiming().KubeletSilence - DefaultTiming().SkewMargin - time.Second)
				o.Nodes["node-1"] = n
				return o
			},
			verdict: v1alpha1.FencingConfirmedDead, reason: ReasonLeaseExpired, start: true,
			actions: []ActionKind{Cordon, ReleaseVolume, ForceDeletePod, ClearLease, DeleteAttachment},
		},
		{
			name: "Lease expired, container not running, kubelet renewing",
			obs: func() Observation {
				o := running(expired)
				o.Pods[0].IrisRunning = false
				n := o.Nodes["node-1"]
				n.LeaseRenew = expired.Add(-5 * time.Second)
				o.Nodes["node-1"] = n
				return o
			},
			verdict: v1alpha1.FencingSuspect, reason: ReasonRestartingInPlace,
		},
		{
			name: "Lease expired, container not running, node NotReady",
			obs: func() Observation {
				o := running(expired)
				o.Pods[0].IrisRunning = false
				o.Nodes["node-1"] = Node{Name: "node-1", Ready: corev1.ConditionUnknown}
				return o
			},
			verdict: v1alpha1.FencingConfirmedDead, reason: ReasonLeaseExpired, start: true,
			actions: []ActionKind{Cordon, ForceDeletePod, ClearLease, DeleteAttachment},
		},
		{
			name: "Lease expired, Node object deleted",
			obs: func() Observation {
				o := running(expired)
				delete(o.Nodes, "node-1")
				return o
			},
			verdict: v1alpha1.FencingConfirmedDead, reason: ReasonLeaseExpired, start: true,
			actions: []ActionKind{ForceDeletePod, ClearLease, DeleteAttachment},
		},
		{
			name: "released Lease",
			obs: func() Observation {
				o := running(expired)
				o.Lease.Holder = ""
				return o
			},
			verdict: v1alpha1.FencingHealthy, reason: ReasonNoHolder,
		},
		{
			name: "expired Lease whose pod is gone",
			obs: func() Observation {
				o := running(expired)
				o.Pods = nil
				return o
			},
			verdict: v1alpha1.FencingHealthy, reason: ReasonHolderGone,
		},
		{
			name: "NodeShutdown: Lease expired, node not confirmed off",
			obs: func() Observation {
				o := running(expired)
				o.Mode = v1alpha1.FailoverNodeShutdown
				o.Nodes["node-1"] = Node{Name: "node-1", Ready: corev1.ConditionUnknown, VolumeInUse: true}
				return o
			},
			verdict: v1alpha1.FencingSuspect, reason: ReasonAwaitingShutdown,
		},
		{
			name: "NodeShutdown: fence annotation on a Ready node is stale",
			obs: func() Observation {
				o := running(expired)
				o.Mode = v1alpha1.FailoverNodeShutdown
				o.Nodes["node-1"] = Node{Name: "node-1", Ready: corev1.ConditionTrue, ConfirmedOff: true}
				return o
			},
			verdict: v1alpha1.FencingSuspect, reason: ReasonAwaitingShutdown,
		},
		{
			name: "NodeShutdown: confirmed off by the fence agent",
			obs: func() Observation {
				o := running(expired)
				o.Mode = v1alpha1.FailoverNodeShutdown
				o.Nodes["node-1"] = Node{Name: "node-1", Ready: corev1.ConditionUnknown, ConfirmedOff: true, VolumeInUse: true}
				return o
			},
			verdict: v1alpha1.FencingConfirmedDead, reason: ReasonNodeShutdown, start: true,
			actions: []ActionKind{TaintOutOfService, ForceDeletePod, ClearLease},
		},
		{
			name: "NodeShutdown: confirmed off but the Lease is still valid",
			obs: func() Observation {
				o := running(t0.Add(3 * time.Second))
				o.Mode = v1alpha1.FailoverNodeShutdown
				o.Nodes["node-1"] = Node{Name: "node-1", Ready: corev1.ConditionUnknown, ConfirmedOff: true}
				return o
			},
			verdict: v1alpha1.FencingSuspect, reason: ReasonNodeNotReady,
		},
		{
			name: "NodeShutdown: Node deleted by the cloud controller",
			obs: func() Observation {
				o := running(expired)
				o.Mode = v1alpha1.FailoverNodeShutdown
				delete(o.Nodes, "node-1")
				return o
			},
			verdict: v1alpha1.FencingConfirmedDead, reason: ReasonNodeShutdown, start: true,
			actions: []ActionKind{ForceDeletePod, ClearLease, DeleteAttachment},
		},
		{
			name: "Off: the verdict is shown, nothing is done",
			obs: func() Observation {
				o := running(expired)
				o.Mode = v1alpha1.FailoverOff
				return o
			},
			verdict: v1alpha1.FencingConfirmedDead, reason: ReasonLeaseExpired,
		},
		{
			name: "an unfinished failover is continued, whatever the Lease says",
			obs: func() Observation {
				o := running(t0)
				o.Lease = &Lease{Holder: "iris-b_uid-b", Duration: leaseDuration, Since: t0}
				o.Nodes["node-1"] = Node{Name: "node-1", Ready: corev1.ConditionTrue, Unschedulable: true, CordonedByIrisha: true, VolumeInUse: true}
				o.Failover = &Failover{Target: Target{Reason: ReasonLeaseExpired, Node: "node-1", Pod: "iris-a", PodUID: "uid-a"}}
				return o
			},
			verdict: v1alpha1.FencingConfirmedDead, reason: ReasonFencing,
			actions: []ActionKind{ReleaseVolume, ForceDeletePod, DeleteAttachment},
		},
		{
			name: "the old pod renewed after it was declared dead: its node is back",
			obs: func() Observation {
				o := running(t0.Add(30 * time.Second))
				o.Lease = &Lease{Holder: "iris-a_uid-a", Duration: leaseDuration, RenewTime: t0.Add(29 * time.Second), Since: t0.Add(29 * time.Second)}
				o.Failover = &Failover{Target: Target{Reason: ReasonLeaseExpired, Node: "node-1", Pod: "iris-a", PodUID: "uid-a", LeaseRenewTime: t0}}
				return o
			},
			verdict: v1alpha1.FencingHealthy, reason: ReasonTargetCameBack,
		},
		{
			name: "the old pod is deleted but its agent still renews: nothing is taken from it",
			obs: func() Observation {
				o := running(t0.Add(30 * time.Second))
				o.Lease = &Lease{Holder: "iris-a_uid-a", Duration: leaseDuration, RenewTime: t0.Add(29 * time.Second), Since: t0.Add(29 * time.Second)}
				o.Pods = nil
				o.Failover = &Failover{Target: Target{Reason: ReasonLeaseExpired, Node: "node-1", Pod: "iris-a", PodUID: "uid-a", LeaseRenewTime: t0}}
				return o
			},
			verdict: v1alpha1.FencingConfirmedDead, reason: ReasonOldAgentRenewing,
		},
		{
			name: "a restarted operator sees the unchanged Lease as fresh, and still continues",
			obs: func() Observation {
				o := running(t0.Add(30 * time.Second))
				o.Lease.Since = t0.Add(29 * time.Second)
				o.Failover = &Failover{Target: Target{Reason: ReasonLeaseExpired, Node: "node-1", Pod: "iris-a", PodUID: "uid-a", LeaseRenewTime: t0}}
				return o
			},
			verdict: v1alpha1.FencingConfirmedDead, reason: ReasonFencing,
			actions: []ActionKind{Cordon, ReleaseVolume, ForceDeletePod, ClearLease, DeleteAttachment},
		},
		{
			name: "every step done, the stale attachment still detaching",
			obs: func() Observation {
				o := running(expired)
				o.Lease.Holder = ""
				o.Pods = []Pod{{Name: "iris-b", UID: "uid-b", Node: "node-2"}}
				o.Nodes["node-1"] = Node{Name: "node-1", Ready: corev1.ConditionUnknown, Unschedulable: true}
				o.Attachments[0].Deleting = true
				o.Failover = &Failover{Target: Target{Reason: ReasonLeaseExpired, Node: "node-1", Pod: "iris-a", PodUID: "uid-a"}}
				return o
			},
			verdict: v1alpha1.FencingFenced, reason: ReasonFenced,
		},
		{
			name: "every step done, replacement not Ready yet",
			obs: func() Observation {
				o := running(expired)
				o.Lease.Holder = ""
				o.Pods = []Pod{{Name: "iris-b", UID: "uid-b", Node: "node-2"}}
				o.Nodes["node-1"] = Node{Name: "node-1", Ready: corev1.ConditionUnknown, Unschedulable: true}
				o.Attachments = nil
				o.Failover = &Failover{Target: Target{Reason: ReasonLeaseExpired, Node: "node-1", Pod: "iris-a", PodUID: "uid-a"}}
				return o
			},
			verdict: v1alpha1.FencingFenced, reason: ReasonFenced,
		},
		{
			name: "replacement Ready on another node",
			obs: func() Observation {
				o := running(expired)
				o.Lease.Holder = "iris-b_uid-b"
				o.Pods = []Pod{{Name: "iris-b", UID: "uid-b", Node: "node-2", IrisRunning: true, Ready: true}}
				o.Nodes["node-1"] = Node{Name: "node-1", Ready: corev1.ConditionUnknown, Unschedulable: true}
				o.Attachments = []Attachment{{Name: "csi-2", Node: "node-2", Attached: true}}
				o.Failover = &Failover{Target: Target{Reason: ReasonLeaseExpired, Node: "node-1", Pod: "iris-a", PodUID: "uid-a"}}
				return o
			},
			verdict: v1alpha1.FencingHealthy, reason: ReasonRecovered,
		},
		{
			// TidyNode's own tests cover when a node is given back.
			name: "the node irisha cordoned is back: an instance's decision leaves it to the node pass",
			obs: func() Observation {
				return recovered(t0.Add(5 * time.Second))
			},
			verdict: v1alpha1.FencingHealthy, reason: ReasonLeaseValid,
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			d := Decide(tc.obs())
			if d.Verdict != tc.verdict || d.Reason != tc.reason {
				t.Errorf("verdict %s/%s, want %s/%s (%s)", d.Verdict, d.Reason, tc.verdict, tc.reason, d.Message)
			}
			if got := kinds(d.Actions); !reflect.DeepEqual(got, tc.actions) {
				t.Errorf("actions %v, want %v", got, tc.actions)
			}
			if d.Start != tc.start {
				t.Errorf("start %v, want %v", d.Start, tc.start)
			}
			if d.Start && d.Target == nil {
				t.Errorf("a failover starts without a target")
			}
		})
	}
}

func TestFenceActionsNameTheDeadPodAndNode(t *testing.T) {
	o := running(t0.Add(time.Minute))
	o.Pods = append(o.Pods, Pod{Name: "iris-b", UID: "uid-b", Node: "node-2"})
	o.Attachments = append(o.Attachments, Attachment{Name: "csi-2", Node: "node-2"})
	d := Decide(o)
	want := []Action{
		{Kind: Cordon, Node: "node-1"},
		{Kind: ReleaseVolume, Node: "node-1"},
		{Kind: ForceDeletePod, Node: "node-1", Pod: "iris-a", PodUID: "uid-a"},
		{Kind: ClearLease, Node: "node-1", Holder: "iris-a_uid-a"},
		{Kind: DeleteAttachment, Node: "node-1", Attachment: "csi-1"},
	}
	if !reflect.DeepEqual(d.Actions, want) {
		t.Errorf("actions\n got %+v\nwant %+v", d.Actions, want)
	}
}

func TestRecheckWhenTheLeaseRunsOut(t *testing.T) {
	d := Decide(running(t0.Add(4 * time.Second)))
	if want := leaseDuration + DefaultTiming().SkewMargin - 4*time.Second; d.RecheckAfter != want {
		t.Errorf("recheck after %s, want %s", d.RecheckAfter, want)
	}
}

// A failover that ends leaves a recheck at the replacement's Lease expiry:
// the replacement took the Lease during the failover, so nothing else
// wakes the controller when that Lease runs out (a second failure).
func TestRecheckAfterAFailoverEnds(t *testing.T) {
	now := t0.Add(30 * time.Second)
	o := running(now)
	o.Lease = &Lease{Holder: "iris-b_uid-b", Duration: leaseDuration, RenewTime: now.Add(-3 * time.Second), Since: now.Add(-3 * time.Second)}
	o.Pods = []Pod{{Name: "iris-b", UID: "uid-b", Node: "node-2", IrisRunning: true, Ready: true}}
	o.Nodes["node-1"] = Node{Name: "node-1", Ready: corev1.ConditionUnknown, Unschedulable: true}
	o.Attachments = []Attachment{{Name: "csi-2", Node: "node-2", Attached: true}}
	o.Failover = &Failover{Target: Target{Reason: ReasonLeaseExpired, Node: "node-1", Pod: "iris-a", PodUID: "uid-a"}}
	d := Decide(o)
	if !d.Recovered {
		t.Fatalf("not recovered: %s/%s", d.Reason, d.Message)
	}
	if want := leaseDuration + DefaultTiming().SkewMargin - 3*time.Second; d.RecheckAfter != want {
		t.Errorf("recheck after %s, want %s (the replacement's Lease expiry)", d.RecheckAfter, want)
	}
	o.Now = now.Add(time.Minute) // its Lease already ran out
	if d := Decide(o); d.RecheckAfter != minRecheck {
		t.Errorf("an expired Lease: recheck after %s, want %s", d.RecheckAfter, minRecheck)
	}
}
