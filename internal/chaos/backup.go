package chaos

import (
	"context"
	"fmt"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/irisha/irisha/api/v1alpha1"
	"github.com/irisha/irisha/internal/resources"
)

// cloneSeq numbers the row written to the restored clone, far above the
// writer's, so it is never mistaken for one of the source's rows.
const cloneSeq = 1 << 40

// backupRestore backs the instance up while rows are written, restores the
// backup into a new instance (a clone), writes to the clone, and checks
// that every row acknowledged before the freeze is in it. The "fault" is
// the backup request; the RTO runs from the restore request to the first
// row the clone acknowledges.
func (r *runner) backupRestore(ctx context.Context) (res Result) {
	res = Result{Scenario: BackupRestore, FailureDomain: "Data: a consistent copy to go back to",
		MitigatedBy: "IRIS frozen, the volume snapshotted, IRIS thawed at the cut; restored into a clone"}
	s, old, err := r.startSession(ctx)
	if err != nil {
		res.Error = err.Error()
		return res
	}
	defer s.close()
	res.Node, res.OldPod = old.Spec.NodeName, old.Name
	ns := r.opts.Target.Namespace
	src := &v1alpha1.IrisInstance{}
	if err := r.opts.Client.Get(ctx, client.ObjectKey{Namespace: ns, Name: r.opts.Target.Instance}, src); err != nil {
		res.Error = fmt.Sprintf("reading IrisInstance %s: %v", r.opts.Target.Instance, err)
		return res
	}

	faultAt := time.Now()
	res.FaultAt = faultAt
	s.rec.fault(faultAt, old)
	b := &v1alpha1.IrisBackup{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: truncate(src.Name+"-chaos-"+r.opts.Run, 63)},
		Spec:       v1alpha1.IrisBackupSpec{InstanceName: src.Name},
	}
	r.progress("%s: backing up %s (IrisBackup %s) while rows are written", BackupRestore, src.Name, b.Name)
	if err := r.opts.Client.Create(ctx, b); err != nil {
		res.Error = fmt.Sprintf("creating IrisBackup %s: %v", b.Name, err)
		return res
	}
	var marks []Mark
	mark := func(kind MarkKind, at time.Time, detail string) {
		marks = append(marks, Mark{Kind: kind, Seconds: seconds(at.Sub(faultAt)), Detail: detail})
	}
	if err := r.waitFor(ctx, b, "backup "+b.Name, func() bool { return b.Status.Phase.Ended() }); err != nil {
		res.Error = fmt.Sprintf("backup %s: %v (phase %s)", b.Name, err, b.Status.Phase)
		return res
	}
	completedAt := time.Now()
	st := b.Status
	for _, m := range []struct {
		kind MarkKind
		at   *metav1.MicroTime
		what string
	}{{MarkFrozen, st.FrozenAt, "IRIS frozen"}, {MarkCut, st.SnapshotCreatedAt, "snapshot " + st.SnapshotName + " cut"}, {MarkThawed, st.ThawedAt, "IRIS thawed (" + st.FrozenSeconds + " s frozen)"}} {
		if m.at != nil {
			mark(m.kind, m.at.Time, m.what)
		}
	}
	if st.Phase != v1alpha1.BackupCompleted {
		res.Marks = s.rec.result(nil, marks...)
		res.Error = fmt.Sprintf("backup %s failed: %s: %s", b.Name, st.Reason, st.Message)
		return res
	}
	mark(MarkCompleted, completedAt, "backup "+b.Name+" Completed")

	restoreAt := time.Now()
	clone := cloneOf(src, b.Name, truncate(src.Name+"-restore-"+r.opts.Run, 48))
	mark(MarkRestore, restoreAt, "IrisInstance "+clone.Name+" from "+b.Name)
	r.progress("%s: restoring %s into the new IrisInstance %s", BackupRestore, b.Name, clone.Name)
	if err := r.opts.Client.Create(ctx, clone); err != nil {
		res.Error = fmt.Sprintf("creating the clone %s: %v", clone.Name, err)
		return res
	}
	defer r.deleteClone(context.WithoutCancel(ctx), clone, &res)
	cloneRows := sessionStore{exec: r.opts.Exec, namespace: ns, container: r.opts.Target.Container, run: r.opts.Run}
	pod, readyAt, err := r.waitReadyPod(ctx, clone)
	if err != nil {
		res.Marks = s.rec.result(nil, marks...)
		res.Error = err.Error()
		return res
	}
	mark(MarkReady, readyAt, pod+" Ready")
	ackAt, err := r.writeOnce(ctx, cloneRows, pod)
	if err != nil {
		res.Marks = s.rec.result(nil, marks...)
		res.Error = fmt.Sprintf("writing to the clone: %v", err)
		return res
	}
	rto := seconds(ackAt.Sub(restoreAt))
	mark(MarkFirstWrite, ackAt, fmt.Sprintf("row %d on %s", int64(cloneSeq), pod))
	res.RTOSeconds, res.Recovered, res.NewPod = &rto, true, pod
	res.NewNode = nodeOf(ctx, r, pod)

	present, err := r.readRows(ctx, func() string { return pod })
	s.close()
	atts := s.writer.snapshot()
	res.Writes, res.Acknowledged, res.Failed = writesOf(atts, faultAt)
	res.WindowSeconds = seconds(time.Since(faultAt))
	res.Marks = s.rec.result(nil, marks...)
	if err != nil {
		res.Error = err.Error()
		return res
	}
	// What the backup must hold: every row acknowledged before the freeze.
	// Rows written during the freeze may be in it too (the journal keeps
	// being written); rows after the cut must not matter.
	var before []attempt
	for _, a := range atts {
		if !a.acked.IsZero() && st.FrozenAt != nil && a.acked.Before(st.FrozenAt.Time) {
			before = append(before, a)
		}
	}
	res.Lost, res.Checked = lostRows(before, present), true
	if res.Lost == nil {
		res.Lost = []int64{}
	}
	return res
}

