package doctor

import (
	"strings"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	coordinationv1 "k8s.io/api/coordination/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/version"
	"k8s.io/utils/ptr"

	"github.com/irisha/irisha/api/v1alpha1"
)

func TestNodesRule(t *testing.T) {
	cordoned := node("node-d", "zone-a")
	cordoned.Spec.Unschedulable = true
	cp := node("cp", "zone-a")
	cp.Spec.Taints = []corev1.Taint{{Key: "node-role.kubernetes.io/control-plane", Effect: corev1.TaintEffectNoSchedule}}
	notReady := node("node-e", "zone-b")
	notReady.Status.Conditions[0].Status = corev1.ConditionUnknown
	for _, c := range []struct {
		name            string
		nodes           []corev1.Node
		count, zones    Severity
		summaryContains string
	}{
		{"three in three zones", threeNodes(), OK, OK, "3 schedulable nodes"},
		{"two", threeNodes()[:2], Warning, OK, "2 schedulable nodes"},
		{"one schedulable of four", []corev1.Node{node("node-a", "zone-a"), cordoned, cp, notReady}, Error, Warning,
			"1 schedulable nodes of 4 (node-d: cordoned; cp: tainted node-role.kubernetes.io/control-plane:NoSchedule; node-e: not Ready)"},
		{"no zone labels", []corev1.Node{node("a", ""), node("b", ""), node("c", "")}, OK, Warning, "3 schedulable"},
		{"one zone", []corev1.Node{node("a", "z"), node("b", "z"), node("c", "z")}, OK, Warning, "3 schedulable"},
	} {
		t.Run(c.name, func(t *testing.T) {
			fs := NodesRule(&Snapshot{Nodes: c.nodes})
			count := find(t, fs, "nodes.count", "")
			wantSeverity(t, count, c.count)
			wantSeverity(t, find(t, fs, "nodes.zones", ""), c.zones)
			if !strings.Contains(count.Summary, c.summaryContains) {
				t.Errorf("summary %q, want %q in it", count.Summary, c.summaryContains)
			}
		})
	}
	fs := NodesRule(&Snapshot{Unreadable: map[string]string{"nodes": "forbidden"}})
	wantSeverity(t, find(t, fs, "nodes", ""), Warning)
}

func TestOutOfServiceTaintRule(t *testing.T) {
	shutdown := instance("db", "iris", nil, v1alpha1.FailoverNodeShutdown)
	for _, c := range []struct {
		version   string
		instances []v1alpha1.IrisInstance
		want      Severity
	}{
		{"v1.37.2", nil, OK},
		{"v1.28.0+k3s1", nil, OK},
		{"v1.27.4-eks-2d98532", nil, Warning},
		{"v1.25.3", nil, Warning},
		{"v1.25.3", []v1alpha1.IrisInstance{shutdown}, Error},
		{"nonsense", nil, Warning},
		{"v0.0.0-master+$Format:%H$", nil, Warning},
	} {
		t.Run(c.version, func(t *testing.T) {
			fs := OutOfServiceTaintRule(&Snapshot{Version: &version.Info{GitVersion: c.version}, Instances: c.instances})
			wantSeverity(t, find(t, fs, "kubernetes.out-of-service-taint", ""), c.want)
		})
	}
	fs := OutOfServiceTaintRule(&Snapshot{Unreadable: map[string]string{"version": "timeout"}})
	wantSeverity(t, find(t, fs, "kubernetes.out-of-service-taint", ""), Warning)
}

