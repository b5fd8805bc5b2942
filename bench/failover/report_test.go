package main

import (
	"strings"
	"testing"
	"time"
)

func testOptions() options {
	return options{
		setups: allSetups, scenarios: allScenarios, parallel: 6, nodes: 3, keep: keepAnomalies,
		planOptions: planOptions{runs: 20, otherRuns: 3, timeout: 15 * time.Minute, stuckTimeout: 7 * time.Minute},
	}
}

func TestSummarizeAndMarkdown(t *testing.T) {
	o := testOptions()
	pairs := []pair{
		{Setup: setupLonghorn, Scenario: nodeKill, Runs: 1, Instances: 1, Timeout: 7 * time.Minute, Stuck: true},
		{Setup: setupIrisha, Scenario: nodeKill, Runs: 3, Instances: 1, Timeout: 15 * time.Minute},
		{Setup: setupIrisha, Scenario: nodeKillX10, Runs: 1, Instances: 2, Timeout: 15 * time.Minute},
	}
	runs := []runResult{
		{Setup: setupLonghorn, Scenario: nodeKill, Run: 1, Instances: []instanceResult{{
			Namespace: "bench-1", OldNode: "node-1",
			Timeline: []milestone{{Key: "NodeNotReady", Seconds: 52}, {Key: "FailedAttachVolume", Seconds: 353}},
			State:    "old pod Terminating on node-1; replacement ContainerCreating on node-2 (a|b)",
		}}},
		{Setup: setupIrisha, Scenario: nodeKill, Run: 1, Instances: []instanceResult{{Recovered: true, RTOSeconds: 14.2, OldNode: "node-1", NewNode: "node-2"}}},
		{Setup: setupIrisha, Scenario: nodeKill, Run: 2, Instances: []instanceResult{{Recovered: true, RTOSeconds: 12.0, OldNode: "node-2", NewNode: "node-3",
			Timeline: []milestone{{Key: "FailoverStarted", Seconds: 12.2}, {Key: "ForceDeletePod", Seconds: 12.3}, {Key: "VolumeAttached", Seconds: 12.9}, {Key: "Scheduled", Seconds: 12.4}}}}},
		{Setup: setupIrisha, Scenario: nodeKill, Run: 3, Instances: []instanceResult{{Recovered: true, RTOSeconds: 16.1, OldNode: "node-3", NewNode: "node-1",
			JournalViolations: []string{"two writers", "old IRIS wrote"}, StaleWrites: 2, StaleAfterBack: 1, StaleRanSeconds: 0.0004}},
			W1Violations: []string{"TwoPodsRunning bench-1/x"}},
		{Setup: setupIrisha, Scenario: nodeKillX10, Run: 1, Instances: []instanceResult{
			{Namespace: "bench-1", Recovered: true, RTOSeconds: 13}, {Namespace: "bench-2", Recovered: true, RTOSeconds: 18}}},
	}
	rows := summarize(pairs, runs)
	if len(rows) != 3 {
		t.Fatalf("%d rows", len(rows))
	}
	ik := rows[1]
	if ik.Runs != 3 || ik.Samples != 3 || ik.Recovered != 3 || *ik.P50Seconds != 14.2 || *ik.P99Seconds != 16.1 ||
		ik.W1Observer != 1 || ik.W1Journal != 1 {
		t.Fatalf("irisha node-kill row %+v", ik)
	}
	if ref := rows[0]; ref.P50Seconds != nil || ref.DidNotRecoverMinutes != 7 || ref.Recovered != 0 {
		t.Fatalf("reference row %+v", ref)
	}
	out := markdown(rows, o)
	for _, want := range []string{
		"control-plane time",
		"nearest rank",
		"| longhorn | node-kill | 1 ⏱ | 0/1 | > 7 min | > 7 min | 0 | **within 7 min** (1/1) | node NotReady +52, Multi-Attach (FailedAttachVolume) +353. At the end: old pod Terminating on node-1",
		`(a\|b)`,
		"| irisha | node-kill | 3 | 3/3 | 14.2 s | 16.1 s | **2** (observer 1, journal 1; the old IRIS wrote 2 entries after the takeover, 1 of them when its node came back, before its agent killed it (≤ 0.4 ms after the resume)) |  | , Ready +16.1 (node-3 → node-1) |",
		"| irisha | node-kill-x10 | 1 × 2 instances | 2/2 | 13.0 s | 18.0 s | 0 |  | bench-2: , Ready +18.0",
		"cap of 7 min",
		"| irisha | node-kill | declared dead 12.2 / 12.2 → pod force-deleted 12.3 / 12.3 → volume attached 12.9 / 12.9 → Ready (RTO) 14.2 / 16.1 |",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("missing %q in\n%s", want, out)
		}
	}
}

func TestAnomalous(t *testing.T) {
	ok := runResult{Setup: setupIrisha, Scenario: nodeKill, Instances: []instanceResult{{Recovered: true, RTOSeconds: 14}}}
	if ok.anomalous() {
		t.Fatal("a clean run within the goal is anomalous")
	}
	slow := ok
	slow.Instances = []instanceResult{{Recovered: true, RTOSeconds: 15.5}}
	if !slow.anomalous() {
		t.Fatal("an irisha node-kill over 15 s is not anomalous")
	}
	x30 := runResult{Setup: setupIrisha, Scenario: nodeKillX30, Instances: []instanceResult{{Recovered: true, RTOSeconds: 19}}}
	if x30.anomalous() {
		t.Fatal("x30 within 20 s is anomalous")
	}
	ref := runResult{Setup: setupLonghorn, Scenario: nodeKill, Instances: []instanceResult{{Recovered: true, RTOSeconds: 700}}}
	if ref.anomalous() {
		t.Fatal("a slow reference run is anomalous")
	}
}

func TestValidate(t *testing.T) {
	o := testOptions()
	if err := o.validate(); err != nil {
		t.Fatal(err)
	}
	o.scenarios = []string{"reboot"}
	if o.validate() == nil {
		t.Fatal("unknown scenario accepted")
	}
	o = testOptions()
	o.setups = []string{"ceph"}
	if o.validate() == nil {
		t.Fatal("unknown setup accepted")
	}
	o = testOptions()
	o.keep = "some"
	if o.validate() == nil {
		t.Fatal("unknown -keep accepted")
	}
	o = testOptions()
	o.audit, o.keep = true, keepAnomalies
	if o.validate() == nil {
		t.Fatal("-audit accepted without -keep all: its log would be deleted")
	}
	o.keep = keepAll
	if err := o.validate(); err != nil {
		t.Fatalf("-audit -keep all: %v", err)
	}
}

func TestReferenceNotRecoveringIsNoAnomaly(t *testing.T) {
	r := runResult{Setup: setupLonghorn, Scenario: nodeKill, Instances: []instanceResult{{}}}
	if r.anomalous() {
		t.Fatal("the reference's known non-recovery keeps its logs")
	}
	r.W1Violations = []string{"x"}
	if !r.anomalous() {
		t.Fatal("a reference W1 violation drops its logs")
	}
	i := runResult{Setup: setupIrisha, Scenario: podDelete, Instances: []instanceResult{{}}}
	if !i.anomalous() {
		t.Fatal("irisha not recovering drops its logs")
	}
}
