package resources

import (
	"errors"

	appsv1 "k8s.io/api/apps/v1"
	coordinationv1 "k8s.io/api/coordination/v1"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/irisha/irisha/api/v1alpha1"
)

// Objects are the desired objects of one instance.
type Objects struct {
	PVC            *corev1.PersistentVolumeClaim
	MergeSecret    *corev1.Secret
	ServiceAccount *corev1.ServiceAccount
	FencingLease   *coordinationv1.Lease
	AgentRole      *rbacv1.Role
	AgentBinding   *rbacv1.RoleBinding
	Deployment     *appsv1.Deployment
	Service        *corev1.Service
}

// All returns the objects in the order they are applied: what the pod needs
// before the Deployment that starts it.
func (o *Objects) All() []client.Object {
	return []client.Object{o.PVC, o.MergeSecret, o.ServiceAccount, o.FencingLease, o.AgentRole, o.AgentBinding, o.Deployment, o.Service}
}

// Build returns every object of the instance. It fails with an *InvalidConfigError when the CPF merge is bad, before anything
// is built, so a caller never applies half an instance.
func Build(in Inputs) (*Objects, error) {
	if in.AgentImage == "" {
		return nil, errors.New("no agent image: the irisha image that provides irisha-manager must be given")
	}
	merge, err := EffectiveMerge(in)
	if err != nil {
		return nil, err
	}
	objs := &Objects{
		PVC:            PVC(in),
		MergeSecret:    MergeSecret(in, merge),
		ServiceAccount: ServiceAccount(in),
		FencingLease:   FencingLease(in),
		AgentRole:      AgentRole(in),
		AgentBinding:   AgentRoleBinding(in),
		Deployment:     Deployment(in),
		Service:        Service(in),
	}
	return objs, nil
}

// PVC is the claim for durable %SYS; with a restore, a claim created from
// the snapshot, at least as large as the snapshot's restore size (a CSI
// driver refuses a smaller one; Longhorn wants it equal).
func PVC(in Inputs) *corev1.PersistentVolumeClaim {
	inst := in.Instance
	s := inst.Spec.Storage
	size := s.Size.DeepCopy()
	pvc := &corev1.PersistentVolumeClaim{
		TypeMeta:   metav1.TypeMeta{APIVersion: "v1", Kind: "PersistentVolumeClaim"},
		ObjectMeta: objectMeta(inst, PVCName(inst)),
		Spec: corev1.PersistentVolumeClaimSpec{
			AccessModes:      []corev1.PersistentVolumeAccessMode{s.AccessMode},
			StorageClassName: s.ClassName,
		},
	}
	if r := in.Restore; r != nil {
		pvc.Annotations = map[string]string{AnnotationRestoredFrom: r.Key}
		group := snapshotGroup
		pvc.Spec.DataSource = &corev1.TypedLocalObjectReference{APIGroup: &group, Kind: "VolumeSnapshot", Name: r.Snapshot}
		if r.MinSize.Cmp(size) > 0 {
			size = r.MinSize.DeepCopy()
		}
	}
	pvc.Spec.Resources.Requests = corev1.ResourceList{corev1.ResourceStorage: size}
	return pvc
}

// snapshotGroup is the API group of VolumeSnapshots.
const snapshotGroup = "snapshot.storage.k8s.io"

// AnnotationRestoredFrom on a claim names the source it was created from,
// as RestoreKey spells it: a claim without it was not made from that
// source, and IRIS must not run on it in the restored instance's place.
const AnnotationRestoredFrom = "irisha.dev/restored-from"

// Restore is a claim's source snapshot, resolved from spec.restoreFrom.
type Restore struct {
	// Key is RestoreKey of the spec's source.
	Key string
	// Snapshot is the VolumeSnapshot the claim is created from.
	Snapshot string
	// MinSize is the snapshot's restore size.
	MinSize resource.Quantity
}

// RestoreKey names a restore source, e.g. "IrisBackup/nightly-1".
func RestoreKey(src *v1alpha1.RestoreSource) string {
	if src.BackupName != "" {
		return "IrisBackup/" + src.BackupName
	}
	return "VolumeSnapshot/" + src.VolumeSnapshotName
}

// ServiceAccount is the pod's identity; the agent's Role binds to it.
func ServiceAccount(in Inputs) *corev1.ServiceAccount {
	inst := in.Instance
	return &corev1.ServiceAccount{
		TypeMeta:   metav1.TypeMeta{APIVersion: "v1", Kind: "ServiceAccount"},
		ObjectMeta: objectMeta(inst, ServiceAccountName(inst)),
	}
}

// Service exposes the chosen IRIS ports.
func Service(in Inputs) *corev1.Service {
	inst := in.Instance
	spec := &inst.Spec
	var ports []corev1.ServicePort
	for _, p := range spec.ExposedPorts() {
		number := int32(SuperserverPort)
		if p == v1alpha1.PortWeb {
			number = WebPort
		}
		ports = append(ports, corev1.ServicePort{
			Name: string(p), Port: number, TargetPort: intstr.FromString(string(p)), Protocol: corev1.ProtocolTCP,
		})
	}
	return &corev1.Service{
		TypeMeta: metav1.TypeMeta{APIVersion: "v1", Kind: "Service"},
		ObjectMeta: metav1.ObjectMeta{
			Name:        ServiceName(inst),
			Namespace:   inst.Namespace,
			Labels:      Labels(inst),
			Annotations: spec.Service.Annotations,
		},
		Spec: corev1.ServiceSpec{
			Type:     spec.Service.Type,
			Selector: SelectorLabels(inst),
			Ports:    ports,
		},
	}
}

// StorageRequest returns the size a PVC asks for.
func StorageRequest(pvc *corev1.PersistentVolumeClaim) resource.Quantity {
	return pvc.Spec.Resources.Requests[corev1.ResourceStorage]
}
