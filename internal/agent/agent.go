package agent

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/go-logr/logr"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"

	"github.com/irisha/irisha/internal/agent/backup"
	"github.com/irisha/irisha/internal/agent/lease"
	"github.com/irisha/irisha/internal/agent/supervisor"
	"github.com/irisha/irisha/internal/iris"
	"github.com/irisha/irisha/internal/quorum"
	"github.com/irisha/irisha/internal/witness"
)

// frozenPastDeadline: a fence noticed this long after its deadline means
// the agent itself was not running (SIGSTOP, a paused VM whose monotonic
// clock kept going), not that a renewal was slow.
const frozenPastDeadline = time.Second

// ExitFenced is the agent's exit code after it stopped IRIS because it lost
// the fencing Lease.
const ExitFenced = 75

// Config of one agent run.
type Config struct {
	// Command is iris-main and its arguments.
	Command []string

	Namespace string
	// LeaseName is the instance's fencing Lease.
	LeaseName string
	// WitnessesConfigMap is the operator's mirror of the node witnesses to
	// ask when renewals fail; empty: none are asked.
	WitnessesConfigMap string
	// Identity is the pod, "<name>_<uid>".
	Identity string
	Timing   lease.Timing

	// PodName is the pod's name, recorded in the backups it freezes.
	PodName string
	// InstanceName is the IrisInstance: the agent takes part in its backups.
	InstanceName string

	// ListenAddress serves /livez, /readyz, /startupz and /metrics.
	ListenAddress string
	// SuperserverAddress is checked by /readyz.
	SuperserverAddress string
	// Iris is the iris command.
	Iris string
	// ProbeTimeout bounds one qlist in a probe; longer means hung.
	ProbeTimeout time.Duration
	// ForceTimeout bounds `iris force` when fenced, before SIGKILL.
	ForceTimeout time.Duration

	// DataMount is the data volume's mount point, whose usage the agent
	// reports on the Lease; empty: none is reported.
	DataMount string
	// VolumeStatsFile replaces statfs of DataMount (the simulated cluster).
	VolumeStatsFile string
	// VolumeMeasureInterval is how often the volume is measured.
	VolumeMeasureInterval time.Duration

	// MergeFile is the CPF merge file ($ISC_CPF_MERGE_FILE) whose changes
	// the agent merges into the running IRIS; empty: none.
	MergeFile string
	// MergeCheckInterval is how often the merge file is read.
	MergeCheckInterval time.Duration

	REST *rest.Config
}

// Run is the agent's life: Lease, then IRIS, then whichever comes first of
// IRIS exiting, a signal (clean stop, Lease released) or the Lease lost
// (hard stop). It returns the process exit code.
func Run(ctx context.Context, cfg Config, log logr.Logger) (int, error) {
	if len(cfg.Command) == 0 {
		return 2, errors.New("no command to supervise: give it after --, e.g. agent run -- /iris-main")
	}
	// The merge watch's client is set once the reaper exists; its report
	// rides on the Lease from the start.
	var config *configWatch
	if cfg.MergeFile != "" {
		config = newConfigWatch(cfg.MergeFile, cfg.MergeCheckInterval, nil, log.WithName("config"))
	}
	fence, err := newFence(ctx, cfg, config, log)
	if err != nil {
		return 2, err
	}

	// Signals are caught from the start: a pod deleted while its agent
	// waits for the Lease must exit at once, with nothing to stop.
	sigs := make(chan os.Signal, 4)
	signal.Notify(sigs, syscall.SIGTERM, syscall.SIGINT)
	defer signal.Stop(sigs)
	// ctx ending (the process's own SIGTERM handler) means "stop cleanly",
	// like a signal; the reaper and the Lease must outlive it until IRIS
	// has stopped, so they run on a context that is not cancelled with it.
	runCtx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	defer cancel()

	reaper, err := supervisor.NewReaper(runCtx)
	if err != nil {
		return 2, err
	}
	client := &iris.Client{Runner: iris.ExecRunner{Start: reaper.Run}, Iris: cfg.Iris}
	if config != nil {
		config.iris = client
	}
	reg, m := newRegistry()
	h := &health{iris: client, superserver: cfg.SuperserverAddress, timeout: cfg.ProbeTimeout, metrics: m, up: make(chan struct{})}
	stopServer, err := serve(cfg.ListenAddress, h, reg, log)
	if err != nil {
		return 2, err
	}
	defer stopServer()

	r := &agentRun{cfg: cfg, log: log, fence: fence, client: client, health: h,
		ctx: runCtx, sigs: sigs, stopRequested: ctx.Done(), config: config}
	held, err := r.waitForLease()
	if err != nil {
		return 1, err
	}
	if !held {
		return 0, nil
	}
	h.setLeaseHeld(true)
	log.Info("Holding the fencing Lease; starting IRIS", "command", cfg.Command)
	return r.runIris(reaper)
}

