package instance

import (
	"context"
	"errors"
	"fmt"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/tools/events"
	"k8s.io/utils/clock"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/log"

	"github.com/irisha/irisha/api/v1alpha1"
	"github.com/irisha/irisha/internal/resources"
	"github.com/irisha/irisha/internal/ssa"
)

// problemRecheck is how often an instance blocked by something irisha does
// not watch (a foreign object in the way, a StorageClass) looks again.
const problemRecheck = time.Minute

// Reconciler reconciles IrisInstances.
type Reconciler struct {
	client.Client
	Scheme   *runtime.Scheme
	Recorder events.EventRecorder
	// Clock stamps condition transitions; tests inject a fake one.
	Clock clock.PassiveClock
	// AgentImage is the irisha image injected into IRIS pods.
	AgentImage string
	// Metrics may be nil (tests).
	Metrics *Metrics

	// applied saves the requests of applies that would change nothing.
	applied ssa.Memory
}

// RBAC: the verbs of the calls this controller makes, no more. Reads go
// through the manager's cache, which lists and watches: "get" is granted
// only where something reads past it or hands it on.
//
// The instance is only read; its status is written by merge patch
// (writeStatus). finalizers/update: every owner reference it sets has
// blockOwnerDeletion, which OpenShift's OwnerReferencesPermissionEnforcement
// admits only from a user who may update the owner's finalizers.
// +kubebuilder:rbac:groups=irisha.dev,resources=irisinstances,verbs=list;watch
// +kubebuilder:rbac:groups=irisha.dev,resources=irisinstances/status,verbs=patch
// +kubebuilder:rbac:groups=irisha.dev,resources=irisinstances/finalizers,verbs=update
// The owned objects are server-side applied (applyOwned, applyPVC): an
// apply is a PATCH, and the API server also asks for create when the object
// does not exist yet. Garbage collection deletes them with the instance,
// never the operator.
// +kubebuilder:rbac:groups=apps,resources=deployments,verbs=list;watch;create;patch
// +kubebuilder:rbac:groups="",resources=services;serviceaccounts;secrets;persistentvolumeclaims,verbs=list;watch;create;patch
// +kubebuilder:rbac:groups=rbac.authorization.k8s.io,resources=roles;rolebindings,verbs=list;watch;create;patch
// Unusual: delete on claims, which the operator never deletes. applyPVC
// owns or releases the claim when spec.storage.deletionPolicy changes, a
// change of its ownerReferences, and OwnerReferencesPermissionEnforcement
// admits that only from a user who may delete the object.
// +kubebuilder:rbac:groups="",resources=persistentvolumeclaims,verbs=delete
// Referenced ConfigMaps are read; the pods are watched for the status.
// +kubebuilder:rbac:groups="",resources=configmaps;pods,verbs=list;watch
// +kubebuilder:rbac:groups=events.k8s.io,resources=events,verbs=create;patch
// The fencing Lease is created once (createOnce) and then belongs to the
// agents.
// +kubebuilder:rbac:groups=coordination.k8s.io,resources=leases,verbs=list;watch;create
// Delegated, never used by the operator itself: the agent's Role
// (resources.AgentRole) grants these, and the API server lets a user create
// a Role only with the permissions it grants (RBAC escalation check).
// +kubebuilder:rbac:groups=coordination.k8s.io,resources=leases,verbs=get;watch;update
// +kubebuilder:rbac:groups="",resources=configmaps,verbs=get
// +kubebuilder:rbac:groups=irisha.dev,resources=irisbackups,verbs=get;list;watch
// +kubebuilder:rbac:groups=irisha.dev,resources=irisbackups/status,verbs=patch

