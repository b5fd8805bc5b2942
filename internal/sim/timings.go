package sim

import (
	"time"

	"github.com/irisha/irisha/internal/sim/kubelet"
)

// Timings are the control-plane and simulated-node timings of a cluster.
type Timings struct {
	// NodeMonitorGracePeriod: a node whose Lease is not renewed for this
	// long goes Unknown/NotReady (kube-controller-manager; 50 s since 1.32).
	NodeMonitorGracePeriod time.Duration
	// NodeMonitorPeriod: how often the node-lifecycle controller looks.
	NodeMonitorPeriod time.Duration
	// NodeStartupGracePeriod: leeway for a node that never became Ready.
	NodeStartupGracePeriod time.Duration
	// NodeLeaseDurationSeconds: the node Lease's duration; kwok renews it
	// every quarter (the kubelet's 40 s -> every 10 s).
	NodeLeaseDurationSeconds int
	// NodeStatusPeriod: how often a Ready node's heartbeat (kwok) rewrites
	// its status (conditions with a fresh lastHeartbeatTime, the same
	// lastTransitionTime), jittered by a sixtieth; 0 is kwok's 10 minutes
	// (a kubelet's nodeStatusReportFrequency is 5). The Lease, not this,
	// keeps a node Ready; a node that comes back writes its status at
	// once.
	NodeStatusPeriod time.Duration
	// DefaultTolerationSeconds: what the DefaultTolerationSeconds admission
	// plugin gives pods for the not-ready/unreachable NoExecute taints.
	DefaultTolerationSeconds int64
	// CrashBackoff is the kubelet's container restart back-off.
	CrashBackoff kubelet.Backoff
	// AttachDelay: how long the block store takes to attach (0: instant,
	// so that measurements are control-plane time).
	AttachDelay time.Duration
	// SnapshotReadyDelay: time between a snapshot's creationTime and
	// readyToUse.
	SnapshotReadyDelay time.Duration
	// SnapshotCutDelay: time between a snapshot's content appearing and
	// its cut, the CSI driver's CreateSnapshot (0: at once, so that
	// measurements are control-plane time).
	SnapshotCutDelay time.Duration
	// ExecDialTimeout: how long the API server tries to reach the kubelet
	// of a node cut off from it before an exec fails (the dial timeout of
	// kube-apiserver's kubelet client, 30 s; 0 is that).
	ExecDialTimeout time.Duration
}

// DefaultTimings are Kubernetes' defaults: 50 s node-monitor grace period,
// 300 s default tolerations, 40 s node Lease, the kubelet's 10 s..300 s
// crash back-off. (The attach/detach controller's 6-minute
// maxWaitForUnmountDuration is not a flag; it is always 6 minutes.)
func DefaultTimings() Timings {
	return Timings{
		NodeMonitorGracePeriod:   50 * time.Second,
		NodeMonitorPeriod:        5 * time.Second,
		NodeStartupGracePeriod:   60 * time.Second,
		NodeLeaseDurationSeconds: 40,
		NodeStatusPeriod:         10 * time.Minute,
		DefaultTolerationSeconds: 300,
		CrashBackoff:             kubelet.DefaultBackoff(),
		ExecDialTimeout:          defaultExecDialTimeout,
	}
}

// FastTimings shrink every timer for tests that check orderings, not
// durations: a dead node is NotReady after about 5 s and its pods are
// evicted 2 s later.
func FastTimings() Timings {
	return Timings{
		NodeMonitorGracePeriod:   5 * time.Second,
		NodeMonitorPeriod:        time.Second,
		NodeStartupGracePeriod:   10 * time.Second,
		NodeLeaseDurationSeconds: 4,
		NodeStatusPeriod:         10 * time.Minute,
		DefaultTolerationSeconds: 2,
		CrashBackoff:             kubelet.Backoff{Initial: time.Second, Max: 5 * time.Second, ResetAfter: time.Minute},
		ExecDialTimeout:          2 * time.Second,
	}
}
