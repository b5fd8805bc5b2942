package doctor

import (
	"context"
	"fmt"
	"time"

	snapshotv1 "github.com/kubernetes-csi/external-snapshotter/client/v8/apis/volumesnapshot/v1"
	appsv1 "k8s.io/api/apps/v1"
	coordinationv1 "k8s.io/api/coordination/v1"
	corev1 "k8s.io/api/core/v1"
	storagev1 "k8s.io/api/storage/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/discovery"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/irisha/irisha/api/v1alpha1"
	"github.com/irisha/irisha/internal/resources"
)

// snapshotPage bounds the VolumeSnapshots read: a bound one among them is
// all the snapshot-controller rule wants to see.
const snapshotPage = 100

// Gather reads what the rules look at. Only a missing or unreadable
// --instance is an error: anything else that cannot be read is recorded in
// Snapshot.Unreadable, and the rules say what they could not check.
func Gather(ctx context.Context, c client.Reader, dc discovery.DiscoveryInterface, server, namespace, instance string, now time.Time) (*Snapshot, error) {
	g := &gatherer{c: c, s: &Snapshot{Now: now, Server: server, APIs: map[string][]string{}, Unreadable: map[string]string{}}}
	if instance != "" {
		inst := &v1alpha1.IrisInstance{}
		if err := c.Get(ctx, client.ObjectKey{Namespace: namespace, Name: instance}, inst); err != nil {
			if apierrors.IsNotFound(err) {
				return nil, fmt.Errorf("IrisInstance %s not found in namespace %s", instance, namespace)
			}
			return nil, fmt.Errorf("reading IrisInstance %s/%s: %w", namespace, instance, err)
		}
		g.s.Target = inst
		pvc := &corev1.PersistentVolumeClaim{}
		if err := c.Get(ctx, client.ObjectKey{Namespace: namespace, Name: resources.PVCName(inst)}, pvc); err == nil {
			g.s.TargetPVC = pvc
		} else if !apierrors.IsNotFound(err) {
			g.note("persistentvolumeclaim "+resources.PVCName(inst), err)
		}
	}
	if v, err := dc.ServerVersion(); err != nil {
		g.note("version", err)
	} else {
		g.s.Version = v
	}
	g.discover(dc, gvSnapshots)
	g.discover(dc, gvIrisha)
	lhVersion := g.longhornVersion(dc)

	g.list(ctx, "nodes", &corev1.NodeList{}, func(l client.ObjectList) { g.s.Nodes = l.(*corev1.NodeList).Items })
	g.list(ctx, "storageclasses", &storagev1.StorageClassList{}, func(l client.ObjectList) {
		g.s.StorageClasses = l.(*storagev1.StorageClassList).Items
	})
	g.list(ctx, "persistentvolumes", &corev1.PersistentVolumeList{}, func(l client.ObjectList) {
		g.s.PersistentVolumes = l.(*corev1.PersistentVolumeList).Items
	})
	g.list(ctx, "deployments", &appsv1.DeploymentList{}, func(l client.ObjectList) { g.s.Deployments = l.(*appsv1.DeploymentList).Items })
	for _, name := range []string{leaseSnapshotController, leaseOperator} {
		g.list(ctx, "leases "+name, &coordinationv1.LeaseList{}, func(l client.ObjectList) {
			g.s.Leases = append(g.s.Leases, l.(*coordinationv1.LeaseList).Items...)
		}, client.MatchingFieldsSelector{Selector: fields.OneTermEqualSelector("metadata.name", name)})
	}
	if g.s.served(gvSnapshots, "volumesnapshotclasses") {
		g.list(ctx, "volumesnapshotclasses", &snapshotv1.VolumeSnapshotClassList{}, func(l client.ObjectList) {
			g.s.VolumeSnapshotClasses = l.(*snapshotv1.VolumeSnapshotClassList).Items
		})
	}
	if g.s.served(gvSnapshots, "volumesnapshots") {
		g.list(ctx, "volumesnapshots", &snapshotv1.VolumeSnapshotList{}, func(l client.ObjectList) {
			g.s.VolumeSnapshots = l.(*snapshotv1.VolumeSnapshotList).Items
		}, client.Limit(snapshotPage))
	}
	if g.s.served(gvIrisha, "irisinstances") {
		g.list(ctx, "irisinstances", &v1alpha1.IrisInstanceList{}, func(l client.ObjectList) {
			g.s.Instances = l.(*v1alpha1.IrisInstanceList).Items
		})
	}
	if lhVersion != "" {
		g.longhorn(ctx, lhVersion)
	}
	return g.s, nil
}