// Reconcile brings one instance's objects to the state its spec describes. It
// is a list of guard clauses; each step either carries on or returns.
func (r *Reconciler) Reconcile(ctx context.Context, req ctrl.Request) (ctrl.Result, error) {
	logger := log.FromContext(ctx)
	inst := &v1alpha1.IrisInstance{}
	if err := r.Get(ctx, req.NamespacedName, inst); err != nil {
		if apierrors.IsNotFound(err) {
			r.Metrics.forget(req.Namespace, req.Name)
			r.applied.ForgetOwner(req.NamespacedName)
		}
		return ctrl.Result{}, client.IgnoreNotFound(err)
	}
	if !inst.DeletionTimestamp.IsZero() {
		// Owned objects go with the instance by garbage collection; the PVC
		// is owned only under the Delete policy, so Retain keeps the data.
		return ctrl.Result{}, nil
	}

	obs := observed{}
	restore, err := r.planRestore(ctx, inst)
	if err != nil {
		return ctrl.Result{}, err
	}
	obs.restore = restore
	growth, err := r.readGrowth(ctx, inst)
	if err != nil {
		return ctrl.Result{}, err
	}
	plan := planGrowth(growth)
	obs.growth, obs.growthIn = &plan, growth
	objs, prob, err := r.desired(ctx, inst, restore.planned(), plan.stopped)
	if err != nil {
		return ctrl.Result{}, err
	}
	if objs != nil && growth.bound {
		// The claim grows only as the plan says (an offline growth waits
		// for IRIS to stop), never to spec.storage.size at once.
		objs.PVC.Spec.Resources.Requests[corev1.ResourceStorage] = plan.request
	}
	obs.problem = prob
	if obs.problem == nil && restore.blocks() && restore.reason != ReasonRestorePending {
		obs.problem = &problem{reason: restore.reason, message: restore.message}
	}
	// A bad spec must not touch what already runs: the objects are applied
	// only when every one of them could be built, and a restore that cannot
	// be done yet applies nothing, so IRIS never starts on the wrong data.
	if objs != nil && !restore.blocks() {
		if err := r.applyAll(ctx, inst, objs, &obs); err != nil {
			var conflict *ConflictError
			var refused *ResizeRefusedError
			switch {
			case errors.As(err, &conflict):
				obs.problem = &problem{reason: ReasonConflict, message: conflict.Error()}
			case errors.As(err, &refused):
				obs.problem = &problem{reason: ReasonResizeRefused, message: refused.Error()}
			default:
				return ctrl.Result{}, err
			}
		}
	}
	if err := r.observe(ctx, inst, &obs); err != nil {
		return ctrl.Result{}, err
	}
	if obs.config, err = r.observeConfig(ctx, inst, objs); err != nil {
		return ctrl.Result{}, err
	}

	status := computeStatus(inst, obs, metav1.NewTime(r.Clock.Now()))
	r.announceDegraded(inst, status)
	r.announceConfig(inst, status)
	if err := r.writeStatus(ctx, inst, status); err != nil {
		if errors.Is(err, errStaleStatus) {
			logger.V(1).Info("IrisInstance changed meanwhile; computing its status again")
			return ctrl.Result{RequeueAfter: staleRetry}, nil
		}
		return ctrl.Result{}, err
	}
	r.announceGrowth(inst, plan)
	r.Metrics.setReady(inst, meta.IsStatusConditionTrue(status.Conditions, v1alpha1.ConditionReady))
	if u := growth.usage; u != nil {
		r.Metrics.setUsage(inst, u.Ratio())
	}
	logger.V(1).Info("Reconciled", "phase", status.Phase)
	if obs.problem != nil && (obs.problem.reason == ReasonConflict || obs.problem.reason == ReasonResizeRefused) {
		// Neither a foreign object nor a StorageClass is watched, so look
		// again later.
		return ctrl.Result{RequeueAfter: problemRecheck}, nil
	}
	if restore.blocks() {
		// Backups and snapshots are not watched by this controller.
		return ctrl.Result{RequeueAfter: restoreRecheck}, nil
	}
	if plan.rec != nil {
		// Neither the PV nor VolumeAttachments are watched here.
		return ctrl.Result{RequeueAfter: growthRecheck}, nil
	}
	return ctrl.Result{}, nil
}

// desired resolves the instance's references and builds its objects. A problem
// the user must fix (bad CPF text, a missing Secret) is returned as a problem,
// not an error: retrying cannot fix it, and the watch on the referenced object
// brings the instance back when it changes.
func (r *Reconciler) desired(ctx context.Context, inst *v1alpha1.IrisInstance, restore *resources.Restore, stopped bool) (*resources.Objects, *problem, error) {
	in, err := resources.Resolve(ctx, inst, clientLookup{r.Client})
	switch {
	case resources.IsRefError(err):
		return nil, &problem{reason: ReasonInvalidReference, message: err.Error()}, nil
	case err != nil:
		return nil, nil, err
	}
	in.AgentImage = r.AgentImage
	in.Restore = restore
	in.Stopped = stopped
	objs, err := resources.Build(in)
	switch {
	case resources.IsInvalidConfig(err):
		return nil, &problem{reason: ReasonInvalidConfig, message: err.Error() + "; nothing deployed was changed"}, nil
	case err != nil:
		return nil, nil, fmt.Errorf("building objects: %w", err)
	}
	return objs, nil, nil
}

