package fakeiris_test

import (
	"context"
	"errors"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/irisha/irisha/internal/iris"
	"github.com/irisha/irisha/internal/iris/fakeiris"
)

func TestLifecycleAndCleanStop(t *testing.T) {
	f := newFake(t)
	main := f.run("--check-caps", "false")
	if !main.logged("[Utility.Event] Enabling logons") {
		t.Errorf("no messages.log line for logons:\n%s", main.output())
	}
	inst := f.status()
	if !inst.Running() || inst.Health != iris.HealthOK || inst.DataDirectory != f.dataDir || inst.SuperserverPort == 0 {
		t.Fatalf("status = %+v", inst)
	}
	conn, err := net.Dial("tcp", "127.0.0.1:"+strconv.Itoa(inst.SuperserverPort))
	if err != nil {
		t.Errorf("the superserver does not accept connections: %v", err)
	} else {
		_ = conn.Close()
	}
	if err := fakeiris.CheckSingleWriter(f.waitJournal(3)); err != nil {
		t.Error(err)
	}

	main.signal(t, syscall.SIGTERM)
	if code := main.exitCode(t); code != 0 {
		t.Errorf("iris-main after SIGTERM exited %d, want 0:\n%s", code, main.output())
	}
	main.waitLogged(t, "Journal restore not required at next startup")
	if inst := f.status(); inst.Status != iris.StatusDown || inst.Since == "" {
		t.Errorf("after a clean stop: %+v", inst)
	}
}

func TestStartStopForceWithoutIrisMain(t *testing.T) {
	f := newFake(t)
	if out, code := f.iris("start", "IRIS"); code != 0 {
		t.Fatalf("iris start exited %d: %s", code, out)
	}
	if inst := f.status(); !inst.Running() || inst.Health != iris.HealthOK {
		t.Fatalf("after iris start: %+v", inst)
	}
	if out, code := f.iris("start", "iris"); code != 0 || !strings.Contains(out, "already running") {
		t.Errorf("a second start: %d %s", code, out)
	}
	if err := f.client().Stop(context.Background()); err != nil {
		t.Fatal(err)
	}
	if inst := f.status(); inst.Status != iris.StatusDown {
		t.Fatalf("after iris stop: %+v", inst)
	}
	// a clean stop, even followed by a needless force (the agent's hard
	// stop path): the next start runs no recovery
	if err := f.client().Force(context.Background()); err != nil {
		t.Fatal(err)
	}
	if err := f.client().Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	if inst := f.status(); inst.Health != iris.HealthOK {
		t.Errorf("after a clean restart health is %q", inst.Health)
	}
	pid := f.rememberInstance()
	if err := f.client().Force(context.Background()); err != nil {
		t.Fatal(err)
	}
	if alive(pid) || f.status().Status != iris.StatusDown {
		t.Fatalf("iris force left the instance running")
	}
	// forced down: the next start recovers and raises an alert
	if err := f.client().Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	if inst := f.status(); !inst.Running() || inst.Health != iris.HealthAlert {
		t.Errorf("after crash recovery: %+v, want running with health alert", inst)
	}
	if log, _ := os.ReadFile(filepath.Join(f.dataDir, "mgr", "messages.log")); !strings.Contains(string(log), "Previous system shutdown was abnormal") {
		t.Errorf("messages.log has no recovery:\n%s", log)
	}
	if err := f.client().Stop(context.Background()); err != nil {
		t.Fatal(err)
	}
}

func TestSlowStart(t *testing.T) {
	t.Run("hold-start", func(t *testing.T) {
		f := newFake(t)
		f.control(fakeiris.ControlHoldStart)
		main := f.startMain()
		waitFor(t, "sign-on inhibited", func() bool { return f.status().Status == iris.StatusSignOnInhibited })
		if main.logged("Enabling logons") {
			t.Fatalf("logons enabled during a held start")
		}
		f.control()
		main.waitLogged(t, "Enabling logons")
		if !f.status().Running() {
			t.Errorf("not running after the hold")
		}
	})
	t.Run("start delay", func(t *testing.T) {
		const delay = 300 * time.Millisecond
		f := newFake(t, fakeiris.EnvStartDelay+"="+delay.String())
		begin := time.Now()
		f.run()
		if took := time.Since(begin); took < delay {
			t.Errorf("IRIS came up after %s, before the %s start delay", took, delay)
		}
	})
}

