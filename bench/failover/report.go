package main

import (
	"fmt"
	"strings"
	"time"
)

// report is the JSON output.
type report struct {
	Timings string   `json:"timings"`
	Timeout string   `json:"timeout"`
	Results []result `json:"results"`
}

// result of one scenario on one setup. RTOs are control-plane time: what
// the real controllers took, with instant simulated attach and container
// start.
type result struct {
	Setup          string      `json:"setup"`
	Scenario       string      `json:"scenario"`
	Recovered      bool        `json:"recovered"`
	OldNode        string      `json:"oldNode,omitempty"`
	NewNode        string      `json:"newNode,omitempty"`
	RTOSeconds     float64     `json:"rtoSeconds,omitempty"`
	TimeoutMinutes float64     `json:"didNotRecoverWithinMinutes,omitempty"`
	Timeline       []milestone `json:"timeline,omitempty"`
	State          string      `json:"finalState,omitempty"`
	W1Violations   []string    `json:"w1Violations,omitempty"`
	Error          string      `json:"error,omitempty"`
}

// milestone: the first time something happened, in seconds after the fault.
type milestone struct {
	Key     string  `json:"key"`
	Seconds float64 `json:"seconds"`
	Detail  string  `json:"detail,omitempty"`
}

// shown are the milestones worth a column, with their labels.
var shown = map[string]string{
	"NodeNotReady":           "node NotReady",
	"NodeNotSchedulable":     "node cordoned",
	"TaintManagerEviction":   "taint eviction",
	"PodTerminating":         "old pod Terminating",
	"Killing":                "container stopped",
	"ReplacementCreated":     "replacement created",
	"FailedScheduling":       "FailedScheduling",
	"FailedAttachVolume":     "Multi-Attach (FailedAttachVolume)",
	"SuccessfulAttachVolume": "volume attached",
	"Started":                "container started",
}

// markdown renders the results table.
func markdown(results []result, timings string, timeout time.Duration) string {
	var b strings.Builder
	fmt.Fprintf(&b, "Timings: %s. RTO = fault injected -> a pod of the app Ready on a Ready node with its volume attached there; **control-plane time** (simulated kubelet and storage act instantly).\n\n", timings)
	b.WriteString("| Setup | Scenario | RTO (control-plane time) | Pod moved | W1 violations | What happened (s after the fault) |\n")
	b.WriteString("|---|---|---|---|---|---|\n")
	for _, r := range results {
		fmt.Fprintf(&b, "| %s | %s | %s | %s | %s | %s |\n",
			r.Setup, r.Scenario, rtoCell(r, timeout), movedCell(r), w1Cell(r), escape(timelineCell(r)))
	}
	return b.String()
}

func rtoCell(r result, timeout time.Duration) string {
	switch {
	case r.Error != "":
		return "error: " + escape(r.Error)
	case r.Recovered:
		return fmt.Sprintf("%.1f s", r.RTOSeconds)
	default:
		return fmt.Sprintf("**did not recover within %s**", minutes(timeout))
	}
}

func movedCell(r result) string {
	switch {
	case r.OldNode == "":
		return ""
	case r.NewNode == "":
		return r.OldNode + " → (none)"
	case r.NewNode == r.OldNode:
		return r.OldNode + " → same node"
	default:
		return r.OldNode + " → " + r.NewNode
	}
}

func w1Cell(r result) string {
	if len(r.W1Violations) == 0 {
		return "none"
	}
	return escape(strings.Join(r.W1Violations, "; "))
}

func timelineCell(r result) string {
	var parts []string
	for _, m := range r.Timeline {
		label, ok := shown[m.Key]
		if !ok {
			continue
		}
		parts = append(parts, fmt.Sprintf("%s +%.0f", label, m.Seconds))
	}
	s := strings.Join(parts, ", ")
	if !r.Recovered && r.State != "" {
		s += ". At the end: " + r.State
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
