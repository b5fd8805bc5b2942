// Command failover is the baseline failover benchmark: it applies the
// reference deployment (unchanged, and with storageClassName local-disk) on
// simulated clusters with Kubernetes' default timings, injects pod-delete,
// container-crash, drain, node-kill and node-kill-force-delete, and prints
// the RTO of each (control-plane time) as a Markdown table, or JSON.
//
//	go run ./bench/failover [-json] [-timeout 15m] [-parallel 6]
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
	flag.StringVar(&setups, "setups", strings.Join(allSetups, ","), "storage classes to compare")
	flag.StringVar(&scenarios, "scenarios", strings.Join(allScenarios, ","), "scenarios to run")
	flag.DurationVar(&o.timeout, "timeout", 15*time.Minute, "give up on recovery this long after the fault (reported as \"did not recover\")")
	flag.IntVar(&o.parallel, "parallel", 6, "clusters running at once (one cluster per setup and scenario)")
	flag.IntVar(&o.nodes, "nodes", 3, "simulated nodes per cluster")
	flag.BoolVar(&o.fast, "fast-timings", false, "use the sim's shortened timings instead of Kubernetes' defaults (smoke test only)")
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

	// Ctrl-C stops every cluster (each kills its processes and removes its
	// directory) before exiting.
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	results, err := runAll(ctx, o)
	if err != nil {
		return err
	}
	rep := report{Timings: o.timingsName(), Timeout: o.timeout.String(), Results: results}
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
	fmt.Print(markdown(results, o.timingsName(), o.timeout))
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
