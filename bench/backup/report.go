package main

import (
	"fmt"
	"math"
	"sort"
	"strings"
	"time"

	"github.com/irisha/irisha/bench/internal/stats"
)

// The two setups, in table order.
const (
	setupIrisha    = "irisha"
	setupReference = "reference"
)

var setups = []string{setupIrisha, setupReference}

// goalFrozenSeconds is irisha's goal for the frozen window's p99: "well
// under a second" (README.md, "Backups, restore and growth").
const goalFrozenSeconds = 1.0

// runResult is one backup.
type runResult struct {
	Setup string `json:"setup"`
	// Run counts from 1 within the setup.
	Run int `json:"run"`
	// FrozenSeconds is the freeze acknowledged -> the thaw acknowledged;
	// nil when IRIS was not frozen, or its thaw was never acknowledged.
	FrozenSeconds *float64 `json:"frozenSeconds,omitempty"`
	// CompletedSeconds is the start -> the snapshot usable (irisha: phase
	// Completed; the reference: readyToUse); nil when it never was.
	CompletedSeconds *float64 `json:"completedSeconds,omitempty"`
	// CutSeconds is when the snapshot was cut (its content's creationTime)
	// after the freeze was acknowledged; nil when none was cut.
	CutSeconds *float64 `json:"cutSeconds,omitempty"`
	// Consistent: the snapshot's copy of the volume has IRIS frozen; nil
	// when no snapshot was cut (or it could not be read).
	Consistent *bool `json:"consistent,omitempty"`
	// LeftFrozen: IRIS was still frozen when the run ended.
	LeftFrozen bool `json:"leftFrozen,omitempty"`
	// Error says why the run did not complete.
	Error string `json:"error,omitempty"`
}

// completed says whether the run ended with a usable snapshot.
func (r runResult) completed() bool { return r.CompletedSeconds != nil && r.Error == "" }

// cutAfterThaw is the cut minus the thaw acknowledged: negative when the
// snapshot was cut before IRIS was thawed.
func (r runResult) cutAfterThaw() (float64, bool) {
	if r.CutSeconds == nil || r.FrozenSeconds == nil {
		return 0, false
	}
	return *r.CutSeconds - *r.FrozenSeconds, true
}

// summary is a setup's row.
type summary struct {
	Setup     string `json:"setup"`
	Runs      int    `json:"runs"`
	Completed int    `json:"completed"`
	// Freezes is the runs with a frozen window, the samples of its
	// percentiles.
	Freezes         int      `json:"freezes"`
	FrozenP50       *float64 `json:"frozenP50Seconds,omitempty"`
	FrozenP99       *float64 `json:"frozenP99Seconds,omitempty"`
	CompletedP50    *float64 `json:"completedP50Seconds,omitempty"`
	CompletedP99    *float64 `json:"completedP99Seconds,omitempty"`
	CutAfterThawP50 *float64 `json:"cutAfterThawP50Seconds,omitempty"`
	CutAfterThawMax *float64 `json:"cutAfterThawMaxSeconds,omitempty"`
	// Inconsistent counts the snapshots cut while IRIS was thawed.
	Inconsistent int `json:"inconsistent"`
	// Unchecked counts the cut snapshots whose copy could not be read.
	Unchecked  int `json:"unchecked,omitempty"`
	LeftFrozen int `json:"leftFrozen"`
	// Errors are the distinct reasons runs failed, with their counts.
	Errors []string `json:"errors,omitempty"`
}

