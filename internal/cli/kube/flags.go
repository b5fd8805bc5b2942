// Package kube is what the irisha verbs that talk to a cluster share: the
// kubectl connection flags (-n/--namespace, --kubeconfig, --context) read
// with client-go's own loading rules, the client, the -o formats, waiting
// on one object, and running a command in a container as kubectl exec does
// (Execer). It holds no verb of its own.
package kube

import (
	"errors"
	"fmt"
	"io"
	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"

	"github.com/go-logr/logr/funcr"
	snapshotv1 "github.com/kubernetes-csi/external-snapshotter/client/v8/apis/volumesnapshot/v1"
	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
	"k8s.io/apimachinery/pkg/runtime"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/irisha/irisha/api/v1alpha1"
	"github.com/irisha/irisha/internal/version"
)

// Flags are kubectl's connection flags. Unset, they mean what they mean to
// kubectl: $KUBECONFIG or ~/.kube/config, its current context, and the
// context's namespace (else "default"); inside a pod, its service account.
type Flags struct {
	Kubeconfig string
	Context    string
	Namespace  string
	// Warnings receives the API server's warnings (deprecations and the
	// like); nil discards them.
	Warnings io.Writer
}

// AddTo registers the flags, with kubectl's names, on fs.
func (f *Flags) AddTo(fs *pflag.FlagSet) {
	fs.StringVarP(&f.Namespace, "namespace", "n", "", "namespace (default: the kubeconfig context's, else default)")
	fs.StringVar(&f.Kubeconfig, "kubeconfig", "", "path to the kubeconfig file (default: $KUBECONFIG, else ~/.kube/config)")
	fs.StringVar(&f.Context, "context", "", "kubeconfig context to use (default: the current context)")
}

func (f *Flags) clientConfig() clientcmd.ClientConfig {
	rules := clientcmd.NewDefaultClientConfigLoadingRules()
	rules.ExplicitPath = f.Kubeconfig
	overrides := &clientcmd.ConfigOverrides{CurrentContext: f.Context}
	overrides.Context.Namespace = f.Namespace
	return clientcmd.NewNonInteractiveDeferredLoadingClientConfig(rules, overrides)
}

// ResolveNamespace is -n, else the context's namespace, else "default".
func (f *Flags) ResolveNamespace() (string, error) {
	ns, _, err := f.clientConfig().Namespace()
	if err != nil {
		return "", fmt.Errorf("reading the namespace from the kubeconfig: %w", err)
	}
	return ns, nil
}

// Scheme holds every type the verbs read or write: the built-in ones,
// irisha's and the VolumeSnapshot API.
func Scheme() (*runtime.Scheme, error) {
	s := runtime.NewScheme()
	// apiextensions: irisha install waits for its CRDs to be established.
	for _, add := range []func(*runtime.Scheme) error{clientgoscheme.AddToScheme, apiextensionsv1.AddToScheme, v1alpha1.AddToScheme, snapshotv1.AddToScheme} {
		if err := add(s); err != nil {
			return nil, fmt.Errorf("building the scheme: %w", err)
		}
	}
	return s, nil
}

// RESTConfig is the connection the flags name, as irisha's user agent,
// with the API server's warnings sent to Warnings.
func (f *Flags) RESTConfig() (*rest.Config, error) {
	cfg, err := f.clientConfig().ClientConfig()
	if err != nil {
		return nil, fmt.Errorf("loading the kubeconfig: %w (set --kubeconfig, $KUBECONFIG or --context)", err)
	}
	cfg = rest.CopyConfig(cfg)
	cfg.UserAgent = "irisha/" + version.String()
	// Without a handler of its own, controller-runtime routes warnings to
	// its logger, which a CLI never sets up.
	if f.Warnings != nil {
		cfg.WarningHandler = rest.NewWarningWriter(f.Warnings, rest.WarningWriterOptions{Deduplicate: true})
	} else {
		cfg.WarningHandler = rest.NoWarnings{}
	}
	return cfg, nil
}

// Client connects to the cluster the flags name.
func (f *Flags) Client() (client.WithWatch, error) {
	cfg, err := f.RESTConfig()
	if err != nil {
		return nil, err
	}
	s, err := Scheme()
	if err != nil {
		return nil, err
	}
	// A logger of its own too: controller-runtime's global one, never set
	// in a CLI, complains on standard error after 30 seconds.
	quiet := funcr.New(func(string, string) {}, funcr.Options{})
	c, err := client.NewWithWatch(cfg, client.Options{Scheme: s, Log: quiet})
	if err != nil {
		return nil, fmt.Errorf("connecting to %s: %w", cfg.Host, err)
	}
	return c, nil
}

// Connect resolves the namespace and builds the client.
func (f *Flags) Connect() (client.WithWatch, string, error) {
	ns, err := f.ResolveNamespace()
	if err != nil {
		return nil, "", err
	}
	c, err := f.Client()
	if err != nil {
		return nil, "", err
	}
	return c, ns, nil
}

// ExactArgs is cobra.ExactArgs with a message that says what to give.
func ExactArgs(n int, hint string) cobra.PositionalArgs {
	return func(_ *cobra.Command, args []string) error {
		if len(args) != n {
			return errors.New(hint)
		}
		return nil
	}
}

// ContextName names the cluster for reports: the kubeconfig context in
// use, else its server.
func (f *Flags) ContextName() string {
	raw, err := f.clientConfig().RawConfig()
	if err == nil {
		name := f.Context
		if name == "" {
			name = raw.CurrentContext
		}
		if name != "" {
			return name
		}
	}
	if cfg, err := f.RESTConfig(); err == nil {
		return cfg.Host
	}
	return "unknown"
}