// newFence builds the fencing Lease, with the witnesses it consults and the
// volume usage and merge report (config, may be nil) it carries.
func newFence(ctx context.Context, cfg Config, config *configWatch, log logr.Logger) (*lease.Lease, error) {
	// The Lease gets connections of its own: a failed renewal drops them
	// so the retry does not hang on a dead one, which must not cut the
	// backup participant's watches.
	leases, closeLeaseConns, err := lease.NewClient(cfg.REST)
	if err != nil {
		return nil, err
	}
	leaseCfg := lease.Config{Namespace: cfg.Namespace, Name: cfg.LeaseName, Identity: cfg.Identity, Timing: cfg.Timing,
		CloseConnections: closeLeaseConns}
	if cfg.WitnessesConfigMap != "" {
		cs, err := kubernetes.NewForConfig(cfg.REST)
		if err != nil {
			return nil, fmt.Errorf("creating the Kubernetes client: %w", err)
		}
		if !quorum.DefaultTiming().RidesOut(cfg.Timing.Duration-cfg.Timing.SafetyMargin, cfg.Timing.RenewInterval, witness.RoundPause, witness.AnswerTimeout/2) {
			log.Info("This Lease timing leaves the witnesses too little time: IRIS is stopped in a control-plane outage (fencing stays safe); a longer Lease or a shorter renew interval rides it out",
				"leaseDuration", cfg.Timing.Duration.String(), "renewInterval", cfg.Timing.RenewInterval.String())
		}
		members := newWitnessMembers(cs.CoreV1().ConfigMaps(cfg.Namespace), cfg.WitnessesConfigMap, log)
		// Read before the Lease is taken: whether witnesses are in use
		// decides whether an expired Lease may be taken over.
		members.load(ctx)
		go members.run(ctx)
		leaseCfg.Extender, leaseCfg.TakesOverExpired = members.asker(cfg.Identity, log.WithName("witnesses")), members.takesOverExpired
	}
	var annotations []func() map[string]string
	if cfg.DataMount != "" {
		usage := &volumeUsage{path: cfg.DataMount, statsFile: cfg.VolumeStatsFile, every: cfg.VolumeMeasureInterval, log: log}
		go usage.run(ctx)
		annotations = append(annotations, usage.annotations)
	}
	if config != nil {
		annotations = append(annotations, config.annotations)
	}
	if len(annotations) > 0 {
		leaseCfg.Annotations = joinAnnotations(annotations...)
	}
	return lease.New(leaseCfg, leases, log)
}

// agentRun is what the steps of one Run share once the Lease, the probes
// and the reaper are set up.
type agentRun struct {
	cfg    Config
	log    logr.Logger
	fence  *lease.Lease
	client *iris.Client
	health *health
	// ctx outlives a stop request: the Lease and the backups run on it
	// until IRIS has stopped.
	ctx  context.Context
	sigs <-chan os.Signal
	// stopRequested is the process's own stop (Run's ctx ending); nil
	// once handled.
	stopRequested <-chan struct{}
	// backups is nil until IRIS is up, or when the participant failed.
	backups *backup.Participant
	// config applies merge file changes once IRIS is up; nil without a
	// merge file.
	config *configWatch
	// restarting is set once a planned restart was asked of IRIS.
	restarting bool
	// configCtx ends when IRIS has exited.
	configCtx context.Context
}

// waitForLease blocks until this agent holds the Lease (true), or a stop
// was asked for first (false, nil: nothing was started, nothing to stop),
// or acquiring failed (false, err).
func (r *agentRun) waitForLease() (bool, error) {
	acquired := make(chan error, 1)
	go func() { acquired <- r.fence.Acquire(r.ctx) }()
	select {
	case sig := <-r.sigs:
		r.log.Info("Stopping before IRIS started", "signal", sig.String())
		return false, nil
	case <-r.stopRequested:
		r.log.Info("Stopping before IRIS started")
		return false, nil
	case err := <-acquired:
		if err != nil {
			return false, fmt.Errorf("acquiring the fencing Lease: %w", err)
		}
	}
	return true, nil
}

