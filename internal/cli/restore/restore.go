// Package restore is `irisha restore`: it creates a new IrisInstance whose
// volume is created from a Completed backup (or a VolumeSnapshot), with the
// spec of the instance that was backed up, and can follow it until it runs.
// A restore never writes over an existing instance: the operator would
// refuse to, and so does this verb, before it creates anything.
package restore

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	snapshotv1 "github.com/kubernetes-csi/external-snapshotter/client/v8/apis/volumesnapshot/v1"
	"github.com/spf13/cobra"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/validation"
	"k8s.io/utils/clock"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/irisha/irisha/api/v1alpha1"
	"github.com/irisha/irisha/internal/cli/kube"
	"github.com/irisha/irisha/internal/resources"
)

// Options of `irisha restore`.
type Options struct {
	// Backup or Snapshot is the source: exactly one is set.
	Backup   string
	Snapshot string
	// Name of the new instance.
	Name    string
	Wait    bool
	Timeout time.Duration
	Output  kube.Output

	Out, ErrOut io.Writer
	Clock       clock.Clock
}

// NewCommand returns `irisha restore`.
func NewCommand(out, errOut io.Writer) *cobra.Command {
	flags := &kube.Flags{Warnings: errOut}
	o := &Options{Out: out, ErrOut: errOut, Clock: clock.RealClock{}}
	cmd := &cobra.Command{
		Use:   "restore --from BACKUP --name NEW-INSTANCE",
		Short: "Restore a backup into a new IrisInstance",
		Long: `Restore creates a new IrisInstance whose volume the operator creates from
the backup's VolumeSnapshot: a clone of the instance that was backed up, as
it was at the freeze. The new instance gets the spec of the instance that
was backed up, read from the cluster; if that instance is gone, a minimal
spec is rebuilt from the snapshot's irisha.dev/* annotations (image, storage
size, data subdirectory), which you complete with kubectl edit.

It refuses, before creating anything, when an instance of that name exists
(a restore never writes over an instance: restore under a new name, then
switch your clients), when the backup is not Completed, and when a claim of
that name with other data is in the way.

--from-snapshot restores a VolumeSnapshot instead, for snapshots kept after
their IrisBackup was deleted (--retain-snapshot) or cut by other tools.
With --wait, restore follows the new instance until it is Running.`,
		Example: `  # Restore a backup next to the instance it came from, and wait until it runs
  irisha restore --from iris-20260301020000 --name iris-restored --wait

  # The backup was deleted but its snapshot kept
  irisha restore --from-snapshot iris-20260301020000 --name iris-restored -n prod

  # Pick the newest Completed backup of iris
  b=$(irisha backup list iris -o json | jq -r '[.items[] | select(.status.phase=="Completed")][0].metadata.name')
  irisha restore --from "$b" --name iris-restored --wait`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := o.Validate(); err != nil {
				return err
			}
			c, ns, err := flags.Connect()
			if err != nil {
				return err
			}
			return o.Run(cmd.Context(), c, ns)
		},
	}
	flags.AddTo(cmd.Flags())
	f := cmd.Flags()
	f.StringVar(&o.Backup, "from", "", "the Completed IrisBackup to restore")
	f.StringVar(&o.Snapshot, "from-snapshot", "", "a VolumeSnapshot to restore instead of an IrisBackup")
	f.StringVar(&o.Name, "name", "", "name of the new IrisInstance")
	f.BoolVar(&o.Wait, "wait", false, "follow the new instance until it is Running (restored and Ready)")
	f.DurationVar(&o.Timeout, "timeout", 10*time.Minute, "with --wait, how long to wait (0: no limit)")
	kube.AddOutputFlag(f, &o.Output)
	return cmd
}

