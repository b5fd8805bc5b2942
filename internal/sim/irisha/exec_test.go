package simirisha_test

import (
	"context"
	"errors"
	"os/exec"
	"slices"
	"strings"
	"testing"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	utilexec "k8s.io/client-go/util/exec"

	"github.com/irisha/irisha/internal/chaos"
	"github.com/irisha/irisha/internal/iris"
	"github.com/irisha/irisha/internal/iris/fakeiris"
	"github.com/irisha/irisha/internal/resources"
	"github.com/irisha/irisha/internal/sim"
	simirisha "github.com/irisha/irisha/internal/sim/irisha"
)

// The simulated cluster is the chaos drills' Execer.
var _ chaos.Execer = (*sim.Cluster)(nil)

// TestExec: kubectl exec into a running irisha pod runs the fake iris on
// that pod's instance, the chaos writer's rows go in and come back, and
// exec fails as on a real cluster: a missing pod or program, a non-zero
// exit, a frozen node (blocks until the caller gives up), a partitioned
// node (the API server's dial times out; a command already running loses
// its answer) and a killed node (at once).
func TestExec(t *testing.T) {
	if testing.Short() {
		t.Skip("boots a simulated cluster and runs irisha")
	}
	ctx, cancel := context.WithTimeout(context.Background(), testTimeout)
	defer cancel()
	r := deployRunning(ctx, t, false)
	c, pod := r.b.cluster, r.pod.Name
	entries, err := simirisha.CheckJournal(r.dataDir)
	if err != nil {
		t.Fatal(err)
	}
	r.b.daemons = append(r.b.daemons, simirisha.Writers(entries)...)
	execIn := func(ctx context.Context, stdin []byte, argv ...string) ([]byte, error) {
		return c.Exec(ctx, ns, pod, resources.ContainerName, stdin, argv...)
	}

	pids := len(c.PIDs())
	out, err := execIn(ctx, nil, "iris", "qlist", "IRIS")
	if err != nil {
		t.Fatal(err)
	}
	if inst, err := iris.ParseQlist(string(out)); err != nil || !inst.Running() || !strings.HasPrefix(inst.DataDirectory, r.dataDir) {
		t.Errorf("qlist %q: %+v, %v; want running on %s", out, inst, err, r.dataDir)
	}
	if len(c.PIDs()) <= pids {
		t.Error("the exec'd command is not among the cluster's processes")
	}

	// The chaos writer's round trip, the container picked by default.
	const run = "exec-test"
	for seq := int64(1); seq <= 3; seq++ {
		script, err := iris.ChaosWriteScript(run, seq)
		if err != nil {
			t.Fatal(err)
		}
		out, err := c.Exec(ctx, ns, pod, "", script, iris.ChaosSessionArgv()...)
		if err != nil || !iris.ParseChaosAck(out, seq) {
			t.Fatalf("writing row %d: %v:\n%s", seq, err, out)
		}
	}
	script, err := iris.ChaosReadScript(run)
	if err != nil {
		t.Fatal(err)
	}
	out, err = execIn(ctx, script, iris.ChaosSessionArgv()...)
	if err != nil {
		t.Fatal(err)
	}
	if rows, err := iris.ParseChaosRows(out); err != nil || !slices.Equal(rows, []int64{1, 2, 3}) {
		t.Errorf("rows %v, %v:\n%s", rows, err, out)
	}

	// Refusals.
	out, err = execIn(ctx, []byte("write 1\nhalt\n"), iris.ChaosSessionArgv()...)
	var exit utilexec.ExitError
	if !errors.As(err, &exit) || exit.ExitStatus() != 1 || !strings.Contains(err.Error(), "<SYNTAX>") || !strings.Contains(string(out), "<SYNTAX>") {
		t.Errorf("other terminal input: %v, output %q; want exit code 1 quoting <SYNTAX>", err, out)
	}
	if _, err := execIn(ctx, nil, "python3", "-c", "pass"); !errors.Is(err, exec.ErrNotFound) {
		t.Errorf("python3: %v, want executable file not found", err)
	}
	if _, err := c.Exec(ctx, ns, "no-such-pod", "", nil, "iris", "qlist", "IRIS"); !apierrors.IsNotFound(err) || !strings.Contains(err.Error(), `"no-such-pod" not found`) {
		t.Errorf("a missing pod: %v, want NotFound naming it", err)
	}
	if _, err := c.Exec(ctx, ns, pod, "web", nil, "iris", "qlist", "IRIS"); !apierrors.IsBadRequest(err) {
		t.Errorf("a missing container: %v, want BadRequest", err)
	}

	// Node faults, each against the same pod.
	node := c.Node(r.pod.Spec.NodeName)
	failed := func(what string, timeout time.Duration, want string) time.Duration {
		t.Helper()
		ctx, cancel := context.WithTimeout(ctx, timeout)
		defer cancel()
		begin := time.Now()
		_, err := execIn(ctx, nil, "iris", "qlist", "IRIS")
		took := time.Since(begin)
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("exec into the pod of a %s node: %v, want %q", what, err, want)
		}
		t.Logf("exec into the pod of a %s node failed after %s: %v", what, took.Round(time.Millisecond), err)
		return took
	}
	if err := node.Freeze(); err != nil {
		t.Fatal(err)
	}
	failed("frozen", 500*time.Millisecond, context.DeadlineExceeded.Error())
	if err := node.Thaw(); err != nil {
		t.Fatal(err)
	}
	// A partition while the command runs (IRIS hung, so it waits) loses its
	// answer at once; a command started during the partition never gets
	// through the API server's dial.
	if err := fakeiris.WriteControl(r.dataDir, fakeiris.ControlHang); err != nil {
		t.Fatal(err)
	}
	inFlight := make(chan error, 1)
	go func() {
		_, err := execIn(ctx, nil, "iris", "qlist", "IRIS")
		inFlight <- err
	}()
	time.Sleep(300 * time.Millisecond)
	node.Partition()
	select {
	case err := <-inFlight:
		if err == nil || !strings.Contains(err.Error(), "lost the connection") {
			t.Errorf("a command running when its node was partitioned: %v, want the connection lost", err)
		}
		t.Logf("exec running when its node was partitioned: %v", err)
	case <-time.After(5 * time.Second):
		t.Error("a command running when its node was partitioned still waits after 5 s")
	}
	dial := c.Timings().ExecDialTimeout
	if took := failed("partitioned", time.Minute, "i/o timeout"); took < dial || took > dial+5*time.Second {
		t.Errorf("the dial to a partitioned node gave up after %s, want about %s", took, dial)
	}
	node.Heal()
	if err := fakeiris.WriteControl(r.dataDir); err != nil {
		t.Fatal(err)
	}
	if err := node.Kill(); err != nil {
		t.Fatal(err)
	}
	if took := failed("killed", time.Minute, "no route to host"); took > time.Second {
		t.Errorf("exec into a killed node took %s, want an immediate failure", took)
	}
}
