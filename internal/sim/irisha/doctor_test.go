package simirisha_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"strings"
	"testing"

	coordinationv1 "k8s.io/api/coordination/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/irisha/irisha/api/v1alpha1"
	"github.com/irisha/irisha/internal/cli/doctor"
	"github.com/irisha/irisha/internal/sim"
	simirisha "github.com/irisha/irisha/internal/sim/irisha"
)

// TestDoctor runs `irisha doctor` against the simulated cluster with the
// real operator (leader-elected, outside the cluster), an instance on
// longhorn and one on local-disk, and a stand-in for Longhorn's settings
// API: it flags local-disk as the node-local trap (the PV the scheduler
// pinned to a node), passes longhorn, reads the settings as unstructured
// objects, finds the operator by its leader Lease; and --bench-storage
// measures both classes with irisha-manager fsbench run as the pod's
// process, then leaves no scratch pod or claim behind.
func TestDoctor(t *testing.T) {
	if testing.Short() {
		t.Skip("boots a simulated cluster and runs irisha")
	}
	ctx, cancel := context.WithTimeout(context.Background(), testTimeout)
	defer cancel()
	b := bootOperator(ctx, t, false, simirisha.OperatorOptions{LeaderElect: true})
	c, cl := b.cluster, b.client
	if err := c.CreateNamespace(ctx, ns); err != nil {
		t.Fatal(err)
	}
	fakeLonghornSettings(ctx, t, c)
	runInstance(ctx, t, cl, "iris", sim.LonghornClass, nil)
	runInstance(ctx, t, cl, "scratch", sim.LocalClass, nil)
	waitInstance(ctx, t, cl, "iris", func(i *v1alpha1.IrisInstance) bool { return conditionTrue(i, "Ready") })
	if err := poll(ctx, func(ctx context.Context) bool {
		l := &coordinationv1.Lease{}
		return cl.Get(ctx, client.ObjectKey{Namespace: "irisha-system", Name: "irisha-operator.irisha.dev"}, l) == nil &&
			l.Spec.HolderIdentity != nil && *l.Spec.HolderIdentity != ""
	}); err != nil {
		t.Fatalf("the operator never took its leader Lease: %v", err)
	}
	kubeconfig, err := c.ClientKubeconfig("doctor")
	if err != nil {
		t.Fatal(err)
	}
	doc := func(t *testing.T, args ...string) (doctor.Report, string, error) {
		t.Helper()
		var out, progress bytes.Buffer
		cmd := doctor.NewCommand(&out, &progress)
		cmd.SetArgs(append([]string{"--kubeconfig", kubeconfig, "-n", ns}, args...))
		err := cmd.ExecuteContext(ctx)
		var r doctor.Report
		if jerr := json.Unmarshal(out.Bytes(), &r); jerr != nil && strings.Contains(strings.Join(args, " "), "json") {
			t.Fatalf("%v\n%s", jerr, out.String())
		}
		if progress.Len() > 0 {
			t.Logf("progress:\n%s", progress.String())
		}
		return r, out.String(), err
	}

	t.Run("the trap", func(t *testing.T) {
		r, _, err := doc(t, "--instance", "scratch", "-o", "json")
		if !errors.Is(err, doctor.ErrFindings) {
			t.Errorf("exit: %v, want the findings' error", err)
		}
		f := finding(t, r, "storage.replication", "storageclass/"+sim.LocalClass)
		if f.Severity != doctor.Error || !strings.Contains(f.Summary, "node-local") || !strings.Contains(f.Summary, "is pinned to node") ||
			!strings.Contains(f.Breaks, "volume node affinity conflict") {
			t.Errorf("local-disk: %+v", f)
		}
	})

	t.Run("longhorn passes", func(t *testing.T) {
		r, _, err := doc(t, "--instance", "iris", "-o", "json")
		if err != nil {
			t.Errorf("exit: %v; findings %+v", err, r.Findings)
		}
		for _, w := range []struct{ check, subject, in string }{
			{"storage.replication", "storageclass/" + sim.LonghornClass, "numberOfReplicas 3"},
			{"storage.expansion", "storageclass/" + sim.LonghornClass, "online"},
			{"nodes.count", "", "3 schedulable nodes"},
			{"nodes.zones", "", "3 zones"},
			{"snapshots.api", "", "served"},
			{"snapshots.class", "driver/" + sim.LonghornDriver, "VolumeSnapshotClass longhorn is the default"},
			{"snapshots.longhorn-type", "volumesnapshotclass/longhorn", "type snap"},
			{"operator.crds", "", "irisinstances"},
			{"operator.running", "", "holds Lease irisha-system/irisha-operator.irisha.dev"},
			{"instance.status", "irisinstance/iris", "Running"},
			{"longhorn.node-down-pod-deletion-policy", "setting/node-down-pod-deletion-policy", "delete-deployment-pod"},
			{"longhorn.default-replica-count", "setting/default-replica-count", "3"},
			{"longhorn.current-longhorn-version", "setting/current-longhorn-version", "v1.12.2"},
		} {
			f := finding(t, r, w.check, w.subject)
			if f.Severity != doctor.OK || !strings.Contains(f.Summary, w.in) {
				t.Errorf("%s %s: %+v, want ok with %q", w.check, w.subject, f, w.in)
			}
		}
		// The sim's API server is built from source without a version, and
		// the sim plays the snapshot controller in-process: nothing shows it.
		if f := finding(t, r, "kubernetes.out-of-service-taint", ""); f.Severity != doctor.Warning || !strings.Contains(f.Summary, "no release version") {
			t.Errorf("out-of-service taint: %+v", f)
		}
		if f := finding(t, r, "snapshots.controller", ""); f.Severity != doctor.Warning {
			t.Errorf("snapshot controller: %+v", f)
		}
	})

	t.Run("bench", func(t *testing.T) {
		_, text, err := doc(t, "--bench-storage", "--class", sim.LonghornClass, "--bench-image", "irisha:sim", "--bench-writes", "200")
		if !errors.Is(err, doctor.ErrFindings) {
			t.Errorf("exit: %v, want the findings' error (local-disk is in use)", err)
		}
		t.Logf("irisha doctor --bench-storage --class longhorn:\n%s", text)
		for _, want := range []string{"error    StorageClass local-disk (used by db/scratch): node-local", "Storage bench", "longhorn    replicated", "local-disk  node-local"} {
			if !strings.Contains(text, want) {
				t.Errorf("output lacks %q", want)
			}
		}
		if err := poll(ctx, func(ctx context.Context) bool {
			pods, pvcs := &corev1.PodList{}, &corev1.PersistentVolumeClaimList{}
			sel := client.MatchingLabels{"app.kubernetes.io/name": "irisha-bench"}
			return cl.List(ctx, pods, client.InNamespace(ns), sel) == nil && cl.List(ctx, pvcs, client.InNamespace(ns), sel) == nil &&
				len(pods.Items)+len(pvcs.Items) == 0
		}); err != nil {
			t.Errorf("scratch pods or claims left behind: %v", err)
		}
	})
}

