package failover

import (
	"context"
	"fmt"
	"strconv"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/tools/events"
	"k8s.io/utils/clock"
	"k8s.io/utils/ptr"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	logf "sigs.k8s.io/controller-runtime/pkg/log"

	"github.com/irisha/irisha/api/v1alpha1"
	"github.com/irisha/irisha/internal/fencing"
	"github.com/irisha/irisha/internal/quorum"
)

// progressRecheck is how soon an instance being fenced is looked at again
// even if no watched object changed.
const progressRecheck = time.Second

// Reconciler fails instances over when the pod running IRIS is provably dead.
type Reconciler struct {
	client.Client
	// APIReader reads past the cache, after a lost write race (patchFresh);
	// SetupWithManager takes the manager's when it is nil.
	APIReader client.Reader
	// Recorder and Metrics may be nil (tests).
	Recorder events.EventRecorder
	Clock    clock.PassiveClock
	Timing   fencing.Timing
	Metrics  *Metrics
	// Witnesses judges from the node witnesses' records; nil when the
	// cluster runs none.
	Witnesses WitnessJudge

	leases    *leaseClock
	releases  volumeReleases
	deletions askedDeletions
}

// WitnessJudge is what the failover decision needs of the node witnesses
// (witnesses.Observer).
type WitnessJudge interface {
	// Judge says whether they allow failing over an instance with this
	// Lease duration at now.
	Judge(now time.Time, leaseDuration, skew time.Duration) quorum.Judgement
	// ReadsSince is when the operator's reads last resumed after a gap: a
	// Lease window never starts before it.
	ReadsSince() time.Time
}

// RBAC: the verbs of the calls this controller makes. Reads go through the
// cache (list, watch); "get" only where patchFresh or patchVolumesInUse
// read past it after a lost write race.
// +kubebuilder:rbac:groups=irisha.dev,resources=irisinstances,verbs=get;list;watch
// +kubebuilder:rbac:groups=irisha.dev,resources=irisinstances/status,verbs=patch
// The fencing steps: force-delete the dead pod, delete its volume's
// attachment, cordon and taint the node (patch), and clear the fencing
// Lease (update, with a resourceVersion precondition).
// +kubebuilder:rbac:groups="",resources=pods,verbs=list;watch;delete
// +kubebuilder:rbac:groups="",resources=nodes,verbs=get;list;watch;patch
// Unusual: rewriting a node's status.volumesInUse, which is the kubelet's.
// releaseVolume does it for a node whose kubelet is dead, once the Lease
// proves IRIS stopped, so that the attach/detach controller detaches the
// volume at once instead of after its 6-minute wait.
// +kubebuilder:rbac:groups="",resources=nodes/status,verbs=patch
// +kubebuilder:rbac:groups="",resources=persistentvolumes;persistentvolumeclaims,verbs=list;watch
// +kubebuilder:rbac:groups=storage.k8s.io,resources=volumeattachments,verbs=list;watch;delete
// Fencing Leases in the instances' namespaces; node Leases in
// kube-node-lease, read to see that a node is back.
// +kubebuilder:rbac:groups=coordination.k8s.io,resources=leases,verbs=list;watch;update
// +kubebuilder:rbac:groups=events.k8s.io,resources=events,verbs=create;patch

