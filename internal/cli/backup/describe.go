package backup

import (
	"context"
	"fmt"

	snapshotv1 "github.com/kubernetes-csi/external-snapshotter/client/v8/apis/volumesnapshot/v1"
	"github.com/spf13/cobra"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apimachinery/pkg/fields"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/irisha/irisha/api/v1alpha1"
	"github.com/irisha/irisha/internal/cli/kube"
)

// DescribeOptions of `irisha backup describe`.
type DescribeOptions struct {
	Name   string
	Output kube.Output

	streams
}

func newDescribeCommand(flags *kube.Flags, s streams) *cobra.Command {
	o := &DescribeOptions{streams: s}
	cmd := &cobra.Command{
		Use:   "describe BACKUP",
		Short: "Show everything about one backup: status, VolumeSnapshot, Events",
		Long: `Describe prints every field of the backup's status (the times of the
freeze, the cut and the thaw, how long IRIS was frozen, who thawed it), its
Completed condition, its VolumeSnapshot (class, ready to use, restore size,
and the irisha.dev/* annotations a restore reads when the instance is gone)
and the backup's recent Events.`,
		Example: `  # Why did the backup fail?
  irisha backup describe iris-20260301020000

  # The backup and its VolumeSnapshot as YAML
  irisha backup describe iris-20260301020000 -n prod -o yaml`,
		Args: kube.ExactArgs(1, "give the name of the IrisBackup: irisha backup describe BACKUP (irisha backup list shows them)"),
		RunE: func(cmd *cobra.Command, args []string) error {
			o.Name = args[0]
			c, ns, err := flags.Connect()
			if err != nil {
				return err
			}
			return o.Run(cmd.Context(), c, ns)
		},
	}
	kube.AddOutputFlag(cmd.Flags(), &o.Output)
	return cmd
}

// Run describes backup o.Name of namespace ns.
func (o *DescribeOptions) Run(ctx context.Context, c client.Client, ns string) error {
	d, err := read(ctx, c, ns, o.Name)
	if err != nil {
		return err
	}
	if o.Output.Machine() {
		s := c.Scheme()
		doc := *d
		doc.Backup = kube.ForPrinting(d.Backup, s).(*v1alpha1.IrisBackup)
		if d.VolumeSnapshot != nil {
			doc.VolumeSnapshot = kube.ForPrinting(d.VolumeSnapshot, s).(*snapshotv1.VolumeSnapshot)
		}
		doc.Events = make([]corev1.Event, len(d.Events))
		for i := range d.Events {
			doc.Events[i] = *kube.ForPrinting(&d.Events[i], s).(*corev1.Event)
		}
		return kube.Print(o.Out, o.Output, s, &doc)
	}
	return writeDescription(o.Out, d, o.Clock.Now())
}

// read gathers what describe shows. Only the backup itself is required:
// a snapshot or events that cannot be read are said so in the output.
func read(ctx context.Context, c client.Client, ns, name string) (*description, error) {
	b := &v1alpha1.IrisBackup{}
	if err := c.Get(ctx, client.ObjectKey{Namespace: ns, Name: name}, b); err != nil {
		if apierrors.IsNotFound(err) {
			return nil, fmt.Errorf("IrisBackup %s not found in namespace %s: irisha backup list -n %s lists the backups", name, ns, ns)
		}
		return nil, fmt.Errorf("reading IrisBackup %s: %w", name, err)
	}
	d := &description{Backup: b, Events: []corev1.Event{}}
	if b.Status.SnapshotName != "" {
		d.VolumeSnapshot, d.VolumeSnapshotProblem = readSnapshot(ctx, c, b)
	}
	events := &corev1.EventList{}
	err := c.List(ctx, events, client.InNamespace(ns), client.MatchingFieldsSelector{
		Selector: fields.OneTermEqualSelector("involvedObject.uid", string(b.UID)),
	})
	if err != nil {
		d.EventsProblem = fmt.Sprintf("cannot be read: %v", err)
		return d, nil
	}
	d.Events = events.Items
	sortEvents(d.Events)
	return d, nil
}

func readSnapshot(ctx context.Context, c client.Client, b *v1alpha1.IrisBackup) (*snapshotv1.VolumeSnapshot, string) {
	vs := &snapshotv1.VolumeSnapshot{}
	err := c.Get(ctx, client.ObjectKey{Namespace: b.Namespace, Name: b.Status.SnapshotName}, vs)
	switch {
	case err == nil:
		return vs, ""
	case apierrors.IsNotFound(err) && b.Status.Phase == v1alpha1.BackupFailed:
		return nil, "deleted: the backup failed, so it may not be consistent"
	case apierrors.IsNotFound(err) && b.Status.Phase == v1alpha1.BackupCompleted:
		return nil, "not found: it was deleted after the backup completed"
	case apierrors.IsNotFound(err):
		return nil, "not created yet"
	case meta.IsNoMatchError(err):
		return nil, "the cluster serves no VolumeSnapshot API (snapshot.storage.k8s.io)"
	}
	return nil, fmt.Sprintf("cannot be read: %v", err)
}
