package sandbox_test

import (
	"bufio"
	"crypto/rand"
	"encoding/hex"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/irisha/irisha/internal/testenv"
)

// TestCtrlCStopsEverything interrupts `irisha sandbox` as a user would,
// with SIGINT, while the cluster boots and while a drill runs, and checks
// that no process it started survives: every process carries a marker in
// its environment (children inherit it), and none may be left with it.
func TestCtrlCStopsEverything(t *testing.T) {
	if testing.Short() {
		t.Skip("builds irisha and boots a simulated cluster")
	}
	bin, err := testenv.GoBinary(t.TempDir(), "./cmd/irisha")
	if err != nil {
		t.Fatal(err)
	}
	root, err := filepath.Abs("../..")
	if err != nil {
		t.Fatal(err)
	}
	for _, at := range []string{"Booting the simulated cluster", "injecting the fault"} {
		t.Run(strings.Fields(at)[0], func(t *testing.T) {
			marker := randomMarker(t)
			dir := t.TempDir()
			cmd := exec.Command(bin, "sandbox", "--exit", "--scenarios", "pod-delete",
				"--report-dir", filepath.Join(dir, "report"), "--kubeconfig", filepath.Join(dir, "kubeconfig"))
			cmd.Dir = root
			cmd.Env = append(os.Environ(), "IRISHA_SANDBOX_TEST_MARKER="+marker)
			stdout, err := cmd.StdoutPipe()
			if err != nil {
				t.Fatal(err)
			}
			cmd.Stderr = cmd.Stdout
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { killMarked(t, marker) })
			// Lines come from a goroutine: a leftover process holding the
			// pipe must fail the test, not hang it.
			lines := make(chan string)
			go func() {
				defer close(lines)
				sc := bufio.NewScanner(stdout)
				for sc.Scan() {
					lines <- sc.Text()
				}
			}()
			var seen []string
			interrupted := false
			deadline := time.After(5 * time.Minute)
		read:
			for {
				select {
				case l, ok := <-lines:
					if !ok {
						break read
					}
					seen = append(seen, l)
					if !interrupted && strings.Contains(l, at) {
						// A moment into the step, not at its first line.
						time.Sleep(2 * time.Second)
						if err := cmd.Process.Signal(os.Interrupt); err != nil {
							t.Fatal(err)
						}
						interrupted = true
					}
				case <-deadline:
					_ = cmd.Process.Kill()
					t.Fatalf("no exit within 5 minutes (interrupted: %t); output:\n%s", interrupted, strings.Join(seen, "\n"))
				}
			}
			done := make(chan error, 1)
			go func() { done <- cmd.Wait() }()
			select {
			case err = <-done:
			case <-time.After(2 * time.Minute):
				t.Fatalf("the sandbox did not exit within 2 minutes of Ctrl-C; output:\n%s", strings.Join(seen, "\n"))
			}
			if !interrupted {
				t.Fatalf("never saw %q; output:\n%s", at, strings.Join(seen, "\n"))
			}
			if err == nil {
				t.Errorf("an interrupted sandbox exited 0")
			}
			if pids := marked(marker); len(pids) > 0 {
				t.Errorf("processes left after Ctrl-C at %q: %v; output:\n%s", at, pids, strings.Join(seen, "\n"))
			}
			if _, err := os.Stat(filepath.Join(dir, "kubeconfig")); err == nil {
				t.Errorf("the kubeconfig was left behind")
			}
		})
	}
}

func randomMarker(t *testing.T) string {
	b := make([]byte, 8)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return hex.EncodeToString(b)
}

// marked lists the live processes whose environment holds the marker.
func marked(marker string) []int {
	want := []byte("IRISHA_SANDBOX_TEST_MARKER=" + marker)
	entries, _ := os.ReadDir("/proc")
	var pids []int
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		env, err := os.ReadFile(filepath.Join("/proc", e.Name(), "environ"))
		if err != nil {
			continue
		}
		for _, kv := range strings.Split(string(env), "\x00") {
			if kv == string(want) {
				if !zombie(pid) {
					pids = append(pids, pid)
				}
				break
			}
		}
	}
	return pids
}

func zombie(pid int) bool {
	stat, err := os.ReadFile(filepath.Join("/proc", strconv.Itoa(pid), "stat"))
	if err != nil {
		return true
	}
	// pid (comm) state ...: the state follows the last ')'.
	s := string(stat)
	i := strings.LastIndexByte(s, ')')
	return i < 0 || i+2 >= len(s) || s[i+2] == 'Z'
}

// killMarked kills, by PID, whatever a failed run left.
func killMarked(t *testing.T, marker string) {
	for _, pid := range marked(marker) {
		t.Logf("killing leftover process %d", pid)
		_ = syscall.Kill(pid, syscall.SIGKILL)
	}
}
