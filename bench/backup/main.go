// Command backup is the backup benchmark. In one simulated cluster
// (Kubernetes' default timings; a snapshotter that takes -ready-delay
// between a snapshot's creationTime and readyToUse, as Longhorn's bak type
// uploads meanwhile, and cuts -cut-delay after the snapshot's content
// appears, at once by default) it takes -runs irisha backups (IrisBackup objects of an
// IrisInstance, driven by the real operator and agent over the fake IRIS)
// and -runs backups by the reference article's script (ExternalFreeze,
// kubectl apply of its VolumeSnapshot, ExternalThaw at once, against the
// reference deployment's IRIS), alternated, and prints per setup the frozen
// window, the time to a usable snapshot, the snapshots cut while IRIS was
// thawed and the freezes left frozen, as a Markdown table.
//
//	go run ./bench/backup [-runs 50] [-ready-delay 3s] [-cut-delay 0] [-json-file FILE] [-v]
package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/go-logr/logr"
	"github.com/go-logr/stdr"
	"k8s.io/klog/v2"
	"sigs.k8s.io/controller-runtime/pkg/client"
	ctrllog "sigs.k8s.io/controller-runtime/pkg/log"

	"github.com/irisha/irisha/internal/operator"
	"github.com/irisha/irisha/internal/sim"
	simirisha "github.com/irisha/irisha/internal/sim/irisha"
)

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "backup:", err)
		os.Exit(1)
	}
}

// options of the benchmark.
type options struct {
	runs       int
	readyDelay time.Duration
	cutDelay   time.Duration
	timeout    time.Duration
	workDir    string
	keep       bool
}

func run() error {
	var o options
	flag.IntVar(&o.runs, "runs", 50, "backups per setup (irisha and the reference's script), alternated")
	flag.DurationVar(&o.readyDelay, "ready-delay", 3*time.Second, "the snapshotter's time between a snapshot's creationTime and readyToUse (Longhorn's bak uploads meanwhile)")
	flag.DurationVar(&o.cutDelay, "cut-delay", 0, "the snapshotter's time between a snapshot's content appearing and its cut (the CSI driver's CreateSnapshot); 0 cuts at once (control-plane time)")
	flag.DurationVar(&o.timeout, "timeout", 2*time.Minute, "give up on one backup after this")
	flag.StringVar(&o.workDir, "workdir", "", "parent of the cluster's work directory (default the system's temp dir)")
	flag.BoolVar(&o.keep, "keep", false, "keep the cluster's work directory (logs of every process) after the run")
	jsonFile := flag.String("json-file", "", "also write every run and the summaries as JSON to this file")
	verbose := flag.Bool("v", false, "also log the simulated cluster's own messages to stderr (progress is always there)")
	flag.Parse()
	if o.runs < 1 || o.readyDelay < 0 || o.cutDelay < 0 || o.timeout <= 0 {
		return fmt.Errorf("-runs must be positive, -ready-delay and -cut-delay not negative, -timeout positive")
	}
	log := logr.Discard()
	if *verbose {
		log = stdr.New(nil)
	}
	// controller-runtime insists on a global logger (the sim passes its
	// own), and client-go's klog would print informer shutdown noise.
	ctrllog.SetLogger(logr.Discard())
	klog.SetLogger(logr.Discard())
	// Ctrl-C stops the cluster (it kills its processes and removes its
	// directory) before exiting.
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()

	started := time.Now()
	dir, err := os.MkdirTemp(o.workDir, "backup-bench-bin-")
	if err != nil {
		return err
	}
	defer func() { _ = os.RemoveAll(dir) }()
	progress("Building irisha-manager and the fake IRIS")
	bins, err := simirisha.Build(dir)
	if err != nil {
		return err
	}
	b, err := boot(ctx, o, bins, log)
	if b != nil {
		defer b.stop(o.keep)
	}
	if err != nil {
		return err
	}
	runs, err := b.runAll(ctx, o)
	if err != nil {
		return err
	}
	rows := summarize(runs)
	if *jsonFile != "" {
		data, err := json.MarshalIndent(struct {
			ReadyDelay string      `json:"readyDelay"`
			CutDelay   string      `json:"cutDelay"`
			Summaries  []summary   `json:"summaries"`
			Runs       []runResult `json:"runs"`
		}{o.readyDelay.String(), o.cutDelay.String(), rows, runs}, "", "  ")
		if err != nil {
			return fmt.Errorf("encoding the report: %w", err)
		}
		if err := os.WriteFile(*jsonFile, append(data, '\n'), 0o644); err != nil {
			return fmt.Errorf("writing %s: %w", *jsonFile, err)
		}
	}
	fmt.Print(markdown(rows, params{readyDelay: o.readyDelay, cutDelay: o.cutDelay, wall: time.Since(started)}))
	return nil
}

