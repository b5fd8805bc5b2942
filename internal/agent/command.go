package agent

import (
	"context"
	"fmt"
	"os"
	"time"

	"github.com/go-logr/logr"
	"github.com/spf13/cobra"
	ctrl "sigs.k8s.io/controller-runtime"

	"github.com/irisha/irisha/internal/agent/lease"
	"github.com/irisha/irisha/internal/fencing"
	"github.com/irisha/irisha/internal/logging"
	"github.com/irisha/irisha/internal/restconfig"
	"github.com/irisha/irisha/internal/version"
)

// Environment variables the Deployment sets for the agent (the downward API
// gives the pod's own name, namespace and UID).
const (
	EnvPodName      = "POD_NAME"
	EnvPodNamespace = "POD_NAMESPACE"
	EnvPodUID       = "POD_UID"
	// EnvMergeFile is IRIS's own variable for its merge file, set on the
	// container the agent runs in.
	EnvMergeFile = "ISC_CPF_MERGE_FILE"
)

// ExitError is how `agent run` ends with a non-zero exit code: main exits
// with Code once its deferred cleanups have run. The agent is PID 1 of the
// IRIS container, so Code is the container's exit code, which the kubelet
// reports in the pod's status and the tests read: IRIS's own code when
// IRIS exited (128+signal if a signal killed it), ExitFenced after a fence.
type ExitError struct{ Code int }

func (e *ExitError) Error() string { return fmt.Sprintf("exit code %d", e.Code) }

// exitWith is the command's result for a run that ended with code: nil for
// 0, so a clean stop exits 0 like any command that succeeded.
func exitWith(code int) error {
	if code == 0 {
		return nil
	}
	return &ExitError{Code: code}
}

// runFunc is Run; tests of the command replace it.
type runFunc func(ctx context.Context, cfg Config, log logr.Logger) (int, error)

// NewCommand returns `irisha-manager agent` with its `run` subcommand.
func NewCommand() *cobra.Command {
	agent := &cobra.Command{
		Use:   "agent",
		Short: "The in-pod agent: PID 1 of the IRIS container",
	}
	agent.AddCommand(newRunCommand(Run), newInstallCommand())
	return agent
}

