package doctor

import (
	"flag"
	"testing"
	"time"

	snapshotv1 "github.com/kubernetes-csi/external-snapshotter/client/v8/apis/volumesnapshot/v1"
	appsv1 "k8s.io/api/apps/v1"
	coordinationv1 "k8s.io/api/coordination/v1"
	corev1 "k8s.io/api/core/v1"
	storagev1 "k8s.io/api/storage/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/version"
	"k8s.io/utils/ptr"

	"github.com/irisha/irisha/api/v1alpha1"
)

var update = flag.Bool("update", false, "rewrite testdata/*.golden from the current output")

// now is when every fixture was read.
var now = time.Date(2026, 12, 1, 21, 0, 0, 0, time.UTC)

func node(name, zone string) corev1.Node {
	n := corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: name, Labels: map[string]string{}},
		Status: corev1.NodeStatus{Conditions: []corev1.NodeCondition{{Type: corev1.NodeReady, Status: corev1.ConditionTrue}}}}
	if zone != "" {
		n.Labels[LabelZone] = zone
	}
	return n
}

func threeNodes() []corev1.Node {
	return []corev1.Node{node("node-a", "zone-a"), node("node-b", "zone-b"), node("node-c", "zone-c")}
}

func class(name, provisioner string, params map[string]string, mutate ...func(*storagev1.StorageClass)) storagev1.StorageClass {
	sc := storagev1.StorageClass{ObjectMeta: metav1.ObjectMeta{Name: name, Annotations: map[string]string{}},
		Provisioner: provisioner, Parameters: params, AllowVolumeExpansion: ptr.To(true),
		VolumeBindingMode: ptr.To(storagev1.VolumeBindingImmediate)}
	for _, m := range mutate {
		m(&sc)
	}
	return sc
}

func isDefault(sc *storagev1.StorageClass) { sc.Annotations[annDefaultClass] = "true" }

func wffc(sc *storagev1.StorageClass) {
	sc.VolumeBindingMode = ptr.To(storagev1.VolumeBindingWaitForFirstConsumer)
}

// The simulated cluster's classes (internal/sim/storage).
func longhornClass(m ...func(*storagev1.StorageClass)) storagev1.StorageClass {
	return class("longhorn", LonghornDriver, map[string]string{"numberOfReplicas": "3", "staleReplicaTimeout": "2880"}, m...)
}

func localDisk() storagev1.StorageClass {
	return class("local-disk", "local.disk.sim.irisha.dev", nil, wffc)
}

func pinnedPV(name, class, node string) corev1.PersistentVolume {
	return corev1.PersistentVolume{ObjectMeta: metav1.ObjectMeta{Name: name}, Spec: corev1.PersistentVolumeSpec{
		StorageClassName: class,
		NodeAffinity: &corev1.VolumeNodeAffinity{Required: &corev1.NodeSelector{NodeSelectorTerms: []corev1.NodeSelectorTerm{{
			MatchExpressions: []corev1.NodeSelectorRequirement{{Key: labelHostname, Operator: corev1.NodeSelectorOpIn, Values: []string{node}}},
		}}}},
	}}
}

func instance(ns, name string, class *string, mode v1alpha1.FailoverMode) v1alpha1.IrisInstance {
	return v1alpha1.IrisInstance{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name},
		Spec: v1alpha1.IrisInstanceSpec{Image: "iris:2025.1",
			Storage:  v1alpha1.StorageSpec{ClassName: class, Size: resource.MustParse("10Gi")},
			Failover: v1alpha1.FailoverSpec{Mode: mode, LeaseDurationSeconds: 10}}}
}

func snapshotClass(name, driver string, params map[string]string, isDefault bool) snapshotv1.VolumeSnapshotClass {
	vsc := snapshotv1.VolumeSnapshotClass{ObjectMeta: metav1.ObjectMeta{Name: name, Annotations: map[string]string{}},
		Driver: driver, Parameters: params, DeletionPolicy: snapshotv1.VolumeSnapshotContentDelete}
	if isDefault {
		vsc.Annotations[annDefaultSnapshotClass] = "true"
	}
	return vsc
}