// summarize folds the runs into a row per setup, in table order. A run
// that never completed counts as infinitely slow in the time to Completed.
func summarize(runs []runResult) []summary {
	var out []summary
	for _, setup := range setups {
		s := summary{Setup: setup}
		var frozen, completed, cutAfterThaw []float64
		errs := map[string]int{}
		for _, r := range runs {
			if r.Setup != setup {
				continue
			}
			s.Runs++
			if r.FrozenSeconds != nil {
				frozen = append(frozen, *r.FrozenSeconds)
			}
			if r.completed() {
				s.Completed++
				completed = append(completed, *r.CompletedSeconds)
			} else {
				completed = append(completed, math.Inf(1))
			}
			if d, ok := r.cutAfterThaw(); ok {
				cutAfterThaw = append(cutAfterThaw, d)
			}
			switch {
			case r.Consistent != nil && !*r.Consistent:
				s.Inconsistent++
			case r.Consistent == nil && r.CutSeconds != nil:
				s.Unchecked++
			}
			if r.LeftFrozen {
				s.LeftFrozen++
			}
			if r.Error != "" {
				errs[r.Error]++
			}
		}
		if s.Runs == 0 {
			continue
		}
		s.Freezes = len(frozen)
		s.FrozenP50 = stats.FinitePercentile(frozen, 50)
		s.FrozenP99 = stats.FinitePercentile(frozen, 99)
		s.CompletedP50 = stats.FinitePercentile(completed, 50)
		s.CompletedP99 = stats.FinitePercentile(completed, 99)
		s.CutAfterThawP50 = stats.FinitePercentile(cutAfterThaw, 50)
		s.CutAfterThawMax = stats.FinitePercentile(cutAfterThaw, 100)
		for e, n := range errs {
			s.Errors = append(s.Errors, fmt.Sprintf("%d × %s", n, e))
		}
		sort.Strings(s.Errors)
		out = append(out, s)
	}
	return out
}

// params are what the table's preamble states.
type params struct {
	readyDelay time.Duration
	cutDelay   time.Duration
	wall       time.Duration
}

// markdown renders the table, the cut's timing and irisha's goal.
func markdown(rows []summary, p params) string {
	var b strings.Builder
	cut := "at once when its content appears"
	if p.cutDelay > 0 {
		cut = fmt.Sprintf("%s after its content appears (the CSI driver's CreateSnapshot)", p.cutDelay)
	}
	fmt.Fprintf(&b, "Snapshotter: a snapshot is cut %s, and ready to use %s after the cut (its creationTime), as Longhorn's `bak` type uploads. "+
		"Kubernetes' default timings. **Control-plane time** (the simulated kubelet and storage act at once; the fake IRIS freezes and thaws in milliseconds). "+
		"Frozen window = the freeze acknowledged -> the thaw acknowledged, as the caller of `iris` saw them "+
		"(irisha: the agent's status.frozenAt -> status.thawedAt; the reference: the script's clock at the same two points). "+
		"Time to Completed = irisha: the IrisBackup created -> phase Completed; the reference: the script started -> the VolumeSnapshot readyToUse "+
		"(both as the benchmark's watch saw them). Inconsistent = the snapshot's copy of the volume has IRIS thawed. "+
		"Percentiles: nearest rank (with fewer than 100 samples p99 is the largest); a run that never completed counts as infinite.\n\n",
		cut, p.readyDelay)
	b.WriteString("| Setup | Runs | Frozen window p50 | Frozen window p99 | Time to Completed p50 | Time to Completed p99 | Inconsistent snapshots | Freezes left frozen |\n")
	b.WriteString("|---|---|---|---|---|---|---|---|\n")
	for _, s := range rows {
		runs := fmt.Sprint(s.Runs)
		if s.Completed < s.Runs {
			runs += fmt.Sprintf(" (%d completed)", s.Completed)
		}
		inconsistent := fmt.Sprintf("%d/%d", s.Inconsistent, s.Runs)
		if s.Unchecked > 0 {
			inconsistent += fmt.Sprintf(" (%d unread)", s.Unchecked)
		}
		fmt.Fprintf(&b, "| %s | %s | %s | %s | %s | %s | %s | %d |\n", s.Setup, runs,
			seconds(s.FrozenP50, s.Freezes, 3), seconds(s.FrozenP99, s.Freezes, 3),
			seconds(s.CompletedP50, s.Runs, 2), seconds(s.CompletedP99, s.Runs, 2),
			inconsistent, s.LeftFrozen)
	}
	b.WriteString("\nThe cut after the thaw was acknowledged (negative: before it, IRIS still frozen), p50 / latest:")
	for i, s := range rows {
		if i > 0 {
			b.WriteString(";")
		}
		fmt.Fprintf(&b, " %s %s / %s", s.Setup, signed(s.CutAfterThawP50), signed(s.CutAfterThawMax))
	}
	b.WriteString(".\n")
	for _, s := range rows {
		for _, e := range s.Errors {
			fmt.Fprintf(&b, "\n%s failed: %s", s.Setup, escape(e))
		}
	}
	for _, s := range rows {
		if s.Setup == setupIrisha {
			fmt.Fprintf(&b, "\n%s\n", goal(s))
		}
	}
	if p.wall > 0 {
		fmt.Fprintf(&b, "\nWall time %s.\n", p.wall.Round(time.Second))
	}
	return b.String()
}

