package fakeiris_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/irisha/irisha/internal/iris"
	"github.com/irisha/irisha/internal/iris/fakeiris"
)

// binDir holds the fake built once by TestMain, linked as iris and iris-main.
var binDir string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "fakeiris-bin-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	code := 1
	if err := build(dir); err != nil {
		fmt.Fprintln(os.Stderr, err)
	} else {
		binDir = dir
		code = m.Run()
	}
	_ = os.RemoveAll(dir)
	os.Exit(code)
}

func build(dir string) error {
	bin := filepath.Join(dir, "fake-iris")
	out, err := exec.Command("go", "build", "-o", bin, "github.com/irisha/irisha/hack/fake-iris").CombinedOutput()
	if err != nil {
		return fmt.Errorf("building the fake: %w\n%s", err, out)
	}
	for _, name := range []string{"iris", "iris-main"} {
		if err := os.Symlink(bin, filepath.Join(dir, name)); err != nil {
			return fmt.Errorf("linking %s: %w", name, err)
		}
	}
	return nil
}

// within bounds every wait of these tests; reaching it fails the test.
const within = 15 * time.Second

// fake is one instance's data directory and environment; it kills every
// process it started, and every instance process it saw, when the test ends.
type fake struct {
	t       *testing.T
	dataDir string
	env     []string

	mu    sync.Mutex
	procs []*mainProc
	pids  map[int]bool // instance processes seen in the state file
}

func newFake(t *testing.T, env ...string) *fake {
	t.Helper()
	t.Parallel()
	f := &fake{t: t, dataDir: filepath.Join(t.TempDir(), "IRIS"), pids: map[int]bool{}}
	// exec keeps the last value of a repeated variable: env overrides these
	f.env = append(os.Environ(), fakeiris.EnvDataDir+"="+f.dataDir, fakeiris.EnvSuperserver+"=127.0.0.1:0",
		fakeiris.EnvJournalInterval+"=10ms", fakeiris.EnvMergeFile+"=")
	f.env = append(f.env, env...)
	t.Cleanup(f.killAll)
	return f
}

func (f *fake) client() *iris.Client {
	return &iris.Client{Runner: iris.ExecRunner{Env: f.env}, Iris: filepath.Join(binDir, "iris")}
}

// iris runs the fake iris command and returns its output and exit code.
func (f *fake) iris(args ...string) (string, int) {
	f.t.Helper()
	out, code, err := iris.ExecRunner{Env: f.env}.Run(context.Background(), filepath.Join(binDir, "iris"), args...)
	if err != nil {
		f.t.Fatal(err)
	}
	f.rememberInstance()
	return out, code
}

// terminal pipes script into `iris session IRIS` with args (none: -U USER)
// and returns the output and exit code; -1 if ctx ended it.
func (f *fake) terminal(ctx context.Context, script []byte, args ...string) (string, int) {
	f.t.Helper()
	if len(args) == 0 {
		args = iris.ChaosSessionArgv()[2:]
	}
	cmd := exec.CommandContext(ctx, filepath.Join(binDir, "iris"), append([]string{"session"}, args...)...)
	cmd.Env, cmd.Stdin = f.env, bytes.NewReader(script)
	out, err := cmd.CombinedOutput()
	var ee *exec.ExitError
	switch {
	case ctx.Err() != nil:
		return string(out), -1
	case errors.As(err, &ee):
		return string(out), ee.ExitCode()
	case err != nil:
		f.t.Fatal(err)
	}
	return string(out), 0
}

func (f *fake) status() iris.Instance {
	f.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), within)
	defer cancel()
	inst, err := f.client().Status(ctx)
	if err != nil {
		f.t.Fatal(err)
	}
	return inst
}

func (f *fake) control(words ...string) {
	f.t.Helper()
	if err := fakeiris.WriteControl(f.dataDir, words...); err != nil {
		f.t.Fatal(err)
	}
}

func (f *fake) journal() []fakeiris.JournalEntry {
	f.t.Helper()
	entries, err := fakeiris.ReadJournal(f.dataDir)
	if err != nil {
		f.t.Fatal(err)
	}
	return entries
}

// waitJournal waits until the journal holds at least n entries.
func (f *fake) waitJournal(n int) []fakeiris.JournalEntry {
	f.t.Helper()
	var entries []fakeiris.JournalEntry
	waitFor(f.t, fmt.Sprintf("%d journal entries", n), func() bool { entries = f.journal(); return len(entries) >= n })
	return entries
}

