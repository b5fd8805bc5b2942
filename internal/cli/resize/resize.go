// Package resize is `irisha resize`: it grows an instance's volume by
// raising spec.storage.size, and can follow the growth until the claim
// reports the new capacity. A volume never shrinks: the verb refuses a
// smaller size itself, before the API server's rule does.
package resize

import (
	"context"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/spf13/cobra"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/resource"
	"k8s.io/client-go/util/retry"
	"k8s.io/utils/clock"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/irisha/irisha/api/v1alpha1"
	"github.com/irisha/irisha/internal/cli/kube"
)

// Options of `irisha resize`.
type Options struct {
	Instance string
	Size     resource.Quantity
	Wait     bool
	Timeout  time.Duration
	Output   kube.Output

	Out, ErrOut io.Writer
	Clock       clock.Clock
}

// NewCommand returns `irisha resize`.
func NewCommand(out, errOut io.Writer) *cobra.Command {
	flags := &kube.Flags{Warnings: errOut}
	o := &Options{Out: out, ErrOut: errOut, Clock: clock.RealClock{}}
	cmd := &cobra.Command{
		Use:   "resize INSTANCE SIZE",
		Short: "Grow an IrisInstance's volume",
		Long: `Resize sets the instance's spec.storage.size to SIZE; the operator grows
the claim, online while IRIS runs where the CSI driver can. A volume grows
but never shrinks, so a size below the current one is refused. The
StorageClass must allow expansion (allowVolumeExpansion: true): if it does
not, the operator says so and --wait exits non-zero with its message.

With --wait, resize follows the growth until the claim reports at least
SIZE and the instance's Resizing condition is over.`,
		Example: `  # Grow iris's volume to 20Gi and wait until the claim has it
  irisha resize iris 20Gi --wait

  # In namespace prod, with another kubeconfig context
  irisha resize iris 1Ti -n prod --context prod-cluster --wait --timeout 30m`,
		Args: kube.ExactArgs(2, "give the instance and the new size: irisha resize INSTANCE SIZE, e.g. irisha resize iris 20Gi"),
		RunE: func(cmd *cobra.Command, args []string) error {
			o.Instance = args[0]
			if err := o.parseSize(args[1]); err != nil {
				return err
			}
			if o.Timeout < 0 {
				return fmt.Errorf("--timeout %s is negative: give a duration such as 5m, or 0 for no limit", o.Timeout)
			}
			c, ns, err := flags.Connect()
			if err != nil {
				return err
			}
			return o.Run(cmd.Context(), c, ns)
		},
	}
	flags.AddTo(cmd.Flags())
	cmd.Flags().BoolVar(&o.Wait, "wait", false, "follow the growth until the claim reports the new size")
	cmd.Flags().DurationVar(&o.Timeout, "timeout", 10*time.Minute, "with --wait, how long to wait (0: no limit)")
	kube.AddOutputFlag(cmd.Flags(), &o.Output)
	return cmd
}

func (o *Options) parseSize(s string) error {
	q, err := resource.ParseQuantity(s)
	if err != nil {
		return fmt.Errorf("%q is not a size: give one such as 20Gi or 1Ti", s)
	}
	if q.Sign() <= 0 {
		return fmt.Errorf("size %s must be greater than zero", s)
	}
	o.Size = q
	return nil
}

// Run sets the size of instance o.Instance of namespace ns.
func (o *Options) Run(ctx context.Context, c client.WithWatch, ns string) error {
	inst := &v1alpha1.IrisInstance{}
	var from resource.Quantity
	changed := false
	err := retry.RetryOnConflict(retry.DefaultRetry, func() error {
		if err := c.Get(ctx, client.ObjectKey{Namespace: ns, Name: o.Instance}, inst); err != nil {
			if apierrors.IsNotFound(err) {
				return fmt.Errorf("IrisInstance %s not found in namespace %s: kubectl get iris -n %s lists the instances", o.Instance, ns, ns)
			}
			return fmt.Errorf("reading IrisInstance %s: %w", o.Instance, err)
		}
		from = inst.Spec.Storage.Size.DeepCopy()
		if err := refuseShrink(inst.Name, from, o.Size); err != nil {
			return err
		}
		if o.Size.Cmp(from) == 0 {
			changed = false
			return nil
		}
		// The optimistic lock makes the check above hold for the
		// version that is patched.
		patch := client.MergeFromWithOptions(inst.DeepCopy(), client.MergeFromWithOptimisticLock{})
		inst.Spec.Storage.Size = o.Size.DeepCopy()
		changed = true
		if err := c.Patch(ctx, inst, patch); err != nil {
			if apierrors.IsConflict(err) {
				return err
			}
			return fmt.Errorf("the API server refused storage.size %s for IrisInstance %s: %w", o.Size.String(), o.Instance, err)
		}
		return nil
	})
	switch {
	case apierrors.IsConflict(err):
		return fmt.Errorf("IrisInstance %s kept changing while it was resized: try again: %w", o.Instance, err)
	case err != nil:
		return err
	}
	info := o.Out
	if o.Output.Machine() {
		info = o.ErrOut
	}
	for _, line := range report(inst, from, o.Size, changed) {
		if _, err := fmt.Fprintln(info, line); err != nil {
			return err
		}
	}
	if o.Wait {
		if err := o.wait(ctx, c, inst, info); err != nil {
			return err
		}
	}
	if o.Output.Machine() {
		return kube.Print(o.Out, o.Output, c.Scheme(), inst)
	}
	return nil
}

// wait follows inst until its claim has the size, printing a line each
// time what it waits for changes; inst receives its last state.
func (o *Options) wait(ctx context.Context, c client.WithWatch, inst *v1alpha1.IrisInstance, progressOut io.Writer) error {
	gen := inst.Generation
	waitCtx, cancel := kube.WithTimeout(ctx, o.Timeout)
	defer cancel()
	state := func(cur *v1alpha1.IrisInstance) progress { return progressOf(cur, o.Size, gen) }
	err := kube.WaitShowing(waitCtx, c, client.ObjectKeyFromObject(inst), &v1alpha1.IrisInstance{}, &v1alpha1.IrisInstanceList{}, progressOut, o.Clock, state,
		func(cur *v1alpha1.IrisInstance) (bool, error) {
			cur.DeepCopyInto(inst)
			return outcome(cur, o.Size, gen)
		})
	if errors.Is(err, context.DeadlineExceeded) || errors.Is(err, context.Canceled) {
		state := progressOf(inst, o.Size, gen)
		follow := fmt.Sprintf("the operator goes on, follow it with: kubectl get iris %s -n %s -w", inst.Name, inst.Namespace)
		if ctx.Err() != nil {
			return fmt.Errorf("stopped waiting for the volume of IrisInstance %s; %s; %s", inst.Name, state.summary(), follow)
		}
		return fmt.Errorf("timed out after %s waiting for the volume of IrisInstance %s to reach %s: %s; %s", o.Timeout, inst.Name, o.Size.String(), state.summary(), follow)
	}
	return err
}
