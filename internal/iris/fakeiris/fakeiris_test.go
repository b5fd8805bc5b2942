package fakeiris_test

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/irisha/irisha/internal/iris"
	"github.com/irisha/irisha/internal/testenv"
)

// fake is one instance of the fake IRIS on a data directory.
type fake struct {
	t       *testing.T
	pathDir string
	dataDir string
	env     []string
	addr    string
}

func newFake(t *testing.T) *fake {
	t.Helper()
	pathDir, err := testenv.FakeIris(binDir)
	if err != nil {
		t.Fatal(err)
	}
	addr := freeAddr(t)
	f := &fake{t: t, pathDir: pathDir, dataDir: filepath.Join(t.TempDir(), "IRIS"), addr: addr}
	f.env = append(os.Environ(), "ISC_DATA_DIRECTORY="+f.dataDir, "FAKEIRIS_SUPERSERVER="+addr, "FAKEIRIS_JOURNAL_INTERVAL=20ms")
	return f
}

var binDir string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "fakeiris-test-")
	if err != nil {
		panic(err)
	}
	binDir = dir
	code := m.Run()
	_ = os.RemoveAll(dir)
	os.Exit(code)
}

func freeAddr(t *testing.T) string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = ln.Close() }()
	return ln.Addr().String()
}

func (f *fake) client() *iris.Client {
	return &iris.Client{Runner: envRunner{env: f.env}, Iris: filepath.Join(f.pathDir, "iris")}
}

type envRunner struct{ env []string }

func (r envRunner) Run(ctx context.Context, name string, args ...string) (string, int, error) {
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Env = r.env
	out, err := cmd.CombinedOutput()
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		if ctx.Err() != nil {
			return string(out), -1, ctx.Err()
		}
		return string(out), ee.ExitCode(), nil
	}
	return string(out), 0, err
}

// start runs iris-main and waits for "Enabling logons".
func (f *fake) start(extraEnv ...string) *exec.Cmd {
	f.t.Helper()
	cmd := exec.Command(filepath.Join(f.pathDir, "iris-main"), "--check-caps", "false")
	cmd.Env = append(append([]string{}, f.env...), extraEnv...)
	out, err := cmd.StdoutPipe()
	if err != nil {
		f.t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		f.t.Fatal(err)
	}
	f.t.Cleanup(func() {
		_ = f.client().Force(context.Background())
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
	})
	up := make(chan bool, 1)
	go func() {
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			if strings.Contains(sc.Text(), "Enabling logons") {
				up <- true
			}
		}
		up <- false
	}()
	select {
	case ok := <-up:
		if !ok {
			f.t.Fatal("iris-main exited before IRIS was up")
		}
	case <-time.After(10 * time.Second):
		f.t.Fatal("IRIS did not come up")
	}
	return cmd
}

func (f *fake) control(words string) {
	if err := os.WriteFile(filepath.Join(f.dataDir, "mgr", "fakeiris.control"), []byte(words), 0o644); err != nil {
		f.t.Fatal(err)
	}
}

func TestLifecycleAndCleanStop(t *testing.T) {
	f := newFake(t)
	c := f.client()
	ctx := context.Background()
	main := f.start()
	inst, err := c.Status(ctx)
	if err != nil || !inst.Running() || inst.Health != iris.HealthOK || inst.DataDirectory != f.dataDir {
		t.Fatalf("status = %+v, %v", inst, err)
	}
	if conn, err := net.Dial("tcp", f.addr); err != nil {
		t.Errorf("the superserver does not accept connections: %v", err)
	} else {
		_ = conn.Close()
	}
	if err := main.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	if err := main.Wait(); err != nil {
		t.Errorf("iris-main after SIGTERM: %v, want exit 0", err)
	}
	if inst, err := c.Status(ctx); err != nil || inst.Status != iris.StatusDown {
		t.Errorf("after a clean stop: %+v, %v", inst, err)
	}
}