func finding(t *testing.T, r doctor.Report, check, subject string) doctor.Finding {
	t.Helper()
	for _, f := range r.Findings {
		if f.Check == check && (subject == "" || f.Subject == subject) {
			return f
		}
	}
	t.Errorf("no finding %s %s in %+v", check, subject, r.Findings)
	return doctor.Finding{}
}

// fakeLonghornSettings serves settings.longhorn.io (a CRD that keeps any
// field, as Longhorn's own keeps value at the top level) with a few
// settings in longhorn-system: doctor reads them without Longhorn's types.
func fakeLonghornSettings(ctx context.Context, t *testing.T, c *sim.Cluster) {
	t.Helper()
	crd := &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": "apiextensions.k8s.io/v1", "kind": "CustomResourceDefinition",
		"metadata": map[string]any{"name": "settings.longhorn.io"},
		"spec": map[string]any{
			"group": "longhorn.io", "scope": "Namespaced",
			"names": map[string]any{"plural": "settings", "singular": "setting", "kind": "Setting", "listKind": "SettingList"},
			"versions": []any{map[string]any{"name": "v1beta2", "served": true, "storage": true,
				"schema": map[string]any{"openAPIV3Schema": map[string]any{"type": "object", "x-kubernetes-preserve-unknown-fields": true}}}},
		},
	}}
	if err := c.Client().Create(ctx, crd); err != nil {
		t.Fatal(err)
	}
	if err := c.CreateNamespace(ctx, "longhorn-system"); err != nil && !apierrors.IsAlreadyExists(err) {
		t.Fatal(err)
	}
	settings := map[string]string{
		"node-down-pod-deletion-policy": "delete-deployment-pod",
		"replica-soft-anti-affinity":    "false",
		"default-replica-count":         `{"v1":"3","v2":"3"}`,
		"current-longhorn-version":      "v1.12.2",
	}
	gvk := schema.GroupVersionKind{Group: "longhorn.io", Version: "v1beta2", Kind: "Setting"}
	for name, value := range settings {
		s := &unstructured.Unstructured{Object: map[string]any{"value": value}}
		s.SetGroupVersionKind(gvk)
		s.SetNamespace("longhorn-system")
		s.SetName(name)
		// The CRD's REST mapping takes a moment to appear.
		if err := poll(ctx, func(ctx context.Context) bool {
			err := c.Client().Create(ctx, s)
			return err == nil || apierrors.IsAlreadyExists(err)
		}); err != nil {
			t.Fatalf("creating setting %s: %v", name, err)
		}
	}
}
