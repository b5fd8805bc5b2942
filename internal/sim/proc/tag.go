package proc

import (
	"bytes"
	"fmt"
	"os"
	"strconv"
	"sync/atomic"
	"syscall"
	"time"
)

// EnvTag is the environment variable Start gives every process. Children
// inherit it, also those that leave the process group (setsid daemons),
// so a process's tag finds everything it started, the way a container's
// cgroup does, without cgroups (which the sim cannot count on).
const EnvTag = "IRISHA_SIM_PROC"

var tagSeq atomic.Int64

// newTag is unique among the sims running on the machine: this process's
// PID, its start and a counter.
func newTag() string {
	return fmt.Sprintf("%d-%d-%d", os.Getpid(), processStart, tagSeq.Add(1))
}

var processStart = time.Now().UnixNano()

// Tagged returns the live processes carrying tag in their environment.
func Tagged(tag string) []int {
	entries, err := os.ReadDir("/proc")
	if err != nil {
		return nil
	}
	needle := []byte(EnvTag + "=" + tag + "\x00")
	var out []int
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil || pid == os.Getpid() {
			continue
		}
		// Processes of other users are unreadable: not ours anyway.
		env, err := os.ReadFile("/proc/" + e.Name() + "/environ")
		if err != nil {
			continue
		}
		if hasEntry(env, needle) && Alive(pid) {
			out = append(out, pid)
		}
	}
	return out
}

// hasEntry reports whether the NUL-separated environment block env holds
// the entry needle (which ends with NUL).
func hasEntry(env, needle []byte) bool {
	if !bytes.HasSuffix(env, []byte{0}) {
		env = append(env, 0)
	}
	return bytes.HasPrefix(env, needle) || bytes.Contains(env, append([]byte{0}, needle...))
}

// signalTagged sends sig to every live process carrying tag. A process in
// the middle of fork or exec may be missed by one scan, so for SIGKILL and
// SIGSTOP it scans again until every tagged process is gone or stopped (up
// to killWait): a killed container's daemons are dead, not dying, and a
// frozen node's are all stopped, when Signal returns.
//
// A process already sent SIGSTOP that sleeps uninterruptibly (D) counts as
// stopped: it stops on its way out of the kernel, before running any code
// of its own, and may not get there while the stop lasts. A vfork parent
// (dash's, running a command) waits in D for its child, which the same
// SIGSTOP stopped before it could exec: waiting for the parent to show T
// took the whole killWait.
func signalTagged(tag string, sig syscall.Signal) {
	deadline := time.Now().Add(killWait)
	stopSent := map[int]bool{}
	for {
		pending := 0
		for _, pid := range Tagged(tag) {
			if sig == syscall.SIGSTOP {
				if st, _ := State(pid); st == 'T' || st == 't' || (st == 'D' && stopSent[pid]) {
					continue
				}
				stopSent[pid] = true
			}
			_ = syscall.Kill(pid, sig)
			pending++
		}
		if sig == syscall.SIGCONT || pending == 0 || time.Now().After(deadline) {
			return
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// Tag of the process: Tagged(p.Tag()) lists it and everything it started.
func (p *Process) Tag() string { return p.tag }
