package main

import (
	"fmt"
	"math"
	"strings"
	"time"

	"github.com/irisha/irisha/bench/internal/stats"
	"github.com/irisha/irisha/internal/fencing"
	"github.com/irisha/irisha/internal/observe"
)

// report is the JSON output.
type report struct {
	Timings      string      `json:"timings"`
	Timeout      string      `json:"timeout"`
	StuckTimeout string      `json:"stuckTimeout"`
	Percentiles  string      `json:"percentiles"`
	Summaries    []summary   `json:"summaries"`
	Runs         []runResult `json:"runs"`
}

// runResult is one run of one (setup, scenario) pair in a fresh cluster.
// RTOs are control-plane time: what the real controllers took, with
// instant simulated attach and container start.
type runResult struct {
	Setup    string `json:"setup"`
	Scenario string `json:"scenario"`
	Run      int    `json:"run"`
	// Node is the node the instances ran on, the one the fault hit.
	Node      string           `json:"node,omitempty"`
	Instances []instanceResult `json:"instances,omitempty"`
	// FaultSeconds: from the fault to recovery of all instances or the
	// timeout.
	FaultSeconds float64 `json:"faultSeconds,omitempty"`
	// W1Violations seen by the observer (VolumeAttachments, pods).
	W1Violations []string `json:"w1Violations,omitempty"`
	// Leftovers are processes found alive after the cluster stopped (killed
	// then).
	Leftovers   []int   `json:"leftoverPIDs,omitempty"`
	WorkDir     string  `json:"workDir,omitempty"`
	WallSeconds float64 `json:"wallSeconds"`
	Error       string  `json:"error,omitempty"`
}

// instanceResult is one instance of a run.
type instanceResult struct {
	Namespace  string  `json:"namespace"`
	Recovered  bool    `json:"recovered"`
	RTOSeconds float64 `json:"rtoSeconds,omitempty"`
	OldPod     string  `json:"oldPod,omitempty"`
	OldNode    string  `json:"oldNode,omitempty"`
	NewPod     string  `json:"newPod,omitempty"`
	NewNode    string  `json:"newNode,omitempty"`
	// AfterUndoSeconds: recovered only after the frozen or partitioned node
	// came back, this long after (not counted as recovered).
	AfterUndoSeconds float64     `json:"recoveredAfterNodeBackSeconds,omitempty"`
	Timeline         []milestone `json:"timeline,omitempty"`
	State            string      `json:"finalState,omitempty"`
	// irisha: the journal of the fake IRIS.
	OldWriter         int      `json:"oldIrisPID,omitempty"`
	Writers           []int    `json:"journalWriters,omitempty"`
	JournalEntries    int      `json:"journalEntries,omitempty"`
	JournalViolations []string `json:"journalViolations,omitempty"`
	// StaleWrites: entries of the old IRIS after the new one took over;
	// StaleAfterBack of them once its node was back, the last
	// StaleRanSeconds after (see stale).
	StaleWrites     int     `json:"staleWrites,omitempty"`
	StaleAfterBack  int     `json:"staleAfterNodeBack,omitempty"`
	StaleRanSeconds float64 `json:"staleRanSecondsAfterNodeBack,omitempty"`
	JournalError    string  `json:"journalError,omitempty"`
}

// milestone: the first time something happened, in seconds after the fault.
type milestone struct {
	Key     string  `json:"key"`
	Seconds float64 `json:"seconds"`
	Detail  string  `json:"detail,omitempty"`
}

func (r runResult) recovered() int {
	n := 0
	for _, i := range r.Instances {
		if i.Recovered {
			n++
		}
	}
	return n
}

// journalViolations: instances whose journal shows two writers (one per
// instance, however many signs).
func (r runResult) journalViolations() int {
	n := 0
	for _, i := range r.Instances {
		if len(i.JournalViolations) > 0 {
			n++
		}
	}
	return n
}

func (r runResult) w1Count() int { return len(r.W1Violations) + r.journalViolations() }

