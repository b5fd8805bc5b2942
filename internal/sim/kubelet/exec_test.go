package kubelet

import (
	"errors"
	"os/exec"
	"strings"
	"testing"
	"time"

	"k8s.io/client-go/util/workqueue"

	"github.com/irisha/irisha/internal/sim/proc"
)

// execKubelet is a kubelet whose pod ns/p has a running container "c"
// that runs every command with sh, and a virtual container "v".
func execKubelet(t *testing.T) (*Kubelet, *podState) {
	t.Helper()
	var reg proc.Registry
	t.Cleanup(func() { _ = reg.KillAll() })
	k := New(Config{StartProcess: func(name string, cmd *exec.Cmd) (*proc.Process, error) {
		return proc.Start(&reg, name, cmd, "")
	}})
	k.queue = workqueue.NewTypedRateLimitingQueue(workqueue.DefaultTypedControllerRateLimiter[string]())
	t.Cleanup(k.queue.ShutDown)
	st := &podState{uid: "uid", containers: []*container{
		{name: "c", running: true, exec: func(argv []string) (*exec.Cmd, error) {
			if argv[0] != "sh" {
				return nil, &exec.Error{Name: argv[0], Err: exec.ErrNotFound}
			}
			return exec.Command("sh", argv[1:]...), nil
		}},
		{name: "v", running: true},
		{name: "stopped"},
	}}
	k.state["ns/p"] = st
	return k, st
}

func waitExec(t *testing.T, e *ExecProcess) (string, string, int32) {
	t.Helper()
	select {
	case <-e.Done():
	case <-time.After(10 * time.Second):
		t.Fatal("the exec'd command did not end")
	}
	out, errOut, code := e.Result()
	return string(out), string(errOut), code
}

func TestStartExec(t *testing.T) {
	k, st := execKubelet(t)
	e, err := k.StartExec("ns", "p", "c", []byte("row 1\n"), []string{"sh", "-c", "cat; echo oops >&2; exit 3"})
	if err != nil {
		t.Fatal(err)
	}
	if out, errOut, code := waitExec(t, e); out != "row 1\n" || errOut != "oops\n" || code != 3 {
		t.Errorf("stdout %q stderr %q exit %d", out, errOut, code)
	}
	if e, err := k.StartExec("ns", "p", "c", nil, []string{"sh", "-c", "cat"}); err != nil {
		t.Fatal(err)
	} else if out, _, code := waitExec(t, e); out != "" || code != 0 {
		t.Errorf("without stdin: %q exit %d", out, code)
	}

	// a background child holding the pipes: the answer comes after the
	// pipe grace, and it exited 0
	if e, err := k.StartExec("ns", "p", "c", nil, []string{"sh", "-c", "sleep 30 & echo started"}); err != nil {
		t.Fatal(err)
	} else if out, _, code := waitExec(t, e); out != "started\n" || code != 0 {
		t.Errorf("with a child holding the pipes: %q exit %d", out, code)
	}

	for _, tc := range []struct {
		pod, container string
		argv           []string
		want           string
	}{
		{"q", "c", []string{"sh"}, "pod does not exist"},
		{"p", "stopped", []string{"sh"}, `container not found ("stopped")`},
		{"p", "missing", []string{"sh"}, `container not found ("missing")`},
		{"p", "c", nil, "at least one command"},
		{"p", "c", []string{"bash"}, `exec: "bash": executable file not found in $PATH`},
		{"p", "v", []string{"sh"}, `exec: "sh": executable file not found in $PATH`},
	} {
		_, err := k.StartExec("ns", tc.pod, tc.container, nil, tc.argv)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("exec %q into %s/%s: %v, want %q", tc.argv, tc.pod, tc.container, err, tc.want)
		}
		if strings.Contains(tc.want, "executable") && !errors.Is(err, exec.ErrNotFound) {
			t.Errorf("%v does not wrap exec.ErrNotFound", err)
		}
	}

	// the container exits: what was exec'd into it dies with it
	e, err = k.StartExec("ns", "p", "c", nil, []string{"sh", "-c", "sleep 60"})
	if err != nil {
		t.Fatal(err)
	}
	k.exited("ns/p", st, st.containers[0], nil, 0, "")
	if _, _, code := waitExec(t, e); code != 137 {
		t.Errorf("exit %d after the container exited, want 137 (SIGKILL)", code)
	}
	if _, err := k.StartExec("ns", "p", "c", nil, []string{"sh"}); err == nil {
		t.Error("exec into the exited container succeeded")
	}
}
