package agent_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	coordinationv1 "k8s.io/api/coordination/v1"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/irisha/irisha/internal/agent"
	"github.com/irisha/irisha/internal/agent/lease"
	"github.com/irisha/irisha/internal/agent/supervisor"
	"github.com/irisha/irisha/internal/iris"
	"github.com/irisha/irisha/internal/testenv"
)

// The timings of these tests: short, so the Lease expires in seconds. The
// margin is the least lease.Timing.Validate accepts with the default
// --force-timeout; the renew interval fits under the attempt timeout
// ((4 s - 1.5 s) / 3 = 0.83 s).
const (
	leaseDuration = 4 * time.Second
	renewInterval = 500 * time.Millisecond
	safetyMargin  = lease.MinSafetyMargin
	leaseName     = "iris-fencing"
	instanceName  = "iris"
)

var (
	env      *testenv.Env
	manager  string
	irisPath string
)

func TestMain(m *testing.M) {
	flag.Parse()
	if testing.Short() {
		fmt.Println("skipping the agent process tests in -short mode")
		os.Exit(0)
	}
	os.Exit(run(m))
}

func run(m *testing.M) int {
	var err error
	if env, err = testenv.Start(testenv.Options{}); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer env.Stop()
	if manager, err = testenv.GoBinary(env.Dir(), "./cmd/irisha-manager"); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	if irisPath, err = testenv.FakeIris(env.Dir()); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	return m.Run()
}

// instance is what two agents of the same IrisInstance share: a namespace,
// the Lease, the volume (data directory) and the superserver address.
type instance struct {
	ns, dataDir, superserver string
}

func newInstance(t *testing.T) instance {
	t.Helper()
	ns, err := env.Namespace(t.Context(), "agent")
	if err != nil {
		t.Fatal(err)
	}
	inst := instance{ns: ns, dataDir: filepath.Join(t.TempDir(), "IRIS"), superserver: freeAddr(t)}
	t.Cleanup(inst.killLeftover) // after every agent of the test is gone
	return inst
}

// killLeftover kills the fake IRIS instance process of this data directory
// if it outlived its agents. In a pod nothing survives PID 1; here an agent
// that exits leaves the daemon it adopted as subreaper to the system's
// init. The process is named by the state file and recognised by its
// ISC_DATA_DIRECTORY, so a reused PID is never killed.
func (i instance) killLeftover() {
	pid, _ := i.irisState()
	if pid <= 0 {
		return
	}
	env, err := os.ReadFile(fmt.Sprintf("/proc/%d/environ", pid))
	if err != nil || !bytes.Contains(env, []byte("ISC_DATA_DIRECTORY="+i.dataDir+"\x00")) {
		return
	}
	_ = syscall.Kill(pid, syscall.SIGKILL)
}

// agentProc is one agent, as in one pod, reaching the API server through a
// proxy the test can cut.
type agentProc struct {
	t      *testing.T
	name   string
	inst   instance
	cmd    *exec.Cmd
	proxy  *testenv.Proxy
	health string
	exited chan struct{}
	err    error

	mu    sync.Mutex
	lines []logLine
}

type logLine struct {
	at   time.Time
	text string
}

// startAgent starts an agent; flags override the defaults (the last of a
// repeated flag wins).
func startAgent(t *testing.T, inst instance, name string, flags ...string) *agentProc {
	t.Helper()
	return startAgentAs(t, inst, name, "", flags...)
}

// startAgentAs starts an agent authenticated as user, which has only what
// RBAC grants it; "" is the admin.
func startAgentAs(t *testing.T, inst instance, name, user string, flags ...string) *agentProc {
	t.Helper()
	return startAgentOf(t, inst, name, user, []string{filepath.Join(irisPath, "iris-main"), "--check-caps", "false"}, flags...)
}

