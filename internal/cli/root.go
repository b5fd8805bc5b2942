// Package cli assembles the irisha command line; each verb lives in a
// package of its own below this one.
package cli

import (
	"fmt"
	"io"

	"github.com/spf13/cobra"

	"github.com/irisha/irisha/dist"
	"github.com/irisha/irisha/internal/cli/backup"
	"github.com/irisha/irisha/internal/cli/chaos"
	"github.com/irisha/irisha/internal/cli/doctor"
	"github.com/irisha/irisha/internal/cli/install"
	"github.com/irisha/irisha/internal/cli/render"
	"github.com/irisha/irisha/internal/cli/resize"
	"github.com/irisha/irisha/internal/cli/restore"
	"github.com/irisha/irisha/internal/cli/sandbox"
	"github.com/irisha/irisha/internal/cli/sim"
	"github.com/irisha/irisha/internal/cli/status"
	"github.com/irisha/irisha/internal/version"
)

// NewRootCommand returns `irisha` with every verb.
func NewRootCommand(in io.Reader, out, errOut io.Writer) *cobra.Command {
	root := &cobra.Command{
		Use:   "irisha",
		Short: "Run InterSystems IRIS highly available on Kubernetes without mirroring",
		Long: `irisha runs one InterSystems IRIS instance highly available on Kubernetes:
durable %SYS on a replicated volume, fenced failover, consistent backups.
This CLI renders, installs and inspects it, and backs it up, restores and
resizes it. Installed on PATH as kubectl-irisha, it is also a kubectl
plugin: kubectl irisha status iris.`,
		SilenceUsage:  true,
		SilenceErrors: true,
		Version:       version.String(),
	}
	root.SetIn(in)
	root.SetOut(out)
	root.SetErr(errOut)
	root.AddCommand(
		doctor.NewCommand(out, errOut),
		render.NewCommand(in, out),
		install.NewInstallCommand(dist.Objects, out, errOut),
		install.NewUninstallCommand(dist.Objects, out, errOut),
		backup.NewCommand(out, errOut),
		restore.NewCommand(out, errOut),
		resize.NewCommand(out, errOut),
		sim.NewCommand(),
		sandbox.NewCommand(out),
		chaos.NewCommand(out, errOut),
		status.NewCommand(out),
		&cobra.Command{
			Use:   "version",
			Short: "Print the version of irisha",
			Args:  cobra.NoArgs,
			RunE: func(cmd *cobra.Command, _ []string) error {
				_, err := fmt.Fprintln(cmd.OutOrStdout(), "irisha", version.String())
				return err
			},
		},
	)
	return root
}
