package agent_test

import (
	"encoding/json"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/irisha/irisha/api/v1alpha1"
	"github.com/irisha/irisha/internal/iris"
	"github.com/irisha/irisha/internal/iris/fakeiris"
	"github.com/irisha/irisha/internal/resources"
)

// newBackup creates an IrisBackup of instance (the agent's unless told
// otherwise) and moves it to Freezing, as the operator does.
func newBackup(t *testing.T, inst instance, name, of string, maxFrozen int32) *v1alpha1.IrisBackup {
	t.Helper()
	b := &v1alpha1.IrisBackup{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: inst.ns},
		Spec:       v1alpha1.IrisBackupSpec{InstanceName: of, MaxFrozenSeconds: maxFrozen},
	}
	if err := env.Client.Create(t.Context(), b); err != nil {
		t.Fatal(err)
	}
	setPhase(t, b, v1alpha1.BackupFreezing)
	return b
}

// setPhase moves a backup as the operator does, through the status subresource.
func setPhase(t *testing.T, b *v1alpha1.IrisBackup, phase v1alpha1.BackupPhase) {
	t.Helper()
	latest := getBackup(t, b)
	patch := client.MergeFromWithOptions(latest.DeepCopy(), client.MergeFromWithOptimisticLock{})
	latest.Status.Phase = phase
	if err := env.Client.Status().Patch(t.Context(), latest, patch); err != nil {
		t.Fatalf("setting %s to %s: %v", b.Name, phase, err)
	}
}

func getBackup(t *testing.T, b *v1alpha1.IrisBackup) *v1alpha1.IrisBackup {
	t.Helper()
	latest := &v1alpha1.IrisBackup{}
	if err := env.Client.Get(t.Context(), client.ObjectKeyFromObject(b), latest); err != nil {
		t.Fatal(err)
	}
	return latest
}

