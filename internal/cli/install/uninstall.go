package install

import (
	"context"
	"fmt"
	"io"
	"slices"
	"strings"
	"time"

	snapshotv1 "github.com/kubernetes-csi/external-snapshotter/client/v8/apis/volumesnapshot/v1"
	"github.com/spf13/cobra"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/irisha/irisha/api/v1alpha1"
	"github.com/irisha/irisha/internal/cli/kube"
)

// NewUninstallCommand is `irisha uninstall`.
func NewUninstallCommand(manifests Manifests, out, errOut io.Writer) *cobra.Command {
	var (
		flags   kube.Flags
		force   bool
		timeout time.Duration
	)
	cmd := &cobra.Command{
		Use:   "uninstall",
		Short: "Remove the irisha operator and its CRDs, keeping every volume and snapshot",
		Long: `Uninstall deletes what install applied, CRDs included. It refuses while
IrisInstances exist, since deleting the CRD deletes them; --force goes on.

It never deletes a PersistentVolumeClaim or a VolumeSnapshot: before the
CRDs go, it takes irisha's owner references off every claim and snapshot,
so that garbage collection leaves them in place. IRIS data survives; the
IRIS pods of force-deleted instances stop.`,
		Example: `  irisha uninstall
  # even with instances left (their volumes and snapshots stay)
  irisha uninstall --force`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			objs, err := manifests()
			if err != nil {
				return err
			}
			c, err := flags.Client()
			if err != nil {
				return err
			}
			ctx, cancel := context.WithTimeout(cmd.Context(), timeout)
			defer cancel()
			return Uninstall(ctx, c, objs, force, errOut)
		},
	}
	flags.AddTo(cmd.Flags())
	cmd.Flags().BoolVar(&force, "force", false, "uninstall even while IrisInstances exist (their volumes and snapshots are kept)")
	cmd.Flags().DurationVar(&timeout, "timeout", 5*time.Minute, "how long to wait for the objects to be gone")
	return cmd
}

// Uninstall deletes objs in reverse order after orphaning the claims and
// snapshots irisha's objects own.
func Uninstall(ctx context.Context, c client.Client, objs []*unstructured.Unstructured, force bool, progress io.Writer) error {
	instances := &v1alpha1.IrisInstanceList{}
	err := c.List(ctx, instances)
	switch {
	case meta.IsNoMatchError(err):
		// The CRDs are gone already: nothing owns anything.
	case err != nil:
		return fmt.Errorf("listing IrisInstances: %w", err)
	case len(instances.Items) > 0 && !force:
		var names []string
		for _, i := range instances.Items {
			names = append(names, i.Namespace+"/"+i.Name)
		}
		return fmt.Errorf("%d IrisInstances exist (%s): deleting the CRDs would delete them and stop their IRIS; delete them first, or give --force (volumes and snapshots are kept either way)",
			len(names), strings.Join(names, ", "))
	}
	if err := orphanData(ctx, c, progress); err != nil {
		return err
	}
	for _, o := range slices.Backward(objs) {
		if err := c.Delete(ctx, o.DeepCopy(), client.PropagationPolicy(metav1.DeletePropagationBackground)); err != nil && !apierrors.IsNotFound(err) {
			return fmt.Errorf("deleting %s: %w", describe(o), err)
		}
		fmt.Fprintf(progress, "deleted %s\n", describe(o))
	}
	fmt.Fprintln(progress, "irisha is uninstalled; PersistentVolumeClaims and VolumeSnapshots were kept")
	return nil
}

// orphanData takes the owner references of irisha's kinds off every
// claim and snapshot, so that deleting the CRDs (and with them every
// IrisInstance and IrisBackup) garbage-collects no data.
func orphanData(ctx context.Context, c client.Client, progress io.Writer) error {
	pvcs := &corev1.PersistentVolumeClaimList{}
	if err := c.List(ctx, pvcs); err != nil {
		return fmt.Errorf("listing PersistentVolumeClaims: %w", err)
	}
	for i := range pvcs.Items {
		if err := orphan(ctx, c, "PersistentVolumeClaim", &pvcs.Items[i], progress); err != nil {
			return err
		}
	}
	snaps := &snapshotv1.VolumeSnapshotList{}
	err := c.List(ctx, snaps)
	if meta.IsNoMatchError(err) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("listing VolumeSnapshots: %w", err)
	}
	for i := range snaps.Items {
		if err := orphan(ctx, c, "VolumeSnapshot", &snaps.Items[i], progress); err != nil {
			return err
		}
	}
	return nil
}

func orphan(ctx context.Context, c client.Client, kind string, o client.Object, progress io.Writer) error {
	refs := o.GetOwnerReferences()
	kept := slices.DeleteFunc(slices.Clone(refs), func(r metav1.OwnerReference) bool {
		return strings.HasPrefix(r.APIVersion, v1alpha1.GroupVersion.Group+"/")
	})
	if len(kept) == len(refs) {
		return nil
	}
	patch := client.MergeFromWithOptions(o.DeepCopyObject().(client.Object), client.MergeFromWithOptimisticLock{})
	o.SetOwnerReferences(kept)
	if err := c.Patch(ctx, o, patch); err != nil {
		return fmt.Errorf("keeping %s %s/%s from garbage collection: %w", kind, o.GetNamespace(), o.GetName(), err)
	}
	fmt.Fprintf(progress, "kept %s %s/%s: removed irisha's owner reference\n", kind, o.GetNamespace(), o.GetName())
	return nil
}