func (r *Reconciler) applyAll(ctx context.Context, inst *v1alpha1.IrisInstance, objs *resources.Objects, obs *observed) error {
	pvc, err := r.applyPVC(ctx, inst, objs.PVC)
	if err != nil {
		return err
	}
	obs.pvc = pvc
	if err := r.createOnce(ctx, inst, objs.FencingLease); err != nil {
		return err
	}
	for _, o := range []client.Object{objs.MergeSecret, objs.ServiceAccount, objs.AgentRole, objs.AgentBinding, objs.Deployment, objs.Service} {
		if err := r.applyOwned(ctx, inst, o); err != nil {
			return err
		}
	}
	return nil
}

// observe reads the objects the status is computed from.
func (r *Reconciler) observe(ctx context.Context, inst *v1alpha1.IrisInstance, obs *observed) error {
	if obs.pvc == nil {
		pvc := &corev1.PersistentVolumeClaim{}
		err := r.Get(ctx, client.ObjectKey{Namespace: inst.Namespace, Name: resources.PVCName(inst)}, pvc)
		if err != nil && !apierrors.IsNotFound(err) {
			return fmt.Errorf("getting PersistentVolumeClaim: %w", err)
		}
		if err == nil {
			obs.pvc = pvc
		}
	}
	dep := &appsv1.Deployment{}
	err := r.Get(ctx, client.ObjectKey{Namespace: inst.Namespace, Name: resources.DeploymentName(inst)}, dep)
	if err != nil && !apierrors.IsNotFound(err) {
		return fmt.Errorf("getting Deployment: %w", err)
	}
	if err == nil && metav1.IsControlledBy(dep, inst) {
		obs.deployment = dep
	}
	pods := &corev1.PodList{}
	if err := r.List(ctx, pods, client.InNamespace(inst.Namespace), client.MatchingLabels(resources.SelectorLabels(inst))); err != nil {
		return fmt.Errorf("listing pods: %w", err)
	}
	obs.pods = pods.Items
	return nil
}

// announceDegraded emits a Warning event when the instance becomes Degraded or
// its reason changes, not at every reconcile.
func (r *Reconciler) announceDegraded(inst *v1alpha1.IrisInstance, next v1alpha1.IrisInstanceStatus) {
	now := meta.FindStatusCondition(next.Conditions, v1alpha1.ConditionDegraded)
	if now == nil || now.Status != metav1.ConditionTrue {
		return
	}
	before := meta.FindStatusCondition(inst.Status.Conditions, v1alpha1.ConditionDegraded)
	if before != nil && before.Status == now.Status && before.Reason == now.Reason && before.Message == now.Message {
		return
	}
	r.event(inst, corev1.EventTypeWarning, now.Reason, "Reconcile", "%s", now.Message)
}

// announceGrowth emits the plan's Events (a growth started or finished), and
// one when the VolumeGrowth condition turns to a reason worth telling.
func (r *Reconciler) announceGrowth(inst *v1alpha1.IrisInstance, plan growthPlan) {
	for _, e := range plan.events {
		r.event(inst, e.typ, e.reason, "Resize", "%s", e.message)
	}
	typ := corev1.EventTypeWarning
	switch {
	case plan.growth.reason == ReasonLargerThanSpec:
		typ = corev1.EventTypeNormal
	case plan.growth.status != metav1.ConditionFalse:
		return
	}
	if was := meta.FindStatusCondition(inst.Status.Conditions, v1alpha1.ConditionVolumeGrowth); was == nil || was.Reason != plan.growth.reason {
		r.event(inst, typ, plan.growth.reason, "Resize", "%s", plan.growth.message)
	}
}

func (r *Reconciler) event(inst *v1alpha1.IrisInstance, typ, reason, action, note string, args ...any) {
	r.eventAbout(inst, nil, typ, reason, action, note, args...)
}

// eventAbout is event with the object it concerns as the Event's related
// object: Events of one reason for the same instance are otherwise merged
// into one series that shows only the first note ("Created PVC", then
// nothing of the Deployment, Service and Role).
func (r *Reconciler) eventAbout(inst *v1alpha1.IrisInstance, related client.Object, typ, reason, action, note string, args ...any) {
	if r.Recorder != nil {
		r.Recorder.Eventf(inst, related, typ, reason, action, note, args...)
	}
}