func TestCrash(t *testing.T) {
	t.Run("on demand", func(t *testing.T) {
		f := newFake(t)
		main := f.run()
		before := f.waitJournal(2)
		f.control(fakeiris.ControlCrash)
		if code := main.exitCode(t); code == 0 {
			t.Errorf("iris-main exited 0 after a crash:\n%s", main.output())
		}
		if inst := f.status(); inst.Status != iris.StatusDown {
			t.Errorf("after a crash: %+v", inst)
		}
		// the word is consumed: the restart runs, recovers and continues the journal
		f.run()
		if inst := f.status(); !inst.Running() || inst.Health != iris.HealthAlert {
			t.Errorf("after the restart: %+v", inst)
		}
		after := f.waitJournal(len(f.journal()) + 2)
		if err := fakeiris.CheckSingleWriter(after); err != nil || after[0] != before[0] {
			t.Errorf("the journal was not continued: %v", err)
		}
	})
	t.Run("after a delay", func(t *testing.T) {
		f := newFake(t, fakeiris.EnvCrashAfter+"=100ms")
		main := f.run()
		if code := main.exitCode(t); code != 1 {
			t.Errorf("iris-main exited %d after a crash, want 1:\n%s", code, main.output())
		}
	})
}

func TestHang(t *testing.T) {
	f := newFake(t)
	main := f.run()
	port := f.status().SuperserverPort
	f.control(fakeiris.ControlHang)

	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	_, err := f.client().Status(ctx)
	cancel()
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("a hung IRIS answered qlist: %v", err)
	}
	if conn, err := net.Dial("tcp", "127.0.0.1:"+strconv.Itoa(port)); err != nil {
		t.Errorf("a hung IRIS must still accept connections: %v", err)
	} else {
		_ = conn.Close()
	}

	// a command waiting on a hung instance answers once it recovers
	answered := make(chan error, 1)
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), within)
		defer cancel()
		_, err := f.client().Status(ctx)
		answered <- err
	}()
	select {
	case err := <-answered:
		t.Fatalf("qlist answered while hung: %v", err)
	default:
	}
	f.control()
	if err := <-answered; err != nil {
		t.Errorf("qlist after the hang: %v", err)
	}

	// hung again: only a force ends it
	f.control(fakeiris.ControlHang)
	if err := f.client().Force(context.Background()); err != nil {
		t.Fatal(err)
	}
	if code := main.exitCode(t); code == 0 {
		t.Errorf("iris-main exited 0 after a force")
	}
}

func TestFreezeThaw(t *testing.T) {
	f := newFake(t)
	c := f.client()
	ctx := context.Background()
	f.run()
	if err := c.Freeze(ctx, 30); err != nil {
		t.Fatal(err)
	}
	if s, err := c.WriteDaemonSuspended(ctx); err != nil || !s {
		t.Errorf("after a freeze, suspended = %v, %v", s, err)
	}
	// the docs' warning: health reads hung during a freeze, though IRIS runs
	if inst := f.status(); !inst.Running() || inst.Health != iris.HealthHung {
		t.Errorf("frozen: status %s health %s, want running and hung", inst.Status, inst.Health)
	}
	if err := c.Freeze(ctx, 30); !errors.Is(err, iris.ErrFreezeFailed) {
		t.Errorf("a second freeze: %v, want ErrFreezeFailed", err)
	}
	if err := c.Thaw(ctx); err != nil {
		t.Fatal(err)
	}
	if s, err := c.WriteDaemonSuspended(ctx); err != nil || s {
		t.Errorf("after a thaw, suspended = %v, %v", s, err)
	}

	f.control(fakeiris.ControlFreezeFails)
	if err := c.Freeze(ctx, 0); !errors.Is(err, iris.ErrFreezeFailed) {
		t.Errorf("scripted failure: %v, want ErrFreezeFailed", err)
	}
	f.control(fakeiris.ControlThawIgnored)
	if err := c.Freeze(ctx, 30); err != nil {
		t.Fatal(err)
	}
	if err := c.Thaw(ctx); err != nil { // falls back to iris stat -W
		t.Errorf("the fallback thaw failed: %v", err)
	}
	if s, _ := c.WriteDaemonSuspended(ctx); s {
		t.Errorf("still suspended after the fallback")
	}

	if err := c.Force(ctx); err != nil {
		t.Fatal(err)
	}
	var ce *iris.CommandError
	if err := c.Freeze(ctx, 30); !errors.As(err, &ce) || ce.Code != 1 {
		t.Errorf("freezing a stopped instance: %v, want a session failure (exit 1)", err)
	}
}

