package fakeiris

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"time"
)

// state is the instance's state file, mgr/fakeiris.json.
type state struct {
	Pid    int       `json:"pid"`
	Frozen bool      `json:"frozen"`
	Since  time.Time `json:"since"`
	Up     bool      `json:"up"`
}

type instance struct{ dataDir string }

func newInstance() (*instance, error) {
	dir := os.Getenv("ISC_DATA_DIRECTORY")
	if dir == "" {
		return nil, errors.New("ISC_DATA_DIRECTORY is not set")
	}
	return &instance{dataDir: dir}, nil
}

func (in *instance) mgr(name string) string { return filepath.Join(in.dataDir, "mgr", name) }

func (in *instance) load() state {
	var s state
	b, err := os.ReadFile(in.mgr("fakeiris.json"))
	if err == nil {
		_ = json.Unmarshal(b, &s)
	}
	return s
}

func (in *instance) save(s state) error {
	b, err := json.Marshal(s)
	if err != nil {
		return err
	}
	tmp := in.mgr(fmt.Sprintf(".fakeiris.%d", os.Getpid()))
	if err := os.WriteFile(tmp, b, 0o644); err != nil {
		return fmt.Errorf("writing state: %w", err)
	}
	return os.Rename(tmp, in.mgr("fakeiris.json"))
}

func (in *instance) update(fn func(*state)) error {
	s := in.load()
	fn(&s)
	return in.save(s)
}

// running reports whether the instance process lives and said it is up.
func (in *instance) running() (state, bool) {
	s := in.load()
	return s, s.Up && s.Pid > 0 && alive(s.Pid)
}

func alive(pid int) bool {
	if syscall.Kill(pid, 0) != nil {
		return false
	}
	// A zombie is dead, whatever kill(0) says.
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return false
	}
	s := string(b)
	i := strings.LastIndexByte(s, ')')
	return i >= 0 && i+2 < len(s) && s[i+2] != 'Z'
}

// control reports whether word is in mgr/fakeiris.control.
func (in *instance) control(word string) bool {
	b, err := os.ReadFile(in.mgr("fakeiris.control"))
	if err != nil {
		return false
	}
	for _, w := range strings.Fields(string(b)) {
		if w == word {
			return true
		}
	}
	return false
}

func envDuration(name string, def time.Duration) time.Duration {
	if v := os.Getenv(name); v != "" {
		if d, err := time.ParseDuration(v); err == nil {
			return d
		}
	}
	return def
}
