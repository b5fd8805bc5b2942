package main

import (
	"fmt"
	"math"
	"strings"
	"time"

	"github.com/irisha/irisha/bench/internal/stats"
)

// Goals of issue 15: RSS at most 150 MiB, and the last instance Ready
// within 2 s of its creation being seen.
const (
	goalRSSMiB   = 150
	goalLastSecs = 2
)

// samples are the latencies, a not-Ready instance as +Inf.
func (r runResult) samples() []float64 {
	out := make([]float64, len(r.Latencies))
	for i, l := range r.Latencies {
		out[i] = math.Inf(1)
		if l != nil {
			out[i] = *l
		}
	}
	return out
}

func seconds(v float64, ok bool) string {
	if !ok {
		return "-"
	}
	if math.IsInf(v, 1) {
		return "not Ready"
	}
	return fmt.Sprintf("%.2f s", v)
}

func (r runResult) percentile(p float64) string {
	return seconds(stats.Percentile(r.samples(), p))
}

func (r runResult) last() string {
	s := r.samples()
	if len(s) == 0 {
		return "-"
	}
	return seconds(s[len(s)-1], true)
}

func (r runResult) maxLatency() string {
	s := r.samples()
	if len(s) == 0 {
		return "-"
	}
	m := s[0]
	for _, v := range s {
		m = max(m, v)
	}
	return seconds(m, true)
}

// met says whether the run meets both goals.
func (r runResult) met() bool {
	s := r.samples()
	return len(s) > 0 && r.RSSPeakMiB <= goalRSSMiB && s[len(s)-1] <= goalLastSecs
}

// line is the run's progress line.
func (r runResult) line() string {
	return fmt.Sprintf("%s run %d: RSS synced %.0f MiB, end %.0f MiB, peak %.0f MiB; latency p50 %s, p99 %s, last %s; operator CPU %.1f s; wall %.0f s",
		r.Setup, r.Run, r.RSSSyncedMiB, r.RSSEndMiB, r.RSSPeakMiB, r.percentile(50), r.percentile(99), r.last(), r.CPUSeconds, r.Wall)
}

// markdown is the table of every run.
func markdown(runs []runResult, o options, wall time.Duration) string {
	var b strings.Builder
	pods := "virtual"
	if o.agents {
		pods = "the real agent over the fake IRIS"
	}
	fmt.Fprintf(&b, "%d nodes; the instances' pods: %s; unrelated pods: virtual containers, bound to the nodes. Control-plane time.\n\n", o.nodes, pods)
	b.WriteString("| Setup | Run | Instances | Unrelated pods | Unrelated Secrets | RSS after sync | RSS end | RSS peak | Latency p50 | Latency p99 | Slowest | Last instance | Operator CPU | Goal |\n")
	b.WriteString("|---|---|---|---|---|---|---|---|---|---|---|---|---|---|\n")
	for _, r := range runs {
		goal := "not met"
		if r.met() {
			goal = "met"
		}
		fmt.Fprintf(&b, "| %s | %d | %d | %d | %d (%.1f MiB of data) | %.0f MiB | %.0f MiB | %.0f MiB | %s | %s | %s | %s | %.1f s | %s |\n",
			r.Setup, r.Run, r.Instances, r.Pods, r.Secrets, float64(r.SecretBytes)/(1<<20), r.RSSSyncedMiB, r.RSSEndMiB, r.RSSPeakMiB,
			r.percentile(50), r.percentile(99), r.maxLatency(), r.last(), r.CPUSeconds, goal)
	}
	fmt.Fprintf(&b, "\nLatency: the instance's ADDED watch event to the event showing Ready=True, both as the benchmark read them; each instance is created once the previous one is Ready. Goal: RSS peak <= %d MiB and the last instance Ready within %d s. Wall time %s.\n",
		goalRSSMiB, goalLastSecs, wall.Round(time.Second))
	return b.String()
}