func newRunCommand(run runFunc) *cobra.Command {
	var (
		cfg        Config
		duration   time.Duration
		renew      time.Duration
		margin     time.Duration
		kubeconfig string
		podName    string
		podUID     string
		logOpts    *logging.Options
	)
	cmd := &cobra.Command{
		Use:   "run [flags] -- COMMAND [ARGS...]",
		Short: "Hold the fencing Lease, then run and supervise IRIS",
		Long: `Run is the entrypoint of the IRIS container. It waits until it holds the
instance's fencing Lease, then starts COMMAND (/iris-main and its options),
forwards SIGTERM and SIGINT to it, reaps zombies, and exits with its code.
It renews the Lease; if no renewal succeeds by lease-duration minus
safety-margin it stops IRIS hard (iris force, then SIGKILL of every process
under it) and exits with code 75, so no second IRIS can write to the volume.
A renewal attempt gives up after a third of that time and is retried at
once on a fresh connection, so a short network blip does not stop IRIS.
A clean stop releases the Lease so a replacement starts at once.

While IRIS runs it merges changes of the CPF merge file (--merge-file)
with iris merge and reports the outcome on the Lease; a change to a
setting that takes effect only at a start (gmheap, ...) stops IRIS
cleanly, releases the Lease and exits, so the container restarts on the
new configuration.

While IRIS runs it takes part in the instance's IrisBackups: it freezes
IRIS when a backup enters Freezing, thaws it when asked (Thawing) and, on
its own, at the backup's thaw deadline, even without the API server.

The pod's name, namespace and UID come from the downward API
(POD_NAME, POD_NAMESPACE, POD_UID).`,
		Example: `  irisha-manager agent run --instance-name iris --lease-name iris-fencing -- /iris-main --check-caps false`,
		RunE: func(cmd *cobra.Command, args []string) error {
			cfg.Command = args
			if podName == "" || podUID == "" || cfg.Namespace == "" {
				return fmt.Errorf("the pod's name, UID and namespace are required: set %s, %s and %s (the operator's Deployment does)", EnvPodName, EnvPodUID, EnvPodNamespace)
			}
			// The same name the operator looks for in the Lease.
			cfg.Identity = fencing.Identity(podName, podUID)
			cfg.PodName = podName
			cfg.Timing = lease.DefaultTiming(duration)
			if renew > 0 {
				cfg.Timing.RenewInterval = renew
			}
			if margin > 0 {
				cfg.Timing.SafetyMargin = margin
			}
			// The margin must cover the hard stop this agent will do.
			cfg.Timing.ForceTimeout = cfg.ForceTimeout
			if err := cfg.Timing.Validate(); err != nil {
				return err
			}
			rc, err := restconfig.Load(kubeconfig, "irisha-agent/"+version.Version)
			if err != nil {
				return err
			}
			cfg.REST = rc
			log := logOpts.Logger()
			ctrl.SetLogger(log)
			code, err := run(cmd.Context(), cfg, log.WithName("agent"))
			if err != nil {
				return err
			}
			// The exit code is the child's: the kubelet and tests read it.
			return exitWith(code)
		},
	}
	f := cmd.Flags()
	f.StringVar(&cfg.Namespace, "namespace", os.Getenv(EnvPodNamespace), "namespace of the pod and of its Lease")
	f.StringVar(&podName, "pod-name", os.Getenv(EnvPodName), "name of this pod")
	f.StringVar(&podUID, "pod-uid", os.Getenv(EnvPodUID), "UID of this pod")
	f.StringVar(&cfg.LeaseName, "lease-name", "", "name of the instance's fencing Lease")
	f.StringVar(&cfg.WitnessesConfigMap, "witnesses", "", "ConfigMap (the operator's mirror of the node witnesses) whose witnesses are asked when the API server does not answer; a strict majority answering that they cannot reach it either keeps IRIS running")
	f.StringVar(&cfg.InstanceName, "instance-name", "", "name of the IrisInstance, whose IrisBackups the agent freezes and thaws IRIS for")
	f.DurationVar(&duration, "lease-duration", 10*time.Second, "duration of the fencing Lease (spec.failover.leaseDurationSeconds)")
	f.DurationVar(&renew, "renew-interval", 0, "how often the Lease is renewed (default lease-duration/5, lease-duration/10 under 7.5s; must be under (lease-duration - safety-margin)/3, the timeout of one attempt)")
	f.DurationVar(&margin, "safety-margin", 0, "IRIS is stopped this long before the Lease would expire (default lease-duration/5, at least 1.5s; must cover --force-timeout plus the kill)")
	f.StringVar(&cfg.ListenAddress, "listen-address", ":8085", "address of /livez, /readyz, /startupz and /metrics")
	f.StringVar(&cfg.SuperserverAddress, "superserver-address", "127.0.0.1:1972", "superserver address checked by /readyz")
	f.StringVar(&cfg.Iris, "iris", "iris", "the iris command")
	f.DurationVar(&cfg.ProbeTimeout, "probe-timeout", 5*time.Second, "how long qlist may take before IRIS counts as hung")
	f.DurationVar(&cfg.ForceTimeout, "force-timeout", time.Second, "how long iris force may take before every IRIS process is SIGKILLed")
	f.StringVar(&cfg.DataMount, "data-mount", "", "mount point of the data volume, whose usage is reported on the Lease for the operator's automatic growth")
	f.StringVar(&cfg.VolumeStatsFile, "volume-stats-file", "", "read the data volume's size and use from this JSON file instead of statfs (the simulated cluster)")
	f.DurationVar(&cfg.VolumeMeasureInterval, "volume-measure-interval", DefaultVolumeMeasureInterval, "how often the data volume's usage is measured")
	_ = f.MarkHidden("volume-stats-file")
	f.StringVar(&cfg.MergeFile, "merge-file", os.Getenv(EnvMergeFile), "CPF merge file whose changes are merged into the running IRIS with iris merge (default $"+EnvMergeFile+"); a change to a setting that needs a restart (gmheap, ...) restarts IRIS cleanly")
	f.DurationVar(&cfg.MergeCheckInterval, "merge-check-interval", DefaultMergeCheckInterval, "how often the merge file is read for changes")
	f.StringVar(&kubeconfig, "kubeconfig", "", "kubeconfig file (default: the pod's service account)")
	logOpts = logging.AddFlags(f)
	_ = cmd.MarkFlagRequired("lease-name")
	_ = cmd.MarkFlagRequired("instance-name")
	return cmd
}
