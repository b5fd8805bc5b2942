package main

import (
	"strings"
	"testing"
	"time"
)

func TestMarkdown(t *testing.T) {
	out := markdown([]result{
		{Setup: "longhorn", Scenario: "pod-delete", Recovered: true, RTOSeconds: 1.26, OldNode: "node-1", NewNode: "node-2",
			Timeline: []milestone{{Key: "ReplacementCreated", Seconds: 0.1}, {Key: "Scheduled", Seconds: 0.2}, {Key: "Started", Seconds: 1.2}}},
		{Setup: "longhorn", Scenario: "node-kill", TimeoutMinutes: 15,
			Timeline: []milestone{{Key: "NodeNotReady", Seconds: 52}, {Key: "FailedAttachVolume", Seconds: 353}},
			State:    "old pod Terminating on node-1; replacement ContainerCreating on node-2 (a|b)"},
	}, "Kubernetes defaults", 15*time.Minute)
	for _, want := range []string{
		"control-plane time",
		"| longhorn | pod-delete | 1.3 s | node-1 → node-2 | none | replacement created +0, container started +1 |",
		"**did not recover within 15 min**",
		"node NotReady +52, Multi-Attach (FailedAttachVolume) +353. At the end: old pod Terminating on node-1",
		`(a\|b)`,
	} {
		if !strings.Contains(out, want) {
			t.Errorf("missing %q in\n%s", want, out)
		}
	}
}

func TestValidate(t *testing.T) {
	o := options{setups: []string{"longhorn"}, scenarios: []string{"reboot"}, parallel: 1, nodes: 3}
	if o.validate() == nil {
		t.Fatal("unknown scenario accepted")
	}
	o.scenarios = allScenarios
	if err := o.validate(); err != nil {
		t.Fatal(err)
	}
}
