package status

import (
	"time"

	coordinationv1 "k8s.io/api/coordination/v1"
	corev1 "k8s.io/api/core/v1"
	storagev1 "k8s.io/api/storage/v1"

	"github.com/irisha/irisha/api/v1alpha1"
)

// Snapshot is everything status reads about one instance, as read: objects
// that could not be read are nil and named in Unreadable.
type Snapshot struct {
	// Now is when it was read; ages are counted from it.
	Now      time.Time
	Instance *v1alpha1.IrisInstance
	// Pods of the instance (label irisha.dev/instance), any state.
	Pods []corev1.Pod
	// Nodes the pods run on, by name.
	Nodes        map[string]*corev1.Node
	PVC          *corev1.PersistentVolumeClaim
	StorageClass *storagev1.StorageClass
	// Usage of the volume, nil when nothing reports it (VolumeUsageReader).
	Usage *VolumeUsage
	// Lease is the instance's fencing Lease.
	Lease *coordinationv1.Lease
	// Backups whose spec.instanceName is the instance, any order.
	Backups []v1alpha1.IrisBackup
	// Events of the namespace; the view keeps those about the instance and
	// its objects.
	Events []corev1.Event
	// Unreadable lists what could not be read, and why (RBAC, mostly).
	Unreadable []Unreadable
}

// Unreadable is one object or list status could not read.
type Unreadable struct {
	What  string `json:"what"`
	Error string `json:"error"`
}