func TestStopSlowerThanItsTimeout(t *testing.T) {
	t.Run("forced after the shutdown timeout", func(t *testing.T) {
		f := newFake(t, fakeiris.EnvStopDelay+"=1h", fakeiris.EnvShutdownTimeout+"=200ms")
		main := f.run()
		main.signal(t, syscall.SIGTERM)
		if code := main.exitCode(t); code != 1 {
			t.Errorf("iris-main exited %d after a forced stop, want 1:\n%s", code, main.output())
		}
		f.run()
		if inst := f.status(); inst.Health != iris.HealthAlert {
			t.Errorf("a forced stop needs recovery; health %q", inst.Health)
		}
	})
	t.Run("a caller's deadline", func(t *testing.T) {
		f := newFake(t)
		main := f.run()
		f.control(fakeiris.ControlHoldStop)
		ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
		err := f.client().Stop(ctx)
		cancel()
		if !errors.Is(err, context.DeadlineExceeded) {
			t.Errorf("a held stop returned %v", err)
		}
		// the stop began before the deadline cut it short, and goes on
		waitFor(t, "starting or stopping", func() bool { return f.status().Status == iris.StatusTransition })
		f.control()
		if code := main.exitCode(t); code != 0 {
			t.Errorf("iris-main exited %d after the stop finished:\n%s", code, main.output())
		}
	})
}

