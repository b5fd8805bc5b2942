package fencing

import (
	"fmt"
	"time"

	corev1 "k8s.io/api/core/v1"

	"github.com/irisha/irisha/api/v1alpha1"
)

// Reasons a pod is declared dead, and reasons for the other verdicts.
const (
	ReasonLeaseExpired      = "LeaseExpired"
	ReasonNodeShutdown      = "NodeShutdown"
	ReasonLeaseValid        = "LeaseValid"
	ReasonNoHolder          = "NoHolder"
	ReasonHolderGone        = "HolderGone"
	ReasonNodeNotReady      = "NodeNotReady"
	ReasonRestartingInPlace = "RestartingInPlace"
	ReasonAwaitingShutdown  = "AwaitingNodeShutdown"
	ReasonFencing           = "Fencing"
	ReasonFenced            = "Fenced"
	ReasonRecovered         = "Recovered"
	ReasonTargetCameBack    = "TargetCameBack"
	ReasonOldAgentRenewing  = "OldAgentRenewing"
	ReasonFailoverOff       = "FailoverOff"
	// ReasonNoWitnessQuorum: the Lease ran out, but a majority of the node
	// witnesses does not reach the API server (or answered "cannot" too
	// recently): the agent may be keeping IRIS running through an outage.
	ReasonNoWitnessQuorum = "NoWitnessQuorum"
)

// witnessRecheck is how often a failover held for the witnesses is looked
// at again: their records change every half second.
const witnessRecheck = time.Second

// ActionKind names one step of fencing or of tidying up after it.
type ActionKind string

// Actions, in the order they must run. Each is idempotent.
const (
	// Cordon the dead node so the replacement is not scheduled back on it.
	Cordon ActionKind = "Cordon"
	// TaintOutOfService applies node.kubernetes.io/out-of-service:NoExecute
	// (NodeShutdown mode): Kubernetes then deletes the node's pods and
	// force-detaches their volumes.
	TaintOutOfService ActionKind = "TaintOutOfService"
	// ForceDeletePod deletes the old pod with grace period 0.
	ForceDeletePod ActionKind = "ForceDeletePod"
	// ClearLease empties the holder of the instance's Lease and records the
	// old holder as fenced, so the replacement's agent starts at once and
	// the old pod's agent can never take the Lease back.
	ClearLease ActionKind = "ClearLease"
	// DeleteAttachment deletes the stale VolumeAttachment on the dead node.
	DeleteAttachment ActionKind = "DeleteAttachment"
	// ReleaseVolume removes the instance's volume from the dead node's
	// status.volumesInUse, as its kubelet would have after unmounting, so
	// the attach/detach controller detaches it now instead of after 6
	// minutes: the attach/detach controller's maxWaitForUnmountDuration
	// (docs/failover.md, "Fencing steps"; reconcilerMaxWaitForUnmountDuration
	// in https://github.com/kubernetes/kubernetes/blob/master/pkg/controller/volume/attachdetach/attach_detach_controller.go).
	ReleaseVolume ActionKind = "ReleaseVolume"
	// Uncordon a node irisha cordoned, once it is back (TidyNode, applied
	// by the node pass, never by an instance's decision).
	Uncordon ActionKind = "Uncordon"
	// RemoveOutOfServiceTaint from a node irisha tainted, once it is back
	// (TidyNode).
	RemoveOutOfServiceTaint ActionKind = "RemoveOutOfServiceTaint"
)

// Action is one step for the controller to take.
type Action struct {
	Kind ActionKind
	Node string
	// Pod and PodUID for ForceDeletePod; the UID is a precondition, so a
	// newer pod of the same name is never deleted.
	Pod    string
	PodUID string
	// Holder for ClearLease: cleared only if the Lease still names it.
	Holder string
	// Attachment and AttachmentUID for DeleteAttachment; the UID is a
	// precondition, as for pods.
	Attachment    string
	AttachmentUID string
}

// fencing reports whether the action works against a pod or node that may
// still be writing; tidying actions do not.
func (a Action) fencing() bool { return a.Kind != Uncordon && a.Kind != RemoveOutOfServiceTaint }

