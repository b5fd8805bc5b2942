package witness

import (
	"fmt"
	"net"
	"os"

	"github.com/spf13/cobra"
	"k8s.io/client-go/kubernetes"
	ctrl "sigs.k8s.io/controller-runtime"

	"github.com/irisha/irisha/internal/logging"
	"github.com/irisha/irisha/internal/quorum"
	"github.com/irisha/irisha/internal/restconfig"
	"github.com/irisha/irisha/internal/version"
)

// Environment the DaemonSet sets from the downward API.
const (
	EnvNodeName     = "NODE_NAME"
	EnvHostIP       = "HOST_IP"
	EnvPodName      = "POD_NAME"
	EnvPodNamespace = "POD_NAMESPACE"
)

// DefaultPort is where witnesses answer (the DaemonSet's hostPort).
const DefaultPort = "7946"

// NewCommand returns `irisha-manager witness`.
func NewCommand() *cobra.Command {
	var (
		cfg        Config
		kubeconfig string
		logOpts    *logging.Options
	)
	cmd := &cobra.Command{
		Use:   "witness",
		Short: "The node witness: tells agents whether the API server is out of reach for this node too",
		Long: `Witness runs on every node (a DaemonSet). It writes its record, a Lease
named irisha-witness-<node> in its namespace, every half second while it
reaches the API server, and answers agents' questions "can you reach the API
server?" with answers signed by a key it makes at start (the public half is
in its record). It answers "cannot" only after it has failed to reach the
API server for its grace (2 s): an agent that hears "cannot" from a strict
majority of the witnesses keeps IRIS running through a control-plane outage,
and the operator fails nothing over until a majority of witnesses reach the
API server again.

The node's name and IP and the pod's name and namespace come from the
downward API (NODE_NAME, HOST_IP, POD_NAME, POD_NAMESPACE).`,
		Example: `  irisha-manager witness --listen-address :7946`,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if cfg.Node == "" || cfg.Namespace == "" {
				return fmt.Errorf("the node's name and the pod's namespace are required: set %s and %s (the DaemonSet does)", EnvNodeName, EnvPodNamespace)
			}
			if cfg.AdvertiseAddress == "" {
				ip := os.Getenv(EnvHostIP)
				if ip == "" {
					return fmt.Errorf("--advertise-address or %s is required: agents on other nodes dial it", EnvHostIP)
				}
				_, port, err := net.SplitHostPort(cfg.ListenAddress)
				if err != nil {
					return fmt.Errorf("--listen-address %q: %w", cfg.ListenAddress, err)
				}
				cfg.AdvertiseAddress = net.JoinHostPort(ip, port)
			}
			cfg.Timing = quorum.DefaultTiming()
			rc, err := restconfig.Load(kubeconfig, "irisha-witness/"+version.Version)
			if err != nil {
				return err
			}
			cs, err := kubernetes.NewForConfig(rc)
			if err != nil {
				return fmt.Errorf("creating the Kubernetes client: %w", err)
			}
			log := logOpts.Logger()
			ctrl.SetLogger(log)
			w, err := New(cfg, cs.CoordinationV1(), log.WithName("witness"))
			if err != nil {
				return err
			}
			return w.Run(cmd.Context())
		},
	}
	f := cmd.Flags()
	f.StringVar(&cfg.Namespace, "namespace", os.Getenv(EnvPodNamespace), "namespace of the witness records")
	f.StringVar(&cfg.Node, "node-name", os.Getenv(EnvNodeName), "the node this witness runs on")
	f.StringVar(&cfg.Pod, "pod-name", os.Getenv(EnvPodName), "this pod, named in the record")
	f.StringVar(&cfg.ListenAddress, "listen-address", ":"+DefaultPort, "where questions are answered")
	f.StringVar(&cfg.AdvertiseAddress, "advertise-address", "", "host:port agents dial (default: $HOST_IP and the listen port)")
	f.StringVar(&kubeconfig, "kubeconfig", "", "kubeconfig file (default: the pod's service account)")
	logOpts = logging.AddFlags(f)
	return cmd
}