func TestOperatorRule(t *testing.T) {
	t.Run("installed and running", func(t *testing.T) {
		fs := OperatorRule(healthy())
		wantSeverity(t, find(t, fs, "operator.crds", ""), OK)
		f := find(t, fs, "operator.running", "")
		wantSeverity(t, f, OK)
		if !strings.Contains(f.Summary, "irisha-system/irisha-manager (2/2 ready)") || !strings.Contains(f.Summary, "renewed 2s ago") {
			t.Errorf("summary %q", f.Summary)
		}
	})
	t.Run("not installed", func(t *testing.T) {
		s := healthy()
		s.APIs = map[string][]string{}
		s.Deployments, s.Leases, s.Instances = nil, nil, nil
		fs := OperatorRule(s)
		wantSeverity(t, find(t, fs, "operator.crds", ""), Warning)
		wantSeverity(t, find(t, fs, "operator.running", ""), Warning)
	})
	t.Run("a CRD missing", func(t *testing.T) {
		s := healthy()
		s.APIs[gvIrisha] = []string{"irisinstances"}
		f := find(t, OperatorRule(s), "operator.crds", "")
		wantSeverity(t, f, Error)
		if !strings.Contains(f.Summary, "irisbackups") {
			t.Errorf("summary %q", f.Summary)
		}
	})
	t.Run("deployment not ready", func(t *testing.T) {
		s := healthy()
		s.Deployments = []appsv1.Deployment{operatorDeployment(0)}
		s.Leases = nil
		wantSeverity(t, find(t, OperatorRule(s), "operator.running", ""), Error)
	})
	t.Run("run outside the cluster: the leader Lease", func(t *testing.T) {
		s := healthy()
		s.Deployments = nil
		f := find(t, OperatorRule(s), "operator.running", "")
		wantSeverity(t, f, OK)
		if !strings.Contains(f.Summary, "outside the cluster") {
			t.Errorf("summary %q", f.Summary)
		}
	})
	t.Run("the image, without the labels", func(t *testing.T) {
		s := healthy()
		s.Leases = nil
		s.Deployments = []appsv1.Deployment{deployment("ops", "irisha", "registry.local/irisha-manager:v0.1.0", nil, []string{"operator"}, 1)}
		wantSeverity(t, find(t, OperatorRule(s), "operator.running", ""), OK)
	})
	t.Run("stale Lease and instances", func(t *testing.T) {
		s := healthy()
		s.Deployments = nil
		s.Leases = []coordinationv1.Lease{lease("irisha-system", leaseOperator, "gone", now.Add(-10*time.Minute))}
		wantSeverity(t, find(t, OperatorRule(s), "operator.running", ""), Error)
	})
}

func TestInstanceRule(t *testing.T) {
	if fs := InstanceRule(healthy()); fs != nil {
		t.Errorf("findings without --instance: %+v", fs)
	}
	cond := func(typ string, st metav1.ConditionStatus, reason, msg string) metav1.Condition {
		return metav1.Condition{Type: typ, Status: st, Reason: reason, Message: msg}
	}
	for _, c := range []struct {
		name   string
		status v1alpha1.IrisInstanceStatus
		want   Severity
		in     string
	}{
		{"running", v1alpha1.IrisInstanceStatus{Phase: v1alpha1.PhaseRunning, Node: "node-b", Conditions: []metav1.Condition{
			cond(v1alpha1.ConditionReady, "True", "PodReady", "IRIS is ready in pod iris-x"), cond(v1alpha1.ConditionDegraded, "False", "AsExpected", "")}},
			OK, "db/iris: Running on node node-b: IRIS is ready in pod iris-x"},
		{"degraded", v1alpha1.IrisInstanceStatus{Phase: v1alpha1.PhaseDegraded, Conditions: []metav1.Condition{
			cond(v1alpha1.ConditionReady, "False", "PodNotReady", "no pod"), cond(v1alpha1.ConditionDegraded, "True", "CrashLoop", "IRIS exits")}},
			Error, "Degraded=True (CrashLoop: IRIS exits)"},
		{"no status", v1alpha1.IrisInstanceStatus{}, Warning, "no status"},
		{"running, growth refused", v1alpha1.IrisInstanceStatus{Phase: v1alpha1.PhaseRunning, Conditions: []metav1.Condition{
			cond(v1alpha1.ConditionReady, "True", "PodReady", ""), cond(v1alpha1.ConditionVolumeGrowth, "False", "ExpansionNotAllowed", "class longhorn-fixed-size")}},
			Warning, "VolumeGrowth=False"},
	} {
		t.Run(c.name, func(t *testing.T) {
			inst := instance("db", "iris", nil, v1alpha1.FailoverLease)
			inst.Status = c.status
			s := healthy()
			s.Target = &inst
			f := find(t, InstanceRule(s), "instance.status", "irisinstance/iris")
			wantSeverity(t, f, c.want)
			if !strings.Contains(f.Summary, c.in) {
				t.Errorf("summary %q, want %q in it", f.Summary, c.in)
			}
		})
	}
}

func TestEvaluateOrdersAndCounts(t *testing.T) {
	s := healthy()
	s.Instances = append(s.Instances, instance("db", "scratch", ptr.To("local-disk"), v1alpha1.FailoverLease))
	r := Evaluate(s, Rules)
	if r.Summary.Errors != 1 || r.Version != "v1.37.2" {
		t.Fatalf("summary %+v, version %q", r.Summary, r.Version)
	}
	last := -1
	for i, f := range r.Findings {
		a := indexOf(areaOrder, f.Area)
		if a < last {
			t.Errorf("finding %d (%s) out of area order", i, f.Check)
		}
		last = a
	}
}

func indexOf(s []string, v string) int {
	for i, x := range s {
		if x == v {
			return i
		}
	}
	return -1
}