// waitPhase waits for the backup to reach phase and returns it.
func waitPhase(t *testing.T, a *agentProc, b *v1alpha1.IrisBackup, phase v1alpha1.BackupPhase, within time.Duration) *v1alpha1.IrisBackup {
	t.Helper()
	var last *v1alpha1.IrisBackup
	deadline := time.Now().Add(within)
	for time.Now().Before(deadline) {
		last = &v1alpha1.IrisBackup{}
		if err := env.Client.Get(t.Context(), client.ObjectKeyFromObject(b), last); err == nil && last.Status.Phase == phase {
			return last
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatalf("backup %s did not reach %s within %s; status %+v\nagent output:\n%s", b.Name, phase, within, last.Status, a.output())
	return nil
}

// frozenOnDisk is the fake IRIS's own record of a suspended write daemon,
// read from the volume: it needs neither the agent nor the API server.
func (i instance) frozenOnDisk(t *testing.T) bool {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(i.dataDir, "mgr", "fakeiris.json"))
	if err != nil {
		t.Fatalf("reading the fake IRIS state: %v", err)
	}
	var s struct {
		Frozen bool `json:"frozen"`
	}
	if err := json.Unmarshal(b, &s); err != nil {
		t.Fatalf("reading the fake IRIS state: %v", err)
	}
	return s.Frozen
}

// suspended asks IRIS as a backup script would: IsWDSuspendedExt.
func (i instance) suspended(t *testing.T) bool {
	t.Helper()
	c := &iris.Client{Runner: envRunner{env: append(os.Environ(), "ISC_DATA_DIRECTORY="+i.dataDir)}, Iris: filepath.Join(irisPath, "iris")}
	s, err := c.WriteDaemonSuspended(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// metric returns the agent's sample of name, "" if absent.
func (a *agentProc) metric(t *testing.T, name string) string {
	t.Helper()
	resp, err := http.Get("http://" + a.health + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = resp.Body.Close() }()
	body, _ := io.ReadAll(resp.Body)
	for _, l := range strings.Split(string(body), "\n") {
		if f := strings.Fields(l); len(f) == 2 && f[0] == name {
			return f[1]
		}
	}
	return ""
}

func readyAgent(t *testing.T, inst instance, flags ...string) *agentProc {
	t.Helper()
	a := startAgent(t, inst, "pod-a", flags...)
	waitFor(t, "pod-a ready", 15*time.Second, func() bool { return a.probe("/readyz") == http.StatusOK })
	return a
}

// TestBackupFreezeAndThawOnRequest: Freezing -> Frozen (IRIS suspended,
// deadline recorded), Thawing -> Finalizing (IRIS resumed), and a backup of
// another instance in the namespace is none of the agent's business.
func TestBackupFreezeAndThawOnRequest(t *testing.T) {
	inst := newInstance(t)
	a := readyAgent(t, inst)
	other := newBackup(t, inst, "other-instance", "another-iris", 10)
	b := newBackup(t, inst, "bk", instanceName, 10)

	frozen := waitPhase(t, a, b, v1alpha1.BackupFrozen, 10*time.Second)
	st := frozen.Status
	if st.Pod != "pod-a" || st.FrozenAt == nil || st.ThawDeadline == nil {
		t.Fatalf("Frozen status = %+v, want pod, frozenAt and thawDeadline", st)
	}
	if d := st.ThawDeadline.Sub(st.FrozenAt.Time); d != 10*time.Second {
		t.Errorf("thawDeadline - frozenAt = %s, want maxFrozenSeconds (10s)", d)
	}
	if !inst.suspended(t) {
		t.Errorf("IRIS does not report its write daemon suspended while the backup is Frozen")
	}
	if got := a.metric(t, "irisha_agent_frozen"); got != "1" {
		t.Errorf("irisha_agent_frozen while frozen = %q, want 1", got)
	}

	setPhase(t, b, v1alpha1.BackupSnapshotting)
	setPhase(t, b, v1alpha1.BackupThawing)
	done := waitPhase(t, a, b, v1alpha1.BackupFinalizing, 10*time.Second).Status
	if done.ThawedBy != v1alpha1.ThawRequested || done.ThawedAt == nil {
		t.Errorf("Finalizing status = %+v, want thawed by Request", done)
	}
	if inst.suspended(t) {
		t.Errorf("IRIS still reports its write daemon suspended after the thaw")
	}
	if got := a.metric(t, "irisha_agent_frozen"); got != "0" {
		t.Errorf("irisha_agent_frozen after the thaw = %q, want 0", got)
	}
	if s := getBackup(t, other).Status; s.Phase != v1alpha1.BackupFreezing || s.Pod != "" {
		t.Errorf("the agent touched another instance's backup: %+v", s)
	}
}

// TestBackupThawsAtTheDeadline: nobody asks for a thaw; the agent thaws at
// the deadline on its own and fails the backup.
func TestBackupThawsAtTheDeadline(t *testing.T) {
	inst := newInstance(t)
	a := readyAgent(t, inst)
	const maxFrozen = 2 * time.Second
	b := newBackup(t, inst, "bk", instanceName, int32(maxFrozen/time.Second))

	frozeAt := waitFor(t, "IRIS frozen", 10*time.Second, func() bool { return inst.frozenOnDisk(t) })
	thawedAt := waitFor(t, "IRIS thawed", 2*maxFrozen, func() bool { return !inst.frozenOnDisk(t) })
	// Ordering with slack for polling and process latency, not a tight timing.
	if took := thawedAt.Sub(frozeAt); took < maxFrozen-200*time.Millisecond || took > maxFrozen+1500*time.Millisecond {
		t.Errorf("IRIS was thawed %s after it froze, want at the deadline (%s)", took, maxFrozen)
	}
	st := waitPhase(t, a, b, v1alpha1.BackupFailed, 10*time.Second).Status
	if st.ThawedBy != v1alpha1.ThawDeadline || !strings.Contains(st.Message, "deadline") {
		t.Errorf("status = %+v, want Failed, thawed by Deadline", st)
	}
	// Both are whole seconds (metav1.Time), so only the order is exact.
	if st.ThawedAt == nil || st.ThawDeadline == nil || st.ThawedAt.Before(st.ThawDeadline) {
		t.Errorf("thawedAt %v before thawDeadline %v", st.ThawedAt, st.ThawDeadline)
	}
	if inst.suspended(t) {
		t.Errorf("IRIS still reports its write daemon suspended")
	}
	if got := a.metric(t, "irisha_agent_deadline_thaws_total"); got != "1" {
		t.Errorf("irisha_agent_deadline_thaws_total = %q, want 1", got)
	}
}

// TestBackupThawsAtTheDeadlineWithoutTheAPIServer: the dead-man switch is
// local; the status catches up once the partition heals. The Lease is long
// here, so the agent does not fence itself during the cut.
func TestBackupThawsAtTheDeadlineWithoutTheAPIServer(t *testing.T) {
	inst := newInstance(t)
	a := readyAgent(t, inst, "--lease-duration", "20s", "--safety-margin", "2s")
	const maxFrozen = 2 * time.Second
	b := newBackup(t, inst, "bk", instanceName, int32(maxFrozen/time.Second))

	waitPhase(t, a, b, v1alpha1.BackupFrozen, 10*time.Second)
	a.proxy.Cut()
	cut := time.Now()
	// The deadline is at most maxFrozen after the cut; the fake's own state
	// on the volume says whether IRIS was thawed.
	thawed := waitFor(t, "IRIS thawed during the partition", maxFrozen+2*time.Second, func() bool { return !inst.frozenOnDisk(t) })
	if s := getBackup(t, b).Status; s.Phase != v1alpha1.BackupFrozen {
		t.Fatalf("the status changed during the partition: %+v", s)
	}
	a.proxy.Heal()
	st := waitPhase(t, a, b, v1alpha1.BackupFailed, 15*time.Second).Status
	if st.ThawedBy != v1alpha1.ThawDeadline {
		t.Errorf("status after healing = %+v, want thawed by Deadline", st)
	}
	if took := thawed.Sub(cut); took > maxFrozen+time.Second {
		t.Errorf("IRIS thawed %s after the cut, want by the deadline (%s after the freeze)", took, maxFrozen)
	}
	select {
	case <-a.exited:
		t.Fatalf("the agent exited during a partition shorter than its Lease:\n%s", a.output())
	default:
	}
}

// TestBackupFreezeFails: ExternalFreeze exits 3; the backup fails, and IRIS
// is not left suspended.
func TestBackupFreezeFails(t *testing.T) {
	inst := newInstance(t)
	a := readyAgent(t, inst)
	if err := fakeiris.WriteControl(inst.dataDir, fakeiris.ControlFreezeFails); err != nil {
		t.Fatal(err)
	}
	b := newBackup(t, inst, "bk", instanceName, 10)
	st := waitPhase(t, a, b, v1alpha1.BackupFailed, 10*time.Second).Status
	if !strings.Contains(st.Message, "ExternalFreeze failed") || st.FrozenAt != nil || st.ThawedBy != "" {
		t.Errorf("status = %+v, want Failed with the freeze's error", st)
	}
	if inst.suspended(t) {
		t.Errorf("IRIS reports its write daemon suspended after a failed freeze")
	}
}

// TestBackupOneFreezeAtATime: a second Freezing backup waits until the
// first one's freeze has ended.
func TestBackupOneFreezeAtATime(t *testing.T) {
	inst := newInstance(t)
	a := readyAgent(t, inst)
	b1 := newBackup(t, inst, "bk-1", instanceName, 30)
	b2 := newBackup(t, inst, "bk-2", instanceName, 30)

	var first, second *v1alpha1.IrisBackup
	waitFor(t, "one backup Frozen", 10*time.Second, func() bool {
		switch {
		case getBackup(t, b1).Status.Phase == v1alpha1.BackupFrozen:
			first, second = b1, b2
		case getBackup(t, b2).Status.Phase == v1alpha1.BackupFrozen:
			first, second = b2, b1
		}
		return first != nil
	})
	time.Sleep(1500 * time.Millisecond)
	if s := getBackup(t, second).Status; s.Phase != v1alpha1.BackupFreezing {
		t.Fatalf("second backup %s = %+v while %s is frozen, want it to wait in Freezing", second.Name, s, first.Name)
	}
	setPhase(t, first, v1alpha1.BackupThawing)
	waitPhase(t, a, first, v1alpha1.BackupFinalizing, 10*time.Second)
	waitPhase(t, a, second, v1alpha1.BackupFrozen, 10*time.Second)
	setPhase(t, second, v1alpha1.BackupThawing)
	waitPhase(t, a, second, v1alpha1.BackupFinalizing, 10*time.Second)
	if inst.suspended(t) {
		t.Errorf("IRIS still suspended after both backups")
	}
}

// TestBackupFrozenAcrossARestart: the agent (and IRIS with it) dies while
// a backup is frozen; the next agent thaws and fails the backup.
func TestBackupFrozenAcrossARestart(t *testing.T) {
	inst := newInstance(t)
	a := readyAgent(t, inst)
	b := newBackup(t, inst, "bk", instanceName, 60)
	waitPhase(t, a, b, v1alpha1.BackupFrozen, 10*time.Second)
	a.kill()
	if !inst.frozenOnDisk(t) {
		t.Fatalf("the killed IRIS left no freeze on the volume; the test would prove nothing")
	}
	restarted := startAgent(t, inst, "pod-a")
	// The agent takes part in backups only once it has seen IRIS up (the
	// kubelet's startup probe): until then the backup is left alone.
	waitFor(t, "the restarted agent to start IRIS", 15*time.Second, func() bool {
		_, ok := restarted.logged("starting IRIS")
		return ok
	})
	time.Sleep(500 * time.Millisecond)
	if s := getBackup(t, b).Status; s.Phase != v1alpha1.BackupFrozen {
		t.Fatalf("backup %+v before IRIS was seen up, want it left Frozen", s)
	}
	waitFor(t, "the restarted IRIS up", 15*time.Second, func() bool { return restarted.probe("/startupz") == http.StatusOK })
	st := waitPhase(t, restarted, b, v1alpha1.BackupFailed, 20*time.Second).Status
	if st.ThawedBy != v1alpha1.ThawRestart {
		t.Errorf("status = %+v, want thawed by Restart", st)
	}
	if inst.suspended(t) {
		t.Errorf("IRIS still suspended after the restart")
	}
}

// TestStopThawsFirst: a clean stop while frozen thaws IRIS before asking it
// to shut down.
func TestStopThawsFirst(t *testing.T) {
	inst := newInstance(t)
	a := readyAgent(t, inst)
	b := newBackup(t, inst, "bk", instanceName, 60)
	waitPhase(t, a, b, v1alpha1.BackupFrozen, 10*time.Second)
	if err := a.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	if code := a.exitCode(t, 20*time.Second); code != 0 {
		t.Fatalf("exit code after SIGTERM = %d:\n%s", code, a.output())
	}
	thawed, ok := a.logged("Thawed IRIS before stopping")
	forwarded, ok2 := a.logged("Forwarding signal to IRIS")
	if !ok || !ok2 || forwarded.Before(thawed) {
		t.Errorf("want the thaw logged before the signal is forwarded:\n%s", a.output())
	}
}

// TestBackupWithTheAgentsRole: the agent takes part in backups with only
// the Role the operator gives it (its Lease, its namespace's backups, their
// status by patch), bound to a user in no group.
func TestBackupWithTheAgentsRole(t *testing.T) {
	inst := newInstance(t)
	in := resources.Inputs{Instance: &v1alpha1.IrisInstance{ObjectMeta: metav1.ObjectMeta{Name: instanceName, Namespace: inst.ns}}}
	in.Instance.Spec.Failover.LeaseDurationSeconds = int32(leaseDuration / time.Second)
	user := "agent-" + inst.ns
	binding := resources.AgentRoleBinding(in)
	binding.Subjects = []rbacv1.Subject{{Kind: rbacv1.UserKind, APIGroup: rbacv1.GroupName, Name: user}}
	for _, obj := range []client.Object{resources.AgentRole(in), binding, resources.FencingLease(in)} {
		if err := env.Client.Create(t.Context(), obj); err != nil {
			t.Fatal(err)
		}
	}
	if resources.FencingLeaseName(in.Instance) != leaseName {
		t.Fatalf("the test's Lease %s is not the instance's %s", leaseName, resources.FencingLeaseName(in.Instance))
	}
	a := startAgentAs(t, inst, "pod-a", user)
	waitFor(t, "pod-a ready", 15*time.Second, func() bool { return a.probe("/readyz") == http.StatusOK })

	b := newBackup(t, inst, "bk", instanceName, 10)
	waitPhase(t, a, b, v1alpha1.BackupFrozen, 10*time.Second)
	setPhase(t, b, v1alpha1.BackupThawing)
	waitPhase(t, a, b, v1alpha1.BackupFinalizing, 10*time.Second)
	if strings.Contains(a.output(), "forbidden") {
		t.Errorf("the agent was refused something:\n%s", a.output())
	}
}
