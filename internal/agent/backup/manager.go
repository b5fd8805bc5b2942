package backup

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/go-logr/logr"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/util/workqueue"
	"k8s.io/utils/clock"
	"k8s.io/utils/ptr"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/cache"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/config"
	"sigs.k8s.io/controller-runtime/pkg/controller"
	"sigs.k8s.io/controller-runtime/pkg/handler"
	metricsserver "sigs.k8s.io/controller-runtime/pkg/metrics/server"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"
	"sigs.k8s.io/controller-runtime/pkg/source"

	"github.com/irisha/irisha/api/v1alpha1"
)

const (
	// InstanceNameField is the IrisBackup field the agent's watch selects
	// on (a CRD selectable field): the API server sends the agent only its
	// own instance's backups.
	InstanceNameField = "spec.instanceName"
	// restartDelay: a manager that stopped on its own (its caches could not
	// sync while the API server was unreachable) is replaced after this.
	restartDelay = 5 * time.Second
	// maxRetryDelay caps the backoff of a failing reconcile, so a status
	// is recorded within seconds of the API server coming back.
	maxRetryDelay = 2 * time.Second
	// shutdownTimeout bounds the wait for a reconcile in flight at stop.
	shutdownTimeout = 5 * time.Second
)

// Options of a Participant.
type Options struct {
	REST      *rest.Config
	Namespace string
	// Instance is the IrisInstance whose backups this agent takes part in.
	Instance string
	// Pod is this agent's pod, recorded in status.pod.
	Pod     string
	Iris    Freezer
	Metrics Metrics
	// Clock arms the thaw deadline; nil is the real clock.
	Clock clock.WithDelayedExecution
}

// Participant is the agent's part in its instance's backups, for as long
// as it runs IRIS.
type Participant struct {
	p        *participant
	cancel   context.CancelFunc
	done     chan struct{}
	stopOnce sync.Once
	stopErr  error
}

// Start watches the instance's IrisBackups until Stop.
func Start(ctx context.Context, opts Options, log logr.Logger) (*Participant, error) {
	scheme := runtime.NewScheme()
	if err := v1alpha1.AddToScheme(scheme); err != nil {
		return nil, fmt.Errorf("registering the IrisBackup type: %w", err)
	}
	clk := opts.Clock
	if clk == nil {
		clk = clock.RealClock{}
	}
	p := newParticipant(ctx, opts.Iris, opts.Metrics, clk, log)
	runCtx, cancel := context.WithCancel(ctx)
	pt := &Participant{p: p, cancel: cancel, done: make(chan struct{})}
	go func() {
		defer close(pt.done)
		pt.run(runCtx, opts, scheme, log)
	}()
	return pt, nil
}

// run keeps a manager running until ctx ends. A manager cannot be started
// twice, so each attempt builds a new one; the freeze outlives them all.
func (pt *Participant) run(ctx context.Context, opts Options, scheme *runtime.Scheme, log logr.Logger) {
	for {
		err := pt.runManager(ctx, opts, scheme, log)
		if ctx.Err() != nil {
			return
		}
		log.Error(err, "The backup participant stopped; restarting it", "after", restartDelay.String())
		select {
		case <-ctx.Done():
			return
		case <-time.After(restartDelay):
		}
	}
}

func (pt *Participant) runManager(ctx context.Context, opts Options, scheme *runtime.Scheme, log logr.Logger) error {
	mgr, err := ctrl.NewManager(opts.REST, ctrl.Options{
		Scheme: scheme,
		Logger: log,
		// Least privilege: the agent's Role covers only its namespace, and
		// the API server filters backups down to its instance's.
		Cache: cache.Options{
			DefaultNamespaces: map[string]cache.Config{opts.Namespace: {}},
			ByObject: map[client.Object]cache.ByObject{
				&v1alpha1.IrisBackup{}: {Field: fields.OneTermEqualSelector(InstanceNameField, opts.Instance)},
			},
		},
		// The agent serves its own /metrics and probes; one pod, one
		// agent, so no leader election.
		Metrics:                 metricsserver.Options{BindAddress: "0"},
		HealthProbeBindAddress:  "0",
		LeaderElection:          false,
		GracefulShutdownTimeout: ptr.To(shutdownTimeout),
		// A replacement manager registers the same controller name again.
		Controller: config.Controller{SkipNameValidation: ptr.To(true)},
	})
	if err != nil {
		return fmt.Errorf("creating the backup participant's manager: %w", err)
	}
	r := &reconciler{Client: mgr.GetClient(), p: pt.p, pod: opts.Pod}
	err = ctrl.NewControllerManagedBy(mgr).
		Named("irisbackup-agent").
		For(&v1alpha1.IrisBackup{}).
		WatchesRawSource(source.Channel(pt.p.thawed, &handler.EnqueueRequestForObject{})).
		WithOptions(controller.Options{
			MaxConcurrentReconciles: 1,
			RateLimiter:             workqueue.NewTypedItemExponentialFailureRateLimiter[reconcile.Request](50*time.Millisecond, maxRetryDelay),
		}).
		Complete(r)
	if err != nil {
		return fmt.Errorf("setting up the backup participant: %w", err)
	}
	if err := mgr.Start(ctx); err != nil {
		return fmt.Errorf("running the backup participant: %w", err)
	}
	return errors.New("the manager returned")
}

// Stop stops watching backups, then ends this process's freeze: with thaw
// IRIS is thawed (it is about to stop cleanly, or the agent to exit);
// without, IRIS is already gone and there is nothing to thaw.
// Only the first call acts.
func (pt *Participant) Stop(thaw bool) error {
	pt.stopOnce.Do(func() {
		pt.cancel()
		<-pt.done
		close(pt.p.stopped)
		pt.stopErr = pt.p.release(thaw)
	})
	return pt.stopErr
}
