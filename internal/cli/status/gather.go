package status

import (
	"context"
	"fmt"
	"time"

	coordinationv1 "k8s.io/api/coordination/v1"
	corev1 "k8s.io/api/core/v1"
	storagev1 "k8s.io/api/storage/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/irisha/irisha/api/v1alpha1"
	"github.com/irisha/irisha/internal/resources"
)

// Gather reads the instance and everything status shows about it. Only a
// missing or unreadable instance is an error: anything else that cannot be
// read is recorded in Snapshot.Unreadable, and the screen shows the rest.
func Gather(ctx context.Context, c client.Reader, usage VolumeUsageReader, namespace, name string, now time.Time) (*Snapshot, error) {
	inst := &v1alpha1.IrisInstance{}
	if err := c.Get(ctx, client.ObjectKey{Namespace: namespace, Name: name}, inst); err != nil {
		if apierrors.IsNotFound(err) {
			return nil, fmt.Errorf("IrisInstance %s not found in namespace %s", name, namespace)
		}
		return nil, fmt.Errorf("reading IrisInstance %s/%s: %w", namespace, name, err)
	}
	g := &gatherer{c: c, s: &Snapshot{Now: now, Instance: inst, Nodes: map[string]*corev1.Node{}}}
	g.pods(ctx)
	g.volume(ctx, usage)
	g.lease(ctx)
	g.backups(ctx)
	g.events(ctx)
	return g.s, nil
}

type gatherer struct {
	c client.Reader
	s *Snapshot
}

func (g *gatherer) unreadable(what string, err error) {
	g.s.Unreadable = append(g.s.Unreadable, Unreadable{What: what, Error: err.Error()})
}

// get reads one object; a missing one is simply absent (nil, no note).
func (g *gatherer) get(ctx context.Context, what string, key client.ObjectKey, obj client.Object) bool {
	err := g.c.Get(ctx, key, obj)
	switch {
	case err == nil:
		return true
	case !apierrors.IsNotFound(err):
		g.unreadable(what, err)
	}
	return false
}

func (g *gatherer) pods(ctx context.Context) {
	inst := g.s.Instance
	pods := &corev1.PodList{}
	if err := g.c.List(ctx, pods, client.InNamespace(inst.Namespace), client.MatchingLabels(resources.SelectorLabels(inst))); err != nil {
		g.unreadable("pods", err)
		return
	}
	g.s.Pods = pods.Items
	for _, p := range pods.Items {
		n := p.Spec.NodeName
		if n == "" || g.s.Nodes[n] != nil {
			continue
		}
		node := &corev1.Node{}
		if g.get(ctx, "node "+n, client.ObjectKey{Name: n}, node) {
			g.s.Nodes[n] = node
		}
	}
}

func (g *gatherer) volume(ctx context.Context, usage VolumeUsageReader) {
	inst := g.s.Instance
	pvc := &corev1.PersistentVolumeClaim{}
	if !g.get(ctx, "persistentvolumeclaim "+resources.PVCName(inst), client.ObjectKey{Namespace: inst.Namespace, Name: resources.PVCName(inst)}, pvc) {
		return
	}
	g.s.PVC = pvc
	if class := pvc.Spec.StorageClassName; class != nil && *class != "" {
		sc := &storagev1.StorageClass{}
		if g.get(ctx, "storageclass "+*class, client.ObjectKey{Name: *class}, sc) {
			g.s.StorageClass = sc
		}
	}
	if usage == nil {
		return
	}
	u, err := usage.VolumeUsage(ctx, inst, pvc)
	if err != nil {
		g.unreadable("volume usage", err)
		return
	}
	g.s.Usage = u
}

func (g *gatherer) lease(ctx context.Context) {
	inst := g.s.Instance
	l := &coordinationv1.Lease{}
	name := resources.FencingLeaseName(inst)
	if g.get(ctx, "lease "+name, client.ObjectKey{Namespace: inst.Namespace, Name: name}, l) {
		g.s.Lease = l
	}
}

func (g *gatherer) backups(ctx context.Context) {
	inst := g.s.Instance
	list := &v1alpha1.IrisBackupList{}
	// spec.instanceName is a selectable field of the CRD: the API server
	// filters. The view filters again, for servers that predate it.
	err := g.c.List(ctx, list, client.InNamespace(inst.Namespace), client.MatchingFieldsSelector{
		Selector: fields.OneTermEqualSelector("spec.instanceName", inst.Name),
	})
	if err != nil {
		g.unreadable("irisbackups", err)
		return
	}
	g.s.Backups = list.Items
}

// events reads the Events about the instance, its pods (the current ones
// and the one the last failover replaced) and its PVC, each with a field
// selector: a namespace may hold thousands of others.
func (g *gatherer) events(ctx context.Context) {
	inst := g.s.Instance
	seen := map[types.UID]bool{}
	for _, o := range relatedObjects(inst, g.s.Pods) {
		list := &corev1.EventList{}
		sel := fields.SelectorFromSet(fields.Set{"involvedObject.kind": o.kind, "involvedObject.name": o.name})
		if err := g.c.List(ctx, list, client.InNamespace(inst.Namespace), client.MatchingFieldsSelector{Selector: sel}); err != nil {
			g.unreadable("events of "+o.kind+" "+o.name, err)
			continue
		}
		for _, e := range list.Items {
			if !seen[e.UID] {
				seen[e.UID] = true
				g.s.Events = append(g.s.Events, e)
			}
		}
	}
}
