package instance

import (
	"context"
	"fmt"
	"strings"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/sets"
	"k8s.io/client-go/util/csaupgrade"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/client/apiutil"
	"sigs.k8s.io/controller-runtime/pkg/controller/controllerutil"

	"github.com/irisha/irisha/api/v1alpha1"
	"github.com/irisha/irisha/internal/ssa"
)

// FieldManager is the instance controller's name in managedFields: the
// fields it applies are owned under it, and it takes them back from anyone
// who edits them.
const FieldManager = "irisha-instance"

// legacyFieldManagers wrote the owned objects before irisha applied them:
// the field manager the API server derived from the operator binary's user
// agent, for its creates and updates.
var legacyFieldManagers = sets.New("irisha-manager")

// ConflictError is an object irisha would create that already exists and
// belongs to something else. irisha never takes such an object over.
type ConflictError struct{ Kind, Name, Reason string }

func (e *ConflictError) Error() string {
	return fmt.Sprintf("%s %s already exists and %s; rename the IrisInstance or remove the %s", e.Kind, e.Name, e.Reason, e.Kind)
}

// applyOwned server-side applies desired, which inst controls. The apply is
// forced: a field irisha decides and someone else edited (kubectl scale, an
// edited container command, a Role rule) is taken back, with an Event that
// names what was reverted; the fields irisha does not decide are left to
// whoever set them. An object as the last apply left it, with the same
// desired state, costs one cached read and no request.
func (r *Reconciler) applyOwned(ctx context.Context, inst *v1alpha1.IrisInstance, desired client.Object) error {
	if err := controllerutil.SetControllerReference(inst, desired, r.Scheme); err != nil {
		return fmt.Errorf("owning %T %s: %w", desired, desired.GetName(), err)
	}
	_, err := r.apply(ctx, inst, desired, func(live client.Object) error {
		if !metav1.IsControlledBy(live, inst) {
			return &ConflictError{Kind: kindOf(r.Scheme, desired), Name: desired.GetName(), Reason: "is not controlled by this IrisInstance"}
		}
		return nil
	})
	return err
}

// apply is applyOwned's core, shared with the claim: check vets the live
// object before anything is written, and may fit desired to it. It returns
// the object as the API server has it afterwards (or as the cache had it
// when nothing was sent).
func (r *Reconciler) apply(ctx context.Context, inst *v1alpha1.IrisInstance, desired client.Object, check func(live client.Object) error) (client.Object, error) {
	kind := kindOf(r.Scheme, desired)
	live := desired.DeepCopyObject().(client.Object)
	switch err := r.Get(ctx, client.ObjectKeyFromObject(desired), live); {
	case apierrors.IsNotFound(err):
		live = nil
	case err != nil:
		return nil, fmt.Errorf("getting %s %s: %w", kind, desired.GetName(), err)
	}
	if live != nil {
		if err := check(live); err != nil {
			return nil, err
		}
		if err := r.upgradeManagedFields(ctx, live); err != nil {
			return nil, fmt.Errorf("taking over %s %s from the irisha before server-side apply: %w", kind, desired.GetName(), err)
		}
	}
	cfg, intent, err := ssa.Configuration(desired, r.Scheme)
	if err != nil {
		return nil, err
	}
	key := ssa.Key{GroupKind: cfg.GroupVersionKind().GroupKind(), NamespacedName: client.ObjectKeyFromObject(desired)}
	if live != nil {
		fp, err := ssa.Fingerprint(live, FieldManager)
		if err != nil {
			return nil, err
		}
		if r.applied.Unchanged(key, live.GetUID(), fp, intent) {
			return live, nil
		}
	}
	last, appliedBefore := r.applied.Last(key)

	if err := r.Apply(ctx, client.ApplyConfigurationFromUnstructured(cfg), client.FieldOwner(FieldManager), client.ForceOwnership); err != nil {
		return nil, fmt.Errorf("applying %s %s: %w", kind, desired.GetName(), err)
	}
	after, err := r.typed(cfg)
	if err != nil {
		return nil, fmt.Errorf("reading the applied %s %s: %w", kind, desired.GetName(), err)
	}
	fp, err := ssa.Fingerprint(after, FieldManager)
	if err != nil {
		return nil, err
	}
	r.applied.Remember(key, ssa.Applied{Owner: client.ObjectKeyFromObject(inst), UID: after.GetUID(), Fingerprint: fp, Intent: intent})
	r.announceApply(inst, kind, live, after, appliedBefore, appliedBefore && last.Intent == intent)
	return after, nil
}

