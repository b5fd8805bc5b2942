package status

import (
	"bytes"
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	coordinationv1 "k8s.io/api/coordination/v1"
	corev1 "k8s.io/api/core/v1"
	storagev1 "k8s.io/api/storage/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/utils/ptr"

	"github.com/irisha/irisha/api/v1alpha1"
	"github.com/irisha/irisha/internal/fencing"
)

var update = flag.Bool("update", false, "rewrite testdata/*.golden from the current output")

// now is when every snapshot below was read.
var now = time.Date(2026, 12, 1, 21, 0, 0, 0, time.UTC)

func ago(d time.Duration) time.Time { return now.Add(-d) }

func mt(t time.Time) metav1.Time { return metav1.NewTime(t) }

func micro(t time.Time) *metav1.MicroTime { m := metav1.NewMicroTime(t); return &m }

const (
	ns      = "databases"
	oldPod  = "iris-7c9d8b6f5-8d7wz"
	curPod  = "iris-7c9d8b6f5-k2x4q"
	newPod  = "iris-7c9d8b6f5-n8v2m"
	podUID  = "5b7e1c2a-0d4f-4e7b-9a61-2f0c8d3e9b14"
	nodeA   = "node-a"
	nodeB   = "node-b"
	pvcName = "iris-data"
)

func instance() *v1alpha1.IrisInstance {
	return &v1alpha1.IrisInstance{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "iris", CreationTimestamp: mt(ago(49 * time.Hour))},
		Spec: v1alpha1.IrisInstanceSpec{
			Image:    "containers.intersystems.com/intersystems/iris-community:2025.1",
			Storage:  v1alpha1.StorageSpec{ClassName: ptr.To("longhorn"), Size: resource.MustParse("10Gi"), AccessMode: corev1.ReadWriteOnce},
			Failover: v1alpha1.FailoverSpec{Mode: v1alpha1.FailoverLease, LeaseDurationSeconds: 10},
		},
	}
}

func cond(typ string, status metav1.ConditionStatus, reason, msg string, since time.Time) metav1.Condition {
	return metav1.Condition{Type: typ, Status: status, Reason: reason, Message: msg, LastTransitionTime: mt(since)}
}

func pod(name, node string, created time.Time, ready bool) corev1.Pod {
	p := corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name, CreationTimestamp: mt(created)},
		Spec:       corev1.PodSpec{NodeName: node},
		Status:     corev1.PodStatus{Phase: corev1.PodRunning},
	}
	status := corev1.ConditionFalse
	if ready {
		status = corev1.ConditionTrue
	}
	p.Status.Conditions = []corev1.PodCondition{{Type: corev1.PodReady, Status: status}}
	p.Status.ContainerStatuses = []corev1.ContainerStatus{{Name: "iris", Ready: ready}}
	return p
}

func node(name, zone string) *corev1.Node {
	return &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: name, Labels: map[string]string{corev1.LabelTopologyZone: zone}}}
}

func pvc(requested, capacity string) *corev1.PersistentVolumeClaim {
	return &corev1.PersistentVolumeClaim{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: pvcName},
		Spec: corev1.PersistentVolumeClaimSpec{
			StorageClassName: ptr.To("longhorn"),
			AccessModes:      []corev1.PersistentVolumeAccessMode{corev1.ReadWriteOnce},
			VolumeName:       "pvc-3f2a9c1e-77d0-4b8e-a2f4-61c5e0d9b7a2",
			Resources:        corev1.VolumeResourceRequirements{Requests: corev1.ResourceList{corev1.ResourceStorage: resource.MustParse(requested)}},
		},
		Status: corev1.PersistentVolumeClaimStatus{Phase: corev1.ClaimBound, Capacity: corev1.ResourceList{corev1.ResourceStorage: resource.MustParse(capacity)}},
	}
}

func longhorn() *storagev1.StorageClass {
	return &storagev1.StorageClass{ObjectMeta: metav1.ObjectMeta{Name: "longhorn"}, Provisioner: "driver.longhorn.io", AllowVolumeExpansion: ptr.To(true)}
}

