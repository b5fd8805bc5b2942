package chaos

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/irisha/irisha/api/v1alpha1"
)

// drillState is what one drill knows as it runs.
type drillState struct {
	old  *corev1.Pod
	node string

	mu  sync.Mutex
	err error // from work running beside the drill (the drain)
}

func (d *drillState) asyncErr(err error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.err = errors.Join(d.err, err)
}

func (d *drillState) background() error {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.err
}

// session is a writer and the run's recorder: what every drill, the
// backup's included, measures with.
type session struct {
	rec    *recorder
	writer *writer
	stop   context.CancelFunc
}

// startSession starts writing rows to whatever pod serves, as the run's
// recorder sees it. It waits until a row was acknowledged (or the cap), so
// a writer that cannot write at all fails the drill before anything is
// broken.
func (r *runner) startSession(ctx context.Context) (*session, *corev1.Pod, error) {
	wctx, cancel := context.WithCancel(ctx)
	rec := r.rec
	w := &writer{store: r.rows, target: rec.serving, interval: r.opts.WriteInterval, timeout: r.opts.WriteTimeout}
	s := &session{rec: rec, writer: w, stop: cancel}
	deadline := time.Now().Add(r.opts.RecoveryTimeout)
	r.progress("waiting for a Ready pod of %s to write to", r.describeTarget())
	tell := r.stillWaiting("a Ready pod of "+r.describeTarget(), time.Now(), r.opts.RecoveryTimeout)
	for rec.serving() == "" {
		tell()
		if time.Now().After(deadline) || ctx.Err() != nil {
			s.close()
			return nil, nil, fmt.Errorf("no pod of %s was Ready within %s", r.describeTarget(), r.opts.RecoveryTimeout)
		}
		sleep(ctx, pollInterval)
	}
	w.start(wctx)
	for {
		if a, ok := firstAck(w.snapshot(), time.Time{}); ok {
			sleep(ctx, lead)
			old, found := rec.pod(a.pod)
			if !found {
				s.close()
				return nil, nil, fmt.Errorf("pod %s acknowledged a row and then vanished", a.pod)
			}
			return s, old, nil
		}
		if time.Now().After(deadline) || ctx.Err() != nil {
			s.close()
			return nil, nil, fmt.Errorf("no row could be written before the fault: %w", lastError(w.snapshot()))
		}
		sleep(ctx, pollInterval)
	}
}

func (s *session) close() {
	s.stop()
	s.writer.stop()
}

func lastError(atts []attempt) error {
	for i := len(atts) - 1; i >= 0; i-- {
		if atts[i].err != nil {
			return atts[i].err
		}
	}
	return errors.New("no attempt finished")
}

func (r *runner) describeTarget() string {
	if r.opts.Target.Instance != "" {
		return "IrisInstance " + r.opts.Target.Namespace + "/" + r.opts.Target.Instance
	}
	return fmt.Sprintf("%s in namespace %s", r.opts.Target.Selector, r.opts.Target.Namespace)
}

// drill runs one fault drill: write, break, wait for the first write after
// the outage (bounded), keep writing, undo, keep writing, read the rows
// back.
func (r *runner) drill(ctx context.Context, sc Scenario) (res Result) {
	spec, _ := specOf(sc)
	res = Result{Scenario: sc, FailureDomain: spec.failureDomain, MitigatedBy: spec.mitigatedBy}
	s, old, err := r.startSession(ctx)
	if err != nil {
		res.Error = err.Error()
		return res
	}
	defer s.close()
	d := &drillState{old: old, node: old.Spec.NodeName}
	res.Node, res.OldPod = d.node, old.Name

	r.progress("%s: injecting the fault (pod %s on node %s)", sc, old.Name, d.node)
	faultAt := time.Now()
	res.FaultAt = faultAt
	s.rec.fault(faultAt, old)
	// The fault runs beside the measurement: iris stop, for one, returns
	// only once IRIS is down.
	injected := make(chan error, 1)
	go func() { injected <- spec.inject(ctx, r, d) }()

	recovered, injectErr := r.waitRecovery(ctx, s, sc, faultAt, injected)
	if injectErr != nil {
		res.Error = fmt.Sprintf("injecting %s: %v", sc, injectErr)
	}
	// Writing goes on: a second writer would show now, or once the node
	// is back.
	sleep(ctx, r.opts.Settle)
	if spec.undo != nil {
		r.progress("%s: undoing the fault on node %s", sc, d.node)
		if err := spec.undo(context.WithoutCancel(ctx), r, d); err != nil {
			res.Error = join(res.Error, fmt.Sprintf("undoing %s on %s: %v (put the node back in service yourself)", sc, d.node, err))
		}
		sleep(ctx, r.opts.Settle)
	}
	s.close()
	if err := d.background(); err != nil {
		res.Error = join(res.Error, err.Error())
	}
	r.finish(ctx, &res, s, faultAt, recovered)
	return res
}

