// Package sandbox is the `irisha sandbox` command (internal/sandbox does
// the work).
package sandbox

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"syscall"

	"github.com/go-logr/logr"
	"github.com/go-logr/stdr"
	"github.com/spf13/cobra"
	"k8s.io/klog/v2"
	ctrllog "sigs.k8s.io/controller-runtime/pkg/log"

	"github.com/irisha/irisha/internal/chaos"
	"github.com/irisha/irisha/internal/sandbox"
)

// NewCommand returns `irisha sandbox`.
func NewCommand(out io.Writer) *cobra.Command {
	var (
		scenarios, reportDir, kubeconfig string
		compare, exit, keep, verbose     bool
	)
	cmd := &cobra.Command{
		Use:   "sandbox",
		Short: "See IRIS survive the article's failures, measured, on this machine, with no cluster",
		Long: `Sandbox runs all of irisha on this machine: a simulated Kubernetes cluster
(the real etcd, kube-apiserver, kube-controller-manager and kube-scheduler;
three simulated nodes in three zones; a simulated replicated block store;
Kubernetes' default timings), the operator, the node witnesses, and an
IrisInstance whose IRIS is a stand-in (the fake IRIS: IRIS itself cannot run
here) under the real agent.

It then runs the reference article's drills against the instance, with a
writer appending numbered rows throughout: IRIS stopped inside the
container, the pod deleted, the node drained, the node killed, the node cut
off the network, and a backup restored into a clone. It prints the article's
fault-domain table with each drill's measured RTO (fault to the first row
acknowledged after it) and RPO (acknowledged rows lost), writes an HTML
report with a timeline per drill, and keeps the cluster up to explore with
kubectl until Ctrl-C.

The first run builds the control-plane binaries from source (about 15
minutes on two cores, progress shown; cached in bin/testbin); later runs
reach the table in about three minutes. It runs from a clone of the
repository. Ctrl-C at any point stops every process it started.`,
		Example: `  # The whole tour; Ctrl-C when done exploring
  go run ./cmd/irisha sandbox

  # For scripts: the drills, the report, then exit (non-zero if a drill failed)
  go run ./cmd/irisha sandbox --exit --report-dir ./sandbox-report

  # Only some drills
  go run ./cmd/irisha sandbox --scenarios iris-stop,node-kill --exit

  # The same drills on the reference YAML beside irisha (slow: its node-loss
  # drills wait out Kubernetes' 300 s tolerations, then give up at 10 minutes)
  go run ./cmd/irisha sandbox --compare-reference`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			list, err := chaos.ParseScenarios(scenarios)
			if err != nil {
				return err
			}
			if kubeconfig, err = filepath.Abs(kubeconfig); err != nil {
				return err
			}
			log := logr.Discard()
			if verbose {
				log = stdr.New(nil)
			}
			// controller-runtime and klog are global: quiet unless -v.
			ctrllog.SetLogger(log)
			klog.SetLogger(log)
			ctx, stop := signal.NotifyContext(cmd.Context(), os.Interrupt, syscall.SIGTERM)
			defer stop()
			_, err = sandbox.Run(ctx, sandbox.Options{
				Scenarios: list, CompareReference: compare, Exit: exit, ReportDir: reportDir,
				Kubeconfig: kubeconfig, KeepWorkDir: keep, Out: out, Log: log,
			})
			// Ctrl-C after the report is how the sandbox ends (Run then says
			// only whether a drill failed); before it, it is an interruption.
			if errors.Is(err, context.Canceled) {
				return errors.New("interrupted: the simulated cluster and every process it ran are stopped")
			}
			if err != nil {
				return fmt.Errorf("sandbox: %w", err)
			}
			return nil
		},
	}
	f := cmd.Flags()
	f.StringVar(&scenarios, "scenarios", "all", "comma-separated drills, or all: iris-stop, pod-delete, drain, node-kill, node-partition, backup-restore")
	f.BoolVar(&compare, "compare-reference", false, "run the drills on the reference YAML too (slow: Kubernetes' 300 s tolerations)")
	f.BoolVar(&exit, "exit", false, "stop after the report instead of keeping the cluster up")
	f.StringVar(&reportDir, "report-dir", "sandbox-report", "where to write report.html, report.md and report.json")
	f.StringVar(&kubeconfig, "kubeconfig", "sandbox.kubeconfig", "where to write the simulated cluster's admin kubeconfig (removed on exit)")
	f.BoolVar(&keep, "keep-work-dir", false, "keep the cluster's logs and etcd data after stopping")
	f.BoolVarP(&verbose, "verbose", "v", false, "log what the simulated cluster and the operator do")
	return cmd
}