func fencingLease(holder string, renewed, acquired time.Time, transitions int32, fenced string) *coordinationv1.Lease {
	l := &coordinationv1.Lease{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "iris-fencing"},
		Spec: coordinationv1.LeaseSpec{
			LeaseDurationSeconds: ptr.To[int32](10), RenewTime: micro(renewed), AcquireTime: micro(acquired), LeaseTransitions: ptr.To(transitions),
		},
	}
	if holder != "" {
		l.Spec.HolderIdentity = ptr.To(holder)
	}
	if fenced != "" {
		l.Annotations = map[string]string{v1alpha1.AnnotationFencedHolders: fenced}
	}
	return l
}

func backup(name, instance string, phase v1alpha1.BackupPhase, created time.Time, frozen time.Duration, msg string) v1alpha1.IrisBackup {
	b := v1alpha1.IrisBackup{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name, CreationTimestamp: mt(created)},
		Spec:       v1alpha1.IrisBackupSpec{InstanceName: instance},
		Status:     v1alpha1.IrisBackupStatus{Phase: phase, Message: msg},
	}
	if frozen > 0 {
		b.Status.FrozenAt = micro(created.Add(2 * time.Second))
		b.Status.ThawedAt = micro(created.Add(2*time.Second + frozen))
	}
	return b
}

var eventSeq int

// event is an Event as the operator's events.k8s.io recorder writes it
// (eventTime, no timestamps), or, for a Pod, as the kubelet's core one does.
func event(kind, name, typ, reason string, at time.Time, msg string) corev1.Event {
	eventSeq++
	e := corev1.Event{
		ObjectMeta:     metav1.ObjectMeta{Namespace: ns, Name: name + "." + reason, UID: types.UID(strings.Repeat("e", eventSeq))},
		InvolvedObject: corev1.ObjectReference{Kind: kind, Namespace: ns, Name: name},
		Type:           typ, Reason: reason, Message: msg,
	}
	if kind == "Pod" {
		e.LastTimestamp, e.Count = mt(at), 1
	} else {
		e.EventTime = *micro(at)
	}
	return e
}

// healthy: IRIS ready on node-b after a failover three hours ago, backups
// taken hourly, the Lease renewed a moment ago.
func healthy() *Snapshot {
	inst := instance()
	detected := ago(3*time.Hour + 12*time.Minute).Add(318 * time.Millisecond)
	inst.Status = v1alpha1.IrisInstanceStatus{
		Phase: v1alpha1.PhaseRunning, Pod: curPod, Node: nodeB, PVC: pvcName, Capacity: ptr.To(resource.MustParse("10Gi")),
		Fencing: v1alpha1.FencingHealthy, Failovers: 1,
		Conditions: []metav1.Condition{
			cond(v1alpha1.ConditionReady, metav1.ConditionTrue, "PodReady", "IRIS is ready in pod "+curPod+" on node "+nodeB, detected.Add(13*time.Second)),
			cond(v1alpha1.ConditionProgressing, metav1.ConditionFalse, "RolloutComplete", "", detected.Add(13*time.Second)),
			cond(v1alpha1.ConditionDegraded, metav1.ConditionFalse, "AsExpected", "", ago(49*time.Hour)),
		},
		LastFailover: &v1alpha1.FailoverRecord{
			Reason: fencing.ReasonLeaseExpired, Node: nodeA, Pod: oldPod, PodUID: "uid-old",
			DetectedAt: *micro(detected), FencedAt: micro(detected.Add(412 * time.Millisecond)), ReadyAt: micro(detected.Add(13*time.Second + 391*time.Millisecond)),
			Seconds: "13.4",
		},
	}
	return &Snapshot{
		Now: now, Instance: inst,
		Pods:         []corev1.Pod{pod(curPod, nodeB, detected.Add(300*time.Millisecond), true)},
		Nodes:        map[string]*corev1.Node{nodeB: node(nodeB, "zone-b")},
		PVC:          pvc("10Gi", "10Gi"),
		StorageClass: longhorn(),
		Lease:        fencingLease(curPod+"_"+podUID, ago(1200*time.Millisecond), detected.Add(2*time.Second), 3, oldPod+"_uid-old"),
		Backups: []v1alpha1.IrisBackup{
			backup("iris-20261201-1800", "iris", v1alpha1.BackupCompleted, ago(3*time.Hour), 1800*time.Millisecond, ""),
			backup("iris-20261201-2000", "iris", v1alpha1.BackupCompleted, ago(time.Hour), 1600*time.Millisecond, ""),
			backup("other-20261201-2000", "other", v1alpha1.BackupFailed, ago(time.Hour), 0, "not this instance's"),
			backup("iris-20261201-1900", "iris", v1alpha1.BackupCompleted, ago(2*time.Hour), 2100*time.Millisecond, ""),
			backup("iris-20261201-1700", "iris", v1alpha1.BackupCompleted, ago(4*time.Hour), 1700*time.Millisecond, ""),
		},
		Events: []corev1.Event{
			event("Pod", curPod, corev1.EventTypeNormal, "Pulled", ago(50*time.Minute), `Container image "ghcr.io/irisha/irisha-manager:v0.1.0" already present on machine`),
			event("Pod", "unrelated-pod", corev1.EventTypeWarning, "BackOff", ago(time.Minute), "not about the instance"),
			event("IrisInstance", "iris", corev1.EventTypeNormal, "BackupCompleted", ago(59*time.Minute), "backup iris-20261201-2000 completed"),
		},
	}
}