// waitRecovery waits until a row is acknowledged after the outage began,
// the cap, or ctx; it returns whether recovery came and the fault's own
// error.
func (r *runner) waitRecovery(ctx context.Context, s *session, sc Scenario, faultAt time.Time, injected <-chan error) (bool, error) {
	var injectErr error
	injectDone := false
	deadline := faultAt.Add(r.opts.RecoveryTimeout)
	lastSaid := time.Now()
	for {
		select {
		case err := <-injected:
			injectErr, injectDone = err, true
			if err != nil {
				return false, err
			}
		default:
		}
		atts := s.writer.snapshot()
		if _, ok := recovery(atts, faultAt); ok {
			return true, injectErr
		}
		if uninterrupted(atts, faultAt, noOutageGrace) && injectDone && time.Since(faultAt) > noOutageGrace {
			return true, injectErr
		}
		if time.Now().After(deadline) || ctx.Err() != nil {
			return false, injectErr
		}
		if time.Since(lastSaid) >= progressEvery {
			lastSaid = time.Now()
			r.progress("%s: %s after the fault, not recovered yet (cap %s)", sc, time.Since(faultAt).Round(time.Second), r.opts.RecoveryTimeout)
		}
		sleep(ctx, pollInterval)
	}
}

// finish fills the result from the writer's attempts, the recorder's
// marks, the failover record and the rows read back.
func (r *runner) finish(ctx context.Context, res *Result, s *session, faultAt time.Time, recovered bool) {
	atts := s.writer.snapshot()
	res.Writes, res.Acknowledged, res.Failed = writesOf(atts, faultAt)
	res.WindowSeconds = seconds(time.Since(faultAt))
	var extra []Mark
	if first, ok := recovery(atts, faultAt); ok && recovered {
		rto := seconds(first.acked.Sub(faultAt))
		res.RTOSeconds, res.Recovered = &rto, true
		extra = append(extra, Mark{Kind: MarkFirstWrite, Seconds: rto, Detail: fmt.Sprintf("row %d on %s", first.seq, first.pod)})
		res.NewPod = first.pod
		if p, ok := s.rec.pod(first.pod); ok {
			res.NewNode = p.Spec.NodeName
		}
	} else if recovered {
		// No write failed: the fault did not interrupt the database.
		zero := 0.0
		res.RTOSeconds, res.Recovered = &zero, true
		res.NewPod = res.OldPod
	} else {
		res.Error = join(res.Error, fmt.Sprintf("did not recover within %s", r.opts.RecoveryTimeout))
	}
	res.StaleAcks = staleAcks(atts, faultAt, res.OldPod)
	res.Marks = s.rec.result(r.failoverMarks(ctx, faultAt), extra...)
	if !res.Recovered {
		res.Error = join(res.Error, "rows not read back: nothing serves")
		return
	}
	present, err := r.readRows(ctx, s.rec.serving)
	if err != nil {
		res.Error = join(res.Error, err.Error())
		return
	}
	res.Lost, res.Checked = lostRows(atts, present), true
	if res.Lost == nil {
		res.Lost = []int64{}
	}
}

// readRows reads the run's rows from the pod serving, retrying while the
// instance settles (bounded).
func (r *runner) readRows(ctx context.Context, serving func() string) ([]int64, error) {
	started := time.Now()
	deadline := started.Add(time.Minute)
	tell := r.stillWaiting("the rows to read back", started, time.Minute)
	var last error
	for time.Now().Before(deadline) && ctx.Err() == nil {
		tell()
		pod := serving()
		if pod == "" {
			last = errNoPod
		} else {
			rctx, cancel := context.WithTimeout(ctx, 30*time.Second)
			rows, err := r.rows.read(rctx, pod)
			cancel()
			if err == nil {
				return rows, nil
			}
			last = err
		}
		sleep(ctx, time.Second)
	}
	return nil, fmt.Errorf("rows not read back within a minute: %w", last)
}

// failoverMarks are the operator's own detected and fenced times, from
// the instance's failover record, when it failed over after the fault.
func (r *runner) failoverMarks(ctx context.Context, faultAt time.Time) []Mark {
	if r.opts.Target.Instance == "" {
		return nil
	}
	inst := &v1alpha1.IrisInstance{}
	if err := r.opts.Client.Get(ctx, client.ObjectKey{Namespace: r.opts.Target.Namespace, Name: r.opts.Target.Instance}, inst); err != nil {
		return nil
	}
	f := inst.Status.LastFailover
	if f == nil || f.DetectedAt.Time.Before(faultAt) {
		return nil
	}
	marks := []Mark{{Kind: MarkDetected, Seconds: seconds(f.DetectedAt.Sub(faultAt)), Detail: fmt.Sprintf("operator: %s %s", f.Pod, f.Reason)}}
	if f.FencedAt != nil {
		marks = append(marks, Mark{Kind: MarkFenced, Seconds: seconds(f.FencedAt.Sub(faultAt)), Detail: "operator: old pod and volume attachment gone"})
	}
	return marks
}

func join(a, b string) string {
	if a == "" {
		return b
	}
	return a + "; " + b
}