// anomalous runs keep their work directory under -keep anomalies.
func (r runResult) anomalous() bool {
	if r.Error != "" || r.w1Count() > 0 || len(r.Leftovers) > 0 {
		return true
	}
	if isReference(r.Setup) {
		// The reference not recovering is what it is known for.
		return false
	}
	if r.recovered() < len(r.Instances) {
		return true
	}
	for _, i := range r.Instances {
		if i.JournalError != "" {
			return true
		}
		if r.Setup == setupIrisha && nodeFault(r.Scenario) && i.RTOSeconds > goalSeconds(r.Scenario) {
			return true
		}
	}
	return false
}

// goalSeconds is irisha's RTO goal after a node loss: 15 s for one
// instance, 20 s for 10 or 30 on the lost node.
func goalSeconds(scenario string) float64 {
	if instancesOf(scenario) > 1 {
		return 20
	}
	return 15
}

// summary is one row of the table.
type summary struct {
	Setup     string `json:"setup"`
	Scenario  string `json:"scenario"`
	Runs      int    `json:"runs"`
	Instances int    `json:"instancesPerRun"`
	// Samples = runs x instances; Recovered of them.
	Samples   int `json:"samples"`
	Recovered int `json:"recovered"`
	// P50/P99 are nearest-rank percentiles of the samples' RTOs, a sample
	// that did not recover counting as infinite (null then).
	P50Seconds *float64 `json:"rtoP50Seconds"`
	P99Seconds *float64 `json:"rtoP99Seconds"`
	MaxSeconds *float64 `json:"rtoMaxSeconds"`
	// W1 violations summed over runs: observer + journal.
	W1Observer int `json:"w1ObserverViolations"`
	W1Journal  int `json:"w1JournalViolations"`
	// StaleWrites of old IRIS processes after the takeover, summed;
	// StaleAfterBack of them once their node was back, the latest
	// StaleRanSeconds after it.
	StaleWrites     int     `json:"staleWrites,omitempty"`
	StaleAfterBack  int     `json:"staleAfterNodeBack,omitempty"`
	StaleRanSeconds float64 `json:"staleRanSecondsAfterNodeBack,omitempty"`
	// DidNotRecoverMinutes is the timeout, when a sample did not recover.
	DidNotRecoverMinutes float64 `json:"didNotRecoverWithinMinutes,omitempty"`
	Errors               int     `json:"errors,omitempty"`
	Stuck                bool    `json:"knownStuckTimeout,omitempty"`
	// Timeline of the slowest sample, for the table's last column.
	Slowest string `json:"slowest,omitempty"`
	// Phases of irisha's failovers over every instance, in order.
	Phases []phase `json:"phases,omitempty"`
}

// phase is when a step of the failover was seen, in seconds after the
// fault: median and slowest over every instance that reached it.
type phase struct {
	Label      string  `json:"label"`
	Instances  int     `json:"instances"`
	P50Seconds float64 `json:"p50Seconds"`
	MaxSeconds float64 `json:"maxSeconds"`
}

// phaseMilestones are irisha's failover steps worth a phase, in order; the
// last phase is the RTO itself.
var phaseMilestones = []struct{ key, label string }{
	{"FailoverStarted", "declared dead"},
	{string(fencing.ForceDeletePod), "pod force-deleted"},
	{observe.MilestoneVolumeAttached, "volume attached"},
	{observe.MilestoneVolumeReported, "reported to the kubelet"},
}

// phasesOf folds the instances' milestones and RTOs into phases; none when
// no instance was declared dead.
func phasesOf(instances []instanceResult) []phase {
	seconds := make([][]float64, len(phaseMilestones)+1)
	for _, i := range instances {
		for _, m := range i.Timeline {
			for k, pm := range phaseMilestones {
				if m.Key == pm.key {
					seconds[k] = append(seconds[k], m.Seconds)
				}
			}
		}
		if i.Recovered {
			seconds[len(phaseMilestones)] = append(seconds[len(phaseMilestones)], i.RTOSeconds)
		}
	}
	if len(seconds[0]) == 0 {
		return nil
	}
	var out []phase
	for k, ss := range seconds {
		label := "Ready (RTO)"
		if k < len(phaseMilestones) {
			label = phaseMilestones[k].label
		}
		p50, ok := stats.Percentile(ss, 50)
		if !ok {
			continue
		}
		mx, _ := stats.Percentile(ss, 100)
		out = append(out, phase{Label: label, Instances: len(ss), P50Seconds: p50, MaxSeconds: mx})
	}
	return out
}