// Validate checks what can be checked without the cluster.
func (o *Options) Validate() error {
	switch {
	case o.Backup == "" && o.Snapshot == "":
		return errors.New("give the backup to restore: --from BACKUP (irisha backup list shows them), or --from-snapshot VOLUMESNAPSHOT")
	case o.Backup != "" && o.Snapshot != "":
		return errors.New("give either --from or --from-snapshot, not both")
	case o.Name == "":
		return errors.New("give the name of the new instance: --name NEW-INSTANCE (a restore always creates a new instance)")
	case o.Timeout < 0:
		return fmt.Errorf("--timeout %s is negative: give a duration such as 5m, or 0 for no limit", o.Timeout)
	}
	// The instance's Service takes its name, and its objects carry it in
	// a label: a DNS-1035 label is what both accept.
	if errs := validation.IsDNS1035Label(o.Name); len(errs) > 0 {
		return fmt.Errorf("--name %q cannot name an IrisInstance: %s", o.Name, strings.Join(errs, "; "))
	}
	return nil
}

// source is what a restore starts from.
type source struct {
	ref v1alpha1.RestoreSource
	// what is the source as the user named it, e.g. "IrisBackup b".
	what string
	// instance is the name of the instance that was backed up, "" when
	// unknown.
	instance string
	snapshot *snapshotv1.VolumeSnapshot
}

// Run restores into a new instance of namespace ns.
func (o *Options) Run(ctx context.Context, c client.WithWatch, ns string) error {
	existing := &v1alpha1.IrisInstance{}
	err := c.Get(ctx, client.ObjectKey{Namespace: ns, Name: o.Name}, existing)
	switch {
	case err == nil:
		return fmt.Errorf("IrisInstance %s already exists in namespace %s: a restore creates a new instance and never writes over one; give another --name", o.Name, ns)
	case !apierrors.IsNotFound(err):
		return fmt.Errorf("reading IrisInstance %s: %w", o.Name, err)
	}
	src, err := o.source(ctx, c, ns)
	if err != nil {
		return err
	}
	inst := &v1alpha1.IrisInstance{ObjectMeta: metav1.ObjectMeta{Name: o.Name, Namespace: ns}}
	notes, err := buildSpec(ctx, c, src, inst)
	if err != nil {
		return err
	}
	if err := claimInTheWay(ctx, c, inst); err != nil {
		return err
	}
	if err := c.Create(ctx, inst); err != nil {
		switch {
		case apierrors.IsAlreadyExists(err):
			return fmt.Errorf("IrisInstance %s was just created by someone else in namespace %s: give another --name", o.Name, ns)
		case apierrors.IsInvalid(err):
			return fmt.Errorf("the API server refused the new IrisInstance: %w", err)
		}
		return fmt.Errorf("creating IrisInstance %s: %w", o.Name, err)
	}
	info := o.Out
	if o.Output.Machine() {
		info = o.ErrOut
	}
	from := src.what
	if src.instance != "" {
		from += ", IrisInstance " + src.instance
	}
	if _, err := fmt.Fprintf(info, "irisinstance.irisha.dev/%s created from %s\n", o.Name, from); err != nil {
		return err
	}
	for _, n := range notes {
		if _, err := fmt.Fprintf(info, "Note: %s\n", n); err != nil {
			return err
		}
	}
	if o.Wait {
		if err := o.wait(ctx, c, inst, info); err != nil {
			return err
		}
	}
	if o.Output.Machine() {
		return kube.Print(o.Out, o.Output, c.Scheme(), inst)
	}
	return nil
}