// announceApply tells what an apply did to an object: created it (again,
// if irisha had applied it before: it was deleted), or changed some of its
// field groups. When irisha's intent was the same as at its last apply, the
// change undid someone else's edit: a Warning naming what was put back.
func (r *Reconciler) announceApply(inst *v1alpha1.IrisInstance, kind string, live, after client.Object, appliedBefore, sameIntent bool) {
	name := after.GetName()
	switch {
	case live == nil && appliedBefore:
		r.eventAbout(inst, after, corev1.EventTypeWarning, "Recreated", "Apply", "Recreated %s %s, which was deleted outside irisha", kind, name)
		return
	case live == nil:
		r.eventAbout(inst, after, corev1.EventTypeNormal, "Created", "Create", "Created %s %s", kind, name)
		return
	case live.GetResourceVersion() == after.GetResourceVersion():
		return // the API server made no write
	}
	changed := strings.Join(ssa.ChangedGroups(live, after), ", ")
	switch {
	case changed == "":
		// Only the ownership of fields moved back to irisha.
	case sameIntent:
		by := ""
		if m := ssa.LastChangedBy(live, FieldManager); m != "" {
			by = " by " + m
		}
		r.eventAbout(inst, after, corev1.EventTypeWarning, "DriftReverted", "Apply", "Reverted %s of %s %s, changed%s outside irisha, to what IrisInstance %s says",
			changed, kind, name, by, inst.Name)
	default:
		r.eventAbout(inst, after, corev1.EventTypeNormal, "Updated", "Apply", "Updated %s of %s %s", changed, kind, name)
	}
}

// upgradeManagedFields hands the fields an irisha before server-side apply
// wrote (by update, under legacyFieldManagers) to FieldManager, so that the
// apply owns them: a field it no longer sets (the old hash stamp, for one)
// is then removed, not left forever under a manager nobody runs.
// https://kubernetes.io/docs/reference/using-api/server-side-apply/#upgrading-from-client-side-apply-to-server-side-apply
func (r *Reconciler) upgradeManagedFields(ctx context.Context, live client.Object) error {
	patch, err := csaupgrade.UpgradeManagedFieldsPatch(live, legacyFieldManagers, FieldManager)
	if err != nil || patch == nil {
		return err
	}
	// The patch carries the resourceVersion it was computed from: a
	// conflict means the object moved on, and the reconcile is retried.
	return r.Patch(ctx, live, client.RawPatch(types.JSONPatchType, patch))
}

// typed converts an object the API server returned into its Go type.
func (r *Reconciler) typed(u *unstructured.Unstructured) (client.Object, error) {
	obj, err := r.Scheme.New(u.GroupVersionKind())
	if err != nil {
		return nil, err
	}
	typed, ok := obj.(client.Object)
	if !ok {
		return nil, fmt.Errorf("%T is no client.Object", obj)
	}
	return typed, runtime.DefaultUnstructuredConverter.FromUnstructured(u.Object, typed)
}

// createOnce creates desired if it does not exist and never updates it: the
// fencing Lease's spec belongs to the agents once it exists, and an apply
// would take their fields.
func (r *Reconciler) createOnce(ctx context.Context, inst *v1alpha1.IrisInstance, desired client.Object) error {
	kind := kindOf(r.Scheme, desired)
	if err := controllerutil.SetControllerReference(inst, desired, r.Scheme); err != nil {
		return fmt.Errorf("owning %s %s: %w", kind, desired.GetName(), err)
	}
	switch err := r.Get(ctx, client.ObjectKeyFromObject(desired), desired.DeepCopyObject().(client.Object)); {
	case err == nil:
		return nil
	case !apierrors.IsNotFound(err):
		return fmt.Errorf("getting %s %s: %w", kind, desired.GetName(), err)
	}
	if err := r.Create(ctx, desired, client.FieldOwner(FieldManager)); err != nil && !apierrors.IsAlreadyExists(err) {
		return fmt.Errorf("creating %s %s: %w", kind, desired.GetName(), err)
	}
	return nil
}

// kindOf names obj's kind for messages.
func kindOf(scheme *runtime.Scheme, obj client.Object) string {
	gvk, err := apiutil.GVKForObject(obj, scheme)
	if err != nil {
		return fmt.Sprintf("%T", obj)
	}
	return gvk.Kind
}
