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

	REST *rest.Config
}

// Run is the agent's life: Lease, then IRIS, then whichever comes first of
// IRIS exiting, a signal (clean stop, Lease released) or the Lease lost
// (hard stop). It returns the process exit code.
func Run(ctx context.Context, cfg Config, log logr.Logger) (int, error) {
	if len(cfg.Command) == 0 {
		return 2, errors.New("no command to supervise: give it after --, e.g. agent run -- /iris-main")
	}
	// The Lease gets connections of its own: a failed renewal drops them
	// so the retry does not hang on a dead one, which must not cut the
	// backup participant's watches.
	leases, closeLeaseConns, err := lease.NewClient(cfg.REST)
	if err != nil {
		return 2, err
	}
	leaseCfg := lease.Config{Namespace: cfg.Namespace, Name: cfg.LeaseName, Identity: cfg.Identity, Timing: cfg.Timing,
		CloseConnections: closeLeaseConns}
	if cfg.WitnessesConfigMap != "" {
		cs, err := kubernetes.NewForConfig(cfg.REST)
		if err != nil {
			return 2, fmt.Errorf("creating the Kubernetes client: %w", err)
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
	if cfg.DataMount != "" {
		usage := &volumeUsage{path: cfg.DataMount, statsFile: cfg.VolumeStatsFile, every: cfg.VolumeMeasureInterval, log: log}
		go usage.run(ctx)
		leaseCfg.Annotations = usage.annotations
	}
	fence, err := lease.New(leaseCfg, leases, log)
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
	stopRequested := ctx.Done()
	runCtx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	defer cancel()

	reaper, err := supervisor.NewReaper(runCtx)
	if err != nil {
		return 2, err
	}
	client := &iris.Client{Runner: iris.ExecRunner{Start: reaper.Run}, Iris: cfg.Iris}
	reg, m := newRegistry()
	h := &health{iris: client, superserver: cfg.SuperserverAddress, timeout: cfg.ProbeTimeout, metrics: m, up: make(chan struct{})}
	stopServer, err := serve(cfg.ListenAddress, h, reg, log)
	if err != nil {
		return 2, err
	}
	defer stopServer()

	acquired := make(chan error, 1)
	go func() { acquired <- fence.Acquire(runCtx) }()
	select {
	case sig := <-sigs:
		log.Info("Stopping before IRIS started", "signal", sig.String())
		return 0, nil
	case <-stopRequested:
		log.Info("Stopping before IRIS started")
		return 0, nil
	case err := <-acquired:
		if err != nil {
			return 1, fmt.Errorf("acquiring the fencing Lease: %w", err)
		}
	}
	h.leaseHeld.Store(true)
	h.metrics.leaseHeld.Set(1)
	log.Info("Holding the fencing Lease; starting IRIS", "command", cfg.Command)

	proc, err := reaper.Start(cfg.Command[0], cfg.Command[1:]...)
	if err != nil {
		return 1, err
	}
	h.started.Store(true)
	held := make(chan error, 1)
	holdCtx, stopHolding := context.WithCancel(runCtx)
	defer stopHolding()
	go func() { held <- fence.Hold(holdCtx) }()
	// Backups only once IRIS is up under the Lease: a freeze of an IRIS
	// that may be fenced any moment is never a consistent snapshot, and an
	// IRIS not up cannot freeze. Waiting for its first passing probe also
	// keeps the participant's start (its client, discovery, list and watch)
	// out of a failover's busiest seconds.
	var backups *backup.Participant
	defer func() { stopBackups(backups, false, log) }()
	up := h.up

	for {
		select {
		case <-up:
			up = nil
			backups = startBackups(runCtx, cfg, client, h.metrics, log)
		case err := <-held:
			if err == nil {
				continue
			}
			h.leaseHeld.Store(false)
			h.metrics.leaseHeld.Set(0)
			h.metrics.fenced.Inc()
			// The fence comes before the backup: a thaw would spend time
			// the safety margin does not have, and a killed IRIS keeps no
			// freeze (a frozen write daemon writes nothing meanwhile).
			if late := time.Since(fence.Deadline()); late > frozenPastDeadline {
				// This process was stopped past its deadline (a frozen
				// node resuming): a replacement may already write, so
				// there is no time for `iris force`.
				log.Info("Resumed past the fencing deadline: killing IRIS at once", "late", late.Round(time.Millisecond).String())
				killTree(log)
			} else {
				log.Info("Lost the fencing Lease: stopping IRIS hard so that no second writer can exist", "reason", err.Error())
				hardStop(client, cfg.ForceTimeout, log)
			}
			stopBackups(backups, false, log)
			<-proc.Done()
			return ExitFenced, nil
		case sig := <-sigs:
			// A clean shutdown of a frozen IRIS would wait on its write
			// daemon: thaw first.
			stopBackups(backups, true, log)
			log.Info("Forwarding signal to IRIS for a clean stop", "signal", sig.String())
			if err := proc.Signal(sig); err != nil {
				log.Error(err, "Forwarding the signal")
			}
		case <-stopRequested:
			stopRequested = nil
			stopBackups(backups, true, log)
			log.Info("Stop requested: asking IRIS for a clean stop")
			if err := proc.Signal(syscall.SIGTERM); err != nil {
				log.Error(err, "Signalling IRIS")
			}
		case <-proc.Done():
			code := proc.ExitCode()
			stopBackups(backups, false, log) // IRIS is gone, and its freeze with it
			stopHolding()
			h.leaseHeld.Store(false)
			h.metrics.leaseHeld.Set(0)
			// iris-main exits after IRIS stopped; only a clean stop hands
			// the Lease over at once. After a crash the same pod restarts
			// IRIS and takes its own Lease back.
			if code == 0 {
				releaseCtx, cancelRelease := context.WithTimeout(runCtx, 5*time.Second)
				if err := fence.Release(releaseCtx); err != nil {
					log.Error(err, "Releasing the fencing Lease; a replacement waits for it to expire")
				} else {
					log.Info("IRIS stopped cleanly; released the fencing Lease")
				}
				cancelRelease()
			} else {
				log.Info("IRIS exited; keeping the fencing Lease for this pod's restart", "exitCode", code)
			}
			return code, nil
		}
	}
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
