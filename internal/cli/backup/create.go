package backup

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/spf13/cobra"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/validation"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/irisha/irisha/api/v1alpha1"
	"github.com/irisha/irisha/internal/cli/kube"
)

// CreateOptions of `irisha backup create`.
type CreateOptions struct {
	Instance         string
	Name             string
	Offline          bool
	SnapshotClass    string
	MaxFrozenSeconds int32
	RetainSnapshot   bool
	Wait             bool
	Timeout          time.Duration
	Output           kube.Output

	streams
}

// Bounds of spec.maxFrozenSeconds, as the CRD has them.
const (
	minFrozenSeconds = 2
	maxFrozenSeconds = 600
)

func newCreateCommand(flags *kube.Flags, s streams) *cobra.Command {
	o := &CreateOptions{streams: s}
	cmd := &cobra.Command{
		Use:   "create INSTANCE",
		Short: "Back up an IrisInstance: IRIS frozen, its volume snapshotted, IRIS thawed",
		Long: `Create creates an IrisBackup of the instance. The operator asks the
instance's agent to freeze IRIS's write daemon, cuts a VolumeSnapshot of the
volume, and has IRIS thawed as soon as the snapshot is cut (typically well
under a second of freeze); the backup is Completed once the snapshot is ready
to use. The agent thaws IRIS on its own at --max-frozen-seconds, whatever
happens, and the backup then fails.

The name defaults to INSTANCE-<UTC yyyymmddhhmmss>. With --wait, create
follows the backup through its phases and exits non-zero if it fails, with
the reason and what to do.`,
		Example: `  # Back up the instance iris and follow it until it is Completed
  irisha backup create iris --wait

  # A crash-consistent snapshot without freezing IRIS, kept after the backup is deleted
  irisha backup create iris --offline --retain-snapshot --name iris-before-upgrade

  # With a given VolumeSnapshotClass (for Longhorn, type snap is ready at once)
  irisha backup create iris -n prod --snapshot-class longhorn-snap --wait --timeout 2m

  # For scripts: the Completed backup as JSON
  irisha backup create iris --wait -o json | jq -r .status.snapshotName`,
		Args: kube.ExactArgs(1, "give the name of the IrisInstance to back up: irisha backup create INSTANCE"),
		RunE: func(cmd *cobra.Command, args []string) error {
			o.Instance = args[0]
			if err := o.Validate(); err != nil {
				return err
			}
			c, ns, err := flags.Connect()
			if err != nil {
				return err
			}
			return o.Run(cmd.Context(), c, ns)
		},
	}
	f := cmd.Flags()
	f.StringVar(&o.Name, "name", "", "name of the IrisBackup (default INSTANCE-<UTC yyyymmddhhmmss>)")
	f.BoolVar(&o.Offline, "offline", false, "do not freeze IRIS: a crash-consistent snapshot, recovered by IRIS's journal at the next start")
	f.StringVar(&o.SnapshotClass, "snapshot-class", "", "VolumeSnapshotClass (default: the default class of the volume's CSI driver)")
	f.Int32Var(&o.MaxFrozenSeconds, "max-frozen-seconds", 0, fmt.Sprintf("longest freeze, %d to %d; the agent thaws IRIS at this deadline (default 10)", minFrozenSeconds, maxFrozenSeconds))
	f.BoolVar(&o.RetainSnapshot, "retain-snapshot", false, "keep the VolumeSnapshot when the IrisBackup is deleted")
	f.BoolVar(&o.Wait, "wait", false, "follow the backup until it is Completed or Failed")
	f.DurationVar(&o.Timeout, "timeout", 10*time.Minute, "with --wait, how long to wait (0: no limit)")
	kube.AddOutputFlag(f, &o.Output)
	return cmd
}

// Validate checks what can be checked without the cluster.
func (o *CreateOptions) Validate() error {
	if o.Name != "" {
		if err := backupName(o.Name); err != nil {
			return err
		}
	}
	if o.MaxFrozenSeconds != 0 && (o.MaxFrozenSeconds < minFrozenSeconds || o.MaxFrozenSeconds > maxFrozenSeconds) {
		return fmt.Errorf("--max-frozen-seconds %d is out of range: give %d to %d (the agent thaws IRIS at this deadline)", o.MaxFrozenSeconds, minFrozenSeconds, maxFrozenSeconds)
	}
	if o.Timeout < 0 {
		return fmt.Errorf("--timeout %s is negative: give a duration such as 5m, or 0 for no limit", o.Timeout)
	}
	return nil
}

// backupName checks a name: the VolumeSnapshot takes the backup's name and
// carries it in the label irisha.dev/backup, so it must be a valid label
// value as well as an object name.
func backupName(name string) error {
	if errs := validation.IsDNS1123Subdomain(name); len(errs) > 0 {
		return fmt.Errorf("--name %q is not a valid name: %s", name, strings.Join(errs, "; "))
	}
	if len(name) > validation.LabelValueMaxLength {
		return fmt.Errorf("--name %q has %d characters: give at most %d (the VolumeSnapshot carries the name in its label %s)",
			name, len(name), validation.LabelValueMaxLength, v1alpha1.LabelBackup)
	}
	return nil
}

