// Package backup is `irisha backup`: create an IrisBackup (and follow it
// to the end), list an instance's backups, describe one with its
// VolumeSnapshot and Events. The operator does the work; these verbs
// write the request and read what it reports.
package backup

import (
	"io"

	"github.com/spf13/cobra"
	"k8s.io/utils/clock"

	"github.com/irisha/irisha/internal/cli/kube"
)

// streams are where a verb writes, and its clock (tests inject a fixed one
// for ages; elapsed times come from it too).
type streams struct {
	Out, ErrOut io.Writer
	Clock       clock.Clock
}

// NewCommand returns `irisha backup` with its verbs.
func NewCommand(out, errOut io.Writer) *cobra.Command {
	flags := &kube.Flags{Warnings: errOut}
	s := streams{Out: out, ErrOut: errOut, Clock: clock.RealClock{}}
	cmd := &cobra.Command{
		Use:   "backup",
		Short: "Create, list and describe backups of IrisInstances",
		Long: `An IrisBackup is one VolumeSnapshot of an instance's volume, cut while
IRIS's write daemon is frozen (online, the default) so that the snapshot
holds a consistent database. The irisha operator and the instance's agent do
the work; these verbs create the request, follow it and read the result.
A Completed backup can be restored into a new instance: see irisha restore.`,
	}
	flags.AddTo(cmd.PersistentFlags())
	cmd.AddCommand(newCreateCommand(flags, s), newListCommand(flags, s), newDescribeCommand(flags, s))
	return cmd
}
