package main

import (
	"strings"
	"testing"
	"time"
)

func f(v float64) *float64 { return &v }

func b(v bool) *bool { return &v }

// irishaRuns are three good irisha runs: frozen 0.1-0.3 s, cut inside the
// freeze, consistent.
func irishaRuns() []runResult {
	var out []runResult
	for i, frozen := range []float64{0.3, 0.1, 0.2} {
		out = append(out, runResult{Setup: setupIrisha, Run: i + 1, FrozenSeconds: f(frozen), CompletedSeconds: f(3 + frozen),
			CutSeconds: f(frozen - 0.05), Consistent: b(true)})
	}
	return out
}

func TestSummarize(t *testing.T) {
	runs := append(irishaRuns(),
		runResult{Setup: setupReference, Run: 1, FrozenSeconds: f(0.2), CompletedSeconds: f(3.2), CutSeconds: f(0.25), Consistent: b(false)},
		runResult{Setup: setupReference, Run: 2, FrozenSeconds: f(0.1), CompletedSeconds: f(3.1), CutSeconds: f(0.05), Consistent: b(true), LeftFrozen: true},
		// Freeze failed: no window, no snapshot, never completed.
		runResult{Setup: setupReference, Run: 3, Error: "ExternalFreeze: exit 3"},
		// Cut, but its copy could not be read.
		runResult{Setup: setupReference, Run: 4, FrozenSeconds: f(0.4), CompletedSeconds: f(3.4), CutSeconds: f(0.1), Error: "reading IRIS's state in the snapshot: x"},
	)
	rows := summarize(runs)
	if len(rows) != 2 || rows[0].Setup != setupIrisha || rows[1].Setup != setupReference {
		t.Fatalf("rows %+v, want irisha then reference", rows)
	}
	ir, ref := rows[0], rows[1]
	if ir.Runs != 3 || ir.Completed != 3 || ir.Freezes != 3 || *ir.FrozenP50 != 0.2 || *ir.FrozenP99 != 0.3 ||
		*ir.CompletedP50 != 3.2 || *ir.CompletedP99 != 3.3 || ir.Inconsistent != 0 || ir.LeftFrozen != 0 || len(ir.Errors) != 0 {
		t.Errorf("irisha row %+v", ir)
	}
	if *ir.CutAfterThawP50 > -0.0499 || *ir.CutAfterThawP50 < -0.0501 {
		t.Errorf("irisha cut after thaw p50 %v, want -0.05", *ir.CutAfterThawP50)
	}
	if ref.Runs != 4 || ref.Completed != 2 || ref.Freezes != 3 || *ref.FrozenP50 != 0.2 || *ref.FrozenP99 != 0.4 ||
		ref.Inconsistent != 1 || ref.Unchecked != 1 || ref.LeftFrozen != 1 || len(ref.Errors) != 2 {
		t.Errorf("reference row %+v", ref)
	}
	// Two of four never completed: the median is the slower completed
	// run, p99 is infinite.
	if ref.CompletedP50 == nil || *ref.CompletedP50 != 3.2 || ref.CompletedP99 != nil {
		t.Errorf("reference completion p50 %v p99 %v, want 3.2 and never", ref.CompletedP50, ref.CompletedP99)
	}
	if rows := summarize(irishaRuns()); len(rows) != 1 {
		t.Errorf("a setup without runs has a row: %+v", rows)
	}
}

