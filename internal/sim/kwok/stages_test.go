package kwok

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"text/template"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/yaml"

	"github.com/irisha/irisha/internal/testbin"
)

// stage is the part of a kwok Stage the tests read.
type stage struct {
	Metadata struct{ Name string }
	Spec     struct {
		Delay struct {
			DurationMilliseconds       int64
			JitterDurationMilliseconds int64
		}
		Next struct{ StatusTemplate string }
	}
}

func parseStages(t *testing.T, cfg Config) map[string]stage {
	t.Helper()
	text, err := Stages(cfg)
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]stage{}
	for _, doc := range strings.Split(text, "\n---\n") {
		var s stage
		if err := yaml.Unmarshal([]byte(doc), &s); err != nil {
			t.Fatalf("%v:\n%s", err, doc)
		}
		out[s.Metadata.Name] = s
	}
	if len(out) != 2 {
		t.Fatalf("stages %v, want node-initialize and node-heartbeat-with-lease", out)
	}
	return out
}

// render renders a status template as kwok v0.8.0 does (pkg/utils/gotpl):
// the object as JSON-decoded data, kwok's own functions (those the stages
// use, stubbed as kwok defines them), and the result read as YAML.
func render(t *testing.T, tmpl string, node *corev1.Node, now time.Time) corev1.NodeStatus {
	t.Helper()
	conds, err := json.Marshal([]corev1.NodeCondition{
		{Type: corev1.NodeReady, Status: corev1.ConditionTrue, Reason: "KubeletReady", Message: "kubelet is posting ready status"},
		{Type: corev1.NodeMemoryPressure, Status: corev1.ConditionFalse, Reason: "KubeletHasSufficientMemory", Message: "kubelet has sufficient memory available"},
		{Type: corev1.NodeNetworkUnavailable, Status: corev1.ConditionFalse, Reason: "RouteCreated", Message: "RouteController created a route"},
	})
	if err != nil {
		t.Fatal(err)
	}
	var condData any
	if err := json.Unmarshal(conds, &condData); err != nil {
		t.Fatal(err)
	}
	funcs := template.FuncMap{
		"Quote": func(s any) string {
			data, err := json.Marshal(s)
			if err != nil {
				return strconv.Quote(fmt.Sprint(s))
			}
			if len(data) == 0 {
				return `""`
			}
			if data[0] == '"' {
				return string(data)
			}
			return strconv.Quote(string(data))
		},
		"Now":            func() string { return now.Format(time.RFC3339Nano) },
		"NodeConditions": func() any { return condData },
		"NodeIP":         func() string { return "10.1.0.1" },
		"NodeName":       func() string { return node.Name },
		"NodePort":       func() int { return 0 },
		"Version":        func() string { return "v0.8.0" },
		"YAML": func(s any, indent ...int) (string, error) {
			d, err := yaml.Marshal(s)
			if err != nil {
				return "", err
			}
			data := string(d)
			if len(indent) == 1 && indent[0] > 0 {
				pad := strings.Repeat(" ", indent[0]*2)
				data = strings.ReplaceAll("\n"+data, "\n", "\n"+pad)
			}
			return data, nil
		},
	}
	tpl, err := template.New("_").Funcs(funcs).Parse(strings.TrimSpace(tmpl))
	if err != nil {
		t.Fatal(err)
	}
	raw, err := json.Marshal(node)
	if err != nil {
		t.Fatal(err)
	}
	var data any
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	if err := dec.Decode(&data); err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	if err := tpl.Execute(&buf, data); err != nil {
		t.Fatal(err)
	}
	var st corev1.NodeStatus
	if err := yaml.Unmarshal(buf.Bytes(), &st); err != nil {
		t.Fatalf("%v:\n%s", err, buf.String())
	}
	return st
}

func condition(t *testing.T, st corev1.NodeStatus, typ corev1.NodeConditionType) corev1.NodeCondition {
	t.Helper()
	for _, c := range st.Conditions {
		if c.Type == typ {
			return c
		}
	}
	t.Fatalf("no %s condition in %+v", typ, st.Conditions)
	return corev1.NodeCondition{}
}