// failingOver: the pod on node-a was declared dead 2.4 s ago, the fencing
// steps ran, and the replacement on node-b is being created.
func failingOver() *Snapshot {
	inst := instance()
	detected := ago(2400 * time.Millisecond)
	inst.Status = v1alpha1.IrisInstanceStatus{
		Phase: v1alpha1.PhaseStarting, Pod: newPod, Node: nodeB, PVC: pvcName, Capacity: ptr.To(resource.MustParse("10Gi")),
		Fencing: v1alpha1.FencingFenced, Failovers: 2,
		Conditions: []metav1.Condition{
			cond(v1alpha1.ConditionReady, metav1.ConditionFalse, "PodStarting", "pod "+newPod+" is starting", ago(time.Second)),
			cond(v1alpha1.ConditionProgressing, metav1.ConditionTrue, "RollingOut", "waiting for the pod to run the current spec and become ready", ago(time.Second)),
			cond(v1alpha1.ConditionDegraded, metav1.ConditionFalse, "AsExpected", "", ago(49*time.Hour)),
		},
		LastFailover: &v1alpha1.FailoverRecord{
			Reason: fencing.ReasonLeaseExpired, Node: nodeA, Pod: curPod, PodUID: podUID,
			LeaseRenewTime: micro(detected.Add(-12 * time.Second)),
			DetectedAt:     *micro(detected), FencedAt: micro(detected.Add(412 * time.Millisecond)),
		},
	}
	creating := pod(newPod, nodeB, detected.Add(420*time.Millisecond), false)
	creating.Status.Phase = corev1.PodPending
	creating.Status.ContainerStatuses[0].State.Waiting = &corev1.ContainerStateWaiting{Reason: "ContainerCreating"}
	at := func(ms int) time.Time { return detected.Add(time.Duration(ms) * time.Millisecond) }
	return &Snapshot{
		Now: now, Instance: inst,
		Pods:         []corev1.Pod{creating},
		Nodes:        map[string]*corev1.Node{nodeB: node(nodeB, "zone-b")},
		PVC:          pvc("10Gi", "10Gi"),
		StorageClass: longhorn(),
		Lease:        fencingLease("", detected.Add(-12*time.Second), ago(3*time.Hour), 3, oldPod+"_uid-old,"+curPod+"_"+podUID),
		Backups: []v1alpha1.IrisBackup{
			backup("iris-20261201-2000", "iris", v1alpha1.BackupCompleted, ago(time.Hour), 1600*time.Millisecond, ""),
		},
		Events: []corev1.Event{
			event("IrisInstance", "iris", corev1.EventTypeWarning, "FailoverStarted", at(0), "the fencing Lease of pod "+curPod+" expired 2.0 s ago (renewed 12.0 s ago, duration 10 s)"),
			event("IrisInstance", "iris", corev1.EventTypeNormal, string(fencing.Cordon), at(105), "node "+nodeA+" cordoned"),
			event("IrisInstance", "iris", corev1.EventTypeNormal, string(fencing.ForceDeletePod), at(188), "pod "+curPod+" deleted with grace period 0"),
			event("IrisInstance", "iris", corev1.EventTypeNormal, string(fencing.ClearLease), at(254), "Lease iris-fencing cleared; "+curPod+"_"+podUID+" fenced"),
			event("IrisInstance", "iris", corev1.EventTypeNormal, string(fencing.DeleteAttachment), at(331), "VolumeAttachment csi-4a1f deleted"),
			event("IrisInstance", "iris", corev1.EventTypeNormal, string(fencing.ReleaseVolume), at(398), "volume released from node "+nodeA+"'s volumesInUse"),
			event("IrisInstance", "iris", corev1.EventTypeNormal, "Fenced", at(412), "pod "+curPod+" on node "+nodeA+" is fenced: its replacement may start"),
			event("Pod", newPod, corev1.EventTypeNormal, "Scheduled", at(430), "Successfully assigned databases/"+newPod+" to "+nodeB),
			event("Pod", curPod, corev1.EventTypeWarning, "NodeNotReady", ago(5*time.Second), "Node is not ready"),
			// A fencing step of an earlier failover: not a step of this one.
			event("IrisInstance", "iris", corev1.EventTypeNormal, string(fencing.Cordon), ago(50*time.Minute), "node node-c cordoned"),
		},
	}
}

