package fakeiris

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"strings"
	"syscall"
	"time"
)

// Phases of the instance process, as it records them.
const (
	phaseStarting = "starting"
	phaseRunning  = "running"
	phaseStopping = "stopping"
	phaseDown     = "down"
)

// state is mgr/fakeiris.json. Other tests read "pid" and "up": keep them.
type state struct {
	Pid   int       `json:"pid"`
	Up    bool      `json:"up"` // logons enabled: qlist says running
	Phase string    `json:"phase"`
	Since time.Time `json:"since"` // when Phase began
	// Frozen is a suspended write daemon; after FrozenUntil (the
	// ExternalFreezeTimeOut) user updates pause too.
	Frozen      bool      `json:"frozen"`
	FrozenUntil time.Time `json:"frozenUntil,omitzero"`
	Superserver string    `json:"superserver,omitempty"` // the address actually listened on
	// CleanStop says the last instance shut down cleanly; a start without
	// it runs crash recovery and raises alerts until AlertUntil.
	CleanStop  bool      `json:"cleanStop"`
	AlertUntil time.Time `json:"alertUntil,omitzero"`
	// Config is the configuration the instance runs with, "section/key"
	// (lower case) to value: iris.cpf as read at its start, plus what
	// `iris merge` applied live since.
	Config map[string]string `json:"config,omitempty"`
}

// store reads and writes the state file. Writes are serialised by an
// advisory lock, because the instance and concurrent `iris` commands
// (session, stop) each change different fields; reads need no lock since
// writes replace the file atomically.
type store struct{ cfg config }

func (s store) load() (state, error) {
	var st state
	b, err := os.ReadFile(s.cfg.mgr("fakeiris.json"))
	if errors.Is(err, fs.ErrNotExist) {
		return state{Phase: phaseDown}, nil
	}
	if err != nil {
		return st, fmt.Errorf("reading the instance state: %w", err)
	}
	if err := json.Unmarshal(b, &st); err != nil {
		return st, fmt.Errorf("reading the instance state: %w", err)
	}
	return st, nil
}

// update applies fn under the lock and returns the state before and after.
func (s store) update(fn func(*state)) (before, after state, err error) {
	unlock, err := s.lock()
	if err != nil {
		return before, after, err
	}
	defer unlock()
	before, err = s.load()
	if err != nil {
		return before, after, err
	}
	after = before
	fn(&after)
	b, err := json.Marshal(after)
	if err != nil {
		return before, after, fmt.Errorf("encoding the instance state: %w", err)
	}
	tmp := s.cfg.mgr(fmt.Sprintf(".fakeiris.json.%d", os.Getpid()))
	if err := os.WriteFile(tmp, b, 0o644); err != nil {
		return before, after, fmt.Errorf("writing the instance state: %w", err)
	}
	if err := os.Rename(tmp, s.cfg.mgr("fakeiris.json")); err != nil {
		return before, after, fmt.Errorf("writing the instance state: %w", err)
	}
	return before, after, nil
}

func (s store) lock() (func(), error) {
	f, err := os.OpenFile(s.cfg.mgr("fakeiris.lock"), os.O_CREATE|os.O_RDWR, 0o644)
	if err != nil {
		return nil, fmt.Errorf("locking the instance state: %w", err)
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX); err != nil {
		_ = f.Close()
		return nil, fmt.Errorf("locking the instance state: %w", err)
	}
	return func() { _ = f.Close() }, nil // closing releases the lock
}

// observed is the phase qlist reports: the recorded phase while the
// instance process lives, down once it is gone however it went.
func observed(st state, alive func(int) bool) string {
	if st.Pid <= 0 || st.Phase == "" || !alive(st.Pid) {
		return phaseDown
	}
	return st.Phase
}

// alive reports whether pid is a live process; a zombie (exited, not yet
// reaped by iris-main) is dead.
func alive(pid int) bool {
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

// Frozen reads whether the instance in dataDir had its write daemon frozen:
// on a snapshot's copy of the volume, whether the snapshot was cut during
// a freeze (consistent) or not.
func Frozen(dataDir string) (bool, error) {
	st, err := store{cfg: config{dataDir: dataDir}}.load()
	return st.Frozen, err
}