// startAgentOf starts an agent that supervises command instead of IRIS.
func startAgentOf(t *testing.T, inst instance, name, user string, command []string, flags ...string) *agentProc {
	t.Helper()
	proxy, err := testenv.NewProxy(env.APIServerHostPort())
	if err != nil {
		t.Fatal(err)
	}
	kubeconfig, err := env.KubeconfigVia(proxy.Addr(), inst.ns+"-"+name)
	if user != "" {
		kubeconfig, err = env.UserKubeconfigVia(proxy.Addr(), user)
	}
	if err != nil {
		t.Fatal(err)
	}
	a := &agentProc{t: t, name: name, inst: inst, proxy: proxy, health: freeAddr(t), exited: make(chan struct{})}
	args := []string{"agent", "run",
		"--namespace", inst.ns, "--pod-name", name, "--pod-uid", "uid-" + name, "--instance-name", instanceName,
		"--lease-name", leaseName, "--lease-duration", leaseDuration.String(),
		"--renew-interval", renewInterval.String(), "--safety-margin", safetyMargin.String(),
		"--listen-address", a.health, "--superserver-address", inst.superserver,
		"--probe-timeout", "500ms", "--iris", filepath.Join(irisPath, "iris"), "--kubeconfig", kubeconfig}
	args = append(append(append(args, flags...), "--"), command...)
	a.cmd = exec.Command(manager, args...)
	a.cmd.Env = append(os.Environ(), "ISC_DATA_DIRECTORY="+inst.dataDir, "FAKEIRIS_SUPERSERVER="+inst.superserver, "FAKEIRIS_JOURNAL_INTERVAL=20ms")
	pr, pw := io.Pipe()
	a.cmd.Stdout, a.cmd.Stderr = pw, pw
	// A process that escaped the kill must not keep Wait (and the test)
	// waiting for the output pipe.
	a.cmd.WaitDelay = 2 * time.Second
	if err := a.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go a.collect(pr)
	go func() {
		a.err = a.cmd.Wait()
		_ = pw.Close()
		close(a.exited)
	}()
	t.Cleanup(a.kill)
	return a
}

func (a *agentProc) collect(r io.Reader) {
	sc := bufio.NewScanner(r)
	for sc.Scan() {
		a.mu.Lock()
		a.lines = append(a.lines, logLine{at: time.Now(), text: sc.Text()})
		a.mu.Unlock()
	}
}

// logged returns when the agent first logged a line containing s.
func (a *agentProc) logged(s string) (time.Time, bool) {
	a.mu.Lock()
	defer a.mu.Unlock()
	for _, l := range a.lines {
		if strings.Contains(l.text, s) {
			return l.at, true
		}
	}
	return time.Time{}, false
}

func (a *agentProc) output() string {
	a.mu.Lock()
	defer a.mu.Unlock()
	var b strings.Builder
	for _, l := range a.lines {
		b.WriteString(l.text + "\n")
	}
	return b.String()
}

// kill removes the agent and every process under it.
func (a *agentProc) kill() {
	if tree, err := supervisor.Descendants(a.cmd.Process.Pid); err == nil {
		for _, pid := range tree {
			_ = syscall.Kill(pid, syscall.SIGKILL)
		}
	}
	_ = a.cmd.Process.Kill()
	<-a.exited
	a.proxy.Close()
}

func (a *agentProc) exitCode(t *testing.T, within time.Duration) int {
	t.Helper()
	select {
	case <-a.exited:
	case <-time.After(within):
		t.Fatalf("agent %s did not exit within %s:\n%s", a.name, within, a.output())
	}
	var ee *exec.ExitError
	if errors.As(a.err, &ee) {
		return ee.ExitCode()
	}
	if a.err != nil {
		t.Fatalf("agent %s: %v", a.name, a.err)
	}
	return 0
}

func (a *agentProc) probe(path string) int {
	resp, err := http.Get("http://" + a.health + path)
	if err != nil {
		return 0
	}
	_ = resp.Body.Close()
	return resp.StatusCode
}

func waitFor(t *testing.T, what string, within time.Duration, cond func() bool) time.Time {
	t.Helper()
	deadline := time.Now().Add(within)
	for time.Now().Before(deadline) {
		if cond() {
			return time.Now()
		}
		time.Sleep(10 * time.Millisecond)
	}
	t.Fatalf("timed out after %s waiting for %s", within, what)
	return time.Time{}
}