func TestMerge(t *testing.T) {
	dir := t.TempDir()
	write := func(name, text string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	good := write("good.cpf", "[config]\nglobals=0,0,800,0,0,0\n")
	bad := write("bad.cpf", "[config]\nglobals 0,0\n")

	t.Run("iris merge", func(t *testing.T) {
		f := newFake(t)
		f.run()
		if err := f.client().Merge(context.Background(), good); err != nil {
			t.Fatal(err)
		}
		if cpf, _ := os.ReadFile(filepath.Join(f.dataDir, "iris.cpf")); !strings.Contains(string(cpf), "globals=0,0,800,0,0,0") {
			t.Errorf("iris.cpf after the merge:\n%s", cpf)
		}
		err := f.client().Merge(context.Background(), bad)
		if err == nil || !strings.Contains(err.Error(), `line 2: "globals 0,0"`) {
			t.Errorf("bad merge: %v, want an error naming line 2", err)
		}
	})
	t.Run("a bad merge file stops the start", func(t *testing.T) {
		f := newFake(t, fakeiris.EnvMergeFile+"="+bad)
		main := f.startMain()
		if code := main.exitCode(t); code != 1 {
			t.Errorf("iris-main exited %d", code)
		}
		main.waitLogged(t, "line 2")
	})
	t.Run("a missing merge file is reported", func(t *testing.T) {
		f := newFake(t, fakeiris.EnvMergeFile+"="+filepath.Join(dir, "missing.cpf"))
		main := f.run()
		if !main.logged("does not exist") {
			t.Errorf("no report of the missing file:\n%s", main.output())
		}
	})
}

// TestMergeLive: `iris merge` on a running instance puts live settings into
// effect at once, leaves restart-needing ones for the next start, refuses
// values IRIS refuses without changing anything, and the fake never acts
// on the merge file by itself (a Secret volume's symlink swap).
func TestMergeLive(t *testing.T) {
	dir := t.TempDir()
	write := func(name, text string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	// A Secret volume: the file is a symlink through ..data, which the
	// kubelet swaps.
	data1 := filepath.Join(dir, "..v1")
	if err := os.MkdirAll(data1, 0o755); err != nil {
		t.Fatal(err)
	}
	write("..v1/merge.cpf", "[SQL]\nDefaultSchema=first\n")
	if err := os.Symlink("..v1", filepath.Join(dir, "..data")); err != nil {
		t.Fatal(err)
	}
	mergeFile := filepath.Join(dir, "merge.cpf")
	if err := os.Symlink("..data/merge.cpf", mergeFile); err != nil {
		t.Fatal(err)
	}
	f := newFake(t, fakeiris.EnvMergeFile+"="+mergeFile)
	main := f.run()
	pid, _ := f.state()
	effective := func(section, key string) string {
		t.Helper()
		v, _, err := fakeiris.Effective(f.dataDir, section, key)
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
	if got := effective("SQL", "DefaultSchema"); got != "first" {
		t.Fatalf("merged at start: DefaultSchema=%q", got)
	}

	// The swap alone changes nothing: only `iris merge` acts.
	if err := os.MkdirAll(filepath.Join(dir, "..v2"), 0o755); err != nil {
		t.Fatal(err)
	}
	write("..v2/merge.cpf", "[SQL]\nDefaultSchema=second\n[config]\ngmheap=65536\n")
	if err := os.Symlink("..v2", filepath.Join(dir, "..data_tmp")); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(filepath.Join(dir, "..data_tmp"), filepath.Join(dir, "..data")); err != nil {
		t.Fatal(err)
	}
	time.Sleep(300 * time.Millisecond)
	if got := effective("SQL", "DefaultSchema"); got != "first" {
		t.Fatalf("the fake acted on a symlink swap: DefaultSchema=%q", got)
	}

	if err := f.client().Merge(context.Background(), mergeFile); err != nil {
		t.Fatal(err)
	}
	if got := effective("SQL", "DefaultSchema"); got != "second" {
		t.Errorf("a live setting after iris merge: DefaultSchema=%q", got)
	}
	if got := effective("config", "gmheap"); got != "37568" {
		t.Errorf("gmheap took effect without a restart: %q", got)
	}
	if cpf, _ := os.ReadFile(filepath.Join(f.dataDir, "iris.cpf")); !strings.Contains(string(cpf), "gmheap=65536") {
		t.Errorf("gmheap not in iris.cpf for the next start:\n%s", cpf)
	}

	for _, bad := range []string{"[config]\ngmheap=100\n", "[Bogus]\nx=1\n", "[config]\nroutines=lots\n"} {
		cpfBefore, _ := os.ReadFile(filepath.Join(f.dataDir, "iris.cpf"))
		err := f.client().Merge(context.Background(), write("bad.cpf", bad+"[SQL]\nDefaultSchema=bad\n"))
		var ce *iris.CommandError
		if !errors.As(err, &ce) || ce.Code == 0 || !strings.Contains(ce.Output, "Configuration merge failed") {
			t.Errorf("merge of %q: %v, want a refusal", bad, err)
		}
		if cpf, _ := os.ReadFile(filepath.Join(f.dataDir, "iris.cpf")); string(cpf) != string(cpfBefore) {
			t.Errorf("a refused merge changed iris.cpf:\n%s", cpf)
		}
		if got := effective("SQL", "DefaultSchema"); got != "second" {
			t.Errorf("a refused merge changed the running configuration: %q", got)
		}
	}
	if now, _ := f.state(); now != pid {
		t.Errorf("merges restarted the instance: pid %d, then %d", pid, now)
	}

	// A restart reads iris.cpf, gmheap included.
	main.signal(t, syscall.SIGTERM)
	if code := main.exitCode(t); code != 0 {
		t.Fatalf("iris-main exited %d", code)
	}
	f.run()
	if got := effective("config", "gmheap"); got != "65536" {
		t.Errorf("gmheap after the restart: %q", got)
	}
}

func TestDurableSys(t *testing.T) {
	t.Run("a volume root is refused", func(t *testing.T) {
		f := newFake(t)
		if err := os.MkdirAll(filepath.Join(f.dataDir, "lost+found"), 0o755); err != nil {
			t.Fatal(err)
		}
		main := f.startMain()
		if code := main.exitCode(t); code != 1 {
			t.Errorf("iris-main exited %d", code)
		}
		main.waitLogged(t, "has no mgr/")
	})
	t.Run("a restart continues the journal", func(t *testing.T) {
		f := newFake(t)
		main := f.run()
		f.waitJournal(3)
		main.signal(t, syscall.SIGTERM)
		if code := main.exitCode(t); code != 0 {
			t.Fatalf("exit %d", code)
		}
		before := f.journal()
		f.run()
		after := f.waitJournal(len(before) + 1)
		if last, next := before[len(before)-1], after[len(before)]; next.Seq != last.Seq+1 || next.PID == last.PID {
			t.Errorf("the restart did not continue the journal: %+v then %+v", last, next)
		}
	})
}

func TestTwoWritersAreVisible(t *testing.T) {
	f := newFake(t)
	f.run()
	first := f.rememberInstance()
	f.run() // a second container on the same volume: the fault irisha prevents
	second := f.rememberInstance()
	if first == second {
		t.Fatal("the second iris-main did not start its own instance")
	}
	waitFor(t, "both instances to write", func() bool {
		n := f.journal()
		if len(n) == 0 || n[len(n)-1].PID != first {
			return false
		}
		for _, e := range n {
			if e.PID == second {
				return true
			}
		}
		return false
	})
	if err := fakeiris.CheckSingleWriter(f.journal()); err == nil {
		t.Error("two writers went unnoticed")
	}
}

func TestUpAndDownOptions(t *testing.T) {
	t.Run("--up false", func(t *testing.T) {
		f := newFake(t)
		main := f.startMain("--up", "false")
		waitFor(t, "durable %SYS", func() bool {
			_, err := os.Stat(filepath.Join(f.dataDir, "iris.cpf"))
			return err == nil
		})
		if inst := f.status(); inst.Status != iris.StatusDown {
			t.Errorf("--up false started IRIS: %+v", inst)
		}
		main.signal(t, syscall.SIGTERM)
		if code := main.exitCode(t); code != 0 {
			t.Errorf("exit %d", code)
		}
	})
	t.Run("--down false", func(t *testing.T) {
		f := newFake(t)
		main := f.run("--down", "false")
		main.signal(t, syscall.SIGTERM)
		if code := main.exitCode(t); code != 0 {
			t.Errorf("exit %d", code)
		}
		if pid, up := f.state(); !up || !alive(pid) || !f.status().Running() {
			t.Errorf("--down false stopped IRIS")
		}
	})
}

func TestBusyboxNames(t *testing.T) {
	f := newFake(t)
	out, code, err := iris.ExecRunner{Env: f.env}.Run(context.Background(), filepath.Join(binDir, "fake-iris"))
	if err != nil || code != 2 || !strings.Contains(out, "iris-main") {
		t.Errorf("called by its own name: %d %q %v", code, out, err)
	}
	if out, code := f.iris("qlist"); code != 1 || !strings.Contains(out, "usage") {
		t.Errorf("iris without an instance: %d %q", code, out)
	}
	if out, code := f.iris("bogus", "IRIS"); code != 1 || !strings.Contains(out, "not implemented") {
		t.Errorf("an unknown iris command: %d %q", code, out)
	}
}
