package storage

import (
	"bytes"
	"context"
	"embed"
	"fmt"
	"io"
	"time"

	snapshotv1 "github.com/kubernetes-csi/external-snapshotter/client/v8/apis/volumesnapshot/v1"
	corev1 "k8s.io/api/core/v1"
	storagev1 "k8s.io/api/storage/v1"
	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/wait"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

// Names of the simulated drivers and classes.
const (
	// LonghornDriver is the replicated driver; it needs attaching.
	LonghornDriver = "driver.longhorn.io"
	// LocalDriver is the node-local driver: no attach, PVs pinned to a node.
	LocalDriver = "local.disk.sim.irisha.dev"

	LonghornClass = "longhorn"
	LocalClass    = "local-disk"
	// OfflineExpansionClass is LonghornDriver as a driver that grows a
	// volume only while it is detached (no online expansion capability);
	// it carries irisha's annotation that says so.
	OfflineExpansionClass = "longhorn-offline-expansion"
	// FixedSizeClass is LonghornDriver without allowVolumeExpansion.
	FixedSizeClass = "longhorn-fixed-size"

	// paramExpansion is the driver's expansion capability, a class
	// parameter: "offline" grows only detached volumes.
	paramExpansion = "simExpansion"

	// SnapshotClass is the VolumeSnapshotClass of LonghornDriver.
	SnapshotClass = "longhorn"
)

//go:embed crds/*.yaml
var crdFS embed.FS

// CSIDrivers returns the CSIDriver objects of the simulated drivers.
func CSIDrivers() []*storagev1.CSIDriver {
	return []*storagev1.CSIDriver{
		{
			ObjectMeta: metav1.ObjectMeta{Name: LonghornDriver},
			Spec: storagev1.CSIDriverSpec{
				AttachRequired:       ptr(true),
				PodInfoOnMount:       ptr(true),
				FSGroupPolicy:        ptr(storagev1.ReadWriteOnceWithFSTypeFSGroupPolicy),
				VolumeLifecycleModes: []storagev1.VolumeLifecycleMode{storagev1.VolumeLifecyclePersistent},
			},
		},
		{
			ObjectMeta: metav1.ObjectMeta{Name: LocalDriver},
			Spec: storagev1.CSIDriverSpec{
				AttachRequired:       ptr(false),
				VolumeLifecycleModes: []storagev1.VolumeLifecycleMode{storagev1.VolumeLifecyclePersistent},
			},
		},
	}
}

// StorageClasses returns the classes: longhorn (replicated, Immediate
// binding, expandable online), its variants that expand only offline or
// not at all, and local-disk (one node, WaitForFirstConsumer).
func StorageClasses() []*storagev1.StorageClass {
	immediate := storagev1.VolumeBindingImmediate
	wffc := storagev1.VolumeBindingWaitForFirstConsumer
	del := corev1.PersistentVolumeReclaimDelete
	return []*storagev1.StorageClass{
		{
			ObjectMeta:           metav1.ObjectMeta{Name: LonghornClass},
			Provisioner:          LonghornDriver,
			Parameters:           map[string]string{"numberOfReplicas": "3", "staleReplicaTimeout": "2880", "fsType": "ext4"},
			AllowVolumeExpansion: ptr(true),
			ReclaimPolicy:        &del,
			VolumeBindingMode:    &immediate,
		},
		{
			ObjectMeta:           metav1.ObjectMeta{Name: OfflineExpansionClass, Annotations: map[string]string{"irisha.dev/volume-expansion": "offline"}},
			Provisioner:          LonghornDriver,
			Parameters:           map[string]string{"numberOfReplicas": "3", paramExpansion: "offline"},
			AllowVolumeExpansion: ptr(true),
			ReclaimPolicy:        &del,
			VolumeBindingMode:    &immediate,
		},
		{
			ObjectMeta:        metav1.ObjectMeta{Name: FixedSizeClass},
			Provisioner:       LonghornDriver,
			Parameters:        map[string]string{"numberOfReplicas": "3"},
			ReclaimPolicy:     &del,
			VolumeBindingMode: &immediate,
		},
		{
			ObjectMeta:           metav1.ObjectMeta{Name: LocalClass},
			Provisioner:          LocalDriver,
			AllowVolumeExpansion: ptr(true),
			ReclaimPolicy:        &del,
			VolumeBindingMode:    &wffc,
		},
	}
}

// VolumeSnapshotClasses returns the snapshot class of the Longhorn driver.
func VolumeSnapshotClasses() []*snapshotv1.VolumeSnapshotClass {
	return []*snapshotv1.VolumeSnapshotClass{{
		// The default class of the driver, as a Longhorn install that
		// takes snapshots marks its own; type snap is ready at once.
		ObjectMeta:     metav1.ObjectMeta{Name: SnapshotClass, Annotations: map[string]string{annDefaultSnapshotClass: "true"}},
		Driver:         LonghornDriver,
		DeletionPolicy: snapshotv1.VolumeSnapshotContentDelete,
		Parameters:     map[string]string{"type": "snap"},
	}}
}

// CRDs returns the VolumeSnapshot CRDs of external-snapshotter (v8.7.0,
// copied from its client module's config/crd).
func CRDs() ([]*apiextensionsv1.CustomResourceDefinition, error) {
	entries, err := crdFS.ReadDir("crds")
	if err != nil {
		return nil, fmt.Errorf("listing embedded CRDs: %w", err)
	}
	var out []*apiextensionsv1.CustomResourceDefinition
	for _, e := range entries {
		data, err := crdFS.ReadFile("crds/" + e.Name())
		if err != nil {
			return nil, fmt.Errorf("reading %s: %w", e.Name(), err)
		}
		dec := utilyaml.NewYAMLOrJSONDecoder(bytes.NewReader(data), 4096)
		for {
			crd := &apiextensionsv1.CustomResourceDefinition{}
			if err := dec.Decode(crd); err == io.EOF {
				break
			} else if err != nil {
				return nil, fmt.Errorf("decoding %s: %w", e.Name(), err)
			}
			if crd.Name != "" {
				out = append(out, crd)
			}
		}
	}
	return out, nil
}

// Install creates the CRDs, CSIDrivers, StorageClasses and the
// VolumeSnapshotClass, waiting until the CRDs are established.
func Install(ctx context.Context, c client.Client) error {
	crds, err := CRDs()
	if err != nil {
		return err
	}
	for _, crd := range crds {
		if err := create(ctx, c, crd); err != nil {
			return err
		}
	}
	for _, crd := range crds {
		if err := waitEstablished(ctx, c, crd.Name); err != nil {
			return err
		}
	}
	var objs []client.Object
	for _, o := range CSIDrivers() {
		objs = append(objs, o)
	}
	for _, o := range StorageClasses() {
		objs = append(objs, o)
	}
	for _, o := range VolumeSnapshotClasses() {
		objs = append(objs, o)
	}
	for _, o := range objs {
		if err := create(ctx, c, o); err != nil {
			return err
		}
	}
	return nil
}

func create(ctx context.Context, c client.Client, o client.Object) error {
	if err := c.Create(ctx, o); err != nil && !apierrors.IsAlreadyExists(err) {
		return fmt.Errorf("creating %T %s: %w", o, o.GetName(), err)
	}
	return nil
}

// waitEstablished polls: a CRD becomes established within a second and
// there is nothing else to watch before the REST mapping exists.
func waitEstablished(ctx context.Context, c client.Client, name string) error {
	err := wait.PollUntilContextTimeout(ctx, 100*time.Millisecond, time.Minute, true, func(ctx context.Context) (bool, error) {
		crd := &apiextensionsv1.CustomResourceDefinition{}
		if err := c.Get(ctx, client.ObjectKey{Name: name}, crd); err != nil {
			return false, nil
		}
		for _, cond := range crd.Status.Conditions {
			if cond.Type == apiextensionsv1.Established && cond.Status == apiextensionsv1.ConditionTrue {
				return true, nil
			}
		}
		return false, nil
	})
	if err != nil {
		return fmt.Errorf("waiting for CRD %s: %w", name, err)
	}
	return nil
}

func ptr[T any](v T) *T { return &v }