// Decision is the verdict and what to do about it.
type Decision struct {
	Verdict v1alpha1.FencingVerdict
	Reason  string
	Message string
	// Target is the failover this decision starts or continues.
	Target *Target
	// Start: Target is new and must be recorded (status.lastFailover)
	// before any action runs, so a restarted operator continues it.
	Start bool
	// Recovered: a replacement is Ready on another node; the failover is over.
	Recovered bool
	// Aborted: the old pod's agent renewed its Lease after it was declared
	// dead (its node came back before it was fenced); the failover is over.
	Aborted bool
	Actions []Action
	// RecheckAfter, when positive, is when the verdict can change without
	// any watched object changing (a Lease running out).
	RecheckAfter time.Duration
}

// Decide is the failover controller's judgement of one instance.
//
// The rule that keeps one writer (W1): a pod is declared dead only when its
// agent's Lease has gone unrenewed for the Lease duration plus the skew
// margin, as seen on the operator's clock. The agent stops IRIS hard before
// leaseDuration - safetyMargin without a renewal, so by then the old IRIS has
// stopped or its node is dead. In NodeShutdown mode the node must also be
// confirmed off. In Off mode nothing is ever done.
func Decide(o Observation) Decision {
	d := decide(o)
	if o.Mode == v1alpha1.FailoverOff {
		if d.Verdict == v1alpha1.FencingConfirmedDead || d.Verdict == v1alpha1.FencingFenced {
			d.Message += "; failover mode Off: nothing is done, Kubernetes' defaults apply"
		}
		d.Actions, d.Target, d.Start, d.Recovered, d.Aborted = nil, nil, false, false, false
		if d.Reason == ReasonRecovered || d.Reason == ReasonFenced {
			d.Reason = ReasonFailoverOff
		}
	}
	return d
}

func decide(o Observation) Decision {
	if f := o.Failover; f != nil && !f.Done {
		return continueFailover(o, f.Target)
	}
	if o.Lease == nil || o.Lease.Holder == "" {
		return Decision{Verdict: v1alpha1.FencingHealthy, Reason: ReasonNoHolder, Message: "no agent holds the fencing Lease"}
	}
	holder, found := findHolder(o.Pods, o.Lease.Holder)
	if left := o.Lease.ExpiresAt(o.Timing).Sub(o.Now); left > 0 {
		d := Decision{Verdict: v1alpha1.FencingHealthy, Reason: ReasonLeaseValid, RecheckAfter: left,
			Message: fmt.Sprintf("%s holds the fencing Lease", o.Lease.Holder)}
		if found && !nodeReady(o, holder.Node) {
			d.Verdict, d.Reason = v1alpha1.FencingSuspect, ReasonNodeNotReady
			d.Message = fmt.Sprintf("node %s is not Ready but pod %s still holds the fencing Lease for %s", holder.Node, holder.Name, left.Round(time.Second))
		}
		return d
	}
	if !found {
		d := Decision{Verdict: v1alpha1.FencingHealthy, Reason: ReasonHolderGone,
			Message: fmt.Sprintf("the fencing Lease of %s expired and that pod is gone; a replacement takes it over", o.Lease.Holder)}
		if o.Witnesses == nil {
			return d
		}
		// With witnesses, an agent whose pod is gone may still run IRIS on
		// their word, so replacements never take an expired Lease by
		// themselves: the operator frees it once the witnesses allow.
		if !witnessesAllow(o) {
			return Decision{Verdict: v1alpha1.FencingSuspect, Reason: ReasonNoWitnessQuorum, RecheckAfter: witnessRecheck,
				Message: fmt.Sprintf("the fencing Lease of %s expired and that pod is gone, but the Lease is not freed: %s", o.Lease.Holder, o.Witnesses.Message)}
		}
		d.Actions = []Action{{Kind: ClearLease, Holder: o.Lease.Holder}}
		return d
	}
	node, nodeExists := o.Nodes[holder.Node]
	target := Target{Node: holder.Node, Pod: holder.Name, PodUID: holder.UID, LeaseRenewTime: o.Lease.RenewTime}
	switch {
	case o.Mode == v1alpha1.FailoverNodeShutdown:
		// A fence annotation on a node that reports Ready again is stale.
		if nodeExists && !(node.ConfirmedOff && node.Ready != corev1.ConditionTrue) {
			return Decision{Verdict: v1alpha1.FencingSuspect, Reason: ReasonAwaitingShutdown,
				Message: fmt.Sprintf("the fencing Lease of pod %s expired; waiting for node %s to be confirmed off (Node deleted, or annotated irisha.dev/node-fenced=true while not Ready)", holder.Name, holder.Node)}
		}
		target.Reason = ReasonNodeShutdown
	case nodeExists && kubeletAlive(o, node) && !holder.IrisRunning && !holder.Deleting:
		// The kubelet is alive and says IRIS is not running: it restarts the
		// container in place, and the agent takes its own Lease back.
		return Decision{Verdict: v1alpha1.FencingSuspect, Reason: ReasonRestartingInPlace, RecheckAfter: o.Timing.KubeletSilence / 4,
			Message: fmt.Sprintf("the fencing Lease of pod %s expired while its kubelet on %s restarts the IRIS container", holder.Name, holder.Node)}
	case !witnessesAllow(o):
		// As the node lifecycle controller stops evicting in a full
		// disruption: the agent cannot be proved stopped.
		return Decision{Verdict: v1alpha1.FencingSuspect, Reason: ReasonNoWitnessQuorum, RecheckAfter: witnessRecheck,
			Message: fmt.Sprintf("the fencing Lease of pod %s expired, but the failover is held: %s", holder.Name, o.Witnesses.Message)}
	default:
		target.Reason = ReasonLeaseExpired
	}
	d := continueFailover(o, target)
	d.Start = true
	d.Verdict, d.Reason = v1alpha1.FencingConfirmedDead, target.Reason
	d.Message = fmt.Sprintf("pod %s on node %s is declared dead: %s", holder.Name, holder.Node, explain(target.Reason))
	return d
}

