package supervisor

import (
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
)

// killPasses bounds KillTree's scans. Stopped processes cannot fork, so
// after a pass only children forked while it scanned remain; a fork chain
// that outruns ten scans is not IRIS, and the bound keeps the fenced agent
// from spinning forever on one.
const killPasses = 10

// KillTree SIGKILLs every descendant of the agent: iris-main and every IRIS
// process, including daemons that left iris-main's process group but, being
// orphans, were re-parented to the agent. Each is stopped first so none can
// fork a new process between the scan and the kill. The agent itself
// survives to report and release nothing: the Lease is already lost.
func KillTree() (int, error) {
	self := os.Getpid()
	killed := 0
	// Repeat until a scan finds nothing: a process may fork while the
	// first scan runs.
	for range killPasses {
		pids, err := descendants(self)
		if err != nil {
			return killed, err
		}
		if len(pids) == 0 {
			return killed, nil
		}
		for _, pid := range pids {
			_ = syscall.Kill(pid, syscall.SIGSTOP)
		}
		for _, pid := range pids {
			if err := syscall.Kill(pid, syscall.SIGKILL); err == nil {
				killed++
			}
		}
	}
	return killed, fmt.Errorf("processes kept appearing under pid %d after %d kill passes", self, killPasses)
}

// zombieChildren lists the children of parent that exited and wait to be
// reaped.
func zombieChildren(parent int) ([]int, error) {
	var out []int
	err := eachProcess(func(pid, ppid int, state byte) {
		if ppid == parent && state == 'Z' {
			out = append(out, pid)
		}
	})
	return out, err
}

// eachProcess calls fn for every process in /proc.
func eachProcess(fn func(pid, ppid int, state byte)) error {
	entries, err := os.ReadDir("/proc")
	if err != nil {
		return fmt.Errorf("listing /proc: %w", err)
	}
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		if ppid, state, ok := readStat(pid); ok {
			fn(pid, ppid, state)
		}
	}
	return nil
}

// descendants lists the living descendants of root from /proc (zombies
// excluded: they are dead already and only wait to be reaped).
func descendants(root int) ([]int, error) {
	children := map[int][]int{}
	err := eachProcess(func(pid, ppid int, state byte) {
		if state != 'Z' {
			children[ppid] = append(children[ppid], pid)
		}
	})
	if err != nil {
		return nil, err
	}
	var out []int
	queue := []int{root}
	for len(queue) > 0 {
		pid := queue[0]
		queue = queue[1:]
		for _, c := range children[pid] {
			out = append(out, c)
			queue = append(queue, c)
		}
	}
	return out, nil
}

// readStat returns the parent PID and state of pid from /proc/<pid>/stat.
func readStat(pid int) (ppid int, state byte, ok bool) {
	b, err := os.ReadFile(filepath.Join("/proc", strconv.Itoa(pid), "stat"))
	if err != nil {
		return 0, 0, false
	}
	// The command name is in parentheses and may contain spaces or ")".
	s := string(b)
	i := strings.LastIndexByte(s, ')')
	if i < 0 || i+4 > len(s) {
		return 0, 0, false
	}
	fields := strings.Fields(s[i+1:])
	if len(fields) < 2 {
		return 0, 0, false
	}
	ppid, err = strconv.Atoi(fields[1])
	if err != nil {
		return 0, 0, false
	}
	return ppid, fields[0][0], true
}

// Descendants lists the living descendants of pid, for tests and tools that
// must clean up a tree they did not start directly.
func Descendants(pid int) ([]int, error) { return descendants(pid) }
