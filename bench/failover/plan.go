package main

import (
	"cmp"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/irisha/irisha/internal/sim"
)

// Setups: the reference deployment on two storage classes, and irisha in
// failover mode Lease and in mode NodeShutdown (with a simulated fence
// agent that powers a NotReady node off).
const (
	setupLonghorn       = sim.LonghornClass
	setupLocal          = sim.LocalClass
	setupIrisha         = "irisha"
	setupIrishaShutdown = "irisha-nodeshutdown"
)

// Scenarios.
const (
	podDelete           = "pod-delete"
	containerCrash      = "container-crash"
	drain               = "drain"
	nodeKill            = "node-kill"
	nodeKillForceDelete = "node-kill-force-delete"
	nodeFreeze          = "node-freeze"
	nodePartition       = "node-partition"
	nodeKillX10         = "node-kill-x10"
	nodeKillX30         = "node-kill-x30"
)

var (
	allSetups = []string{setupLonghorn, setupLocal, setupIrisha, setupIrishaShutdown}
	// allScenarios in table order.
	allScenarios = []string{podDelete, containerCrash, drain, nodeKill, nodeKillForceDelete,
		nodeFreeze, nodePartition, nodeKillX10, nodeKillX30}
)

func isReference(setup string) bool { return !isIrisha(setup) }

func isIrisha(setup string) bool { return setup == setupIrisha || setup == setupIrishaShutdown }

// instancesOf is how many instances the scenario puts on the faulty node.
func instancesOf(scenario string) int {
	switch scenario {
	case nodeKillX10:
		return 10
	case nodeKillX30:
		return 30
	}
	return 1
}

// faultOf is the fault the scenario injects (the node-kill-xN scenarios
// kill a node, as node-kill does).
func faultOf(scenario string) string {
	if instancesOf(scenario) > 1 {
		return nodeKill
	}
	return scenario
}

// nodeFault: the fault takes the whole node away.
func nodeFault(scenario string) bool {
	switch faultOf(scenario) {
	case nodeKill, nodeKillForceDelete, nodeFreeze, nodePartition:
		return true
	}
	return false
}

// applies says whether the scenario runs on the setup: the force delete is
// the reference's manual remedy, which irisha does itself; mode
// NodeShutdown differs from mode Lease only after a single node's loss.
func applies(setup, scenario string) bool {
	switch setup {
	case setupIrisha:
		return scenario != nodeKillForceDelete
	case setupIrishaShutdown:
		return scenario == nodeKill || scenario == nodeFreeze || scenario == nodePartition
	}
	return true
}

// knownStuck are the reference's cases that never recover on their own
// (docs/benchmarks.md, baseline): the old pod stays Terminating on a lost
// node, or a node-local volume cannot follow the pod. They run once, with
// the shorter stuck timeout.
func knownStuck(setup, scenario string) bool {
	if !isReference(setup) {
		return false
	}
	switch faultOf(scenario) {
	case nodeKill, nodeFreeze, nodePartition:
		return true
	case nodeKillForceDelete, drain:
		return setup == setupLocal
	}
	return false
}

// planOptions choose runs and timeouts.
type planOptions struct {
	// runs of irisha node-kill, the scenario with a p99 goal; the cap of
	// every other scenario's runs.
	runs int
	// otherRuns of every other scenario (at most runs).
	otherRuns int
	// timeout and stuckTimeout (knownStuck cases) after the fault.
	timeout, stuckTimeout time.Duration
}

// pair is one (setup, scenario) row of the table and its runs.
type pair struct {
	Setup, Scenario string
	Runs, Instances int
	Timeout         time.Duration
	Stuck           bool
}

// plan lists the pairs to run, in table order (setup, then scenario).
func plan(setups, scenarios []string, o planOptions) []pair {
	var out []pair
	for _, st := range allSetups {
		if !slices.Contains(setups, st) {
			continue
		}
		for _, sc := range allScenarios {
			if !slices.Contains(scenarios, sc) || !applies(st, sc) {
				continue
			}
			p := pair{Setup: st, Scenario: sc, Instances: instancesOf(sc), Timeout: o.timeout, Runs: min(o.otherRuns, o.runs)}
			switch {
			case st == setupIrisha && sc == nodeKill:
				p.Runs = o.runs
			case knownStuck(st, sc):
				p.Stuck, p.Runs, p.Timeout = true, 1, min(o.stuckTimeout, o.timeout)
			case isReference(st) && nodeFault(sc):
				// Minutes of Kubernetes timers, the same every time.
				p.Runs = 1
			}
			out = append(out, p)
		}
	}
	return out
}

// weight of one run of the pair in the -parallel budget: a reference
// cluster only runs the control plane and kwok (about 6 % of a core once
// booted); an irisha cluster also runs the operator and an agent and a fake
// IRIS per instance, and its RTO is what is measured, so with the default
// budget of 6 at most two irisha clusters run at once, and one with 30
// instances runs alone.
func weight(p pair) int {
	if isReference(p.Setup) {
		return 1
	}
	switch {
	case p.Instances >= 30:
		return 6
	case p.Instances >= 10:
		return 4
	}
	return 3
}

// estimate is a rough duration of one run, to start the longest first.
func estimate(p pair) time.Duration {
	switch {
	case p.Stuck || (isReference(p.Setup) && nodeFault(p.Scenario)):
		return p.Timeout
	case p.Instances >= 30:
		return 4 * time.Minute
	case p.Instances >= 10:
		return 2 * time.Minute
	case nodeFault(p.Scenario):
		return time.Minute
	}
	return 30 * time.Second
}

// job is one run of a pair.
type job struct {
	pair pair
	run  int // 1-based
}

// jobs are the runs of the pairs, longest first (so the long waits overlap
// with everything else), the runs of one pair spread out so that a slow
// stretch of the machine does not hit one pair only.
func jobs(pairs []pair) []job {
	var out []job
	maxRuns := 0
	for _, p := range pairs {
		maxRuns = max(maxRuns, p.Runs)
	}
	for r := 1; r <= maxRuns; r++ {
		for _, p := range pairs {
			if r <= p.Runs {
				out = append(out, job{pair: p, run: r})
			}
		}
	}
	slices.SortStableFunc(out, func(a, b job) int {
		return cmp.Compare(estimate(b.pair), estimate(a.pair))
	})
	return out
}

// validate checks names and numbers.
func validateNames(setups, scenarios []string) error {
	for _, s := range scenarios {
		if !slices.Contains(allScenarios, s) {
			return fmt.Errorf("unknown scenario %q (known: %s)", s, strings.Join(allScenarios, ", "))
		}
	}
	for _, s := range setups {
		if !slices.Contains(allSetups, s) {
			return fmt.Errorf("unknown setup %q (known: %s)", s, strings.Join(allSetups, ", "))
		}
	}
	return nil
}