type gatherer struct {
	c client.Reader
	s *Snapshot
}

func (g *gatherer) note(what string, err error) { g.s.Unreadable[what] = err.Error() }

func (g *gatherer) list(ctx context.Context, what string, l client.ObjectList, keep func(client.ObjectList), opts ...client.ListOption) {
	if err := g.c.List(ctx, l, opts...); err != nil {
		g.note(what, err)
		return
	}
	keep(l)
}

// discover records the resources gv serves; an unserved gv stays absent.
func (g *gatherer) discover(dc discovery.DiscoveryInterface, gv string) {
	rl, err := dc.ServerResourcesForGroupVersion(gv)
	switch {
	case apierrors.IsNotFound(err):
		return
	case err != nil:
		g.note("api "+gv, err)
		return
	}
	for _, r := range rl.APIResources {
		g.s.APIs[gv] = append(g.s.APIs[gv], r.Name)
	}
}

// longhornVersion discovers Longhorn's API and returns its preferred
// version when it serves settings, "" otherwise.
func (g *gatherer) longhornVersion(dc discovery.DiscoveryInterface) string {
	groups, err := dc.ServerGroups()
	if err != nil {
		g.note("api groups", err)
		return ""
	}
	for _, gr := range groups.Groups {
		if gr.Name != groupLH {
			continue
		}
		gv := gr.PreferredVersion.GroupVersion
		g.discover(dc, gv)
		if g.s.served(gv, "settings") {
			return gr.PreferredVersion.Version
		}
	}
	return ""
}

// longhorn reads Longhorn's settings (in its namespace, longhorn-system by
// default: they are listed cluster-wide) and default backup target as
// unstructured objects: their value is a top-level field, the same in
// v1beta1 and v1beta2, and doctor needs no Longhorn Go types for it.
func (g *gatherer) longhorn(ctx context.Context, version string) {
	lh := &Longhorn{Settings: map[string]string{}}
	g.s.Longhorn = lh
	settings := &unstructured.UnstructuredList{}
	settings.SetGroupVersionKind(schema.GroupVersionKind{Group: groupLH, Version: version, Kind: "SettingList"})
	if err := g.c.List(ctx, settings); err != nil {
		g.note("settings.longhorn.io", err)
	}
	for _, it := range settings.Items {
		v, _, _ := unstructured.NestedString(it.Object, "value")
		lh.Settings[it.GetName()] = v
	}
	if v, ok := lh.Settings["backup-target"]; ok {
		lh.BackupTargetURL = &v
	}
	if !g.s.served(groupLH+"/"+version, "backuptargets") {
		return
	}
	targets := &unstructured.UnstructuredList{}
	targets.SetGroupVersionKind(schema.GroupVersionKind{Group: groupLH, Version: version, Kind: "BackupTargetList"})
	if err := g.c.List(ctx, targets); err != nil {
		g.note("backuptargets.longhorn.io", err)
		return
	}
	for _, it := range targets.Items {
		if it.GetName() == "default" {
			v, _, _ := unstructured.NestedString(it.Object, "spec", "backupTargetURL")
			lh.BackupTargetURL = &v
		}
	}
}