// runIris starts IRIS under the Lease already held, keeps renewing it, and
// supervises IRIS until it is gone; it returns the process exit code.
func (r *agentRun) runIris(reaper *supervisor.Reaper) (int, error) {
	if r.config != nil {
		r.config.baseline()
	}
	proc, err := reaper.Start(r.cfg.Command[0], r.cfg.Command[1:]...)
	if err != nil {
		return 1, err
	}
	r.health.started.Store(true)
	held := make(chan error, 1)
	holdCtx, stopHolding := context.WithCancel(r.ctx)
	defer stopHolding()
	configCtx, stopConfig := context.WithCancel(r.ctx)
	defer stopConfig()
	r.configCtx = configCtx
	go func() { held <- r.fence.Hold(holdCtx) }()
	defer func() { stopBackups(r.backups, false, r.log) }()
	return r.supervise(proc, held, stopHolding), nil
}

// supervise waits for whichever comes first of IRIS exiting, a stop
// request (a clean stop, forwarded) or the Lease lost (a hard stop), and
// starts the backups once IRIS is up. It returns the process exit code.
func (r *agentRun) supervise(proc *supervisor.Process, held <-chan error, stopHolding func()) int {
	up := r.health.up
	var restart <-chan []string
	for {
		select {
		case settings := <-restart:
			restart = nil
			r.plannedRestart(proc, settings)
		case <-up:
			// Backups only once IRIS is up under the Lease: a freeze of an
			// IRIS that may be fenced any moment is never a consistent
			// snapshot, and an IRIS not up cannot freeze. Waiting for its
			// first passing probe also keeps the participant's start (its
			// client, discovery, list and watch) out of a failover's
			// busiest seconds.
			up = nil
			r.backups = startBackups(r.ctx, r.cfg, r.client, r.health.metrics, r.log)
			if r.config != nil {
				// Changes are merged only into an IRIS that is up: one
				// still starting merges the file itself.
				r.config.started()
				restart = r.config.restart
				go r.config.run(r.configCtx)
			}
		case err := <-held:
			if err == nil {
				continue
			}
			return r.onFenced(proc, err)
		case sig := <-r.sigs:
			r.forwardSignal(proc, sig)
		case <-r.stopRequested:
			r.stopRequested = nil
			r.requestStop(proc)
		case <-proc.Done():
			return r.onExit(proc, stopHolding)
		}
	}
}

// onFenced stops IRIS hard because the Lease was lost (reason), and returns
// only once IRIS is gone, so no second writer can exist.
func (r *agentRun) onFenced(proc *supervisor.Process, reason error) int {
	r.health.setLeaseHeld(false)
	r.health.metrics.fenced.Inc()
	// The fence comes before the backup: a thaw would spend time the
	// safety margin does not have, and a killed IRIS keeps no freeze (a
	// frozen write daemon writes nothing meanwhile).
	r.stopHard(reason)
	stopBackups(r.backups, false, r.log)
	<-proc.Done()
	return ExitFenced
}

// stopHard kills IRIS: after `iris force` if there is still time before the
// fencing deadline, at once if not.
func (r *agentRun) stopHard(reason error) {
	if late := time.Since(r.fence.Deadline()); late > frozenPastDeadline {
		// This process was stopped past its deadline (a frozen node
		// resuming): a replacement may already write, so there is no
		// time for `iris force`.
		r.log.Info("Resumed past the fencing deadline: killing IRIS at once", "late", late.Round(time.Millisecond).String())
		killTree(r.log)
		return
	}
	r.log.Info("Lost the fencing Lease: stopping IRIS hard so that no second writer can exist", "reason", reason.Error())
	hardStop(r.client, r.cfg.ForceTimeout, r.log)
}

// forwardSignal passes sig on to IRIS for a clean stop.
func (r *agentRun) forwardSignal(proc *supervisor.Process, sig os.Signal) {
	// A clean shutdown of a frozen IRIS would wait on its write daemon:
	// thaw first.
	stopBackups(r.backups, true, r.log)
	r.log.Info("Forwarding signal to IRIS for a clean stop", "signal", sig.String())
	if err := proc.Signal(sig); err != nil {
		r.log.Error(err, "Forwarding the signal")
	}
}

// plannedRestart stops IRIS cleanly for merged settings that take effect
// only at a start. iris-main then exits 0, the Lease is released (onExit)
// and the agent exits, so the kubelet restarts the container in the same
// pod on the same volume, where iris-main merges the file before IRIS
// starts. The old IRIS is gone before the Lease is released, and the new
// one starts only once it is taken again: never two writers.
func (r *agentRun) plannedRestart(proc *supervisor.Process, settings []string) {
	stopBackups(r.backups, true, r.log)
	r.restarting = true
	r.log.Info("Restarting IRIS for merged settings that need a restart", "settings", settings)
	if err := proc.Signal(syscall.SIGTERM); err != nil {
		r.log.Error(err, "Signalling IRIS")
	}
}

