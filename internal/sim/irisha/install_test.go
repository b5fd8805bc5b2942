package simirisha_test

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/go-logr/logr/testr"
	snapshotv1 "github.com/kubernetes-csi/external-snapshotter/client/v8/apis/volumesnapshot/v1"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/irisha/irisha/api/v1alpha1"
	"github.com/irisha/irisha/dist"
	"github.com/irisha/irisha/internal/cli/install"
	"github.com/irisha/irisha/internal/operator"
	"github.com/irisha/irisha/internal/resources"
	"github.com/irisha/irisha/internal/sim"
	simirisha "github.com/irisha/irisha/internal/sim/irisha"
	"github.com/irisha/irisha/internal/sim/proc"
)

// operatorUser is the installed operator's ServiceAccount, as the API
// server names it.
const operatorUser = "system:serviceaccount:" + dist.Namespace + ":irisha-manager"

// TestInstallRunsWithItsOwnRBAC: irisha install applies the embedded
// manifests (and the node witnesses they hold run); the operator, run as
// exactly the installed ServiceAccount, deploys an instance, fails it over
// after a node kill and lets it be deleted without one request refused in
// the API server's audit log; uninstall refuses while the instance exists,
// then removes irisha and leaves the volume.
func TestInstallRunsWithItsOwnRBAC(t *testing.T) {
	if testing.Short() {
		t.Skip("boots a simulated cluster and runs irisha")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*testTimeout)
	defer cancel()
	c, err := sim.Start(ctx, sim.Options{
		Nodes: 3, Timings: sim.FastTimings(), Log: testr.New(t), AuditLog: true,
		KeepWorkDir: os.Getenv("IRISHA_SIM_KEEP") != "",
		Runner:      simirisha.Runner(bins, simirisha.RunnerOptions{}),
	})
	if err != nil {
		t.Fatalf("starting the sim: %v", err)
	}
	var daemons []int
	t.Cleanup(func() {
		if err := c.Stop(); err != nil {
			t.Errorf("stopping the sim: %v", err)
		}
		for _, pid := range append(c.PIDs(), daemons...) {
			if proc.Alive(pid) {
				t.Errorf("process %d is alive after Stop", pid)
			}
		}
	})
	objs, err := dist.Objects()
	if err != nil {
		t.Fatal(err)
	}
	var progress strings.Builder
	if err := install.Install(ctx, c.Client(), objs, &progress); err != nil {
		t.Fatalf("irisha install: %v\n%s", err, progress.String())
	}
	// The installed Deployment's pods ran the real operator under its
	// ServiceAccount: install waited until the kubelet's probes of them
	// passed. The test runs its own beside the cluster, impersonating the
	// ServiceAccount with the installed args, so that it can stop it and
	// read every request it made in the audit log: the installed one is
	// scaled away first (its requests so far count too).
	scale := []byte(`{"spec":{"replicas":0}}`)
	if _, err := c.Clientset().AppsV1().Deployments(dist.Namespace).Patch(ctx, "irisha-manager", types.MergePatchType, scale, metav1.PatchOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := sim.WaitForPods(ctx, c.Clientset(), dist.Namespace, "app.kubernetes.io/component=manager", func(p []corev1.Pod) bool { return len(p) == 0 }); err != nil {
		t.Fatal(err)
	}
	op, err := simirisha.StartOperator(ctx, c, bins, simirisha.OperatorOptions{
		LeaderElect: true, LeaderElectionNamespace: dist.Namespace, Impersonate: operatorUser,
		Args: []string{"--witness-namespace=" + dist.Namespace},
	})
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = op.Kill() }()
	scheme, err := operator.NewScheme()
	if err != nil {
		t.Fatal(err)
	}
	cl, err := client.New(c.RESTConfig(), client.Options{Scheme: scheme})
	if err != nil {
		t.Fatal(err)
	}
	if err := c.CreateNamespace(ctx, ns); err != nil {
		t.Fatal(err)
	}
	inst := newInstance(v1alpha1.FailoverLease, 5)
	if err := cl.Create(ctx, inst); err != nil {
		t.Fatal(err)
	}
	first := readyOnly(ctx, t, c)
	if err := c.Node(first.Spec.NodeName).Kill(); err != nil {
		t.Fatal(err)
	}
	second := readyOnly(ctx, t, c, first.UID)
	if second.Spec.NodeName == first.Spec.NodeName {
		t.Errorf("the replacement runs on the killed node")
	}
	dataDir, err := simirisha.DataDir(ctx, c, inst)
	if err != nil {
		t.Fatal(err)
	}
	entries, err := simirisha.CheckJournal(dataDir)
	if err != nil {
		t.Fatal(err)
	}
	daemons = append(daemons, simirisha.Writers(entries)...)

	exerciseBackupsAndGrowth(ctx, t, c, cl)

	var out strings.Builder
	if err := install.Uninstall(ctx, cl, objs, false, &out); err == nil || !strings.Contains(err.Error(), "IrisInstances exist") {
		t.Errorf("uninstall with an instance left: %v, want a refusal", err)
	}
	if err := cl.Delete(ctx, inst); err != nil {
		t.Fatal(err)
	}
	if err := poll(ctx, func(ctx context.Context) bool {
		return apierrors.IsNotFound(cl.Get(ctx, client.ObjectKeyFromObject(inst), &v1alpha1.IrisInstance{}))
	}); err != nil {
		t.Fatal(err)
	}
	if err := op.Stop(10e9); err != nil {
		t.Fatal(err)
	}
	refused, used, err := auditOf(filepath.Join(c.Dir(), "audit.log"), operatorUser)
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range refused {
		t.Errorf("refused to the operator: %s", r)
	}
	if len(used) == 0 {
		t.Fatal("no request of the operator's ServiceAccount in the audit log: did it run impersonated?")
	}
	t.Logf("the operator's requests, by verb and resource: %v", used)
	for _, g := range unusedGrants(t, objs, used) {
		t.Errorf("the ClusterRole grants %q, which the operator never used in this run: drop it, or exempt it with the reason", g)
	}

	if err := install.Uninstall(ctx, cl, objs, false, &out); err != nil {
		t.Fatalf("irisha uninstall: %v\n%s", err, out.String())
	}
	pvc := &corev1.PersistentVolumeClaim{}
	if err := cl.Get(ctx, client.ObjectKey{Namespace: ns, Name: resources.PVCName(inst)}, pvc); err != nil || !pvc.DeletionTimestamp.IsZero() {
		t.Errorf("the instance's claim after uninstall: %v (deleting: %t)", err, !pvc.DeletionTimestamp.IsZero())
	}
}

