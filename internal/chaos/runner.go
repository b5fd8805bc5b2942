package chaos

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"time"

	"github.com/go-logr/logr"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/client-go/kubernetes"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/irisha/irisha/internal/observe"
)

// Target is what the drills run against: the IRIS pods of one deployment.
type Target struct {
	Namespace string
	// Selector matches the deployment's IRIS pods; Container is the IRIS
	// container in them.
	Selector  labels.Selector
	Container string
	// Instance is the IrisInstance, whose failover record adds the
	// operator's own detected and fenced times; empty for a deployment
	// irisha does not run (the reference YAML).
	Instance string
}

// Options of Run.
type Options struct {
	Target    Target
	Scenarios []Scenario
	Clientset kubernetes.Interface
	// Client reads IrisInstances and creates the backup drill's objects
	// (a scheme with irisha's types); needed when Target.Instance is set.
	Client client.Client
	Exec   Execer
	// Nodes does node-kill and node-partition; nil refuses those drills.
	Nodes NodeFaults
	// MitigatedBy overrides the drills' "mitigated by" lines (the
	// reference YAML's are not irisha's).
	MitigatedBy map[Scenario]string
	// Run names the rows of this run (a fresh id if empty).
	Run string
	// WriteInterval between write attempts; WriteTimeout of one attempt.
	WriteInterval, WriteTimeout time.Duration
	// RecoveryTimeout caps each drill's wait for recovery: a drill that
	// does not recover within it is reported so.
	RecoveryTimeout time.Duration
	// Settle is how long writing goes on after recovery, and again after
	// the fault is undone, so a second writer would show.
	Settle time.Duration
	// Progress receives one line per step ("node-kill: fault injected on
	// node-2; waiting for recovery"), nil for none.
	Progress func(line string)
	Log      logr.Logger
}

// Defaults of Options.
const (
	DefaultWriteInterval   = 200 * time.Millisecond
	DefaultWriteTimeout    = 5 * time.Second
	DefaultRecoveryTimeout = 5 * time.Minute
	DefaultSettle          = 3 * time.Second
)

// lead is how long rows are written before the fault: the report shows a
// healthy writer first, and a writer that cannot write at all is caught
// before anything is broken.
const lead = 2 * time.Second

// noOutageGrace: a drill whose writes never fail within this long after
// the fault has recovered with RTO 0 (the fault did not interrupt them).
const noOutageGrace = 30 * time.Second

type runner struct {
	opts Options
	rows rowStore
	// rec watches the target for the whole run (one watch, not one per
	// drill: on a real cluster it lists every pod and event).
	rec *recorder
}

// Run runs the drills one after the other and returns their results. An
// error is returned only for what stops every drill (bad options); a drill
// that fails says so in its Result.
func Run(ctx context.Context, o Options) ([]Result, error) {
	if err := o.defaults(); err != nil {
		return nil, err
	}
	t := o.Target
	r := &runner{opts: o, rows: sessionStore{exec: o.Exec, namespace: t.Namespace, container: t.Container, run: o.Run},
		rec: newRecorder(t.Namespace, t.Selector, t.Container)}
	wctx, stopWatch := context.WithCancel(ctx)
	defer stopWatch()
	if err := observe.Watch(wctx, o.Clientset, r.rec); err != nil {
		return nil, fmt.Errorf("watching the cluster: %w", err)
	}
	var out []Result
	for _, sc := range o.Scenarios {
		if ctx.Err() != nil {
			return out, ctx.Err()
		}
		var res Result
		if sc == BackupRestore {
			res = r.backupRestore(ctx)
		} else {
			res = r.drill(ctx, sc)
		}
		if m, ok := o.MitigatedBy[sc]; ok {
			res.MitigatedBy = m
		}
		r.progress("%s: %s", sc, summary(res))
		out = append(out, res)
	}
	return out, ctx.Err()
}

func (o *Options) defaults() error {
	switch {
	case o.Clientset == nil || o.Exec == nil:
		return errors.New("chaos: a Clientset and an Execer are needed")
	case o.Target.Namespace == "" || o.Target.Selector == nil || o.Target.Container == "":
		return errors.New("chaos: the target's namespace, selector and container are needed")
	case o.Target.Instance != "" && o.Client == nil:
		return errors.New("chaos: a Client is needed to read the IrisInstance")
	}
	for _, sc := range o.Scenarios {
		if sc == BackupRestore {
			if o.Target.Instance == "" {
				return fmt.Errorf("%s needs an IrisInstance (the operator takes the backup)", BackupRestore)
			}
			continue
		}
		d, ok := specOf(sc)
		if !ok {
			return fmt.Errorf("unknown scenario %q", sc)
		}
		if d.nodeFaults && o.Nodes == nil {
			return fmt.Errorf("%s needs a way to kill or cut off a node, which the Kubernetes API does not have: "+
				"give --node-fault-command (e.g. a cloud CLI), or leave %s out", sc, sc)
		}
	}
	if o.Run == "" {
		b := make([]byte, 4)
		if _, err := rand.Read(b); err != nil {
			return err
		}
		o.Run = "r" + hex.EncodeToString(b)
	}
	if o.WriteInterval <= 0 {
		o.WriteInterval = DefaultWriteInterval
	}
	if o.WriteTimeout <= 0 {
		o.WriteTimeout = DefaultWriteTimeout
	}
	if o.RecoveryTimeout <= 0 {
		o.RecoveryTimeout = DefaultRecoveryTimeout
	}
	if o.Settle <= 0 {
		o.Settle = DefaultSettle
	}
	if o.Log.GetSink() == nil {
		o.Log = logr.Discard()
	}
	return nil
}

func (r *runner) progress(format string, args ...any) {
	if r.opts.Progress != nil {
		r.opts.Progress(fmt.Sprintf(format, args...))
	}
}

// summary is a drill's one-line outcome for progress.
func summary(res Result) string {
	var s string
	switch {
	case res.RTOSeconds != nil:
		s = fmt.Sprintf("recovered, RTO %.1f s", *res.RTOSeconds)
	default:
		s = "did not recover"
	}
	switch n := res.RPORows(); {
	case n < 0:
		s += ", RPO not checked"
	default:
		s += fmt.Sprintf(", RPO %d rows", n)
	}
	if res.Error != "" {
		s += " (" + res.Error + ")"
	}
	return s
}

// sleep waits d or until ctx ends.
func sleep(ctx context.Context, d time.Duration) {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
	case <-t.C:
	}
}

// stillWaiting returns a func that, called in a wait's loop, says every
// 10 s how long the wait for what has lasted and its cap.
func (r *runner) stillWaiting(what string, since time.Time, limit time.Duration) func() {
	last := since
	return func() {
		if time.Since(last) >= progressEvery {
			last = time.Now()
			r.progress("still waiting for %s: %s so far (cap %s)", what, time.Since(since).Round(time.Second), limit)
		}
	}
}

// progressEvery is how often a long wait says it is still waiting.
const progressEvery = 10 * time.Second
