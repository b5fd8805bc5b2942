package doctor

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"slices"
	"strconv"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	storagev1 "k8s.io/api/storage/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/irisha/irisha/internal/fsbench"
	"github.com/irisha/irisha/internal/resources"
)

// The bench's scratch objects carry these labels, so leftovers (a CLI
// killed with SIGKILL) are easy to find:
// kubectl delete pod,pvc -l app.kubernetes.io/name=irisha-bench
const (
	benchName           = "irisha-bench"
	benchContainer      = "fsbench"
	benchVolume         = "bench"
	benchMount          = "/bench"
	benchTerminationLog = "/dev/termination-log"
	// benchUser is the irisha image's user.
	benchUser = 65532
)

var benchLabels = map[string]string{"app.kubernetes.io/name": benchName, "app.kubernetes.io/managed-by": "irisha-doctor"}

// BenchResult is the storage bench on one StorageClass.
type BenchResult struct {
	Class       string      `json:"class"`
	Provisioner string      `json:"provisioner"`
	Replication Replication `json:"replication"`
	Node        string      `json:"node,omitempty"`
	// Result is what fsbench measured, nil when it did not finish.
	Result *fsbench.Result `json:"result,omitempty"`
	Error  string          `json:"error,omitempty"`
}

// BenchPVC is the scratch claim of the bench on class.
func BenchPVC(namespace, class string) *corev1.PersistentVolumeClaim {
	return &corev1.PersistentVolumeClaim{
		ObjectMeta: metav1.ObjectMeta{GenerateName: benchName + "-", Namespace: namespace, Labels: maps.Clone(benchLabels)},
		Spec: corev1.PersistentVolumeClaimSpec{
			StorageClassName: ptr.To(class),
			AccessModes:      []corev1.PersistentVolumeAccessMode{corev1.ReadWriteOnce},
			Resources:        corev1.VolumeResourceRequirements{Requests: corev1.ResourceList{corev1.ResourceStorage: resource.MustParse("1Gi")}},
		},
	}
}

// BenchPod runs `irisha-manager fsbench` of image on the claim, once
// (restartPolicy Never), with the restricted Pod Security profile. The
// result goes to the termination message, which the kubelet copies into
// the pod's status: no pod logs, no exec needed.
func BenchPod(namespace, claim, image string, writes int, deadline time.Duration) *corev1.Pod {
	return &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{GenerateName: benchName + "-", Namespace: namespace, Labels: maps.Clone(benchLabels)},
		Spec: corev1.PodSpec{
			RestartPolicy:                 corev1.RestartPolicyNever,
			ActiveDeadlineSeconds:         ptr.To(int64(deadline.Seconds())),
			TerminationGracePeriodSeconds: ptr.To[int64](5),
			AutomountServiceAccountToken:  ptr.To(false),
			SecurityContext: &corev1.PodSecurityContext{
				RunAsNonRoot: ptr.To(true), RunAsUser: ptr.To[int64](benchUser), RunAsGroup: ptr.To[int64](benchUser),
				// The volume's root belongs to root: the group makes it writable.
				FSGroup:             ptr.To[int64](benchUser),
				FSGroupChangePolicy: ptr.To(corev1.FSGroupChangeOnRootMismatch),
				SeccompProfile:      &corev1.SeccompProfile{Type: corev1.SeccompProfileTypeRuntimeDefault},
			},
			Containers: []corev1.Container{{
				Name:            benchContainer,
				Image:           image,
				ImagePullPolicy: corev1.PullIfNotPresent,
				Command: []string{resources.AgentImageBinary, fsbench.Command,
					fsbench.FlagDir, benchMount,
					fsbench.FlagWrites, strconv.Itoa(writes),
					fsbench.FlagResultFile, benchTerminationLog},
				VolumeMounts:             []corev1.VolumeMount{{Name: benchVolume, MountPath: benchMount}},
				TerminationMessagePath:   benchTerminationLog,
				TerminationMessagePolicy: corev1.TerminationMessageFallbackToLogsOnError,
				Resources: corev1.ResourceRequirements{
					Requests: corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("10m"), corev1.ResourceMemory: resource.MustParse("16Mi")},
					Limits:   corev1.ResourceList{corev1.ResourceMemory: resource.MustParse("64Mi")},
				},
				SecurityContext: &corev1.SecurityContext{
					AllowPrivilegeEscalation: ptr.To(false),
					ReadOnlyRootFilesystem:   ptr.To(true),
					Capabilities:             &corev1.Capabilities{Drop: []corev1.Capability{"ALL"}},
				},
			}},
			Volumes: []corev1.Volume{{Name: benchVolume, VolumeSource: corev1.VolumeSource{
				PersistentVolumeClaim: &corev1.PersistentVolumeClaimVolumeSource{ClaimName: claim},
			}}},
		},
	}
}