// source reads the backup or snapshot and refuses one that cannot be
// restored now.
func (o *Options) source(ctx context.Context, c client.Client, ns string) (*source, error) {
	if o.Snapshot != "" {
		vs, err := readSnapshot(ctx, c, ns, o.Snapshot)
		if err != nil {
			return nil, err
		}
		if msg := notReady(vs); msg != "" {
			return nil, fmt.Errorf("VolumeSnapshot %s cannot be restored yet: %s", vs.Name, msg)
		}
		return &source{ref: v1alpha1.RestoreSource{VolumeSnapshotName: vs.Name}, what: "VolumeSnapshot " + vs.Name,
			instance: vs.Labels[v1alpha1.LabelInstance], snapshot: vs}, nil
	}
	b := &v1alpha1.IrisBackup{}
	if err := c.Get(ctx, client.ObjectKey{Namespace: ns, Name: o.Backup}, b); err != nil {
		if apierrors.IsNotFound(err) {
			return nil, fmt.Errorf("IrisBackup %s not found in namespace %s: irisha backup list -n %s lists the backups (for a snapshot kept without its backup, use --from-snapshot)", o.Backup, ns, ns)
		}
		return nil, fmt.Errorf("reading IrisBackup %s: %w", o.Backup, err)
	}
	switch b.Status.Phase {
	case v1alpha1.BackupCompleted:
	case v1alpha1.BackupFailed:
		return nil, fmt.Errorf("IrisBackup %s failed (%s), so there is nothing to restore: pick a Completed one (irisha backup list %s)", b.Name, b.Status.Reason, b.Spec.InstanceName)
	case "":
		return nil, fmt.Errorf("IrisBackup %s has not started (is the irisha operator running?): only a Completed backup can be restored", b.Name)
	default:
		return nil, fmt.Errorf("IrisBackup %s is %s, not Completed: wait for it (irisha backup create --wait, or irisha backup describe %s), then restore", b.Name, b.Status.Phase, b.Name)
	}
	vs, err := readSnapshot(ctx, c, ns, b.Status.SnapshotName)
	if err != nil {
		return nil, fmt.Errorf("IrisBackup %s is Completed but its snapshot cannot be used: %w", b.Name, err)
	}
	return &source{ref: v1alpha1.RestoreSource{BackupName: b.Name}, what: "IrisBackup " + b.Name,
		instance: b.Spec.InstanceName, snapshot: vs}, nil
}

func readSnapshot(ctx context.Context, c client.Client, ns, name string) (*snapshotv1.VolumeSnapshot, error) {
	vs := &snapshotv1.VolumeSnapshot{}
	err := c.Get(ctx, client.ObjectKey{Namespace: ns, Name: name}, vs)
	switch {
	case err == nil:
		return vs, nil
	case apierrors.IsNotFound(err):
		return nil, fmt.Errorf("VolumeSnapshot %s not found in namespace %s", name, ns)
	case meta.IsNoMatchError(err):
		return nil, fmt.Errorf("the cluster serves no VolumeSnapshot API (snapshot.storage.k8s.io), so there is no VolumeSnapshot %s", name)
	}
	return nil, fmt.Errorf("reading VolumeSnapshot %s: %w", name, err)
}

// notReady says why a snapshot cannot be restored yet, "" when it can.
func notReady(vs *snapshotv1.VolumeSnapshot) string {
	st := vs.Status
	switch {
	case st != nil && st.Error != nil:
		msg := "the snapshotter reported an error"
		if st.Error.Message != nil {
			msg = *st.Error.Message
		}
		return "it failed: " + msg
	case st == nil || st.ReadyToUse == nil || !*st.ReadyToUse:
		return "it is not ready to use (a snapshot uploaded to a backup target is ready only when the upload ends): wait, then restore"
	}
	return ""
}

// buildSpec fills inst's spec from the instance that was backed up, or
// from the snapshot when that instance is gone.
func buildSpec(ctx context.Context, c client.Client, src *source, inst *v1alpha1.IrisInstance) ([]string, error) {
	if src.instance != "" {
		from := &v1alpha1.IrisInstance{}
		err := c.Get(ctx, client.ObjectKey{Namespace: inst.Namespace, Name: src.instance}, from)
		if err == nil {
			spec, notes := specFromInstance(from, src.snapshot, src.ref)
			inst.Spec = spec
			return notes, nil
		}
		if !apierrors.IsNotFound(err) {
			return nil, fmt.Errorf("reading IrisInstance %s, whose spec the new instance copies: %w", src.instance, err)
		}
	}
	className, err := snapshottedClass(ctx, c, src.snapshot)
	if err != nil {
		return nil, err
	}
	spec, err := specFromSnapshot(src.snapshot, className, src.ref)
	if err != nil {
		return nil, err
	}
	inst.Spec = spec
	name := src.instance
	if name == "" {
		name = "(unknown: the VolumeSnapshot has no label " + v1alpha1.LabelInstance + ")"
	}
	return []string{rebuiltNote(name, inst.Name, &spec)}, nil
}

