//go:build unix

package chaos

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// browserTimeout bounds one headless run; a cold start on a loaded
// two-core machine takes a few seconds, a hung browser forever.
const browserTimeout = 90 * time.Second

// findChromium is $IRISHA_CHROMIUM, else the first Chromium on PATH. Without
// one the test skips, except in CI, which must run it.
func findChromium(t *testing.T) string {
	t.Helper()
	if bin := os.Getenv("IRISHA_CHROMIUM"); bin != "" {
		path, err := exec.LookPath(bin)
		if err != nil {
			t.Fatalf("IRISHA_CHROMIUM=%s: %v", bin, err)
		}
		return path
	}
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome"} {
		if path, err := exec.LookPath(name); err == nil {
			return path
		}
	}
	const msg = "no Chromium on PATH: apt-get install chromium (or set IRISHA_CHROMIUM) to check the HTML report's drawings"
	if os.Getenv("CI") != "" {
		t.Fatal(msg + "; CI must run this test")
	}
	t.Skip(msg)
	return ""
}

// headless is one browser run: the binary, a scratch directory for its
// profile, home and output, and a counter naming each run's files.
type headless struct {
	bin, dir string
	runs     int
}

// baseFlags are what Debian's chromium needs to run headless in a
// container, each for a reason:
//   - --no-sandbox: as root Chromium refuses to start without it ("Running
//     as root without --no-sandbox is not supported"), and containers often
//     lack the user namespaces its sandbox needs; the page is our own file.
//   - --user-data-dir: a throwaway profile, so runs share nothing and leave
//     nothing.
//   - --disable-gpu: there is none; --force-device-scale-factor=1 so page
//     pixels are screenshot pixels; --hide-scrollbars so none is drawn over
//     the page.
func (h *headless) baseFlags() []string {
	return []string{
		"--headless", "--no-sandbox", "--disable-gpu",
		"--user-data-dir=" + filepath.Join(h.dir, "profile"),
		"--no-first-run", "--no-default-browser-check",
		"--hide-scrollbars", "--force-device-scale-factor=1",
	}
}

// run starts the browser in a process group of its own, waits for it with a
// timeout, and kills the whole group on the way out: Chromium spawns
// zygote, GPU and renderer helpers, which must not outlive the test. It
// returns what the browser printed.
func (h *headless) run(t *testing.T, args ...string) []byte {
	t.Helper()
	h.runs++
	name := filepath.Join(h.dir, fmt.Sprintf("run-%d", h.runs))
	stdout, err := os.Create(name + ".stdout")
	if err != nil {
		t.Fatal(err)
	}
	defer stdout.Close()
	stderr, err := os.Create(name + ".stderr")
	if err != nil {
		t.Fatal(err)
	}
	defer stderr.Close()

	ctx, cancel := context.WithTimeout(t.Context(), browserTimeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, h.bin, append(h.baseFlags(), args...)...)
	// Files, not pipes: a helper holding a pipe open would keep Wait
	// waiting after the browser itself is gone.
	cmd.Stdout, cmd.Stderr = stdout, stderr
	// Its home is the scratch directory too: Debian's chromium writes crash
	// report folders and a dconf cache there whatever the profile.
	home := filepath.Join(h.dir, "home")
	cmd.Env = append(os.Environ(), "HOME="+home,
		"XDG_CONFIG_HOME="+filepath.Join(home, ".config"), "XDG_CACHE_HOME="+filepath.Join(home, ".cache"))
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Cancel = func() error { return killGroup(cmd.Process.Pid) }
	start := time.Now()
	if err := cmd.Start(); err != nil {
		t.Fatalf("starting %s: %v", h.bin, err)
	}
	defer reapGroup(t, cmd.Process.Pid)
	err = cmd.Wait()
	t.Logf("chromium %s: %.1f s", strings.Join(args, " "), time.Since(start).Seconds())
	if err != nil {
		errs, _ := os.ReadFile(name + ".stderr")
		t.Fatalf("%s %s: %v (timeout %s)\n%s", h.bin, strings.Join(args, " "), err, browserTimeout, tail(errs, 3000))
	}
	out, err := os.ReadFile(name + ".stdout")
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// killGroup kills every process of the group the browser leads, by its id.
func killGroup(pgid int) error {
	if err := syscall.Kill(-pgid, syscall.SIGKILL); err != nil && !errors.Is(err, syscall.ESRCH) {
		return fmt.Errorf("killing chromium's process group %d: %w", pgid, err)
	}
	return nil
}

// reapGroup kills what is left of the browser's group and waits until it
// is empty, so a helper still running is the test's failure, not a
// process left behind.
func reapGroup(t *testing.T, pgid int) {
	t.Helper()
	if err := killGroup(pgid); err != nil {
		t.Error(err)
		return
	}
	for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		if !groupAlive(pgid) {
			return
		}
	}
	t.Errorf("chromium's process group %d still has live processes 5 s after SIGKILL", pgid)
}

// groupAlive reports whether a process of the group is still running. A
// killed helper whose parent is gone waits as a zombie for PID 1 to reap it,
// which in a container may never happen; a zombie runs nothing, so it does
// not count.
func groupAlive(pgid int) bool {
	if err := syscall.Kill(-pgid, 0); errors.Is(err, syscall.ESRCH) {
		return false
	}
	entries, err := os.ReadDir("/proc")
	if err != nil {
		return true // no /proc to tell zombies apart: trust kill's answer
	}
	for _, e := range entries {
		stat, err := os.ReadFile(filepath.Join("/proc", e.Name(), "stat"))
		if err != nil {
			continue
		}
		// stat is "pid (comm) state ppid pgrp ...", and comm may hold
		// spaces or parentheses: read after the last ')'.
		fields := strings.Fields(string(stat[strings.LastIndexByte(string(stat), ')')+1:]))
		if len(fields) >= 3 && fields[2] == fmt.Sprint(pgid) && fields[0] != "Z" {
			return true
		}
	}
	return false
}

func tail(b []byte, n int) string {
	if len(b) > n {
		b = b[len(b)-n:]
	}
	return string(b)
}