func lease(ns, name, holder string, renewed time.Time) coordinationv1.Lease {
	t := metav1.NewMicroTime(renewed)
	return coordinationv1.Lease{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name},
		Spec: coordinationv1.LeaseSpec{HolderIdentity: ptr.To(holder), LeaseDurationSeconds: ptr.To[int32](15), RenewTime: &t}}
}

func deployment(ns, name, image string, labels map[string]string, args []string, ready int32) appsv1.Deployment {
	return appsv1.Deployment{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name},
		Spec: appsv1.DeploymentSpec{Replicas: ptr.To[int32](2), Template: corev1.PodTemplateSpec{
			ObjectMeta: metav1.ObjectMeta{Labels: labels},
			Spec:       corev1.PodSpec{Containers: []corev1.Container{{Name: "c", Image: image, Args: args}}}}},
		Status: appsv1.DeploymentStatus{ReadyReplicas: ready}}
}

func operatorDeployment(ready int32) appsv1.Deployment {
	return deployment("irisha-system", "irisha-manager", "ghcr.io/irisha/irisha-manager:v0.1.0",
		map[string]string{"app.kubernetes.io/name": "irisha", "app.kubernetes.io/component": "manager"}, []string{"operator", "--leader-elect"}, ready)
}

// healthy is a cluster irisha is happy with: the simulated cluster's
// classes, 3 nodes in 3 zones, the snapshot API and controller, the
// operator, Longhorn with its default settings.
func healthy() *Snapshot {
	return &Snapshot{
		Now: now, Server: "https://k8s.example:6443", Version: &version.Info{GitVersion: "v1.37.2"},
		APIs: map[string][]string{
			gvSnapshots: {"volumesnapshots", "volumesnapshots/status", "volumesnapshotcontents", "volumesnapshotclasses"},
			gvIrisha:    {"irisbackups", "irisinstances", "irisinstances/status", "irisscheduledbackups"},
		},
		Nodes:                 threeNodes(),
		StorageClasses:        []storagev1.StorageClass{longhornClass(isDefault), localDisk()},
		VolumeSnapshotClasses: []snapshotv1.VolumeSnapshotClass{snapshotClass("longhorn", LonghornDriver, map[string]string{"type": "snap"}, true)},
		Deployments: []appsv1.Deployment{operatorDeployment(2),
			deployment("kube-system", "snapshot-controller", "registry.k8s.io/sig-storage/snapshot-controller:v8.5.0", nil, nil, 2)},
		Leases:     []coordinationv1.Lease{lease("irisha-system", leaseOperator, "irisha-manager-7d9f_abc", now.Add(-2*time.Second))},
		Instances:  []v1alpha1.IrisInstance{instance("db", "iris", ptr.To("longhorn"), v1alpha1.FailoverLease)},
		Longhorn:   &Longhorn{Settings: map[string]string{"current-longhorn-version": "v1.12.2"}},
		Unreadable: map[string]string{},
	}
}

// find returns the findings of check (about subject, if given).
func find(t *testing.T, fs []Finding, check, subject string) Finding {
	t.Helper()
	var hit []Finding
	for _, f := range fs {
		if f.Check == check && (subject == "" || f.Subject == subject) {
			hit = append(hit, f)
		}
	}
	if len(hit) != 1 {
		t.Fatalf("%d findings %s %s in %+v", len(hit), check, subject, fs)
	}
	return hit[0]
}

func wantSeverity(t *testing.T, f Finding, want Severity) {
	t.Helper()
	if f.Severity != want {
		t.Errorf("%s %s: severity %s, want %s: %s", f.Check, f.Subject, f.Severity, want, f.Summary)
	}
	if want != OK && (f.Breaks == "" || f.Fix == "") {
		t.Errorf("%s %s: a %s without what it breaks or how to fix it: %+v", f.Check, f.Subject, want, f)
	}
}
