// Command scale is the operator's scale benchmark: in a simulated cluster
// that already holds -pods unrelated pods (virtual containers, on the
// simulated nodes) and -secrets unrelated Secrets of 1-4 KiB, it starts the
// operator, then creates -instances IrisInstances one after another (each
// once the previous is Ready), and prints the operator process's resident
// memory (after its caches synced, at the end, and its peak) and each
// instance's latency from its creation, as the benchmark's watch saw it,
// to its Ready condition (control-plane time) as a Markdown table.
//
// With -baseline, an irisha-manager binary built from another commit (the
// behaviour to compare with) runs too, in a cluster of its own per run,
// alternated with this tree's (this tree, baseline, baseline, this tree,
// ...), so a drift in this machine's speed weighs on both alike.
//
//	go run ./bench/scale [-instances 100] [-pods 2000] [-secrets 2000] [-runs 1] [-baseline BIN] [-agents] [-v]
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
	ctrllog "sigs.k8s.io/controller-runtime/pkg/log"

	simirisha "github.com/irisha/irisha/internal/sim/irisha"
)

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "scale:", err)
		os.Exit(1)
	}
}

// options of the benchmark.
type options struct {
	instances, pods, secrets, nodes, runs int
	// agents runs the instances' pods as the real agent over the fake
	// IRIS; without it they are virtual, as the unrelated pods are.
	agents   bool
	baseline string
	timeout  time.Duration
	workDir  string
	keep     bool
	log      logr.Logger
}

func run() error {
	var o options
	flag.IntVar(&o.instances, "instances", 100, "IrisInstances to create, one after another")
	flag.IntVar(&o.pods, "pods", 2000, "unrelated pods in the cluster before the operator starts (virtual containers)")
	flag.IntVar(&o.secrets, "secrets", 2000, "unrelated Secrets (1-4 KiB of data each) in the cluster before the operator starts")
	flag.IntVar(&o.nodes, "nodes", 3, "simulated nodes")
	flag.IntVar(&o.runs, "runs", 1, "runs per setup, each in a fresh cluster")
	flag.BoolVar(&o.agents, "agents", false, "run each instance's pod as the real agent over the fake IRIS (two processes per instance); default: virtual containers, Ready while they run")
	flag.StringVar(&o.baseline, "baseline", "", "an irisha-manager binary to compare with (e.g. built from the main branch), run alternately with this tree's")
	flag.DurationVar(&o.timeout, "timeout", 2*time.Minute, "give up on an instance that is not Ready after this")
	flag.StringVar(&o.workDir, "workdir", "", "parent of the clusters' work directories (default the system's temp dir)")
	flag.BoolVar(&o.keep, "keep", false, "keep each cluster's work directory (logs of every process)")
	jsonFile := flag.String("json-file", "", "also write every run as JSON to this file")
	verbose := flag.Bool("v", false, "also log the simulated cluster's own messages to stderr (progress is always there)")
	flag.Parse()
	if o.instances < 1 || o.pods < 0 || o.secrets < 0 || o.nodes < 1 || o.runs < 1 || o.timeout <= 0 {
		return fmt.Errorf("-instances, -nodes, -runs and -timeout must be positive, -pods and -secrets not negative")
	}
	o.log = logr.Discard()
	if *verbose {
		o.log = stdr.New(nil)
	}
	// controller-runtime insists on a global logger (the sim passes its
	// own), and client-go's klog would print informer shutdown noise.
	ctrllog.SetLogger(logr.Discard())
	klog.SetLogger(logr.Discard())
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()

	started := time.Now()
	dir, err := os.MkdirTemp(o.workDir, "scale-bench-bin-")
	if err != nil {
		return err
	}
	defer func() { _ = os.RemoveAll(dir) }()
	progress("Building irisha-manager and the fake IRIS")
	bins, err := simirisha.Build(dir)
	if err != nil {
		return err
	}
	setups := []setup{{name: setupThis, manager: bins.Manager}}
	if o.baseline != "" {
		if _, err := os.Stat(o.baseline); err != nil {
			return fmt.Errorf("-baseline: %w", err)
		}
		setups = append(setups, setup{name: setupBaseline, manager: o.baseline})
	}
	var runs []runResult
	for i := range o.runs {
		order := setups
		if i%2 == 1 {
			order = reversed(setups)
		}
		for _, s := range order {
			progress("Run %d of %s", i+1, s.name)
			r, err := runOnce(ctx, o, bins, s)
			if err != nil {
				return fmt.Errorf("run %d of %s: %w", i+1, s.name, err)
			}
			r.Run = i + 1
			runs = append(runs, r)
			progress("%s", r.line())
		}
	}
	if *jsonFile != "" {
		data, err := json.MarshalIndent(runs, "", "  ")
		if err != nil {
			return fmt.Errorf("encoding the report: %w", err)
		}
		if err := os.WriteFile(*jsonFile, append(data, '\n'), 0o644); err != nil {
			return fmt.Errorf("writing %s: %w", *jsonFile, err)
		}
	}
	fmt.Print(markdown(runs, o, time.Since(started)))
	return nil
}

// The setups: this tree's operator, and the -baseline binary's.
const (
	setupThis     = "this tree"
	setupBaseline = "baseline"
)

type setup struct{ name, manager string }

func reversed(s []setup) []setup {
	out := make([]setup, len(s))
	for i := range s {
		out[len(s)-1-i] = s[i]
	}
	return out
}

// progress writes a line to stderr.
func progress(format string, args ...any) {
	fmt.Fprintf(os.Stderr, time.Now().Format("15:04:05 ")+format+"\n", args...)
}