// TestStagesTransitionTimes: a condition whose status the stage writes
// again keeps its lastTransitionTime; one that changes, or is new, gets
// the time of the write (never the node's creationTimestamp).
func TestStagesTransitionTimes(t *testing.T) {
	stages := parseStages(t, Config{})
	created := time.Date(2026, 1, 1, 10, 0, 0, 0, time.UTC)
	unknownSince := created.Add(time.Hour)
	now := created.Add(2 * time.Hour)
	fresh := NodeObject("node-1", "zone-a")
	fresh.CreationTimestamp = metav1.NewTime(created)

	// A new node: every condition is new.
	st := render(t, stages["node-initialize"].Spec.Next.StatusTemplate, fresh, now)
	for _, c := range st.Conditions {
		if !c.LastTransitionTime.Time.Equal(now) || !c.LastHeartbeatTime.Time.Equal(now) {
			t.Errorf("new node: %s transition %v heartbeat %v, want %v", c.Type, c.LastTransitionTime, c.LastHeartbeatTime, now)
		}
	}
	if st.Phase != corev1.NodeRunning || len(st.Addresses) != 2 || st.Addresses[0].Address != "10.1.0.1" {
		t.Errorf("new node: phase %q addresses %v", st.Phase, st.Addresses)
	}

	// Back after the node lifecycle controller marked it Unknown.
	back := fresh.DeepCopy()
	back.Status.Conditions = []corev1.NodeCondition{
		{Type: corev1.NodeReady, Status: corev1.ConditionUnknown, LastTransitionTime: metav1.NewTime(unknownSince), Reason: "NodeStatusUnknown"},
		{Type: corev1.NodeMemoryPressure, Status: corev1.ConditionUnknown, LastTransitionTime: metav1.NewTime(unknownSince)},
		{Type: corev1.NodeNetworkUnavailable, Status: corev1.ConditionFalse, LastTransitionTime: metav1.NewTime(created)},
	}
	st = render(t, stages["node-initialize"].Spec.Next.StatusTemplate, back, now)
	if got := condition(t, st, corev1.NodeReady); got.Status != corev1.ConditionTrue || !got.LastTransitionTime.Time.Equal(now) {
		t.Errorf("node back: Ready %s since %v, want True since %v", got.Status, got.LastTransitionTime, now)
	}
	if got := condition(t, st, corev1.NodeMemoryPressure); !got.LastTransitionTime.Time.Equal(now) {
		t.Errorf("node back: MemoryPressure since %v, want %v", got.LastTransitionTime, now)
	}
	if got := condition(t, st, corev1.NodeNetworkUnavailable); !got.LastTransitionTime.Time.Equal(created) {
		t.Errorf("node back: NetworkUnavailable (False all along) since %v, want %v", got.LastTransitionTime, created)
	}

	// A heartbeat of a node Ready all along.
	readySince := created.Add(time.Minute)
	ready := fresh.DeepCopy()
	ready.Status.Conditions = []corev1.NodeCondition{
		{Type: corev1.NodeReady, Status: corev1.ConditionTrue, LastTransitionTime: metav1.NewTime(readySince), LastHeartbeatTime: metav1.NewTime(readySince)},
	}
	ready.Status.Addresses = []corev1.NodeAddress{{Type: corev1.NodeInternalIP, Address: "10.1.0.1"}}
	st = render(t, stages["node-heartbeat-with-lease"].Spec.Next.StatusTemplate, ready, now)
	got := condition(t, st, corev1.NodeReady)
	if got.Status != corev1.ConditionTrue || !got.LastTransitionTime.Time.Equal(readySince) || !got.LastHeartbeatTime.Time.Equal(now) {
		t.Errorf("heartbeat: Ready %s since %v, heartbeat %v; want True since %v, heartbeat %v",
			got.Status, got.LastTransitionTime, got.LastHeartbeatTime, readySince, now)
	}
	if len(st.Addresses) != 1 || st.Addresses[0].Address != "10.1.0.1" {
		t.Errorf("heartbeat: addresses %v", st.Addresses)
	}
}

func TestStagesStatusPeriod(t *testing.T) {
	d := parseStages(t, Config{})["node-heartbeat-with-lease"].Spec.Delay
	if d.DurationMilliseconds != 600000 || d.JitterDurationMilliseconds != 610000 {
		t.Errorf("default delay %+v, want kwok's 600000..610000 ms", d)
	}
	d = parseStages(t, Config{StatusPeriod: 3 * time.Second})["node-heartbeat-with-lease"].Spec.Delay
	if d.DurationMilliseconds != 3000 || d.JitterDurationMilliseconds != 3050 {
		t.Errorf("3 s delay %+v", d)
	}
}

// ourConditions replaces upstream's transition time (the node's
// creationTimestamp) in both stages.
const (
	upstreamConditions = `      {{ $lastTransitionTime := or .metadata.creationTimestamp $now }}
      conditions:
      {{ range NodeConditions }}
`
	ourConditions = `      {{ $old := .status.conditions }}
      conditions:
      {{ range NodeConditions }}
      {{ $type := .type }}
      {{ $status := .status }}
      {{ $lastTransitionTime := $now }}
      {{ range $old }}
      {{ if and (eq .type $type) (eq .status $status) .lastTransitionTime }}
      {{ $lastTransitionTime = .lastTransitionTime }}
      {{ end }}
      {{ end }}
`
)

// TestStagesFollowUpstream: our stages are kwok's own (from testbin's
// kwok-stages, the version the sim runs) with only the documented changes,
// so a kwok upgrade that changes them is noticed.
func TestStagesFollowUpstream(t *testing.T) {
	root, err := testbin.Path(testbin.KwokStages)
	if err == nil {
		_, err = os.Stat(root)
	}
	if err != nil {
		t.Skipf("kwok's stages not built: %v", err)
	}
	for name, upstream := range map[string]string{
		"stages/node-initialize.yaml":           "node/fast/node-initialize.yaml",
		"stages/node-heartbeat-with-lease.yaml": "node/heartbeat-with-lease/node-heartbeat-with-lease.yaml",
	} {
		theirs, err := os.ReadFile(filepath.Join(root, upstream))
		if err != nil {
			t.Fatal(err)
		}
		want := strings.NewReplacer(
			upstreamConditions, ourConditions,
			"durationMilliseconds: 600000", "durationMilliseconds: ${HEARTBEAT_MS}",
			"jitterDurationMilliseconds: 610000", "jitterDurationMilliseconds: ${HEARTBEAT_JITTER_MS}",
		).Replace(string(theirs))
		ours, err := stages.ReadFile(name)
		if err != nil {
			t.Fatal(err)
		}
		// Our files open with a comment saying what changed.
		var lines []string
		for _, l := range strings.Split(string(ours), "\n") {
			if !strings.HasPrefix(l, "#") {
				lines = append(lines, l)
			}
		}
		if got := strings.Join(lines, "\n"); got != want {
			t.Errorf("%s is not upstream's %s with the transition-time change:\n--- ours\n%s\n--- upstream, changed\n%s", name, upstream, got, want)
		}
	}
}