// irisPid is the PID of the fake IRIS instance process on the volume.
func (i instance) irisPid(t *testing.T) int {
	if pid, up := i.irisState(); up {
		return pid
	}
	return 0
}

// irisState reads the fake IRIS's state file: its instance process's PID
// (0 if none recorded) and whether it runs.
func (i instance) irisState() (pid int, up bool) {
	b, err := os.ReadFile(filepath.Join(i.dataDir, "mgr", "fakeiris.json"))
	if err != nil {
		return 0, false
	}
	var s struct {
		Pid int  `json:"pid"`
		Up  bool `json:"up"`
	}
	if err := json.Unmarshal(b, &s); err != nil {
		return 0, false
	}
	return s.Pid, s.Up
}

// journal returns the writers of the journal in order: pid and time of each line.
func (i instance) journal(t *testing.T) []journalLine {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(i.dataDir, "mgr", "journal.log"))
	if err != nil {
		return nil
	}
	var out []journalLine
	for _, l := range strings.Split(strings.TrimSpace(string(b)), "\n") {
		f := strings.Fields(l)
		if len(f) != 3 {
			continue
		}
		pid, _ := strconv.Atoi(f[1])
		ns, _ := strconv.ParseInt(f[2], 10, 64)
		out = append(out, journalLine{pid: pid, at: time.Unix(0, ns)})
	}
	return out
}

type journalLine struct {
	pid int
	at  time.Time
}

func processAlive(pid int) bool {
	if pid <= 0 || syscall.Kill(pid, 0) != nil {
		return false
	}
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return false
	}
	s := string(b)
	i := strings.LastIndexByte(s, ')')
	return i >= 0 && i+2 < len(s) && s[i+2] != 'Z'
}

func freeAddr(t *testing.T) string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = ln.Close() }()
	return ln.Addr().String()
}

func leaseHolder(ctx context.Context, ns string) string {
	l := &coordinationv1.Lease{}
	if err := env.Client.Get(ctx, client.ObjectKey{Namespace: ns, Name: leaseName}, l); err != nil {
		return "<" + err.Error() + ">"
	}
	return ptr.Deref(l.Spec.HolderIdentity, "")
}

// TestCleanStopHandsOver: SIGTERM stops IRIS cleanly and releases the Lease;
// the waiting agent starts IRIS within one renew interval.
func TestCleanStopHandsOver(t *testing.T) {
	inst := newInstance(t)
	a := startAgent(t, inst, "pod-a")
	waitFor(t, "pod-a ready", 15*time.Second, func() bool { return a.probe("/readyz") == http.StatusOK })
	b := startAgent(t, inst, "pod-b")
	waitFor(t, "pod-b to wait for the Lease", 10*time.Second, func() bool {
		_, ok := b.logged("Waiting for the fencing Lease")
		return ok
	})
	if code := b.probe("/livez"); code != http.StatusOK {
		t.Errorf("a waiting agent must be alive for the kubelet, /livez = %d", code)
	}
	if code := b.probe("/readyz"); code == http.StatusOK {
		t.Errorf("a waiting agent must not be ready")
	}

	if err := a.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	if code := a.exitCode(t, 20*time.Second); code != 0 {
		t.Fatalf("pod-a exit code after SIGTERM = %d, want 0:\n%s", code, a.output())
	}
	aExited := time.Now()
	if !strings.Contains(a.output(), "Journal restore not required") {
		t.Errorf("IRIS did not stop cleanly:\n%s", a.output())
	}
	if _, ok := a.logged("released the fencing Lease"); !ok {
		t.Errorf("pod-a did not release the Lease:\n%s", a.output())
	}
	bHolds := waitFor(t, "pod-b to take the Lease", 5*time.Second, func() bool {
		_, ok := b.logged("Holding the fencing Lease")
		return ok
	})
	if took := bHolds.Sub(aExited); took > renewInterval+300*time.Millisecond {
		t.Errorf("pod-b took the released Lease %s after pod-a exited, want within one renew interval (%s)", took, renewInterval)
	}
	if h := leaseHolder(t.Context(), inst.ns); h != "pod-b_uid-pod-b" {
		t.Errorf("Lease holder = %q", h)
	}
}

