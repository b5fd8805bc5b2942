package main

import (
	"slices"
	"testing"
	"time"

	"github.com/irisha/irisha/internal/iris/fakeiris"
)

func TestPlan(t *testing.T) {
	o := testOptions()
	pairs := plan(o.setups, o.scenarios, o.planOptions)
	find := func(setup, scenario string) *pair {
		for i := range pairs {
			if pairs[i].Setup == setup && pairs[i].Scenario == scenario {
				return &pairs[i]
			}
		}
		return nil
	}
	if find(setupIrisha, nodeKillForceDelete) != nil {
		t.Fatal("irisha runs the reference's manual force delete")
	}
	if p := find(setupIrisha, nodeKill); p == nil || p.Runs < 20 || p.Timeout != 15*time.Minute {
		t.Fatalf("irisha node-kill: %+v, want >= 20 runs by default", p)
	}
	if p := find(setupIrisha, nodeKillX30); p == nil || p.Instances != 30 || p.Runs != 3 {
		t.Fatalf("irisha x30: %+v", p)
	}
	if p := find(setupLonghorn, nodeKill); p == nil || !p.Stuck || p.Runs != 1 || p.Timeout != 7*time.Minute {
		t.Fatalf("longhorn node-kill: %+v", p)
	}
	if p := find(setupLonghorn, nodeKillForceDelete); p == nil || p.Stuck || p.Runs != 1 || p.Timeout != 15*time.Minute {
		t.Fatalf("longhorn force delete recovers after ~12 min: %+v", p)
	}
	if p := find(setupLocal, drain); p == nil || !p.Stuck {
		t.Fatalf("local-disk drain: %+v", p)
	}
	if p := find(setupLonghorn, drain); p == nil || p.Stuck || p.Runs != 3 {
		t.Fatalf("longhorn drain: %+v", p)
	}
	var shutdown []string
	for _, p := range pairs {
		if p.Setup == setupIrishaShutdown {
			shutdown = append(shutdown, p.Scenario)
		}
	}
	if want := []string{nodeKill, nodeFreeze, nodePartition}; !slices.Equal(shutdown, want) {
		t.Fatalf("irisha in mode NodeShutdown runs %v, want the single-node losses %v", shutdown, want)
	}
	// Table order: setups, then scenarios.
	if pairs[0].Setup != setupLonghorn || pairs[0].Scenario != podDelete || pairs[len(pairs)-1].Setup != setupIrishaShutdown {
		t.Fatalf("order: first %+v last %+v", pairs[0], pairs[len(pairs)-1])
	}
	// -runs 1 (smoke test): one run of everything.
	o.runs = 1
	for _, p := range plan(o.setups, o.scenarios, o.planOptions) {
		if p.Runs != 1 {
			t.Fatalf("-runs 1: %+v", p)
		}
	}
}

func TestJobsLongestFirst(t *testing.T) {
	pairs := []pair{
		{Setup: setupIrisha, Scenario: podDelete, Runs: 2, Instances: 1, Timeout: time.Minute},
		{Setup: setupLonghorn, Scenario: nodeKill, Runs: 1, Instances: 1, Timeout: 7 * time.Minute, Stuck: true},
		{Setup: setupIrisha, Scenario: nodeKillX30, Runs: 1, Instances: 30, Timeout: time.Minute},
	}
	js := jobs(pairs)
	if len(js) != 4 {
		t.Fatalf("%d jobs", len(js))
	}
	if js[0].pair.Scenario != nodeKill || js[1].pair.Scenario != nodeKillX30 || js[2].run != 1 || js[3].run != 2 {
		t.Fatalf("order %+v", js)
	}
}

func TestStaleWrites(t *testing.T) {
	at := func(s float64) time.Time { return time.Unix(1000, 0).Add(time.Duration(s * float64(time.Second))) }
	e := func(seq int64, pid int, s float64) fakeiris.JournalEntry {
		return fakeiris.JournalEntry{Seq: seq, PID: pid, At: at(s)}
	}
	clean := []fakeiris.JournalEntry{e(1, 10, 0), e(2, 10, 0.1), e(3, 20, 5), e(4, 20, 5.1)}
	if st := staleWrites(clean, 10, at(30)); st.n != 0 || !st.newStart.Equal(at(5)) {
		t.Fatalf("clean handover: %+v", st)
	}
	// The frozen old IRIS resumes at 30 s and writes twice before its
	// agent kills it; one earlier late write (a partition) is not "after
	// the node was back".
	dirty := append(append([]fakeiris.JournalEntry(nil), clean...), e(3, 10, 5.2), e(5, 20, 5.3), e(4, 10, 30.0001), e(5, 10, 30.0004))
	st := staleWrites(dirty, 10, at(30))
	if st.n != 3 || st.afterBack != 2 || st.ranFor.Round(10*time.Microsecond) != 400*time.Microsecond || !st.newStart.Equal(at(5)) {
		t.Fatalf("stale writes %+v", st)
	}
	if st := staleWrites(dirty, 10, time.Time{}); st.n != 3 || st.afterBack != 0 {
		t.Fatalf("node never back: %+v", st)
	}
	if st := staleWrites(dirty, 0, at(30)); st.n != 0 {
		t.Fatal("no old writer known, yet stale writes")
	}
	if st := staleWrites([]fakeiris.JournalEntry{e(1, 10, 0), e(2, 10, 1)}, 10, at(30)); st.n != 0 {
		t.Fatal("no new writer, yet stale writes")
	}
	// A third writer after the new one does not make the new one stale.
	if st := staleWrites(append(clean, e(5, 30, 6)), 20, at(30)); st.n != 0 {
		t.Fatal("a later hand-over counted against the previous writer")
	}
}