// requestStop asks IRIS for a clean stop when the process's own stop was
// requested (Run's ctx ended).
func (r *agentRun) requestStop(proc *supervisor.Process) {
	// Thawed first, as for a forwarded signal.
	stopBackups(r.backups, true, r.log)
	r.log.Info("Stop requested: asking IRIS for a clean stop")
	if err := proc.Signal(syscall.SIGTERM); err != nil {
		r.log.Error(err, "Signalling IRIS")
	}
}

// onExit ends the run once IRIS exited on its own or after a clean stop,
// and returns IRIS's exit code: the container's, for the kubelet.
func (r *agentRun) onExit(proc *supervisor.Process, stopHolding func()) int {
	code := proc.ExitCode()
	stopBackups(r.backups, false, r.log) // IRIS is gone, and its freeze with it
	stopHolding()
	r.health.setLeaseHeld(false)
	// iris-main exits after IRIS stopped; only a clean stop hands the
	// Lease over at once. After a crash the same pod restarts IRIS and
	// takes its own Lease back.
	if code == 0 {
		r.release()
		if r.restarting {
			r.log.Info("Planned restart: exiting so that the container restarts and IRIS starts on the merged configuration")
		}
	} else {
		r.log.Info("IRIS exited; keeping the fencing Lease for this pod's restart", "exitCode", code)
	}
	return code
}

// releaseTimeout bounds handing the Lease over after a clean stop. The
// pod is terminating meanwhile, inside its grace period (which the
// operator sets to ShutdownTimeout plus margin, at least 120 s); a release
// that cannot finish in a few seconds is worth nothing more than the
// Lease's own expiry, which the replacement then waits for.
const releaseTimeout = 5 * time.Second

// release hands the Lease over after IRIS stopped cleanly, so a
// replacement need not wait for it to expire.
func (r *agentRun) release() {
	releaseCtx, cancelRelease := context.WithTimeout(r.ctx, releaseTimeout)
	defer cancelRelease()
	if err := r.fence.Release(releaseCtx); err != nil {
		r.log.Error(err, "Releasing the fencing Lease; a replacement waits for it to expire")
		return
	}
	r.log.Info("IRIS stopped cleanly; released the fencing Lease")
}

// startBackups starts the backup participant. Without it IRIS still runs:
// backups fail, availability does not.
func startBackups(ctx context.Context, cfg Config, client *iris.Client, m *metrics, log logr.Logger) *backup.Participant {
	p, err := backup.Start(ctx, backup.Options{
		REST: cfg.REST, Namespace: cfg.Namespace, Instance: cfg.InstanceName, Pod: cfg.PodName,
		Iris: client, Metrics: m.backup,
	}, log.WithName("backup"))
	if err != nil {
		log.Error(err, "Starting the backup participant; this pod takes no backups")
		return nil
	}
	log.Info("Taking part in backups", "instance", cfg.InstanceName)
	return p
}

// stopBackups stops the participant, thawing IRIS if asked and frozen.
func stopBackups(p *backup.Participant, thaw bool, log logr.Logger) {
	if p == nil {
		return
	}
	if err := p.Stop(thaw); err != nil {
		log.Error(err, "Stopping the backup participant")
	}
}

// hardStop runs `iris force`, bounded, then SIGKILLs every process left under
// the agent. Both run even if the first fails: the deadline is what matters.
func hardStop(client *iris.Client, forceTimeout time.Duration, log logr.Logger) {
	ctx, cancel := context.WithTimeout(context.Background(), forceTimeout)
	if err := client.Force(ctx); err != nil {
		log.Info("iris force did not finish; killing the processes", "error", err.Error())
	}
	cancel()
	killTree(log)
}

// killTree SIGKILLs every process under the agent.
func killTree(log logr.Logger) {
	n, err := supervisor.KillTree()
	if err != nil {
		log.Error(err, "Killing the IRIS processes")
	}
	log.Info("IRIS stopped hard", "killed", n)
}

// serve starts the probe and metrics server; the returned function stops it.
func serve(addr string, h *health, reg *prometheus.Registry, log logr.Logger) (func(), error) {
	mux := http.NewServeMux()
	h.routes(mux)
	mux.Handle("/metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{Registry: reg}))
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("listening on %s for probes and metrics: %w", addr, err)
	}
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second}
	go func() {
		if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			log.Error(err, "Probe server stopped")
		}
	}()
	log.Info("Serving probes and metrics", "address", ln.Addr().String())
	return func() {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		defer cancel()
		_ = srv.Shutdown(ctx)
	}, nil
}