// defaultName is INSTANCE-<UTC yyyymmddhhmmss>, the instance's name
// shortened if needed to keep the whole a valid label value.
func defaultName(instance string, now time.Time) string {
	stamp := now.UTC().Format("20060102150405")
	if room := validation.LabelValueMaxLength - len(stamp) - 1; len(instance) > room {
		instance = strings.TrimRight(instance[:room], "-.")
	}
	return instance + "-" + stamp
}

// Run creates the backup in namespace ns and, with Wait, follows it.
func (o *CreateOptions) Run(ctx context.Context, c client.WithWatch, ns string) error {
	inst := &v1alpha1.IrisInstance{}
	if err := c.Get(ctx, client.ObjectKey{Namespace: ns, Name: o.Instance}, inst); err != nil {
		if apierrors.IsNotFound(err) {
			return fmt.Errorf("IrisInstance %s not found in namespace %s: kubectl get iris -n %s lists the instances", o.Instance, ns, ns)
		}
		return fmt.Errorf("reading IrisInstance %s: %w", o.Instance, err)
	}
	b := o.backup(ns)
	if err := c.Create(ctx, b); err != nil {
		switch {
		case apierrors.IsAlreadyExists(err):
			return fmt.Errorf("IrisBackup %s already exists in namespace %s: give another --name", b.Name, ns)
		case apierrors.IsInvalid(err):
			return fmt.Errorf("the API server refused the IrisBackup: %w", err)
		}
		return fmt.Errorf("creating IrisBackup %s: %w", b.Name, err)
	}
	if !o.Output.Machine() {
		if _, err := fmt.Fprintf(o.Out, "irisbackup.irisha.dev/%s created\n", b.Name); err != nil {
			return err
		}
	}
	if o.Wait {
		if err := o.wait(ctx, c, b); err != nil {
			return err
		}
	}
	if o.Output.Machine() {
		return kube.Print(o.Out, o.Output, c.Scheme(), b)
	}
	return nil
}

func (o *CreateOptions) backup(ns string) *v1alpha1.IrisBackup {
	name := o.Name
	if name == "" {
		name = defaultName(o.Instance, o.Clock.Now())
	}
	b := &v1alpha1.IrisBackup{
		ObjectMeta: metav1.ObjectMeta{
			Name: name, Namespace: ns,
			Labels: map[string]string{v1alpha1.LabelInstance: o.Instance},
		},
		Spec: v1alpha1.IrisBackupSpec{
			InstanceName:            o.Instance,
			VolumeSnapshotClassName: o.SnapshotClass,
			MaxFrozenSeconds:        o.MaxFrozenSeconds,
		},
	}
	if o.Offline {
		b.Spec.Online = ptr.To(false)
	}
	if o.RetainSnapshot {
		b.Spec.SnapshotDeletionPolicy = v1alpha1.SnapshotRetain
	}
	return b
}

// wait follows b until it ends, printing a line each time its phase or
// message changes; b receives its last state.
func (o *CreateOptions) wait(ctx context.Context, c client.WithWatch, b *v1alpha1.IrisBackup) error {
	progressOut := o.Out
	if o.Output.Machine() {
		progressOut = o.ErrOut
	}
	waitCtx, cancel := kube.WithTimeout(ctx, o.Timeout)
	defer cancel()
	err := kube.WaitShowing(waitCtx, c, client.ObjectKeyFromObject(b), &v1alpha1.IrisBackup{}, &v1alpha1.IrisBackupList{}, progressOut, o.Clock, progressOf,
		func(cur *v1alpha1.IrisBackup) (bool, error) {
			cur.DeepCopyInto(b)
			return cur.Status.Phase.Ended(), nil
		})
	if err != nil {
		return stillRunning(ctx, err, o.Timeout, b)
	}
	if b.Status.Phase == v1alpha1.BackupFailed {
		return fmt.Errorf("IrisBackup %s failed (%s): %s", b.Name, orDefault(b.Status.Reason, "no reason given"), b.Status.Message)
	}
	return nil
}

// stillRunning turns the end of a wait that did not see the backup end
// into what the user needs: the backup goes on without us.
func stillRunning(parent context.Context, err error, timeout time.Duration, b *v1alpha1.IrisBackup) error {
	if !errors.Is(err, context.DeadlineExceeded) && !errors.Is(err, context.Canceled) {
		return err
	}
	state := fmt.Sprintf("it is still %s: %s", b.Status.Phase, b.Status.Message)
	if b.Status.Phase == "" {
		state = "the operator has not started it (is the irisha operator running?)"
	}
	follow := fmt.Sprintf("the backup goes on, follow it with: irisha backup describe %s -n %s", b.Name, b.Namespace)
	if parent.Err() != nil {
		return fmt.Errorf("stopped waiting for IrisBackup %s; %s; %s", b.Name, state, follow)
	}
	return fmt.Errorf("timed out after %s waiting for IrisBackup %s: %s; %s", timeout, b.Name, state, follow)
}
