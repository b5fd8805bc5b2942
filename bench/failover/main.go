// Command failover is the failover benchmark: it runs each scenario
// (pod-delete, container-crash, drain, node-kill, node-kill-force-delete,
// node-freeze, node-partition, and node-kill with 10 and 30 instances on
// the killed node) on the reference deployment (unchanged on class
// longhorn, and with class local-disk) and on irisha (an IrisInstance with
// the real operator and agents and the fake IRIS; failover mode Lease, and
// mode NodeShutdown with a simulated fence agent for the single-node
// losses), each run in a fresh
// simulated cluster with Kubernetes' default timings, and prints per
// (setup, scenario) the runs, recoveries, RTO p50/p99 (control-plane time)
// and W1 violations as a Markdown table, or JSON.
//
//	go run ./bench/failover [-v] [-json] [-runs 20] [-parallel 6]
package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"strings"
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
		fmt.Fprintln(os.Stderr, "failover:", err)
		os.Exit(1)
	}
}

func run() error {
	var o options
	var setups, scenarios string
	flag.StringVar(&setups, "setups", strings.Join(allSetups, ","), "setups to compare: the reference on longhorn and on local-disk, irisha in mode Lease and in mode NodeShutdown")
	flag.StringVar(&scenarios, "scenarios", strings.Join(allScenarios, ","), "scenarios to run")
	flag.IntVar(&o.runs, "runs", 20, "runs of irisha node-kill; the most runs of any other scenario")
	flag.IntVar(&o.otherRuns, "other-runs", 3, "runs of every other scenario (at most -runs); the reference's node-loss scenarios run once")
	flag.DurationVar(&o.timeout, "timeout", 15*time.Minute, "give up on recovery this long after the fault (reported as \"did not recover\")")
	flag.DurationVar(&o.stuckTimeout, "stuck-timeout", 7*time.Minute, "the same for the reference's known-stuck cases (at most -timeout)")
	flag.IntVar(&o.parallel, "parallel", 6, "load budget (clusters at once, weighted): a reference cluster weighs 1, an irisha cluster 3, with 10 instances 4, with 30 instances 6")
	flag.IntVar(&o.nodes, "nodes", 3, "simulated nodes per cluster")
	flag.BoolVar(&o.fast, "fast-timings", false, "use the sim's shortened timings instead of Kubernetes' defaults (smoke test only)")
	flag.IntVar(&o.kcmQPS, "kcm-api-qps", 0, "kube-controller-manager's --kube-api-qps (burst 1.5 times it); 0 keeps Kubernetes' default 20 (burst 30), which bounds the attach/detach controller with many volumes on a lost node")
	flag.BoolVar(&o.audit, "audit", false, "record every API request's metadata (who, what, when, how long) in each cluster's audit.log; costs the API server CPU, so for finding where time goes, never for the tables (needs -keep all)")
	flag.StringVar(&o.workDir, "workdir", "", "parent of the clusters' work directories (default the system's temp dir)")
	flag.StringVar(&o.keep, "keep", keepAnomalies, "keep clusters' work directories (logs): all, anomalies (error, W1 violation, not recovered, irisha over its goal) or none")
	asJSON := flag.Bool("json", false, "print JSON instead of a Markdown table")
	jsonFile := flag.String("json-file", "", "also write the JSON report to this file")
	verbose := flag.Bool("v", false, "log progress to stderr")
	flag.Parse()
	o.setups, o.scenarios = split(setups), split(scenarios)
	if err := o.validate(); err != nil {
		return err
	}
	log := logr.Discard()
	if *verbose {
		stdr.SetVerbosity(0)
		log = stdr.New(nil)
	}
	// controller-runtime insists on a global logger (the sim passes its own),
	// and client-go's klog would print informer shutdown noise.
	ctrllog.SetLogger(logr.Discard())
	klog.SetLogger(log)
	o.log = log

	pairs := plan(o.setups, o.scenarios, o.planOptions)
	if len(pairs) == 0 {
		return fmt.Errorf("nothing to run")
	}
	for _, p := range pairs {
		if isIrisha(p.Setup) {
			dir, err := os.MkdirTemp(o.workDir, "irisha-bench-bin-")
			if err != nil {
				return err
			}
			defer func() { _ = os.RemoveAll(dir) }()
			log.Info("Building irisha-manager and the fake IRIS", "dir", dir)
			if o.bins, err = simirisha.Build(dir); err != nil {
				return err
			}
			break
		}
	}

	// Ctrl-C stops every cluster (each kills its processes and removes its
	// directory) before exiting.
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	started := time.Now()
	runs, err := runAll(ctx, o, pairs)
	if err != nil {
		return err
	}
	log.Info("All runs done", "wall", time.Since(started).Round(time.Second).String())
	rows := summarize(pairs, runs)
	rep := report{
		Timings: o.timingsName(), Timeout: o.timeout.String(), StuckTimeout: min(o.stuckTimeout, o.timeout).String(),
		Percentiles: "nearest rank over every instance of every run; an instance that did not recover counts as infinite (null)",
		Summaries:   rows, Runs: runs,
	}
	data, err := json.MarshalIndent(rep, "", "  ")
	if err != nil {
		return fmt.Errorf("encoding the report: %w", err)
	}
	if *jsonFile != "" {
		if err := os.WriteFile(*jsonFile, append(data, '\n'), 0o644); err != nil {
			return fmt.Errorf("writing %s: %w", *jsonFile, err)
		}
	}
	if *asJSON {
		_, err := fmt.Printf("%s\n", data)
		return err
	}
	fmt.Print(markdown(rows, o))
	fmt.Printf("\nWall time %s.\n", time.Since(started).Round(time.Second))
	return nil
}

func split(s string) []string {
	var out []string
	for _, f := range strings.Split(s, ",") {
		if f = strings.TrimSpace(f); f != "" {
			out = append(out, f)
		}
	}
	return out
}