// degraded: the CPF merge text does not parse, so the operator leaves the
// running pod alone and says why; a resize waits for the volume; the
// StorageClass is not readable with the user's RBAC; the last backup failed.
func degraded() *Snapshot {
	s := healthy()
	inst := s.Instance
	inst.Spec.Storage.Size = resource.MustParse("20Gi")
	inst.Status.Phase = v1alpha1.PhaseDegraded
	inst.Status.Conditions[2] = cond(v1alpha1.ConditionDegraded, metav1.ConditionTrue, "InvalidConfig",
		`spec.config.mergeText: line 3: "[Startup": a section header needs its closing "]"`, ago(4*time.Minute))
	s.PVC = pvc("20Gi", "10Gi")
	s.StorageClass = nil
	s.Unreadable = []Unreadable{{What: "storageclass longhorn", Error: `storageclasses.storage.k8s.io "longhorn" is forbidden: User "dba" cannot get resource "storageclasses" in API group "storage.k8s.io" at the cluster scope`}}
	s.Backups = append(s.Backups, backup("iris-20261201-2030", "iris", v1alpha1.BackupFailed, ago(30*time.Minute), 0,
		"IRIS stayed frozen past maxFrozenSeconds (10 s): the agent thawed it and the snapshot was abandoned"))
	s.Events = append(s.Events,
		event("IrisInstance", "iris", corev1.EventTypeWarning, "InvalidConfig", ago(4*time.Minute), `spec.config.mergeText: line 3: "[Startup": a section header needs its closing "]"`),
		event("PersistentVolumeClaim", pvcName, corev1.EventTypeWarning, "ExternalExpanding", ago(3*time.Minute), "waiting for an external controller to expand this PVC"),
	)
	return s
}

