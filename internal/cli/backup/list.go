package backup

import (
	"context"
	"errors"
	"fmt"

	"github.com/spf13/cobra"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/irisha/irisha/api/v1alpha1"
	"github.com/irisha/irisha/internal/cli/kube"
)

// ListOptions of `irisha backup list`.
type ListOptions struct {
	// Instance, when set, keeps only its backups.
	Instance      string
	AllNamespaces bool
	Output        kube.Output

	streams
}

func newListCommand(flags *kube.Flags, s streams) *cobra.Command {
	o := &ListOptions{streams: s}
	cmd := &cobra.Command{
		Use:     "list [INSTANCE]",
		Aliases: []string{"ls"},
		Short:   "List backups, newest first",
		Long: `List prints the IrisBackups of the namespace (of every namespace with -A),
or only those of INSTANCE, newest first: phase, how long IRIS was frozen,
the VolumeSnapshot, age, and the reason of a failure. Backups made by an
IrisScheduledBackup are listed with the others.`,
		Example: `  # Every backup of the current namespace
  irisha backup list

  # The backups of the instance iris in namespace prod
  irisha backup list iris -n prod

  # Every backup of the cluster
  irisha backup list -A

  # The newest Completed backup of iris, for a script
  irisha backup list iris -o json | jq -r '[.items[] | select(.status.phase=="Completed")][0].metadata.name'`,
		Args: func(_ *cobra.Command, args []string) error {
			if len(args) > 1 {
				return errors.New("give at most one IrisInstance: irisha backup list [INSTANCE]")
			}
			return nil
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			if len(args) == 1 {
				o.Instance = args[0]
			}
			c, ns, err := flags.Connect()
			if err != nil {
				return err
			}
			if o.AllNamespaces {
				ns = ""
			}
			return o.Run(cmd.Context(), c, ns)
		},
	}
	cmd.Flags().BoolVarP(&o.AllNamespaces, "all-namespaces", "A", false, "list the backups of every namespace")
	kube.AddOutputFlag(cmd.Flags(), &o.Output)
	return cmd
}

// Run lists the backups of namespace ns, of every namespace when ns is "".
func (o *ListOptions) Run(ctx context.Context, c client.Client, ns string) error {
	list := &v1alpha1.IrisBackupList{}
	if err := c.List(ctx, list, client.InNamespace(ns)); err != nil {
		return fmt.Errorf("listing IrisBackups: %w", err)
	}
	// Filtered here rather than by the field selector spec.instanceName:
	// API servers before 1.31 have no selectable fields.
	if o.Instance != "" {
		kept := list.Items[:0]
		for _, b := range list.Items {
			if b.Spec.InstanceName == o.Instance {
				kept = append(kept, b)
			}
		}
		list.Items = kept
	}
	newestFirst(list.Items)
	if o.Output.Machine() {
		return kube.Print(o.Out, o.Output, c.Scheme(), list)
	}
	if len(list.Items) == 0 {
		_, err := fmt.Fprintln(o.ErrOut, noneFound(o.Instance, ns))
		return err
	}
	return writeTable(o.Out, list.Items, ns == "", o.Clock.Now())
}

func noneFound(instance, ns string) string {
	where := "in namespace " + ns
	if ns == "" {
		where = "in any namespace"
	}
	if instance != "" {
		return fmt.Sprintf("No IrisBackups of IrisInstance %s %s: irisha backup create %s makes one.", instance, where, instance)
	}
	return fmt.Sprintf("No IrisBackups found %s.", where)
}