// summarize folds the runs of each pair into a row.
func summarize(pairs []pair, runs []runResult) []summary {
	var out []summary
	for _, p := range pairs {
		s := summary{Setup: p.Setup, Scenario: p.Scenario, Instances: p.Instances, Stuck: p.Stuck}
		var samples []float64
		var all []instanceResult
		slowest, slowestRTO := "", -1.0
		for _, r := range runs {
			if r.Setup != p.Setup || r.Scenario != p.Scenario {
				continue
			}
			s.Runs++
			if r.Error != "" {
				s.Errors++
				continue
			}
			s.W1Observer += len(r.W1Violations)
			s.W1Journal += r.journalViolations()
			all = append(all, r.Instances...)
			for _, i := range r.Instances {
				s.Samples++
				s.StaleWrites += i.StaleWrites
				s.StaleAfterBack += i.StaleAfterBack
				s.StaleRanSeconds = max(s.StaleRanSeconds, i.StaleRanSeconds)
				rto := math.Inf(1)
				if i.Recovered {
					s.Recovered++
					rto = i.RTOSeconds
				} else {
					s.DidNotRecoverMinutes = p.Timeout.Minutes()
				}
				samples = append(samples, rto)
				if rto > slowestRTO {
					slowestRTO, slowest = rto, timelineCell(i, len(r.Instances) > 1)
				}
			}
		}
		s.P50Seconds = stats.FinitePercentile(samples, 50)
		s.P99Seconds = stats.FinitePercentile(samples, 99)
		s.MaxSeconds = stats.FinitePercentile(samples, 100)
		s.Slowest = slowest
		if isIrisha(p.Setup) {
			s.Phases = phasesOf(all)
		}
		out = append(out, s)
	}
	return out
}

// milestoneNodeBack: the frozen or partitioned node was thawed or healed.
const milestoneNodeBack = "NodeBack"

// shown are the milestones worth a column, with their labels.
var shown = map[string]string{
	"NodeNotReady":                  "node NotReady",
	"NodeNotSchedulable":            "node cordoned",
	"TaintManagerEviction":          "taint eviction",
	"FailoverStarted":               "irisha: pod declared dead",
	string(fencing.ForceDeletePod):  "pod force-deleted",
	"Fenced":                        "fenced",
	"PodTerminating":                "old pod Terminating",
	"Killing":                       "container stopped",
	"ReplacementCreated":            "replacement created",
	"FailedScheduling":              "FailedScheduling",
	"FailedAttachVolume":            "Multi-Attach (FailedAttachVolume)",
	observe.MilestoneVolumeAttached: "volume attached",
	observe.MilestoneVolumeReported: "volume reported to the kubelet",
	"Started":                       "container started",
	"BackOff":                       "back-off",
	milestoneNodeBack:               "node back (thawed/healed)",
}

// markdown renders the table.
func markdown(rows []summary, o options) string {
	var b strings.Builder
	fmt.Fprintf(&b, "Timings: %s. RTO = fault injected -> a pod of the instance Ready on a Ready node with its volume attached there; "+
		"**control-plane time** (simulated kubelet and storage act instantly). Percentiles: nearest rank over every instance of every run "+
		"(an instance that did not recover counts as infinite; with fewer than 100 samples p99 is the slowest). "+
		"Recovery cap: %s after the fault; the reference's known-stuck cases (marked ⏱) run once with a cap of %s.\n\n",
		o.timingsName(), minutes(o.timeout), minutes(min(o.stuckTimeout, o.timeout)))
	b.WriteString("| Setup | Scenario | Runs | Recovered | RTO p50 | RTO p99 | W1 violations | Did not recover | Slowest run (s after the fault) |\n")
	b.WriteString("|---|---|---|---|---|---|---|---|---|\n")
	for _, s := range rows {
		runs := fmt.Sprint(s.Runs)
		if s.Instances > 1 {
			runs = fmt.Sprintf("%d × %d instances", s.Runs, s.Instances)
		}
		if s.Stuck {
			runs += " ⏱"
		}
		if s.Errors > 0 {
			runs += fmt.Sprintf(" (%d failed to run)", s.Errors)
		}
		fmt.Fprintf(&b, "| %s | %s | %s | %d/%d | %s | %s | %s | %s | %s |\n",
			s.Setup, s.Scenario, runs, s.Recovered, s.Samples, secondsCell(s.P50Seconds, s), secondsCell(s.P99Seconds, s),
			w1Cell(s), notRecoveredCell(s), escape(s.Slowest))
	}
	writePhases(&b, rows)
	return b.String()
}