func TestGoldenScreens(t *testing.T) {
	for name, snapshot := range map[string]func() *Snapshot{"healthy": healthy, "failing-over": failingOver, "degraded": degraded} {
		t.Run(name, func(t *testing.T) {
			var out bytes.Buffer
			if err := Text(&out, Build(snapshot())); err != nil {
				t.Fatal(err)
			}
			golden(t, name+".golden", out.Bytes())
		})
	}
}

// TestGoldenJSON pins the -o json struct, which scripts read.
func TestGoldenJSON(t *testing.T) {
	b, err := json.MarshalIndent(Build(failingOver()), "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	golden(t, "failing-over.json.golden", append(b, '\n'))
}

func golden(t *testing.T, name string, got []byte) {
	t.Helper()
	path := filepath.Join("testdata", name)
	if *update {
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test -update to write it)", err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("%s differs (go test -update rewrites it); got:\n%s", path, got)
	}
}

func TestFailoverStepsAreThisFailoversInOrder(t *testing.T) {
	f := Build(failingOver()).LastFailover
	var steps []string
	for _, s := range f.Steps {
		steps = append(steps, s.Step)
	}
	want := "DeclaredDead Cordon ForceDeletePod ClearLease DeleteAttachment ReleaseVolume Fenced"
	if got := strings.Join(steps, " "); got != want {
		t.Errorf("steps %s, want %s", got, want)
	}
	if f.State != FailoverInProgress || f.ElapsedSeconds != 2.4 {
		t.Errorf("state %s after %.3f s, want InProgress after 2.4 s", f.State, f.ElapsedSeconds)
	}
	if last := f.Steps[len(f.Steps)-1]; last.AfterSeconds != 0.412 {
		t.Errorf("fenced after %.3f s, want 0.412 s (milliseconds kept)", last.AfterSeconds)
	}
}

func TestBackupsAreTheInstancesNewestThree(t *testing.T) {
	var names []string
	for _, b := range Build(healthy()).Backups {
		names = append(names, b.Name)
	}
	if got, want := strings.Join(names, " "), "iris-20261201-2000 iris-20261201-1900 iris-20261201-1800"; got != want {
		t.Errorf("backups %s, want %s", got, want)
	}
}

func TestEventsAreAboutTheInstanceOnly(t *testing.T) {
	for _, e := range Build(healthy()).Events {
		if e.Object == "Pod/unrelated-pod" {
			t.Errorf("shows an Event of another pod: %+v", e)
		}
	}
	s := failingOver()
	for i := range 20 {
		s.Events = append(s.Events, event("Pod", newPod, corev1.EventTypeNormal, "Pulling", ago(time.Duration(30-i)*time.Second), "pulling"))
	}
	if n := len(Build(s).Events); n != maxEvents {
		t.Errorf("%d events, want the newest %d", n, maxEvents)
	}
}

func TestLeaseExpiry(t *testing.T) {
	s := healthy()
	s.Lease.Spec.RenewTime = micro(ago(11 * time.Second))
	v := Build(s)
	if !v.Lease.Expired || !strings.HasPrefix(v.Instance.Summary, "Ready, but the fencing Lease expired 1.0 s ago") {
		t.Errorf("a Lease renewed 11 s ago with a 10 s duration: expired %v, summary %q", v.Lease.Expired, v.Instance.Summary)
	}
	s.Lease.Spec.HolderIdentity = nil
	if Build(s).Lease.Expired {
		t.Error("a free Lease counts as expired")
	}
}

func TestUsageShownWhenReported(t *testing.T) {
	s := healthy()
	s.Usage = &VolumeUsage{UsedBytes: 3 << 30, CapacityBytes: 10 << 30, Source: "agent", ObservedAt: ago(20 * time.Second)}
	var out bytes.Buffer
	if err := Text(&out, Build(s)); err != nil {
		t.Fatal(err)
	}
	if want := "used 3Gi of 10Gi (30 %, from the agent, 20s ago)"; !strings.Contains(out.String(), want) {
		t.Errorf("screen lacks %q:\n%s", want, out.String())
	}
}