// auditEvent is what the test reads of an audit.k8s.io/v1 Event.
type auditEvent struct {
	Stage            string                     `json:"stage"`
	Verb             string                     `json:"verb"`
	RequestURI       string                     `json:"requestURI"`
	User             struct{ Username string }  `json:"user"`
	ImpersonatedUser *struct{ Username string } `json:"impersonatedUser"`
	ObjectRef        *struct {
		Resource, Subresource, Namespace, Name string
	} `json:"objectRef"`
	ResponseStatus *struct{ Code int } `json:"responseStatus"`
}

// auditOf reads the audit log: the requests made as user that were
// refused (401 or 403), and a count of its requests by verb and resource.
func auditOf(path, user string) (refused []string, used map[string]int, err error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, nil, fmt.Errorf("opening the audit log: %w", err)
	}
	defer f.Close()
	used = map[string]int{}
	r := bufio.NewReaderSize(f, 1<<20)
	for {
		line, err := r.ReadBytes('\n')
		if len(line) > 0 {
			var e auditEvent
			if json.Unmarshal(line, &e) == nil && e.Stage == "ResponseComplete" {
				as := e.User.Username
				if e.ImpersonatedUser != nil {
					as = e.ImpersonatedUser.Username
				}
				if as == user {
					what := e.Verb
					if o := e.ObjectRef; o != nil {
						what += " " + o.Resource
						if o.Subresource != "" {
							what += "/" + o.Subresource
						}
					}
					used[what]++
					if s := e.ResponseStatus; s != nil && (s.Code == 401 || s.Code == 403) {
						refused = append(refused, fmt.Sprintf("%s %s: %d", what, e.RequestURI, s.Code))
					}
				}
			}
		}
		if err == io.EOF {
			return refused, used, nil
		}
		if err != nil {
			return nil, nil, fmt.Errorf("reading the audit log: %w", err)
		}
	}
}

