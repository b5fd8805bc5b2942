// Package install is `irisha install` and `irisha uninstall`: the manifests
// embedded in the binary (dist/install.yaml of the same version), applied
// with server-side apply, and removed again without touching data.
package install

import (
	"context"
	"fmt"
	"io"
	"time"

	"github.com/spf13/cobra"
	appsv1 "k8s.io/api/apps/v1"
	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/util/wait"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/yaml"

	"github.com/irisha/irisha/internal/cli/kube"
	"github.com/irisha/irisha/internal/version"
)

// FieldManager owns the fields `irisha install` applies.
const FieldManager = "irisha-install"

// Manifests returns the objects to install, in the order to apply them.
type Manifests func() ([]*unstructured.Unstructured, error)

// progressEvery is how often a wait says what it waits for.
const progressEvery = 2 * time.Second

// NewInstallCommand is `irisha install`.
func NewInstallCommand(manifests Manifests, out, errOut io.Writer) *cobra.Command {
	var (
		flags   kube.Flags
		dryRun  bool
		timeout time.Duration
	)
	cmd := &cobra.Command{
		Use:   "install",
		Short: "Install the irisha operator, its CRDs and the node witnesses",
		Long: `Install applies the manifests built into this binary (dist/install.yaml of
irisha ` + version.Version + `) with server-side apply: the CRDs, namespace
irisha-system, the operator's Deployment, ServiceAccount and RBAC, its
metrics Service and the node witnesses' DaemonSet. It needs no network but
the cluster's, and applying again is harmless. It then waits until the
operator is Ready.

The image they name must be reachable by the cluster's nodes: see the
README, "Get the image into your registry".`,
		Example: `  # install into the cluster of the current context, and wait
  irisha install

  # only print what would be applied
  irisha install --dry-run > irisha.yaml`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			objs, err := manifests()
			if err != nil {
				return err
			}
			if dryRun {
				return printAll(out, objs)
			}
			c, err := flags.Client()
			if err != nil {
				return err
			}
			ctx, cancel := context.WithTimeout(cmd.Context(), timeout)
			defer cancel()
			return Install(ctx, c, objs, errOut)
		},
	}
	flags.AddTo(cmd.Flags())
	cmd.Flags().BoolVar(&dryRun, "dry-run", false, "print the manifests instead of applying them")
	cmd.Flags().DurationVar(&timeout, "timeout", 5*time.Minute, "how long to wait for the operator to be Ready")
	return cmd
}

// Install applies objs in order — CRDs established before the objects of
// their kinds — and waits until every Deployment among them is available.
func Install(ctx context.Context, c client.Client, objs []*unstructured.Unstructured, progress io.Writer) error {
	for _, o := range objs {
		if err := apply(ctx, c, o); err != nil {
			return err
		}
		fmt.Fprintf(progress, "applied %s\n", describe(o))
		if o.GetKind() == "CustomResourceDefinition" {
			if err := waitEstablished(ctx, c, o.GetName(), progress); err != nil {
				return err
			}
		}
	}
	for _, o := range objs {
		if o.GetKind() == "Deployment" {
			if err := waitAvailable(ctx, c, o, progress); err != nil {
				return err
			}
		}
	}
	fmt.Fprintln(progress, "irisha", version.Version, "is installed and its operator is Ready")
	return nil
}

func apply(ctx context.Context, c client.Client, o *unstructured.Unstructured) error {
	obj := o.DeepCopy()
	obj.SetResourceVersion("")
	if err := c.Apply(ctx, client.ApplyConfigurationFromUnstructured(obj), client.FieldOwner(FieldManager), client.ForceOwnership); err != nil {
		return fmt.Errorf("applying %s: %w", describe(o), err)
	}
	return nil
}

func waitEstablished(ctx context.Context, c client.Client, name string, progress io.Writer) error {
	return poll(ctx, "CustomResourceDefinition "+name+" to be established", progress, func(ctx context.Context) (bool, string, error) {
		crd := &apiextensionsv1.CustomResourceDefinition{}
		if err := c.Get(ctx, client.ObjectKey{Name: name}, crd); err != nil {
			return false, "", client.IgnoreNotFound(err)
		}
		for _, cond := range crd.Status.Conditions {
			if cond.Type == apiextensionsv1.Established && cond.Status == apiextensionsv1.ConditionTrue {
				return true, "", nil
			}
		}
		return false, "not established yet", nil
	})
}

func waitAvailable(ctx context.Context, c client.Client, o *unstructured.Unstructured, progress io.Writer) error {
	what := fmt.Sprintf("Deployment %s/%s to be Ready", o.GetNamespace(), o.GetName())
	return poll(ctx, what, progress, func(ctx context.Context) (bool, string, error) {
		d := &appsv1.Deployment{}
		if err := c.Get(ctx, client.ObjectKeyFromObject(o), d); err != nil {
			return false, "", client.IgnoreNotFound(err)
		}
		want := int32(1)
		if d.Spec.Replicas != nil {
			want = *d.Spec.Replicas
		}
		done := d.Status.ObservedGeneration >= d.Generation && d.Status.UpdatedReplicas >= want && d.Status.AvailableReplicas >= want
		return done, fmt.Sprintf("%d of %d replicas available", d.Status.AvailableReplicas, want), nil
	})
}

// poll checks cond until it holds, printing what it waits for every
// progressEvery, and says what it last saw when ctx ends.
func poll(ctx context.Context, what string, progress io.Writer, cond func(context.Context) (bool, string, error)) error {
	start, lastSaid, state := time.Now(), time.Now(), ""
	err := wait.PollUntilContextCancel(ctx, 200*time.Millisecond, true, func(ctx context.Context) (bool, error) {
		done, s, err := cond(ctx)
		state = s
		if !done && time.Since(lastSaid) >= progressEvery {
			lastSaid = time.Now()
			fmt.Fprintf(progress, "  waiting %4.0fs for %s: %s\n", time.Since(start).Seconds(), what, state)
		}
		return done, err
	})
	if err != nil {
		return fmt.Errorf("waiting for %s (%s): %w; kubectl -n irisha-system get pods,events shows why", what, state, err)
	}
	return nil
}

func printAll(out io.Writer, objs []*unstructured.Unstructured) error {
	for _, o := range objs {
		b, err := yaml.Marshal(o.Object)
		if err != nil {
			return fmt.Errorf("printing %s: %w", describe(o), err)
		}
		if _, err := fmt.Fprintf(out, "---\n%s", b); err != nil {
			return err
		}
	}
	return nil
}

func describe(o *unstructured.Unstructured) string {
	if ns := o.GetNamespace(); ns != "" {
		return fmt.Sprintf("%s %s/%s", o.GetKind(), ns, o.GetName())
	}
	return fmt.Sprintf("%s %s", o.GetKind(), o.GetName())
}