// cloneOf is a new instance restored from backup: the source's spec, with
// a ClusterIP Service (a drill must not buy a load balancer) and the
// failover settings kept.
func cloneOf(src *v1alpha1.IrisInstance, backup, name string) *v1alpha1.IrisInstance {
	spec := *src.Spec.DeepCopy()
	spec.RestoreFrom = &v1alpha1.RestoreSource{BackupName: backup}
	spec.Service.Type = corev1.ServiceTypeClusterIP
	spec.Service.Annotations = nil
	return &v1alpha1.IrisInstance{ObjectMeta: metav1.ObjectMeta{Namespace: src.Namespace, Name: name,
		Labels: map[string]string{"irisha.dev/chaos-run": "true"}}, Spec: spec}
}

// waitFor re-reads obj until done says so, or the cap, saying every 10 s
// that it still waits for what.
func (r *runner) waitFor(ctx context.Context, obj client.Object, what string, done func() bool) error {
	started := time.Now()
	deadline := started.Add(r.opts.RecoveryTimeout)
	tell := r.stillWaiting(what, started, r.opts.RecoveryTimeout)
	for {
		tell()
		if err := r.opts.Client.Get(ctx, client.ObjectKeyFromObject(obj), obj); err != nil && !apierrors.IsNotFound(err) {
			return err
		}
		if done() {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("not done within %s", r.opts.RecoveryTimeout)
		}
		if ctx.Err() != nil {
			return ctx.Err()
		}
		sleep(ctx, 200*time.Millisecond)
	}
}

// waitReadyPod waits for a Ready pod of inst (bounded) and says when it
// was first seen Ready.
func (r *runner) waitReadyPod(ctx context.Context, inst *v1alpha1.IrisInstance) (string, time.Time, error) {
	sel := labels.SelectorFromSet(resources.SelectorLabels(inst)).String()
	started := time.Now()
	deadline := started.Add(r.opts.RecoveryTimeout)
	tell := r.stillWaiting("a Ready pod of the clone "+inst.Name, started, r.opts.RecoveryTimeout)
	for time.Now().Before(deadline) && ctx.Err() == nil {
		tell()
		pods, err := r.opts.Clientset.CoreV1().Pods(inst.Namespace).List(ctx, metav1.ListOptions{LabelSelector: sel})
		if err == nil {
			for _, p := range pods.Items {
				if p.DeletionTimestamp == nil && resources.PodReady(&p) {
					return p.Name, time.Now(), nil
				}
			}
		}
		sleep(ctx, 200*time.Millisecond)
	}
	return "", time.Time{}, fmt.Errorf("no pod of the clone %s was Ready within %s: see kubectl describe irisinstance %s -n %s",
		inst.Name, r.opts.RecoveryTimeout, inst.Name, inst.Namespace)
}

// writeOnce writes the clone's row, retrying while IRIS comes up
// (bounded), and says when it was acknowledged.
func (r *runner) writeOnce(ctx context.Context, rows rowStore, pod string) (time.Time, error) {
	deadline := time.Now().Add(r.opts.RecoveryTimeout)
	var last error
	for time.Now().Before(deadline) && ctx.Err() == nil {
		wctx, cancel := context.WithTimeout(ctx, r.opts.WriteTimeout)
		last = rows.write(wctx, pod, cloneSeq)
		cancel()
		if last == nil {
			return time.Now(), nil
		}
		sleep(ctx, r.opts.WriteInterval)
	}
	return time.Time{}, fmt.Errorf("no acknowledgement within %s: %w", r.opts.RecoveryTimeout, last)
}

// deleteClone removes the clone and its volume (the operator never
// deletes a claim; the drill made this one, so it does). The backup stays.
func (r *runner) deleteClone(ctx context.Context, clone *v1alpha1.IrisInstance, res *Result) {
	if err := r.opts.Client.Delete(ctx, clone); err != nil && !apierrors.IsNotFound(err) {
		res.Error = join(res.Error, fmt.Sprintf("deleting the clone %s: %v (delete it yourself)", clone.Name, err))
		return
	}
	pvc := &corev1.PersistentVolumeClaim{ObjectMeta: metav1.ObjectMeta{Namespace: clone.Namespace, Name: resources.PVCName(clone)}}
	if err := r.opts.Client.Delete(ctx, pvc); err != nil && !apierrors.IsNotFound(err) {
		res.Error = join(res.Error, fmt.Sprintf("deleting the clone's claim %s: %v (delete it yourself)", pvc.Name, err))
	}
}

func nodeOf(ctx context.Context, r *runner, pod string) string {
	p, err := r.opts.Clientset.CoreV1().Pods(r.opts.Target.Namespace).Get(ctx, pod, metav1.GetOptions{})
	if err != nil {
		return ""
	}
	return p.Spec.NodeName
}

func truncate(s string, n int) string {
	if len(s) > n {
		return s[:n]
	}
	return s
}
