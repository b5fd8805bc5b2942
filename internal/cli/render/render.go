// Package render is `irisha render`: it prints every object the operator would
// create for the IrisInstances in the given files, so GitOps users can apply
// them without running the operator.
package render

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"os"

	"github.com/spf13/cobra"
	corev1 "k8s.io/api/core/v1"
	"sigs.k8s.io/yaml"

	"github.com/irisha/irisha/internal/apivalidation"
	"github.com/irisha/irisha/internal/resources"
	"github.com/irisha/irisha/internal/version"
)

// Options of `irisha render`.
type Options struct {
	Files      []string
	AgentImage string
	In         io.Reader
	Out        io.Writer
}

// NewCommand returns `irisha render`.
func NewCommand(in io.Reader, out io.Writer) *cobra.Command {
	o := &Options{In: in, Out: out}
	cmd := &cobra.Command{
		Use:   "render -f FILE [-f FILE...]",
		Short: "Print the Kubernetes objects the operator would create for IrisInstances",
		Long: `Render prints, as YAML, every object the irisha operator creates for the
IrisInstances in the given files: the PersistentVolumeClaim for durable %SYS,
the Secret with the effective CPF merge file, the ServiceAccount, the fencing
Lease, the agent's Role and RoleBinding, the Deployment (IRIS under the irisha
agent, injected by an init container) and the Service. CRDs are not printed.

The files may also hold the ConfigMaps and Secrets the instances reference
(spec.config.configMapRef, spec.passwordSecret, spec.licenseKeySecret); render
reads them but does not print them. Instances are defaulted and validated with
the CRD's own schema, so a file render accepts is one the API server accepts.`,
		Example: `  # What the operator would create for the minimal example
  irisha render -f examples/minimal.yaml

  # Apply it without the operator
  irisha render -f examples/minimal.yaml | kubectl apply -f -

  # Read from standard input
  cat instance.yaml secret.yaml | irisha render -f -`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return o.Run(cmd.Context())
		},
	}
	cmd.Flags().StringArrayVarP(&o.Files, "filename", "f", nil, "file with IrisInstances (and the ConfigMaps and Secrets they reference); - reads standard input")
	cmd.Flags().StringVar(&o.AgentImage, "agent-image", version.DefaultImage(), "irisha image whose irisha-manager becomes PID 1 of the IRIS container")
	_ = cmd.MarkFlagRequired("filename")
	return cmd
}

// Run renders the instances of o.Files to o.Out.
func (o *Options) Run(ctx context.Context) error {
	v, err := apivalidation.ForKind("IrisInstance")
	if err != nil {
		return err
	}
	in := &input{configMaps: map[string]*corev1.ConfigMap{}, secrets: map[string]*corev1.Secret{}}
	for _, name := range o.Files {
		if err := o.decode(ctx, in, name, v); err != nil {
			return err
		}
	}
	if len(in.instances) == 0 {
		return fmt.Errorf("no IrisInstance in %v: nothing to render", o.Files)
	}
	// Everything is built before anything is printed, so a bad instance
	// never leaves half a stream to pipe into kubectl apply.
	var docs [][]byte
	for _, inst := range in.instances {
		inputs, err := resources.Resolve(ctx, inst, in)
		if err != nil {
			return fmt.Errorf("IrisInstance %s: %w", inst.Name, err)
		}
		inputs.AgentImage = o.AgentImage
		objs, err := resources.Build(inputs)
		if err != nil {
			return fmt.Errorf("IrisInstance %s: %w", inst.Name, err)
		}
		for _, obj := range objs.All() {
			b, err := manifest(obj)
			if err != nil {
				return fmt.Errorf("IrisInstance %s: printing %s: %w", inst.Name, obj.GetName(), err)
			}
			docs = append(docs, b)
		}
	}
	if _, err := o.Out.Write(bytes.Join(docs, []byte("---\n"))); err != nil {
		return fmt.Errorf("writing the manifests: %w", err)
	}
	return nil
}

func (o *Options) decode(ctx context.Context, in *input, name string, v *apivalidation.Validator) error {
	if name == "-" {
		return in.decodeFile(ctx, "<stdin>", o.In, v)
	}
	f, err := os.Open(name)
	if err != nil {
		return fmt.Errorf("reading %s: %w", name, err)
	}
	defer func() { _ = f.Close() }()
	return in.decodeFile(ctx, name, f, v)
}

// manifest prints obj as a user would write it: without the empty status
// that typed objects always carry.
func manifest(obj any) ([]byte, error) {
	raw, err := yaml.Marshal(obj)
	if err != nil {
		return nil, err
	}
	var m map[string]any
	if err := yaml.Unmarshal(raw, &m); err != nil {
		return nil, err
	}
	delete(m, "status")
	return yaml.Marshal(m)
}