// holderRecheck is when a failover that just ended must be judged again:
// its Lease's current holder (the replacement) took the Lease while the
// failover ran, so no holder change wakes the controller later, and its
// renewals never do; without a recheck at its expiry, a second failure
// would wait for a watched object to change (its node NotReady, after
// node-monitor-grace-period) instead of the Lease.
func holderRecheck(o Observation) time.Duration {
	if o.Lease == nil || o.Lease.Holder == "" {
		return 0 // a new holder's arrival wakes the controller
	}
	return max(o.Lease.ExpiresAt(o.Timing).Sub(o.Now), minRecheck)
}

// minRecheck: an expired Lease is judged again at once, not in a busy loop.
const minRecheck = time.Second

func explain(reason string) string {
	if reason == ReasonNodeShutdown {
		return "its node is confirmed off and its fencing Lease expired"
	}
	return "its fencing Lease was not renewed for the Lease duration plus the skew margin, so its agent has stopped IRIS or its node is dead"
}

// continueFailover lists what is left to do for target, or reports it
// fenced, or recovered.
func continueFailover(o Observation, t Target) Decision {
	d := Decision{Target: &t}
	if renewedSince(o, t) {
		if _, exists := findHolder(o.Pods, t.Identity()); exists {
			d.Verdict, d.Reason, d.Aborted = v1alpha1.FencingHealthy, ReasonTargetCameBack, true
			d.Message = fmt.Sprintf("pod %s renewed its fencing Lease after it was declared dead: its node is back; failover abandoned", t.Pod)
			d.RecheckAfter = holderRecheck(o)
			return d
		}
		// Its pod is deleted but its agent still runs: the volume is not
		// taken from it until its Lease runs out.
		d.Verdict, d.Reason = v1alpha1.FencingConfirmedDead, ReasonOldAgentRenewing
		d.RecheckAfter = o.Lease.ExpiresAt(o.Timing).Sub(o.Now)
		d.Message = fmt.Sprintf("the agent of deleted pod %s still renews its fencing Lease; waiting for it to stop", t.Pod)
		return d
	}
	d.Actions = fenceActions(o, t)
	switch {
	case len(d.Actions) > 0:
		d.Verdict, d.Reason = v1alpha1.FencingConfirmedDead, ReasonFencing
		d.Message = fmt.Sprintf("fencing pod %s on node %s: %d steps left", t.Pod, t.Node, len(d.Actions))
	case replacementReady(o, t):
		d.Verdict, d.Reason, d.Recovered = v1alpha1.FencingHealthy, ReasonRecovered, true
		d.Message = fmt.Sprintf("a replacement of pod %s is Ready", t.Pod)
		d.RecheckAfter = holderRecheck(o)
	default:
		d.Verdict, d.Reason = v1alpha1.FencingFenced, ReasonFenced
		d.Message = fmt.Sprintf("pod %s on node %s is fenced; waiting for the replacement to be Ready", t.Pod, t.Node)
	}
	return d
}