func TestMarkdown(t *testing.T) {
	runs := append(irishaRuns(),
		runResult{Setup: setupReference, Run: 1, FrozenSeconds: f(0.2), CompletedSeconds: f(3.2), CutSeconds: f(0.25), Consistent: b(false)},
		runResult{Setup: setupReference, Run: 2, Error: "kubectl apply -f -: a | b"})
	md := markdown(summarize(runs), params{readyDelay: 3 * time.Second, wall: 90 * time.Second})
	if md := markdown(nil, params{cutDelay: 500 * time.Millisecond}); !strings.Contains(md, "cut 500ms after its content appears") {
		t.Errorf("the cut delay is not stated: %s", md)
	}
	for _, want := range []string{
		"Snapshotter: a snapshot is cut at once when its content appears, and ready to use 3s after the cut",
		"**Control-plane time**",
		"| Setup | Runs | Frozen window p50 | Frozen window p99 | Time to Completed p50 | Time to Completed p99 | Inconsistent snapshots | Freezes left frozen |",
		"| irisha | 3 | 0.200 s | 0.300 s | 3.20 s | 3.30 s | 0/3 | 0 |",
		"| reference | 2 (1 completed) | 0.200 s | 0.200 s | 3.20 s | never | 1/2 | 0 |",
		"irisha -0.050 s / -0.050 s; reference +0.050 s / +0.050 s.",
		`reference failed: 1 × kubectl apply -f -: a \| b`,
		"Goal (irisha): frozen window p99 ≤ 1 s (yes: 0.300 s), no inconsistent snapshot (yes: 0), every freeze thawed (yes: 0 left frozen), every backup Completed (yes: 3/3): **met**.",
		"Wall time 1m30s.",
	} {
		if !strings.Contains(md, want) {
			t.Errorf("the report lacks %q:\n%s", want, md)
		}
	}
}

func TestGoal(t *testing.T) {
	base := summarize(irishaRuns())[0]
	for _, tc := range []struct {
		name   string
		change func(*summary)
		want   string
	}{
		{"all good", func(*summary) {}, "**met**"},
		{"slow freeze", func(s *summary) { s.FrozenP99 = f(1.2) }, "(NO: 1.200 s)"},
		{"exactly 1 s", func(s *summary) { s.FrozenP99 = f(1) }, "**met**"},
		{"no freeze at all", func(s *summary) { s.FrozenP99, s.Freezes = nil, 0 }, "(NO: —)"},
		{"an inconsistent snapshot", func(s *summary) { s.Inconsistent = 1 }, "no inconsistent snapshot (NO: 1)"},
		{"an unread snapshot", func(s *summary) { s.Unchecked = 1 }, "no inconsistent snapshot (NO: 0)"},
		{"left frozen", func(s *summary) { s.LeftFrozen = 2 }, "(NO: 2 left frozen)"},
		{"a failed backup", func(s *summary) { s.Completed = 2 }, "(NO: 2/3)"},
	} {
		s := base
		tc.change(&s)
		got := goal(s)
		if !strings.Contains(got, tc.want) {
			t.Errorf("%s: %q lacks %q", tc.name, got, tc.want)
		}
		if met := strings.HasSuffix(got, "**met**."); met != (tc.want == "**met**") {
			t.Errorf("%s: verdict %q", tc.name, got)
		}
	}
}

func TestProgressLine(t *testing.T) {
	r := runResult{Setup: setupReference, Run: 7, FrozenSeconds: f(0.1234), CompletedSeconds: f(3.21), CutSeconds: f(0.15), Consistent: b(false)}
	got := progressLine(13, 100, r, 95*time.Second+400*time.Millisecond)
	want := "[ 13/100] reference run  7: frozen 0.123 s, Completed in 3.21 s, cut +0.150 s after the freeze, snapshot INCONSISTENT (cut while thawed); ETA 1m35s"
	if got != want {
		t.Errorf("progress line\n%q, want\n%q", got, want)
	}
	r = runResult{Setup: setupIrisha, Run: 1, Error: "FreezeFailed: x", LeftFrozen: true}
	if got := progressLine(1, 2, r, time.Second); !strings.Contains(got, "not frozen, IRIS LEFT FROZEN, failed: FreezeFailed: x") {
		t.Errorf("failed run: %q", got)
	}
}

func TestETA(t *testing.T) {
	for _, tc := range []struct {
		elapsed     time.Duration
		done, total int
		want        time.Duration
	}{
		{10 * time.Second, 2, 10, 40 * time.Second},
		{10 * time.Second, 10, 10, 0},
		{0, 0, 10, 0},
	} {
		if got := eta(tc.elapsed, tc.done, tc.total); got != tc.want {
			t.Errorf("eta(%s, %d, %d) = %s, want %s", tc.elapsed, tc.done, tc.total, got, tc.want)
		}
	}
}
