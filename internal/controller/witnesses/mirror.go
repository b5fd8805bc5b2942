package witnesses

import (
	"context"
	"encoding/json"
	"fmt"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller/controllerutil"
	"sigs.k8s.io/controller-runtime/pkg/handler"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"
	"sigs.k8s.io/controller-runtime/pkg/source"

	"github.com/irisha/irisha/api/v1alpha1"
	"github.com/irisha/irisha/internal/resources"
	"github.com/irisha/irisha/internal/witness"
)

// FieldManager is the mirror's name in managedFields.
const FieldManager = "irisha-witnesses"

// MirrorReconciler keeps, in each instance's namespace, the ConfigMap its
// agent reads the witnesses from (resources.WitnessesConfigMapName): the
// agent's Role reaches nothing outside its namespace.
type MirrorReconciler struct {
	client.Client
	Observer *Observer
}

// RBAC: the mirrors are written with CreateOrUpdate, which reads from the
// cache; the membership ConfigMap is read past it (get), as the witness
// records are listed past it (Observer.read).
// +kubebuilder:rbac:groups=irisha.dev,resources=irisinstances,verbs=list;watch
// +kubebuilder:rbac:groups="",resources=configmaps,verbs=get;list;watch;create;update
// +kubebuilder:rbac:groups=coordination.k8s.io,resources=leases,verbs=list;watch
// +kubebuilder:rbac:groups="",resources=nodes,verbs=list;watch

// SetupWithManager watches the instances and the observer's changes.
func (r *MirrorReconciler) SetupWithManager(mgr ctrl.Manager) error {
	if err := mgr.Add(r.Observer); err != nil {
		return fmt.Errorf("adding the witness observer: %w", err)
	}
	everyInstance := handler.EnqueueRequestsFromMapFunc(func(ctx context.Context, _ client.Object) []reconcile.Request {
		list := &v1alpha1.IrisInstanceList{}
		if err := r.List(ctx, list); err != nil {
			return nil
		}
		reqs := make([]reconcile.Request, 0, len(list.Items))
		for i := range list.Items {
			reqs = append(reqs, reconcile.Request{NamespacedName: client.ObjectKeyFromObject(&list.Items[i])})
		}
		return reqs
	})
	return ctrl.NewControllerManagedBy(mgr).
		For(&v1alpha1.IrisInstance{}).
		Owns(&corev1.ConfigMap{}).
		WatchesRawSource(source.Channel(r.Observer.Changes, everyInstance)).
		Named("witness-mirror").
		Complete(r)
}

// Reconcile writes the instance's mirror of the published members.
func (r *MirrorReconciler) Reconcile(ctx context.Context, req ctrl.Request) (ctrl.Result, error) {
	inst := &v1alpha1.IrisInstance{}
	if err := r.Get(ctx, req.NamespacedName, inst); err != nil {
		if apierrors.IsNotFound(err) {
			return ctrl.Result{}, nil
		}
		return ctrl.Result{}, fmt.Errorf("reading IrisInstance %s: %w", req.Name, err)
	}
	members := r.Observer.Members()
	if len(members) == 0 {
		return ctrl.Result{}, nil // nothing published yet
	}
	data, err := json.Marshal(members)
	if err != nil {
		return ctrl.Result{}, err
	}
	cm := &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Namespace: inst.Namespace, Name: resources.WitnessesConfigMapName(inst)}}
	if _, err := controllerutil.CreateOrUpdate(ctx, r.Client, cm, func() error {
		cm.Labels = resources.Labels(inst)
		cm.Data = map[string]string{witness.MembersKey: string(data)}
		return controllerutil.SetControllerReference(inst, cm, r.Scheme())
	}); err != nil {
		return ctrl.Result{}, fmt.Errorf("writing the witnesses' mirror of %s: %w", inst.Name, err)
	}
	return ctrl.Result{}, nil
}
