package fencing

import (
	"time"

	corev1 "k8s.io/api/core/v1"

	"github.com/irisha/irisha/api/v1alpha1"
	"github.com/irisha/irisha/internal/quorum"
)

// Observation is everything the decision needs, gathered by the controller
// from its caches. Nothing in it is fetched here: Decide is a pure function.
type Observation struct {
	// Now, on the operator's clock.
	Now time.Time
	// Mode is the instance's spec.failover.mode.
	Mode   v1alpha1.FailoverMode
	Timing Timing

	// Lease is the instance's fencing Lease; nil if it does not exist.
	Lease *Lease
	// Pods of the instance, including terminating ones.
	Pods []Pod
	// Nodes the pods, the attachments and the failover refer to, by name. A
	// name that is missing means that Node object is gone.
	Nodes map[string]Node
	// Attachments are the VolumeAttachments of the instance's volume.
	Attachments []Attachment

	// Failover is the failover recorded in the instance's status, if any:
	// unfinished, it is continued rather than decided again (the operator
	// may have restarted half-way). Giving its node back is the node
	// pass's (TidyNode), which sees every instance's failovers of it.
	Failover *Failover

	// Witnesses is what the node witnesses allow (quorum.Judge), nil when
	// the cluster runs none: then no agent can have kept IRIS running past
	// its Lease, and the Lease rule alone decides.
	Witnesses *quorum.Judgement
}

// Timing of the operator's side of the fencing protocol.
type Timing struct {
	// SkewMargin is added to the Lease duration before the operator treats
	// a Lease as expired: it covers the time between the holder's renewal
	// and the operator seeing it, and clock rates that differ a little.
	SkewMargin time.Duration
	// KubeletSilence is how long a node's Lease may go unrenewed before its
	// kubelet counts as gone even though the node is still reported Ready
	// (the node controller takes 50 s to say so). The kubelet renews every
	// 10 s by default.
	KubeletSilence time.Duration
}

// DefaultTiming: leaseDuration 10 s is fenced by about 12 s (the Lease
// duration plus SkewMargin: docs/failover.md, "The protocol"); a kubelet is
// gone after two missed renewals of its node Lease.
func DefaultTiming() Timing {
	return Timing{SkewMargin: 2 * time.Second, KubeletSilence: 20 * time.Second}
}

// Lease is the instance's fencing Lease as the operator observed it.
type Lease struct {
	// Holder is the holding pod's identity, "<pod name>_<pod UID>"; empty
	// when released.
	Holder   string
	Duration time.Duration
	// RenewTime as the holder wrote it, on the holder's clock: only shown,
	// never compared with the operator's clock.
	RenewTime time.Time
	// Since is when the operator first saw this holder with this renew
	// time, on its own clock. Expiry counts from here, so the agent's and
	// the operator's clocks need not agree, only run at about the same rate.
	Since time.Time
}

// ExpiresAt is when the operator may treat the Lease as expired.
func (l Lease) ExpiresAt(t Timing) time.Time { return l.Since.Add(l.Duration + t.SkewMargin) }

// Pod is one pod of the instance.
type Pod struct {
	Name string
	UID  string
	// Node is spec.nodeName; empty while unscheduled.
	Node     string
	Deleting bool
	// IrisRunning: the kubelet last reported the IRIS container running.
	IrisRunning bool
	Ready       bool
}

// Identity is how the pod's agent names itself in the Lease.
func (p Pod) Identity() string { return Identity(p.Name, p.UID) }

// Identity of a pod's agent in the fencing Lease.
func Identity(podName, podUID string) string { return podName + "_" + podUID }

// Node is what matters about a node.
type Node struct {
	Name  string
	Ready corev1.ConditionStatus
	// LeaseRenew is the renew time of its node Lease (kube-node-lease), on
	// the kubelet's clock; zero when unknown.
	LeaseRenew time.Time
	// LeaseSeen is when the operator saw the current renewal of the node
	// Lease arrive, on its own clock. Zero when it has seen no renewal
	// since it started: a Lease seen for the first time proves nothing
	// about when its kubelet last renewed it.
	LeaseSeen time.Time
	// MarkedSince is when the operator first saw irisha's cordon or
	// out-of-service annotation on the node, on its own clock; zero when it
	// carries neither (or the caller did not look).
	MarkedSince time.Time
	// Unschedulable: cordoned, by anyone.
	Unschedulable bool
	// CordonedByIrisha: irisha cordoned it (annotation), so irisha may
	// uncordon it once it is back.
	CordonedByIrisha bool
	// ConfirmedOff: the user's fence agent annotated it
	// irisha.dev/node-fenced=true.
	ConfirmedOff bool
	// OutOfService: it has the node.kubernetes.io/out-of-service taint.
	OutOfService bool
	// TaintedByIrisha: irisha added that taint (annotation).
	TaintedByIrisha bool
	// VolumeInUse: its status.volumesInUse lists the instance's volume, which
	// makes the attach/detach controller wait up to 6 minutes before it
	// detaches it.
	VolumeInUse bool
}

// Attachment is a VolumeAttachment of the instance's volume.
type Attachment struct {
	Name     string
	UID      string
	Node     string
	Attached bool
	// Deleting: its deletion was asked for (by irisha or anyone) and waits
	// for the attacher's detach, so asking again would only repeat it.
	Deleting bool
}

// Failover is a failover the operator recorded.
type Failover struct {
	Target
	DetectedAt time.Time
	// Done: a replacement was Ready, or the failover was abandoned.
	Done bool
	// Abandoned: the old pod's agent renewed before it was fenced, so that
	// pod is the instance's live one, not an old one.
	Abandoned bool
}

// NodeView is what tidying a node needs: the node, and what irisha's
// records tell about it.
type NodeView struct {
	// Now, on the operator's clock.
	Now    time.Time
	Timing Timing
	Node   Node
	NodeHistory
}

// NodeHistory is what the IrisInstances that exist tell about one node.
// An instance deleted in the middle of a failover took its record with it:
// what is left of it is its pods (Orphaned) and irisha's marks on the node.
type NodeHistory struct {
	// Failovers are the last recorded failovers, finished or not, of the
	// instances whose last failover targeted the node.
	Failovers []Failover
	// Pods of irisha instances on the node, terminating ones included.
	Pods []NodePod
}

// NodePod is a pod of an irisha instance on a node being tidied.
type NodePod struct {
	Name string
	UID  string
	// Orphaned: its IrisInstance is gone, possibly deleted in the middle of
	// a failover whose old pod this is.
	Orphaned bool
}

// Target is the pod declared dead and the node it ran on.
type Target struct {
	Reason string
	Node   string
	Pod    string
	PodUID string
	// LeaseRenewTime is the renew time the Lease showed when the pod was
	// declared dead; compared only for equality, it tells whether the old
	// agent has renewed since (it came back).
	LeaseRenewTime time.Time
}

// Identity of the target pod's agent.
func (t Target) Identity() string { return Identity(t.Pod, t.PodUID) }