func TestFreezeThaw(t *testing.T) {
	f := newFake(t)
	c := f.client()
	ctx := context.Background()
	f.start()
	if err := c.Freeze(ctx, 30); err != nil {
		t.Fatal(err)
	}
	if s, err := c.WriteDaemonSuspended(ctx); err != nil || !s {
		t.Errorf("after a freeze, suspended = %v, %v", s, err)
	}
	inst, _ := c.Status(ctx)
	if !inst.Running() || inst.Health != iris.HealthHung {
		t.Errorf("frozen: status %s health %s, want running and hung", inst.Status, inst.Health)
	}
	if err := c.Thaw(ctx); err != nil {
		t.Fatal(err)
	}
	if s, _ := c.WriteDaemonSuspended(ctx); s {
		t.Errorf("still suspended after a thaw")
	}

	f.control("freeze-fails")
	if err := c.Freeze(ctx, 30); !errors.Is(err, iris.ErrFreezeFailed) {
		t.Errorf("scripted failure: %v, want ErrFreezeFailed", err)
	}
	f.control("thaw-ignored")
	if err := c.Freeze(ctx, 30); err != nil {
		t.Fatal(err)
	}
	// ExternalThaw is ignored; the client falls back to iris stat -W.
	if err := c.Thaw(ctx); err != nil {
		t.Errorf("the fallback thaw failed: %v", err)
	}
}

func TestHangAndCrash(t *testing.T) {
	f := newFake(t)
	c := f.client()
	main := f.start()
	f.control("hang")
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	_, err := c.Status(ctx)
	cancel()
	if err == nil {
		t.Errorf("a hung IRIS answered qlist")
	}
	f.control("crash")
	done := make(chan error, 1)
	go func() { done <- main.Wait() }()
	select {
	case err := <-done:
		var ee *exec.ExitError
		if !errors.As(err, &ee) || ee.ExitCode() == 0 {
			t.Errorf("iris-main after a crash: %v, want a non-zero exit", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("iris-main did not exit after the crash")
	}
}

func TestDurableSysRules(t *testing.T) {
	f := newFake(t)
	// A fresh volume's root holds lost+found: IRIS refuses it.
	if err := os.MkdirAll(filepath.Join(f.dataDir, "lost+found"), 0o755); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(filepath.Join(f.pathDir, "iris-main"))
	cmd.Env = f.env
	out, err := cmd.CombinedOutput()
	if err == nil || !strings.Contains(string(out), "no mgr/") {
		t.Errorf("a non-empty directory without mgr/ was accepted: %v\n%s", err, out)
	}
}

func TestRestartKeepsTheJournal(t *testing.T) {
	f := newFake(t)
	main := f.start()
	time.Sleep(200 * time.Millisecond)
	_ = main.Process.Signal(syscall.SIGTERM)
	_ = main.Wait()
	before := journalLines(t, f)
	f.start()
	time.Sleep(200 * time.Millisecond)
	after := journalLines(t, f)
	if len(before) == 0 || len(after) <= len(before) {
		t.Fatalf("journal lines before %d after %d", len(before), len(after))
	}
	var last, next int64
	_, _ = fmt.Sscan(before[len(before)-1], &last)
	_, _ = fmt.Sscan(after[len(before)], &next)
	if next != last+1 {
		t.Errorf("the restarted instance did not continue the journal: %d then %d", last, next)
	}
}

func TestMerge(t *testing.T) {
	f := newFake(t)
	f.start()
	good := filepath.Join(t.TempDir(), "good.cpf")
	bad := filepath.Join(t.TempDir(), "bad.cpf")
	_ = os.WriteFile(good, []byte("[config]\nglobals=0,0,800,0,0,0\n"), 0o644)
	_ = os.WriteFile(bad, []byte("[config]\nglobals 0\n"), 0o644)
	c := f.client()
	if err := c.Merge(context.Background(), good); err != nil {
		t.Errorf("good merge: %v", err)
	}
	if err := c.Merge(context.Background(), bad); err == nil || !strings.Contains(err.Error(), "line 2") {
		t.Errorf("bad merge: %v, want an error naming line 2", err)
	}
}

func journalLines(t *testing.T, f *fake) []string {
	b, err := os.ReadFile(filepath.Join(f.dataDir, "mgr", "journal.log"))
	if err != nil {
		t.Fatal(err)
	}
	return strings.Split(strings.TrimSpace(string(b)), "\n")
}