// TestPartitionedAgentFencesItself cuts one agent off the API server: it must
// kill IRIS before leaseDuration - safetyMargin has passed since the cut (so
// before anyone else may take the Lease), and the second agent may start IRIS
// only after that.
func TestPartitionedAgentFencesItself(t *testing.T) {
	inst := newInstance(t)
	a := startAgent(t, inst, "pod-a")
	waitFor(t, "pod-a ready", 15*time.Second, func() bool { return a.probe("/readyz") == http.StatusOK })
	oldIris := inst.irisPid(t)
	b := startAgent(t, inst, "pod-b")
	waitFor(t, "pod-b to wait for the Lease", 10*time.Second, func() bool {
		_, ok := b.logged("Waiting for the fencing Lease")
		return ok
	})

	cut := time.Now()
	a.proxy.Cut()
	dead := waitFor(t, "the partitioned IRIS to die", 2*leaseDuration, func() bool { return !processAlive(oldIris) })
	if code := a.exitCode(t, 10*time.Second); code != agent.ExitFenced {
		t.Errorf("pod-a exit code = %d, want %d (fenced):\n%s", code, agent.ExitFenced, a.output())
	}
	// The last renewal that succeeded was sent before the cut, so the fence
	// deadline is at most cut + (duration - margin); a little slack for
	// process and poll latency, never the margin itself.
	if took := dead.Sub(cut); took > leaseDuration-safetyMargin+250*time.Millisecond {
		t.Errorf("IRIS died %s after the cut; want within leaseDuration - safetyMargin = %s", took, leaseDuration-safetyMargin)
	}

	waitFor(t, "pod-b to start IRIS", 3*leaseDuration, func() bool {
		pid := inst.irisPid(t)
		return pid != 0 && pid != oldIris
	})
	newIris := inst.irisPid(t)
	waitFor(t, "pod-b's IRIS to journal", 5*time.Second, func() bool {
		j := inst.journal(t)
		return len(j) > 0 && j[len(j)-1].pid == newIris
	})
	// W1 on the volume: every line the old IRIS wrote precedes every line
	// of the new one, and the new one started after the old one died.
	var lastOld, firstNew time.Time
	for _, l := range inst.journal(t) {
		switch l.pid {
		case oldIris:
			lastOld = l.at
		case newIris:
			if firstNew.IsZero() {
				firstNew = l.at
			}
		}
	}
	if !lastOld.Before(firstNew) || firstNew.Before(dead) {
		t.Errorf("two writers: old IRIS last wrote at %s, died by %s; new IRIS first wrote at %s",
			lastOld.Format(time.StampMicro), dead.Format(time.StampMicro), firstNew.Format(time.StampMicro))
	}
}

// TestLivenessHungVersusFrozen: a frozen write daemon (backup) keeps the
// pod alive; an IRIS that stops answering does not.
func TestLivenessHungVersusFrozen(t *testing.T) {
	inst := newInstance(t)
	a := startAgent(t, inst, "pod-a")
	waitFor(t, "startup", 15*time.Second, func() bool { return a.probe("/startupz") == http.StatusOK })
	c := &iris.Client{Runner: envRunner{env: append(os.Environ(), "ISC_DATA_DIRECTORY="+inst.dataDir)}, Iris: filepath.Join(irisPath, "iris")}
	if err := c.Freeze(t.Context(), 60); err != nil {
		t.Fatal(err)
	}
	if st, _ := c.Status(t.Context()); st.Health != iris.HealthHung {
		t.Fatalf("the fake must report hung while frozen, got %q", st.Health)
	}
	if code := a.probe("/livez"); code != http.StatusOK {
		t.Errorf("/livez while frozen = %d, want 200", code)
	}
	if err := c.Thaw(t.Context()); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(inst.dataDir, "mgr", "fakeiris.control"), []byte("hang"), 0o644); err != nil {
		t.Fatal(err)
	}
	if code := a.probe("/livez"); code != http.StatusServiceUnavailable {
		t.Errorf("/livez while hung = %d, want 503", code)
	}
	// Unhang, so the instance can be stopped and nothing outlives the test.
	if err := os.Remove(filepath.Join(inst.dataDir, "mgr", "fakeiris.control")); err != nil {
		t.Fatal(err)
	}
}