// state reads the fake's state file as other tests do.
func (f *fake) state() (pid int, up bool) {
	b, err := os.ReadFile(filepath.Join(f.dataDir, "mgr", "fakeiris.json"))
	if err != nil {
		return 0, false
	}
	var s struct {
		Pid int  `json:"pid"`
		Up  bool `json:"up"`
	}
	if json.Unmarshal(b, &s) != nil {
		return 0, false
	}
	return s.Pid, s.Up
}

func (f *fake) rememberInstance() int {
	pid, _ := f.state()
	if pid > 0 {
		f.mu.Lock()
		f.pids[pid] = true
		f.mu.Unlock()
	}
	return pid
}

// killAll SIGKILLs what the test started: iris-main processes, then each
// instance process group, checking the PID still is a fake instance.
func (f *fake) killAll() {
	f.rememberInstance()
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, p := range f.procs {
		_ = p.cmd.Process.Kill()
		<-p.done
	}
	for pid := range f.pids {
		if cmdline, err := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", pid)); err == nil && strings.Contains(string(cmdline), "__fakeiris_instance__") {
			_ = syscall.Kill(-pid, syscall.SIGKILL)
		}
	}
}

// mainProc is a running iris-main with its output.
type mainProc struct {
	cmd      *exec.Cmd
	done     chan struct{} // iris-main exited
	readDone chan struct{} // every writer closed the output pipe
	err      error

	mu    sync.Mutex
	lines []string
}

// startMain starts iris-main without waiting for IRIS.
func (f *fake) startMain(args ...string) *mainProc {
	f.t.Helper()
	p := &mainProc{cmd: exec.Command(filepath.Join(binDir, "iris-main"), args...), done: make(chan struct{}), readDone: make(chan struct{})}
	p.cmd.Env = f.env
	// The instance inherits the pipe's write end, so read until every
	// holder closes it rather than making Wait wait for the instance.
	r, w, err := os.Pipe()
	if err != nil {
		f.t.Fatal(err)
	}
	p.cmd.Stdout, p.cmd.Stderr = w, w
	if err := p.cmd.Start(); err != nil {
		f.t.Fatal(err)
	}
	_ = w.Close()
	f.mu.Lock()
	f.procs = append(f.procs, p)
	f.mu.Unlock()
	go p.collect(r)
	go func() { p.err = p.cmd.Wait(); close(p.done) }()
	return p
}

// run starts iris-main and waits until IRIS has enabled logons.
func (f *fake) run(args ...string) *mainProc {
	f.t.Helper()
	p := f.startMain(args...)
	p.waitLogged(f.t, "...started InterSystems IRIS instance IRIS")
	f.rememberInstance()
	return p
}

func (p *mainProc) collect(r *os.File) {
	defer close(p.readDone)
	defer func() { _ = r.Close() }()
	sc := bufio.NewScanner(r)
	for sc.Scan() {
		p.mu.Lock()
		p.lines = append(p.lines, sc.Text())
		p.mu.Unlock()
	}
}

func (p *mainProc) output() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return strings.Join(p.lines, "\n")
}

func (p *mainProc) logged(s string) bool { return strings.Contains(p.output(), s) }

func (p *mainProc) waitLogged(t *testing.T, s string) {
	t.Helper()
	waitFor(t, fmt.Sprintf("iris-main to log %q", s), func() bool {
		if p.logged(s) {
			return true
		}
		select {
		case <-p.readDone:
			t.Fatalf("iris-main's output ended without %q:\n%s", s, p.output())
		default:
		}
		return false
	})
}

func (p *mainProc) signal(t *testing.T, sig syscall.Signal) {
	t.Helper()
	if err := p.cmd.Process.Signal(sig); err != nil {
		t.Fatal(err)
	}
}

// exitCode waits for iris-main to exit.
func (p *mainProc) exitCode(t *testing.T) int {
	t.Helper()
	select {
	case <-p.done:
	case <-time.After(within):
		t.Fatalf("iris-main did not exit within %s:\n%s", within, p.output())
	}
	var ee *exec.ExitError
	if errors.As(p.err, &ee) {
		return ee.ExitCode()
	}
	if p.err != nil {
		t.Fatal(p.err)
	}
	return 0
}

// waitFor polls cond until it holds; reaching `within` fails the test.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(within); !cond(); time.Sleep(10 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %s waiting for %s", within, what)
		}
	}
}

func alive(pid int) bool {
	if pid <= 0 || syscall.Kill(pid, 0) != nil {
		return false
	}
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return false
	}
	i := strings.LastIndexByte(string(b), ')')
	return i >= 0 && i+2 < len(b) && b[i+2] != 'Z'
}