// writePhases adds the table of irisha's failover phases, if any row has
// them.
func writePhases(b *strings.Builder, rows []summary) {
	header := false
	for _, s := range rows {
		if len(s.Phases) == 0 {
			continue
		}
		if !header {
			b.WriteString("\nirisha's failovers step by step: seconds after the fault, median / slowest over every instance " +
				"(the steps are the operator's Events as the benchmark received them).\n\n")
			b.WriteString("| Setup | Scenario | Phases |\n|---|---|---|\n")
			header = true
		}
		var cells []string
		for _, ph := range s.Phases {
			cells = append(cells, fmt.Sprintf("%s %.1f / %.1f", ph.Label, ph.P50Seconds, ph.MaxSeconds))
		}
		fmt.Fprintf(b, "| %s | %s | %s |\n", s.Setup, s.Scenario, strings.Join(cells, " → "))
	}
}

func secondsCell(v *float64, s summary) string {
	switch {
	case s.Samples == 0:
		return "—"
	case v == nil:
		// Reached a sample that did not recover.
		return "> " + minutes(time.Duration(s.DidNotRecoverMinutes*float64(time.Minute)))
	}
	return fmt.Sprintf("%.1f s", *v)
}

func w1Cell(s summary) string {
	n := s.W1Observer + s.W1Journal
	if isReference(s.Setup) {
		return fmt.Sprint(n)
	}
	if n == 0 {
		return "0"
	}
	cell := fmt.Sprintf("**%d** (observer %d, journal %d", n, s.W1Observer, s.W1Journal)
	if s.StaleWrites > 0 {
		cell += fmt.Sprintf("; the old IRIS wrote %d entries after the takeover", s.StaleWrites)
		if s.StaleAfterBack > 0 {
			cell += fmt.Sprintf(", %d of them when its node came back, before its agent killed it (≤ %.1f ms after the resume)", s.StaleAfterBack, 1000*s.StaleRanSeconds)
		}
	}
	return cell + ")"
}

func notRecoveredCell(s summary) string {
	if s.Recovered == s.Samples {
		return ""
	}
	return fmt.Sprintf("**within %s** (%d/%d)", minutes(time.Duration(s.DidNotRecoverMinutes*float64(time.Minute))),
		s.Samples-s.Recovered, s.Samples)
}

func timelineCell(i instanceResult, multi bool) string {
	var parts []string
	if multi {
		parts = append(parts, i.Namespace+":")
	}
	var events []string
	for _, m := range i.Timeline {
		label, ok := shown[m.Key]
		if !ok {
			continue
		}
		events = append(events, fmt.Sprintf("%s +%.0f", label, m.Seconds))
	}
	parts = append(parts, strings.Join(events, ", "))
	s := strings.Join(parts, " ")
	if i.Recovered {
		s += fmt.Sprintf(", Ready +%.1f (%s → %s)", i.RTOSeconds, i.OldNode, i.NewNode)
	} else if i.State != "" {
		s += ". At the end: " + i.State
	}
	if i.AfterUndoSeconds > 0 {
		s += fmt.Sprintf(" (a pod was Ready only %.1f s after the node came back; not counted)", i.AfterUndoSeconds)
	}
	return s
}

func minutes(d time.Duration) string {
	if d%time.Minute == 0 {
		return fmt.Sprintf("%d min", int(d.Minutes()))
	}
	return d.String()
}

// escape keeps a cell on one table row.
func escape(s string) string {
	return strings.NewReplacer("|", `\|`, "\n", " ").Replace(s)
}