// Reconcile judges one instance and takes the next fencing steps.
func (r *Reconciler) Reconcile(ctx context.Context, req ctrl.Request) (ctrl.Result, error) {
	log := logf.FromContext(ctx)
	inst := &v1alpha1.IrisInstance{}
	if err := r.Get(ctx, req.NamespacedName, inst); err != nil {
		if apierrors.IsNotFound(err) {
			r.Metrics.forget(req.Namespace, req.Name)
			return ctrl.Result{}, nil
		}
		return ctrl.Result{}, fmt.Errorf("reading IrisInstance %s: %w", req.Name, err)
	}
	obs, w, err := r.observe(ctx, inst)
	if err != nil {
		return ctrl.Result{}, err
	}
	d := fencing.Decide(obs)
	r.Metrics.setVerdict(inst, d.Verdict)

	if d.Start {
		log.Info("Pod declared dead; failing over", "pod", d.Target.Pod, "node", d.Target.Node, "reason", d.Target.Reason)
		// Recorded before the first step, so a restarted operator
		// continues this failover instead of judging afresh; told once it
		// is recorded, so a failed write is not told twice.
		if err := r.updateStatus(ctx, inst, func(st *v1alpha1.IrisInstanceStatus) { startRecord(st, d, obs.Now) }); err != nil {
			return ctrl.Result{}, err
		}
		r.event(inst, corev1.EventTypeWarning, "FailoverStarted", "Failover", "%s", d.Message)
		r.Metrics.failoverStarted(d.Target.Reason)
	}
	if err := r.fence(ctx, inst, w, d.Actions); err != nil {
		return ctrl.Result{}, err
	}

	now := r.Clock.Now()
	before := inst.Status.LastFailover.DeepCopy()
	wasHeld := meta.IsStatusConditionTrue(inst.Status.Conditions, v1alpha1.ConditionFailoverHeld)
	if err := r.updateStatus(ctx, inst, func(st *v1alpha1.IrisInstanceStatus) { progress(st, d, now) }); err != nil {
		return ctrl.Result{}, err
	}
	r.announce(inst, before, inst.Status.LastFailover, d)
	if !wasHeld && meta.IsStatusConditionTrue(inst.Status.Conditions, v1alpha1.ConditionFailoverHeld) {
		r.event(inst, corev1.EventTypeWarning, "FailoverHeld", "Failover", "%s", d.Message)
	}
	switch {
	case len(d.Actions) > 0 || d.Verdict == v1alpha1.FencingConfirmedDead || d.Verdict == v1alpha1.FencingFenced:
		return ctrl.Result{RequeueAfter: progressRecheck}, nil
	case d.RecheckAfter > 0:
		return ctrl.Result{RequeueAfter: d.RecheckAfter}, nil
	}
	return ctrl.Result{}, nil
}

// fence carries out the steps in order, each told in an Event named after
// it; a failed step is a FencingFailed Event and ends the reconcile.
func (r *Reconciler) fence(ctx context.Context, inst *v1alpha1.IrisInstance, w *world, actions []fencing.Action) error {
	for _, a := range actions {
		what, err := r.act(ctx, w, a)
		if err != nil {
			r.event(inst, corev1.EventTypeWarning, "FencingFailed", string(a.Kind), "%v", err)
			return fmt.Errorf("fencing step %s: %w", a.Kind, err)
		}
		logf.FromContext(ctx).Info("Fencing step done", "step", a.Kind, "detail", what)
		r.event(inst, corev1.EventTypeNormal, string(a.Kind), string(a.Kind), "%s", what)
	}
	return nil
}

func startRecord(st *v1alpha1.IrisInstanceStatus, d fencing.Decision, now time.Time) {
	t := d.Target
	rec := &v1alpha1.FailoverRecord{Reason: t.Reason, Node: t.Node, Pod: t.Pod, PodUID: t.PodUID, DetectedAt: metav1.NewMicroTime(now)}
	if !t.LeaseRenewTime.IsZero() {
		rec.LeaseRenewTime = ptr.To(metav1.NewMicroTime(t.LeaseRenewTime))
	}
	st.LastFailover = rec
	st.Failovers++
	st.Fencing = d.Verdict
	meta.SetStatusCondition(&st.Conditions, failingOver(rec, now))
}

// progress records what the decision says about the failover in progress.
// It only changes st (it may run again on a fresher status); announce tells
// of what it recorded once that is written.
func progress(st *v1alpha1.IrisInstanceStatus, d fencing.Decision, now time.Time) {
	st.Fencing = d.Verdict
	held := d.Reason == fencing.ReasonNoWitnessQuorum
	if held || meta.FindStatusCondition(st.Conditions, v1alpha1.ConditionFailoverHeld) != nil {
		c := metav1.Condition{Type: v1alpha1.ConditionFailoverHeld, Status: metav1.ConditionFalse, Reason: "WitnessQuorum",
			Message: "the node witnesses allow failovers", LastTransitionTime: metav1.NewTime(now)}
		if held {
			c.Status, c.Reason, c.Message = metav1.ConditionTrue, fencing.ReasonNoWitnessQuorum, d.Message
		}
		meta.SetStatusCondition(&st.Conditions, c)
	}
	advance(st.LastFailover, d, now)
	meta.SetStatusCondition(&st.Conditions, failingOver(st.LastFailover, now))
}