// fenceActions are the steps not yet done for target, in order.
//
// The volume is released from the dead node's volumesInUse before the pod
// is deleted: the attach/detach controller keeps a volume whose pod exists
// where it is, and once the pod is gone it detaches at once, usually before
// the replacement is scheduled, instead of first reporting a Multi-Attach
// error for it. Its detaches are one synchronous node status write each and
// its events share their API budget, so with a lost node's volumes queued
// behind each other every request it is spared counts.
func fenceActions(o Observation, t Target) []Action {
	var acts []Action
	node, nodeExists := o.Nodes[t.Node]
	// With the out-of-service taint the attach/detach controller detaches
	// at once by itself; otherwise irisha does what the dead kubelet cannot.
	releases := t.Reason != ReasonNodeShutdown || !nodeExists
	if nodeExists {
		if t.Reason == ReasonNodeShutdown {
			if !node.OutOfService {
				acts = append(acts, Action{Kind: TaintOutOfService, Node: t.Node})
			}
		} else if !node.Unschedulable {
			acts = append(acts, Action{Kind: Cordon, Node: t.Node})
		}
	}
	if releases && nodeExists && node.VolumeInUse {
		acts = append(acts, Action{Kind: ReleaseVolume, Node: t.Node})
	}
	for _, p := range o.Pods {
		if p.UID == t.PodUID {
			acts = append(acts, Action{Kind: ForceDeletePod, Node: t.Node, Pod: p.Name, PodUID: p.UID})
		}
	}
	if o.Lease != nil && o.Lease.Holder == t.Identity() {
		acts = append(acts, Action{Kind: ClearLease, Node: t.Node, Holder: t.Identity()})
	}
	if releases {
		for _, a := range o.Attachments {
			if a.Node == t.Node && !a.Deleting {
				acts = append(acts, Action{Kind: DeleteAttachment, Node: t.Node, Attachment: a.Name, AttachmentUID: a.UID})
			}
		}
	}
	return acts
}

// witnessesAllow: no witness quorum is in use, or it allows a failover now.
// NodeShutdown mode does not ask: a node confirmed off runs no IRIS.
func witnessesAllow(o Observation) bool {
	return o.Witnesses == nil || o.Witnesses.Allows(o.Now)
}

func replacementReady(o Observation, t Target) bool {
	for _, p := range o.Pods {
		if p.UID != t.PodUID && p.Node != t.Node && p.Ready && !p.Deleting {
			return true
		}
	}
	return false
}

// renewedSince: the target's agent has renewed the Lease since the target was
// declared dead, and that renewal is still valid.
func renewedSince(o Observation, t Target) bool {
	l := o.Lease
	return l != nil && l.Holder == t.Identity() && !l.RenewTime.Equal(t.LeaseRenewTime) && o.Now.Before(l.ExpiresAt(o.Timing))
}

func findHolder(pods []Pod, identity string) (Pod, bool) {
	for _, p := range pods {
		if p.Identity() == identity {
			return p, true
		}
	}
	return Pod{}, false
}

// kubeletAlive: the node is Ready and, where its node Lease is known, the
// kubelet renewed it lately. The renew time is on the kubelet's clock, which
// the skew margin covers.
func kubeletAlive(o Observation, n Node) bool {
	if n.Ready != corev1.ConditionTrue {
		return false
	}
	return n.LeaseRenew.IsZero() || o.Now.Sub(n.LeaseRenew) <= o.Timing.KubeletSilence+o.Timing.SkewMargin
}

func nodeReady(o Observation, name string) bool {
	n, ok := o.Nodes[name]
	return ok && n.Ready == corev1.ConditionTrue
}