// BenchClasses picks the classes to bench: the one asked (else the
// instance's, else the default), then, for comparison, the first
// node-local class there is.
func BenchClasses(s *Snapshot, asked string) ([]*storagev1.StorageClass, error) {
	name := asked
	if name == "" && s.Target != nil {
		name = instanceClass(s.Target, s)
	}
	if name == "" {
		def, _ := defaultClass(s)
		if def == nil {
			return nil, fmt.Errorf("no StorageClass to bench: pass --class (there is no default class)")
		}
		name = def.Name
	}
	main := classNamed(s, name)
	if main == nil {
		return nil, fmt.Errorf("StorageClass %s does not exist", name)
	}
	out := []*storagev1.StorageClass{main}
	others := slices.Clone(s.StorageClasses)
	slices.SortFunc(others, func(a, b storagev1.StorageClass) int { return cmp.Compare(a.Name, b.Name) })
	for i := range others {
		sc := &others[i]
		if sc.Name != main.Name && Classify(sc, s.PersistentVolumes, s.Longhorn).Replication == NodeLocal {
			out = append(out, sc)
			break
		}
	}
	return out, nil
}

// Bencher runs the storage bench in a namespace.
type Bencher struct {
	Client    client.Client
	Namespace string
	Image     string
	Writes    int
	// Timeout bounds one class's bench, from the claim to the result.
	Timeout time.Duration
	// Poll is how often the pod is read while waiting.
	Poll time.Duration
	// Progress gets one line whenever the wait changes stage.
	Progress io.Writer
	// Now is the clock of the progress lines.
	Now func() time.Time
}

// Run benches one class: a scratch claim, a pod running fsbench on it,
// waited for; the claim and the pod are deleted whatever happens, also
// when ctx is cancelled (Ctrl-C).
func (b *Bencher) Run(ctx context.Context, sc *storagev1.StorageClass, repl Replication) (res BenchResult) {
	res = BenchResult{Class: sc.Name, Provisioner: sc.Provisioner, Replication: repl}
	start := b.Now()
	say := func(format string, args ...any) {
		fmt.Fprintf(b.Progress, "bench %s +%.0fs: %s\n", sc.Name, b.Now().Sub(start).Seconds(), fmt.Sprintf(format, args...))
	}
	pvc := BenchPVC(b.Namespace, sc.Name)
	if err := b.Client.Create(ctx, pvc); err != nil {
		res.Error = fmt.Sprintf("creating the scratch claim: %v", err)
		return res
	}
	var pod *corev1.Pod
	defer func() { b.cleanup(ctx, say, pod, pvc) }()
	pod = BenchPod(b.Namespace, pvc.Name, b.Image, b.Writes, b.Timeout)
	if err := b.Client.Create(ctx, pod); err != nil {
		res.Error = fmt.Sprintf("creating the bench pod: %v", err)
		pod = nil
		return res
	}
	say("claim %s and pod %s created (image %s)", pvc.Name, pod.Name, b.Image)
	done, err := b.wait(ctx, say, pod, pvc)
	if done != nil {
		res.Node = done.Spec.NodeName
	}
	if err != nil {
		res.Error = err.Error()
		return res
	}
	r, err := benchOutcome(done)
	if err != nil {
		res.Error = err.Error()
		return res
	}
	res.Result = r
	say("done: p50 %s, p99 %s over %d writes", msText(r.P50Ms), msText(r.P99Ms), r.Writes)
	return res
}

