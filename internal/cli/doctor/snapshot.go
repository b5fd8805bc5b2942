package doctor

import (
	"time"

	snapshotv1 "github.com/kubernetes-csi/external-snapshotter/client/v8/apis/volumesnapshot/v1"
	appsv1 "k8s.io/api/apps/v1"
	coordinationv1 "k8s.io/api/coordination/v1"
	corev1 "k8s.io/api/core/v1"
	storagev1 "k8s.io/api/storage/v1"
	"k8s.io/apimachinery/pkg/version"

	"github.com/irisha/irisha/api/v1alpha1"
)

// API groups and versions doctor asks the discovery for.
const (
	gvSnapshots = "snapshot.storage.k8s.io/v1"
	gvIrisha    = "irisha.dev/v1alpha1"
	groupLH     = "longhorn.io"
)

// Names of Leases that show a controller runs: the leader election Lease of
// external-snapshotter's snapshot-controller (its lockName, in the
// controller's namespace) and that of irisha's operator.
const (
	leaseSnapshotController = "snapshot-controller-leader"
	leaseOperator           = "irisha-operator.irisha.dev"
)

// Snapshot is everything doctor read from the cluster, as read: a list
// that could not be read is empty and named in Unreadable.
type Snapshot struct {
	// Now is when it was read; ages are counted from it.
	Now    time.Time
	Server string
	// Version is the API server's /version, nil if unreadable.
	Version *version.Info
	// APIs maps a served group/version to its resources; a group/version
	// that is not served is absent.
	APIs                  map[string][]string
	Nodes                 []corev1.Node
	StorageClasses        []storagev1.StorageClass
	PersistentVolumes     []corev1.PersistentVolume
	VolumeSnapshotClasses []snapshotv1.VolumeSnapshotClass
	// VolumeSnapshots are at most a page of them: whether any is bound says
	// a snapshot controller processed it.
	VolumeSnapshots []snapshotv1.VolumeSnapshot
	Deployments     []appsv1.Deployment
	// Leases are those named leaseSnapshotController or leaseOperator.
	Leases []coordinationv1.Lease
	// Instances are every IrisInstance, when the API is served.
	Instances []v1alpha1.IrisInstance
	// Target is the instance of --instance, and TargetPVC its claim.
	Target    *v1alpha1.IrisInstance
	TargetPVC *corev1.PersistentVolumeClaim
	// Longhorn is nil when Longhorn's API (settings.longhorn.io) is not
	// served.
	Longhorn *Longhorn
	// Unreadable maps what could not be read to why (RBAC, mostly).
	Unreadable map[string]string
}

// Longhorn is what doctor reads of a Longhorn install.
type Longhorn struct {
	// Settings by name (node-down-pod-deletion-policy, ...): the raw value,
	// either one string or JSON by data engine ({"v1":"3","v2":"3"}).
	Settings map[string]string
	// BackupTargetURL is the default backup target (the BackupTarget
	// "default" since Longhorn 1.8, the backup-target setting before);
	// nil when neither could be read.
	BackupTargetURL *string
}

// served reports whether group/version serves resource.
func (s *Snapshot) served(gv, resource string) bool {
	for _, r := range s.APIs[gv] {
		if r == resource {
			return true
		}
	}
	return false
}

// unreadable says why key could not be read, "" if it was.
func (s *Snapshot) unreadable(key string) string { return s.Unreadable[key] }
