// Command irisha-manager is the one binary of the irisha image: `operator` runs
// the controllers, `agent` (in the IRIS container) supervises IRIS, and
// `witness` (a DaemonSet) lets agents ride out a control-plane outage;
// the hidden `fsbench` measures a volume's fsync latency for `irisha doctor
// --bench-storage`.
package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/signal"
	"syscall"

	"github.com/spf13/cobra"

	"github.com/irisha/irisha/internal/agent"
	"github.com/irisha/irisha/internal/fsbench"
	"github.com/irisha/irisha/internal/operator"
	"github.com/irisha/irisha/internal/version"
	"github.com/irisha/irisha/internal/witness"
)

func main() {
	err := run()
	// run has returned, so its deferred cleanups have run: only now may
	// the process exit. The agent's exit code is IRIS's, for the kubelet.
	var exit *agent.ExitError
	if errors.As(err, &exit) {
		os.Exit(exit.Code)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "irisha-manager:", err)
		os.Exit(1)
	}
}

func run() error {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	root := &cobra.Command{
		Use:           "irisha-manager",
		Short:         "irisha operator, in-pod agent and node witness",
		Version:       version.String(),
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	root.AddCommand(operator.NewCommand(), agent.NewCommand(), witness.NewCommand(), fsbench.NewCommand())
	return root.ExecuteContext(ctx)
}