// goal reports irisha's row against its goal: frozen window p99 at most
// 1 s, no inconsistent snapshot, every freeze thawed, every backup done.
func goal(s summary) string {
	frozenMet := s.FrozenP99 != nil && *s.FrozenP99 <= goalFrozenSeconds
	consistentMet := s.Inconsistent == 0 && s.Unchecked == 0
	thawedMet := s.LeftFrozen == 0
	completedMet := s.Completed == s.Runs
	verdict := "**met**"
	if !frozenMet || !consistentMet || !thawedMet || !completedMet {
		verdict = "**not met**"
	}
	return fmt.Sprintf("Goal (irisha): frozen window p99 ≤ %.0f s (%s: %s), no inconsistent snapshot (%s: %d), every freeze thawed (%s: %d left frozen), "+
		"every backup Completed (%s: %d/%d): %s.", goalFrozenSeconds,
		mark(frozenMet), seconds(s.FrozenP99, s.Freezes, 3), mark(consistentMet), s.Inconsistent,
		mark(thawedMet), s.LeftFrozen, mark(completedMet), s.Completed, s.Runs, verdict)
}

func mark(ok bool) string {
	if ok {
		return "yes"
	}
	return "NO"
}

// seconds is a percentile's cell: "—" without samples, "never" when it
// reaches a run that never got there.
func seconds(v *float64, samples, digits int) string {
	switch {
	case samples == 0:
		return "—"
	case v == nil:
		return "never"
	}
	return fmt.Sprintf("%.*f s", digits, *v)
}

func signed(v *float64) string {
	if v == nil {
		return "—"
	}
	return fmt.Sprintf("%+.3f s", *v)
}

func escape(s string) string { return strings.ReplaceAll(s, "|", `\|`) }

// progressLine is the stderr line after a run: what it measured and the
// estimated time left.
func progressLine(done, total int, r runResult, eta time.Duration) string {
	var parts []string
	if r.FrozenSeconds != nil {
		parts = append(parts, fmt.Sprintf("frozen %.3f s", *r.FrozenSeconds))
	} else {
		parts = append(parts, "not frozen")
	}
	if r.completed() {
		parts = append(parts, fmt.Sprintf("Completed in %.2f s", *r.CompletedSeconds))
	}
	if r.CutSeconds != nil {
		parts = append(parts, fmt.Sprintf("cut %+.3f s after the freeze", *r.CutSeconds))
	}
	switch {
	case r.Consistent == nil:
	case *r.Consistent:
		parts = append(parts, "snapshot consistent")
	default:
		parts = append(parts, "snapshot INCONSISTENT (cut while thawed)")
	}
	if r.LeftFrozen {
		parts = append(parts, "IRIS LEFT FROZEN")
	}
	if r.Error != "" {
		parts = append(parts, "failed: "+r.Error)
	}
	return fmt.Sprintf("[%3d/%d] %-9s run %2d: %s; ETA %s", done, total, r.Setup, r.Run, strings.Join(parts, ", "), eta.Round(time.Second))
}

// eta extrapolates the time left from the mean run so far.
func eta(elapsed time.Duration, done, total int) time.Duration {
	if done <= 0 || done >= total {
		return 0
	}
	return elapsed / time.Duration(done) * time.Duration(total-done)
}
