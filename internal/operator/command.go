package operator

import (
	"fmt"
	"strings"

	"github.com/spf13/cobra"
	"k8s.io/apimachinery/pkg/util/validation"
	ctrl "sigs.k8s.io/controller-runtime"

	"github.com/irisha/irisha/internal/logging"
	"github.com/irisha/irisha/internal/version"
)

// NewCommand is `irisha-manager operator`.
func NewCommand() *cobra.Command {
	opts := Options{}
	var logOpts *logging.Options
	cmd := &cobra.Command{
		Use:   "operator",
		Short: "Run the irisha operator (IrisInstance and failover controllers)",
		Long: `Run the irisha operator against the cluster of the in-cluster config (or of
the current kubeconfig). It reconciles IrisInstances into a PVC, a merge
Secret, a ServiceAccount, a Deployment and a Service, and fails them over
when their pod is provably dead.

As installed (dist/install.yaml, charts/irisha) it runs in irisha-system with
leader election on, so that only one replica acts at a time, and serves
/metrics over HTTPS: a scraper needs a ServiceAccount token allowed by the
irisha-metrics-reader ClusterRole. /healthz and /readyz are plain HTTP on the
probe port; /readyz fails until the caches have synced.`,
		Example: `  # As the manifests run it
  irisha-manager operator --leader-elect --witness-namespace=irisha-system \
    --agent-image=registry.example.com/irisha-manager:v0.1.0

  # Only the instances of two namespaces (the cluster-scoped Nodes,
  # PersistentVolumes and VolumeAttachments are still watched)
  irisha-manager operator --watch-namespaces=team-a,team-b

  # Locally, against the current kubeconfig: no election, plain HTTP metrics
  irisha-manager operator --leader-elect=false --metrics-secure=false \
    --metrics-bind-address=127.0.0.1:8080

  # Metrics with a certificate of your own (tls.crt, tls.key; reloaded on change)
  irisha-manager operator --metrics-cert-dir=/etc/irisha/metrics-certs`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ns, err := cleanNamespaces(opts.WatchNamespaces)
			if err != nil {
				return err
			}
			opts.WatchNamespaces = ns
			ctrl.SetLogger(logOpts.Logger())
			return Run(cmd.Context(), opts)
		},
	}
	f := cmd.Flags()
	f.StringVar(&opts.MetricsAddr, "metrics-bind-address", ":8443", "address of the Prometheus metrics endpoint; 0 disables it")
	f.BoolVar(&opts.MetricsSecure, "metrics-secure", true, "serve metrics over HTTPS, each scrape authenticated and authorized by the API server; false serves plain HTTP to anyone (local runs only)")
	f.StringVar(&opts.MetricsCertDir, "metrics-cert-dir", "", "directory with tls.crt and tls.key for the metrics endpoint, reloaded when they change; empty: a self-signed certificate")
	f.BoolVar(&opts.EnableHTTP2, "enable-http2", false, "let the metrics endpoint speak HTTP/2 (off: HTTP/2 rapid reset attacks)")
	f.StringVar(&opts.ProbeAddr, "health-probe-bind-address", ":8081", "address of /healthz and /readyz (plain HTTP)")
	f.BoolVar(&opts.LeaderElect, "leader-elect", true, "elect a leader so that only one operator replica acts at a time (false only when a single process runs, e.g. locally)")
	f.StringVar(&opts.LeaderElectionNamespace, "leader-election-namespace", "", "namespace of the leader election Lease (default: the pod's namespace; required outside a pod)")
	f.StringSliceVar(&opts.WatchNamespaces, "watch-namespaces", nil, "comma-separated namespaces whose IrisInstances the operator manages (default: all)")
	f.StringVar(&opts.AgentImage, "agent-image", version.DefaultImage(), "irisha image whose irisha-manager becomes PID 1 of IRIS pods")
	f.Float32Var(&opts.KubeAPIQPS, "kube-api-qps", 100, "requests per second to the API server, sustained")
	f.IntVar(&opts.KubeAPIBurst, "kube-api-burst", 200, "requests to the API server in a burst (a node loss fails over all its instances at once)")
	f.StringVar(&opts.WitnessNamespace, "witness-namespace", "", "namespace of the node witnesses' records (irisha-manager witness): with it, a failover waits until a majority of them reach the API server, and agents ride out control-plane outages on their word; empty: no witnesses")
	logOpts = logging.AddFlags(f)
	return cmd
}

// cleanNamespaces drops empty entries ("a,,b", a trailing comma) and
// refuses names that cannot be namespaces, which would otherwise make the
// cache fail at its first list with a less telling message.
func cleanNamespaces(in []string) ([]string, error) {
	var out []string
	for _, ns := range in {
		ns = strings.TrimSpace(ns)
		if ns == "" {
			continue
		}
		if errs := validation.IsDNS1123Label(ns); len(errs) > 0 {
			return nil, fmt.Errorf("--watch-namespaces: %q is not a namespace name: %s", ns, strings.Join(errs, "; "))
		}
		out = append(out, ns)
	}
	return out, nil
}
