package sim

import (
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

func TestKubeletRouteOf(t *testing.T) {
	for _, tc := range []struct {
		name    string
		state   NodeState
		node    nodeNet
		cluster netState
		want    kubeletRoute
	}{
		{"running", NodeRunning, nodeNet{}, netState{}, routeUp},
		{"cut from its peers only", NodeRunning, nodeNet{peersCut: true}, netState{}, routeUp},
		{"partitioned", NodeRunning, nodeNet{apiCut: true, peersCut: true}, netState{}, routeCut},
		{"API server cut off", NodeRunning, nodeNet{}, netState{apiCut: true}, routeCut},
		{"killed", NodeKilled, nodeNet{down: true}, netState{}, routeDown},
		{"killed and partitioned", NodeKilled, nodeNet{down: true, apiCut: true}, netState{}, routeDown},
		{"frozen", NodeFrozen, nodeNet{}, netState{}, routeHangs},
		{"frozen and partitioned", NodeFrozen, nodeNet{apiCut: true}, netState{}, routeCut},
		{"API server frozen", NodeRunning, nodeNet{}, netState{apiFrozen: true}, routeHangs},
	} {
		if got := kubeletRouteOf(tc.state, tc.node, tc.cluster); got != tc.want {
			t.Errorf("%s: route %d, want %d", tc.name, got, tc.want)
		}
	}
}

func TestExecContainer(t *testing.T) {
	pod := func(node string, names ...string) *corev1.Pod {
		p := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "p"}, Spec: corev1.PodSpec{NodeName: node}}
		for _, n := range names {
			p.Spec.Containers = append(p.Spec.Containers, corev1.Container{Name: n})
		}
		return p
	}
	for _, tc := range []struct {
		pod       *corev1.Pod
		container string
		want, err string
	}{
		{pod("node-1", "iris"), "", "iris", ""},
		{pod("node-1", "iris", "sidecar"), "sidecar", "sidecar", ""},
		{pod("node-1", "iris", "sidecar"), "", "", "a container name must be specified for pod p, choose one of: [iris sidecar]"},
		{pod("node-1", "iris"), "web", "", "container web is not valid for pod p"},
		{pod("", "iris"), "iris", "", "pod p does not have a host assigned"},
	} {
		got, err := execContainer(tc.pod, tc.container)
		switch {
		case tc.err == "" && (err != nil || got != tc.want):
			t.Errorf("%q: %q, %v; want %q", tc.container, got, err, tc.want)
		case tc.err != "" && (err == nil || !strings.Contains(err.Error(), tc.err) || !apierrors.IsBadRequest(err)):
			t.Errorf("%q: %q, %v; want a BadRequest %q", tc.container, got, err, tc.err)
		}
	}
}

func TestQuoteOutput(t *testing.T) {
	if got := quoteOutput([]byte(" \n"), nil); got != "" {
		t.Errorf("blank output quoted as %q", got)
	}
	if got := quoteOutput([]byte("out\n"), []byte("err\n")); got != ": out\nerr" {
		t.Errorf("quoted %q", got)
	}
	if got := quoteOutput([]byte(strings.Repeat("x", 3*maxErrorOutput)+"END"), nil); len(got) != len(": ...")+maxErrorOutput || !strings.HasSuffix(got, "END") {
		t.Errorf("long output quoted as %d bytes ending %q", len(got), got[len(got)-5:])
	}
}