// wait polls the pod until it ends, saying each new stage.
func (b *Bencher) wait(ctx context.Context, say func(string, ...any), pod *corev1.Pod, pvc *corev1.PersistentVolumeClaim) (*corev1.Pod, error) {
	ctx, cancel := context.WithTimeout(ctx, b.Timeout)
	defer cancel()
	ticker := time.NewTicker(b.Poll)
	defer ticker.Stop()
	last := ""
	var cur *corev1.Pod
	for {
		p := &corev1.Pod{}
		if err := b.Client.Get(ctx, client.ObjectKeyFromObject(pod), p); err == nil {
			cur = p
			if p.Status.Phase == corev1.PodSucceeded || p.Status.Phase == corev1.PodFailed {
				return p, nil
			}
			c := &corev1.PersistentVolumeClaim{}
			_ = b.Client.Get(ctx, client.ObjectKeyFromObject(pvc), c)
			if stage := benchStage(p, c); stage != last {
				say("%s", stage)
				last = stage
			}
		} else if ctx.Err() == nil {
			say("reading pod %s: %v", pod.Name, err)
		}
		select {
		case <-ctx.Done():
			if errors.Is(ctx.Err(), context.DeadlineExceeded) {
				return cur, fmt.Errorf("no result within %s (last: %s)", b.Timeout, last)
			}
			return cur, fmt.Errorf("interrupted (last: %s)", last)
		case <-ticker.C:
		}
	}
}

// benchStage is a short description of where the bench pod is.
func benchStage(p *corev1.Pod, pvc *corev1.PersistentVolumeClaim) string {
	if p.Spec.NodeName == "" {
		for _, c := range p.Status.Conditions {
			if c.Type == corev1.PodScheduled && c.Status == corev1.ConditionFalse && c.Message != "" {
				return "pod not scheduled: " + c.Message
			}
		}
		if pvc.Status.Phase != "" && pvc.Status.Phase != corev1.ClaimBound {
			return "claim " + string(pvc.Status.Phase) + ", pod waiting to be scheduled"
		}
		return "pod waiting to be scheduled"
	}
	for _, cs := range p.Status.ContainerStatuses {
		switch {
		case cs.State.Running != nil:
			return "measuring on node " + p.Spec.NodeName
		case cs.State.Waiting != nil:
			s := "pod on node " + p.Spec.NodeName + ": " + cs.State.Waiting.Reason
			if m := cs.State.Waiting.Message; m != "" {
				s += " (" + m + ")"
			}
			return s
		}
	}
	return "pod on node " + p.Spec.NodeName + ": " + string(p.Status.Phase)
}

// benchOutcome reads fsbench's result from the ended pod's termination
// message.
func benchOutcome(p *corev1.Pod) (*fsbench.Result, error) {
	var term *corev1.ContainerStateTerminated
	for _, cs := range p.Status.ContainerStatuses {
		if cs.Name == benchContainer && cs.State.Terminated != nil {
			term = cs.State.Terminated
		}
	}
	if term == nil {
		reason := p.Status.Reason
		if p.Status.Message != "" {
			reason += ": " + p.Status.Message
		}
		return nil, fmt.Errorf("the bench pod %s without a result (%s)", strings.ToLower(string(p.Status.Phase)), reason)
	}
	r := &fsbench.Result{}
	if err := json.Unmarshal([]byte(strings.TrimSpace(term.Message)), r); err != nil {
		return nil, fmt.Errorf("the bench exited %d (%s) without a result: %q", term.ExitCode, term.Reason, term.Message)
	}
	if r.Error != "" {
		return nil, fmt.Errorf("the bench failed: %s", r.Error)
	}
	return r, nil
}

// cleanup deletes the pod and the claim on a context of its own: the
// caller's may be cancelled (Ctrl-C) and the scratch objects must go
// anyway.
func (b *Bencher) cleanup(ctx context.Context, say func(string, ...any), pod *corev1.Pod, pvc *corev1.PersistentVolumeClaim) {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
	defer cancel()
	var left []string
	if pod != nil {
		if err := b.Client.Delete(ctx, pod); err != nil && !apierrors.IsNotFound(err) {
			left = append(left, fmt.Sprintf("pod %s (%v)", pod.Name, err))
		}
	}
	// The claim goes once the pod has (its protection finalizer).
	if err := b.Client.Delete(ctx, pvc); err != nil && !apierrors.IsNotFound(err) {
		left = append(left, fmt.Sprintf("claim %s (%v)", pvc.Name, err))
	}
	if len(left) > 0 {
		say("could not delete %s: kubectl delete pod,pvc -n %s -l app.kubernetes.io/name=%s", strings.Join(left, ", "), b.Namespace, benchName)
		return
	}
	if pod != nil {
		say("deleted pod %s and claim %s", pod.Name, pvc.Name)
	} else {
		say("deleted claim %s", pvc.Name)
	}
}

func msText(v float64) string { return strconv.FormatFloat(v, 'f', 2, 64) + " ms" }