// TestCrashKeepsTheLeaseForTheRestart: IRIS crashing makes the agent exit
// with IRIS's failure, keeping the Lease so the same pod's restart takes it
// back at once.
func TestCrashKeepsTheLeaseForTheRestart(t *testing.T) {
	inst := newInstance(t)
	a := startAgent(t, inst, "pod-a")
	waitFor(t, "ready", 15*time.Second, func() bool { return a.probe("/readyz") == http.StatusOK })
	if err := os.WriteFile(filepath.Join(inst.dataDir, "mgr", "fakeiris.control"), []byte("crash"), 0o644); err != nil {
		t.Fatal(err)
	}
	if code := a.exitCode(t, 10*time.Second); code == 0 {
		t.Errorf("the agent exited 0 after IRIS crashed")
	}
	if h := leaseHolder(t.Context(), inst.ns); h != "pod-a_uid-pod-a" {
		t.Errorf("Lease holder after a crash = %q, want pod-a's", h)
	}
	_ = os.Remove(filepath.Join(inst.dataDir, "mgr", "fakeiris.control"))
	restarted := startAgent(t, inst, "pod-a")
	waitFor(t, "the restarted container to take its Lease back", 2*renewInterval+time.Second, func() bool {
		_, ok := restarted.logged("Holding the fencing Lease")
		return ok
	})
}

// TestExitCodeIsTheChilds: the agent, PID 1 of the container, exits with
// its child's exit code, which the kubelet reports; main turns the agent's
// result into it without printing an error.
func TestExitCodeIsTheChilds(t *testing.T) {
	inst := newInstance(t)
	a := startAgentOf(t, inst, "pod-a", "", []string{"/bin/sh", "-c", "exit 42"})
	if code := a.exitCode(t, 15*time.Second); code != 42 {
		t.Errorf("agent exit code = %d, want the child's 42:\n%s", code, a.output())
	}
	if strings.Contains(a.output(), "irisha-manager:") {
		t.Errorf("an exit code is not an error to print:\n%s", a.output())
	}
}

type envRunner struct{ env []string }

func (r envRunner) Run(ctx context.Context, name string, args ...string) (string, int, error) {
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Env = r.env
	out, err := cmd.CombinedOutput()
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		return string(out), ee.ExitCode(), nil
	}
	return string(out), 0, err
}

// TestResumedPastTheDeadlineKillsAtOnce: an agent stopped with its IRIS (a
// frozen node) for longer than the Lease duration resumes past its fencing
// deadline; it must not spend time on `iris force` while a replacement may
// already write, but kill IRIS at once and exit fenced.
func TestResumedPastTheDeadlineKillsAtOnce(t *testing.T) {
	inst := newInstance(t)
	a := startAgent(t, inst, "pod-a")
	waitFor(t, "ready", 15*time.Second, func() bool { return a.probe("/readyz") == http.StatusOK })
	irisPid := inst.irisPid(t)
	tree, err := supervisor.Descendants(a.cmd.Process.Pid)
	if err != nil {
		t.Fatal(err)
	}
	frozen := append([]int{a.cmd.Process.Pid}, tree...)
	if !slices.Contains(frozen, irisPid) {
		t.Fatalf("IRIS (pid %d) is not under the agent: %v", irisPid, frozen)
	}
	for _, pid := range frozen {
		_ = syscall.Kill(pid, syscall.SIGSTOP)
	}
	time.Sleep(leaseDuration + time.Second)
	for _, pid := range frozen {
		_ = syscall.Kill(pid, syscall.SIGCONT)
	}
	if code := a.exitCode(t, 10*time.Second); code != agent.ExitFenced {
		t.Errorf("exit code = %d, want %d (fenced):\n%s", code, agent.ExitFenced, a.output())
	}
	if _, ok := a.logged("Resumed past the fencing deadline: killing IRIS at once"); !ok {
		t.Errorf("the agent did not take the immediate path:\n%s", a.output())
	}
	if processAlive(irisPid) {
		t.Errorf("IRIS (pid %d) survived the resume", irisPid)
	}
}