// snapshottedClass is the storage class of the claim the snapshot was cut
// from, if it is still there: a volume is restored by the same CSI driver
// it was snapshotted with, which the cluster's default class may not be.
func snapshottedClass(ctx context.Context, c client.Client, vs *snapshotv1.VolumeSnapshot) (*string, error) {
	name := vs.Spec.Source.PersistentVolumeClaimName
	if name == nil {
		return nil, nil
	}
	pvc := &corev1.PersistentVolumeClaim{}
	if err := c.Get(ctx, client.ObjectKey{Namespace: vs.Namespace, Name: *name}, pvc); err != nil {
		if apierrors.IsNotFound(err) || apierrors.IsForbidden(err) {
			return nil, nil
		}
		return nil, fmt.Errorf("reading PersistentVolumeClaim %s, to restore with its storage class: %w", *name, err)
	}
	return pvc.Spec.StorageClassName, nil
}

// claimInTheWay refuses a restore whose claim name is taken by a claim
// made from something else (a Retain claim of a deleted instance of the
// same name, typically): the operator would refuse to run IRIS on it.
func claimInTheWay(ctx context.Context, c client.Client, inst *v1alpha1.IrisInstance) error {
	pvc := &corev1.PersistentVolumeClaim{}
	err := c.Get(ctx, client.ObjectKey{Namespace: inst.Namespace, Name: resources.PVCName(inst)}, pvc)
	switch {
	case apierrors.IsNotFound(err) || apierrors.IsForbidden(err):
		// Forbidden: the operator checks it anyway.
		return nil
	case err != nil:
		return fmt.Errorf("reading PersistentVolumeClaim %s: %w", resources.PVCName(inst), err)
	}
	if key := resources.RestoreKey(inst.Spec.RestoreFrom); pvc.Annotations[resources.AnnotationRestoredFrom] != key {
		return fmt.Errorf("PersistentVolumeClaim %s already exists (left by an earlier instance named %s?) and was not created from %s: "+
			"give another --name, or delete the claim if its data is not needed (kubectl delete pvc %s -n %s)",
			pvc.Name, inst.Name, key, pvc.Name, pvc.Namespace)
	}
	return nil
}

// wait follows inst until it runs, printing a line each time what it
// waits for changes; inst receives its last state.
func (o *Options) wait(ctx context.Context, c client.WithWatch, inst *v1alpha1.IrisInstance, progressOut io.Writer) error {
	gen := inst.Generation
	waitCtx, cancel := kube.WithTimeout(ctx, o.Timeout)
	defer cancel()
	err := kube.WaitShowing(waitCtx, c, client.ObjectKeyFromObject(inst), &v1alpha1.IrisInstance{}, &v1alpha1.IrisInstanceList{}, progressOut, o.Clock, progressOf,
		func(cur *v1alpha1.IrisInstance) (bool, error) {
			cur.DeepCopyInto(inst)
			return outcome(cur, gen)
		})
	if errors.Is(err, context.DeadlineExceeded) || errors.Is(err, context.Canceled) {
		state := fmt.Sprintf("it is %s: %s", inst.Status.Phase, progressOf(inst).detail)
		if inst.Status.Phase == "" {
			state = "the operator has not picked it up (is the irisha operator running?)"
		}
		follow := fmt.Sprintf("the restore goes on, follow it with: kubectl get iris %s -n %s -w", inst.Name, inst.Namespace)
		if ctx.Err() != nil {
			return fmt.Errorf("stopped waiting for IrisInstance %s; %s; %s", inst.Name, state, follow)
		}
		return fmt.Errorf("timed out after %s waiting for IrisInstance %s to be Running: %s; %s", o.Timeout, inst.Name, state, follow)
	}
	return err
}