// advance records the steps the decision shows of the failover in progress
// (none when rec has ended).
func advance(rec *v1alpha1.FailoverRecord, d fencing.Decision, now time.Time) {
	if rec == nil || rec.ReadyAt != nil || rec.Abandoned {
		return
	}
	if rec.FencedAt == nil && len(d.Actions) == 0 && (d.Verdict == v1alpha1.FencingFenced || d.Recovered) {
		rec.FencedAt = ptr.To(metav1.NewMicroTime(now))
	}
	switch {
	case d.Recovered:
		rec.ReadyAt = ptr.To(metav1.NewMicroTime(now))
		rec.Seconds = strconv.FormatFloat(now.Sub(rec.DetectedAt.Time).Seconds(), 'f', 1, 64)
	case d.Aborted:
		rec.Abandoned = true
	}
}

// Reasons of the FailingOver condition.
const (
	ReasonDetected   = "Detected"
	ReasonFenced     = "Fenced"
	ReasonRecovered  = "Recovered"
	ReasonAbandoned  = "Abandoned"
	ReasonNoFailover = "NoFailover"
)

// failingOver is the FailingOver condition of the failover rec records.
func failingOver(rec *v1alpha1.FailoverRecord, now time.Time) metav1.Condition {
	c := metav1.Condition{Type: v1alpha1.ConditionFailingOver, Status: metav1.ConditionFalse, Reason: ReasonNoFailover,
		Message: "no failover has run", LastTransitionTime: metav1.NewTime(now)}
	switch {
	case rec == nil:
	case rec.Abandoned:
		c.Reason, c.Message = ReasonAbandoned, fmt.Sprintf("the failover of pod %s on node %s was abandoned: its agent renewed the Lease before it was fenced", rec.Pod, rec.Node)
	case rec.ReadyAt != nil:
		c.Reason, c.Message = ReasonRecovered, fmt.Sprintf("pod %s on node %s failed over (%s) and a replacement was Ready %s s later", rec.Pod, rec.Node, rec.Reason, rec.Seconds)
	case rec.FencedAt != nil:
		c.Status, c.Reason, c.Message = metav1.ConditionTrue, ReasonFenced, fmt.Sprintf("pod %s on node %s is fenced (%s): waiting for its replacement to be Ready", rec.Pod, rec.Node, rec.Reason)
	default:
		c.Status, c.Reason, c.Message = metav1.ConditionTrue, ReasonDetected, fmt.Sprintf("pod %s on node %s was declared dead (%s): fencing it", rec.Pod, rec.Node, rec.Reason)
	}
	return c
}

// announce emits the Events and metrics of what progress recorded: the
// steps of the failover that before did not have and after does.
func (r *Reconciler) announce(inst *v1alpha1.IrisInstance, before, after *v1alpha1.FailoverRecord, d fencing.Decision) {
	if before == nil || after == nil || before.PodUID != after.PodUID {
		return
	}
	if before.FencedAt == nil && after.FencedAt != nil {
		r.event(inst, corev1.EventTypeNormal, "Fenced", "Failover", "pod %s on node %s is fenced: its replacement may start", after.Pod, after.Node)
	}
	if before.ReadyAt == nil && after.ReadyAt != nil {
		r.Metrics.failoverDone(after.ReadyAt.Sub(after.DetectedAt.Time).Seconds())
		r.event(inst, corev1.EventTypeNormal, "FailoverCompleted", "Failover", "a replacement of pod %s is Ready, %s s after it was declared dead", after.Pod, after.Seconds)
	}
	if !before.Abandoned && after.Abandoned {
		r.event(inst, corev1.EventTypeNormal, "FailoverAbandoned", "Failover", "%s", d.Message)
	}
}

// updateStatus applies mutate to the status and patches what it changes
// (patchFresh: the instance controller writes the status too). mutate must
// decide from the status it is given.
func (r *Reconciler) updateStatus(ctx context.Context, inst *v1alpha1.IrisInstance, mutate func(*v1alpha1.IrisInstanceStatus)) error {
	written, err := patchFresh(ctx, r.Client, r.APIReader, inst, true, func(i *v1alpha1.IrisInstance) { mutate(&i.Status) })
	if err != nil {
		return fmt.Errorf("recording the failover in the status of %s: %w", inst.Name, err)
	}
	*inst = *written
	return nil
}

func (r *Reconciler) event(inst *v1alpha1.IrisInstance, typ, reason, action, note string, args ...any) {
	if r.Recorder != nil {
		r.Recorder.Eventf(inst, nil, typ, reason, action, note, args...)
	}
}