// exerciseBackupsAndGrowth makes the operator use what backups, schedules
// and growth need: a failed backup (its snapshot deleted), a schedule whose
// retention deletes a backup, a changed deletion policy (the snapshot's
// owner patched), a grown volume and a changed spec (Deployment, Secret and
// Service updated).
func exerciseBackupsAndGrowth(ctx context.Context, t *testing.T, c *sim.Cluster, cl client.Client) {
	t.Helper()
	c.FailSnapshots("no healthy replica")
	waitBackup(ctx, t, cl, createBackup(ctx, t, cl, "bk-fails"), v1alpha1.BackupFailed)
	c.FailSnapshots("")

	sb := &v1alpha1.IrisScheduledBackup{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "often"},
		Spec: v1alpha1.IrisScheduledBackupSpec{Schedule: "*/4 * * * * *", Immediate: true,
			Template: v1alpha1.IrisBackupSpec{InstanceName: instName}, Retention: &v1alpha1.RetentionPolicy{Keep: ptr.To[int32](1)}},
	}
	if err := cl.Create(ctx, sb); err != nil {
		t.Fatal(err)
	}
	got := &v1alpha1.IrisScheduledBackup{}
	if err := poll(ctx, func(ctx context.Context) bool {
		return cl.Get(ctx, client.ObjectKeyFromObject(sb), got) == nil && got.Status.LastBackupName != ""
	}); err != nil {
		t.Fatal(err)
	}
	first := got.Status.LastBackupName
	// Keep 1: once a later backup of the schedule completes, the first goes.
	if err := poll(ctx, func(ctx context.Context) bool {
		return apierrors.IsNotFound(cl.Get(ctx, client.ObjectKey{Namespace: ns, Name: first}, &v1alpha1.IrisBackup{}))
	}); err != nil {
		t.Fatalf("waiting for the schedule's retention to delete %s: %v", first, err)
	}
	if err := cl.Delete(ctx, sb); err != nil {
		t.Fatal(err)
	}

	kept := waitBackup(ctx, t, cl, createBackup(ctx, t, cl, "bk-policy"), v1alpha1.BackupCompleted)
	patch := client.MergeFrom(kept.DeepCopy())
	kept.Spec.SnapshotDeletionPolicy = v1alpha1.SnapshotRetain
	if err := cl.Patch(ctx, kept, patch); err != nil {
		t.Fatal(err)
	}
	if err := poll(ctx, func(ctx context.Context) bool {
		vs := &snapshotv1.VolumeSnapshot{}
		return cl.Get(ctx, client.ObjectKey{Namespace: ns, Name: kept.Status.SnapshotName}, vs) == nil && len(vs.OwnerReferences) == 0
	}); err != nil {
		t.Fatalf("waiting for the Retain policy to release the snapshot: %v", err)
	}

	inst := &v1alpha1.IrisInstance{}
	if err := cl.Get(ctx, client.ObjectKey{Namespace: ns, Name: instName}, inst); err != nil {
		t.Fatal(err)
	}
	patch = client.MergeFrom(inst.DeepCopy())
	inst.Spec.Storage.Size = resource.MustParse("2Gi")
	inst.Spec.ShutdownTimeoutSeconds = 200
	inst.Spec.Service.Type = corev1.ServiceTypeNodePort
	if err := cl.Patch(ctx, inst, patch); err != nil {
		t.Fatal(err)
	}
	waitInstance(ctx, t, cl, instName, func(i *v1alpha1.IrisInstance) bool {
		return i.Status.Capacity != nil && i.Status.Capacity.Cmp(resource.MustParse("2Gi")) >= 0 && i.Status.Phase == v1alpha1.PhaseRunning
	})
}

// grantExemptions are grants of the operator's ClusterRole that no request
// of its own uses in the run, each with its reason.
var grantExemptions = map[string]string{
	"update irisinstances/finalizers": "checked by OwnerReferencesPermissionEnforcement (blockOwnerDeletion), not a request",
	"update irisbackups/finalizers":   "checked by OwnerReferencesPermissionEnforcement (blockOwnerDeletion), not a request",
	"delete persistentvolumeclaims":   "checked by OwnerReferencesPermissionEnforcement when a claim's owner changes, not a request",
	"get configmaps":                  "granted on to the agent's Role (RBAC escalation check); the operator's own reads past the cache (a referenced CPF ConfigMap, the witness membership) only when a run has them",
	"get irisbackups":                 "granted on to the agent's Role (RBAC escalation check)",
	"get nodes":                       "patchFresh's re-read after a conflict, which a run may not meet",
	"get irisinstances":               "patchFresh's re-read after a conflict, which a run may not meet",
	"patch events":                    "an Event repeated within its series window is patched (its count), which a run may not meet",
	"update configmaps":               "the witnesses' membership changing (a node added or removed)",
}

// unusedGrants lists the verbs on resources of the operator's ClusterRole
// that the audit log shows unused and that are not exempt.
func unusedGrants(t *testing.T, objs []*unstructured.Unstructured, used map[string]int) []string {
	t.Helper()
	var out []string
	for _, o := range objs {
		if o.GetKind() != "ClusterRole" || o.GetName() != "irisha-manager" {
			continue
		}
		role := &rbacv1.ClusterRole{}
		if err := runtime.DefaultUnstructuredConverter.FromUnstructured(o.Object, role); err != nil {
			t.Fatal(err)
		}
		for _, r := range role.Rules {
			for _, res := range r.Resources {
				for _, v := range r.Verbs {
					g := v + " " + res
					// client-go lists by a watch that streams the initial
					// objects (WatchList): the audit log says watch.
					streamed := v == "list" && used["watch "+res] > 0
					// A server-side apply that creates is a PATCH in the
					// audit log; the API server authorizes the create
					// within it.
					appliedNew := v == "create" && used["patch "+res] > 0
					if used[g] == 0 && !streamed && !appliedNew && grantExemptions[g] == "" {
						out = append(out, g)
					}
				}
			}
		}
	}
	return out
}