// bench is the booted cluster with both setups deployed.
type bench struct {
	c   *sim.Cluster
	cl  client.WithWatch
	ir  *irishaSetup
	ref *referenceSetup
}

// boot starts one cluster for both setups, the operator, the IrisInstance
// and the reference deployment, each in a namespace of its own. A non-nil
// bench must be stopped, also with an error.
func boot(ctx context.Context, o options, bins simirisha.Binaries, log logr.Logger) (*bench, error) {
	bootCtx, cancel := context.WithTimeout(ctx, 5*time.Minute)
	defer cancel()
	timings := sim.DefaultTimings()
	timings.SnapshotReadyDelay = o.readyDelay
	timings.SnapshotCutDelay = o.cutDelay
	ref := newReferenceSetup(bins)
	progress("Booting the simulated cluster")
	c, err := sim.Start(bootCtx, sim.Options{
		Nodes: 3, Timings: timings, WorkDir: o.workDir, KeepWorkDir: o.keep, Log: log,
		Runner: simirisha.Runner(bins, simirisha.RunnerOptions{Other: ref.runContainer}),
	})
	if err != nil {
		return nil, fmt.Errorf("starting the sim: %w", err)
	}
	b := &bench{c: c, ref: ref}
	if _, err := simirisha.StartOperator(bootCtx, c, bins, simirisha.OperatorOptions{}); err != nil {
		return b, err
	}
	scheme, err := operator.NewScheme()
	if err != nil {
		return b, err
	}
	if b.cl, err = client.NewWithWatch(c.RESTConfig(), client.Options{Scheme: scheme}); err != nil {
		return b, err
	}
	progress("Deploying an IrisInstance in %s and the reference deployment in %s", irishaNamespace, referenceNamespace)
	if b.ir, err = deployIrisha(bootCtx, c, b.cl); err != nil {
		return b, fmt.Errorf("deploying irisha: %w", err)
	}
	if err := ref.deploy(bootCtx, c, b.cl); err != nil {
		return b, fmt.Errorf("deploying the reference: %w", err)
	}
	return b, nil
}

func (b *bench) stop(keep bool) {
	if keep {
		progress("Keeping the cluster's work directory %s", b.c.Dir())
	}
	if err := b.c.Stop(); err != nil {
		progress("Stopping the cluster: %v", err)
	}
}

// runAll alternates the setups, the first of each pair alternating too
// (irisha, reference, reference, irisha, ...), so that a drift in this
// machine's speed weighs on both alike.
func (b *bench) runAll(ctx context.Context, o options) ([]runResult, error) {
	total := 2 * o.runs
	var out []runResult
	started := time.Now()
	for i := range o.runs {
		order := []string{setupIrisha, setupReference}
		if i%2 == 1 {
			order = []string{setupReference, setupIrisha}
		}
		for _, setup := range order {
			runCtx, cancel := context.WithTimeout(ctx, o.timeout)
			var r runResult
			if setup == setupIrisha {
				r = b.ir.backup(runCtx, b.c, b.cl, i+1)
			} else {
				r = b.ref.backup(runCtx, b.c, b.cl, i+1)
			}
			cancel()
			if ctx.Err() != nil {
				return nil, fmt.Errorf("interrupted: %w", ctx.Err())
			}
			out = append(out, r)
			progress("%s", progressLine(len(out), total, r, eta(time.Since(started), len(out), total)))
		}
	}
	return out, nil
}

// progress writes a line to stderr.
func progress(format string, args ...any) {
	fmt.Fprintf(os.Stderr, time.Now().Format("15:04:05 ")+format+"\n", args...)
}

// seconds64 is a duration as seconds, for a result field.
func seconds64(d time.Duration) *float64 {
	s := d.Seconds()
	return &s
}
